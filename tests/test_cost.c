/* Tests of the cost model (core/cost.h): the figure of each kind of work against its formula,
 * no wrap-around for huge shapes, and the default --max-request-flops between the largest case
 * of `make bench` (which must fit) and the reproducers of issue 10 (which must not). */
#include <math.h>
#include <stdlib.h>

#include "../core/cost.h"
#include "../server/config.h"
#include "harness.h"

static at_attention_desc shapes(int64_t b, int64_t h, int64_t lq, int64_t lk, int64_t d, int64_t dk,
                                int64_t dv)
{
    return (at_attention_desc){
        .query = {.dtype = AT_F32, .rank = 4, .ne = {b, h, lq, d}},
        .key = {.dtype = AT_F32, .rank = 4, .ne = {b, h, lk, dk}},
        .value = {.dtype = AT_F32, .rank = 4, .ne = {b, h, lk, dv}},
    };
}

/* Per score: the exp of the selection and 4 more. */
#define SEL (AT_COST_TRANSCENDENTAL + 4.0)

TEST(cost_dot_product_scores)
{
    at_attention_desc d = shapes(1, 2, 3, 5, 4, 4, 6);
    double scores = 1 * 2 * 3 * 5;
    ASSERT_NEAR(at_attention_flops(&d), scores * (2 * 4 + SEL + 2 * 6), 1e-9);
    /* Returning weights costs nothing more, averaging them one add per score. */
    d.need_weights = true;
    ASSERT_NEAR(at_attention_flops(&d), scores * (2 * 4 + SEL + 2 * 6), 1e-9);
    d.average_heads = true;
    ASSERT_NEAR(at_attention_flops(&d), scores * (2 * 4 + SEL + 2 * 6 + 1), 1e-9);
    /* Top-k counts like the softmax; the score function's scale is free. */
    d.selection = AT_SELECT_TOPK;
    d.score = AT_SCORE_DOT;
    ASSERT_NEAR(at_attention_flops(&d), scores * (2 * 4 + SEL + 2 * 6 + 1), 1e-9);
}

TEST(cost_additive_counts_da)
{
    at_attention_desc d = shapes(2, 1, 3, 5, 4, 7, 2);
    at_additive add = {.weight = {.dtype = AT_F32, .rank = 2, .ne = {9, 11}}};
    d.score = AT_SCORE_ADDITIVE;
    d.additive = &add;
    double scores = 2 * 1 * 3 * 5, da = 9;
    double proj = 2 * da * 2 * 1 * (3 * 4 + 5 * 7);
    double want = proj + scores * da * (3 + AT_COST_TRANSCENDENTAL) + scores * (SEL + 2 * 2);
    ASSERT_NEAR(at_attention_flops(&d), want, 1e-6);
    /* The additive request: Lq = Lk = 1000, da = 60000 is hours of work, not minutes. */
    d = shapes(1, 1, 1000, 1000, 1, 1, 1);
    add.weight.ne[0] = 60000;
    d.score = AT_SCORE_ADDITIVE;
    d.additive = &add;
    ASSERT(at_attention_flops(&d) > 1e12);
}

TEST(cost_huge_shapes_never_wrap)
{
    int64_t big = INT64_C(1) << 40;
    at_attention_desc d = shapes(big, big, big, big, big, big, big);
    double f = at_attention_flops(&d);
    ASSERT(f > 1e59 && !isnan(f));
}

TEST(cost_model_requests)
{
    float *storage = malloc(at_model_default_floats() * sizeof(float));
    ASSERT(storage);
    at_model m;
    at_model_init_default(&m, storage);
    const double e = AT_DEFAULT_EMBED_DIM, h = AT_DEFAULT_NUM_HEADS, hd = e / h;
    at_attention_desc opts = {0};
    /* Self-attention of 10 tokens: hashing embeddings + sinusoidal positions, q k v and out
     * projections, then 4 heads of 10 x 10 scores over head dim 16. */
    double l = 10, embed = l * e * 5 * AT_COST_TRANSCENDENTAL;
    double proj = 2 * e * e * (3 * l) + 2 * e * e * l;
    double attn = h * l * l * (2 * hd + SEL + 2 * hd);
    ASSERT_NEAR(at_model_flops(&m, 10, 0, &opts), embed + proj + attn, 1e-6);
    /* Cross-attention to 30 source tokens: k and v come from the source. */
    double s = 30;
    embed = (l + s) * e * 5 * AT_COST_TRANSCENDENTAL;
    proj = 2 * e * e * (l + 2 * s) + 2 * e * e * l;
    attn = h * l * s * (2 * hd + SEL + 2 * hd);
    ASSERT_NEAR(at_model_flops(&m, 10, 30, &opts), embed + proj + attn, 1e-6);
    /* The same against a stored source, embedded and projected already: only the queries'. */
    embed = l * e * 5 * AT_COST_TRANSCENDENTAL;
    proj = 2 * e * e * l + 2 * e * e * l;
    ASSERT_NEAR(at_model_flops_projected(&m, 10, 30, &opts), embed + proj + attn, 1e-6);
    free(storage);
}

TEST(cost_default_limit_between_bench_and_abuse)
{
    srv_config cfg;
    char err[256];
    char *argv[] = {"attnd", NULL};
    unsetenv("ATTND_MAX_REQUEST_FLOPS");
    ASSERT_EQ(srv_config_load(&cfg, 1, argv, err, sizeof err), SRV_CONFIG_RUN);
    double limit = (double)cfg.max_request_flops;
    /* make bench: Lq = Lk = 16384, d = 64 without weights through the daemon, and the largest
     * core shapes with weights. */
    at_attention_desc bench = shapes(1, 1, 16384, 16384, 64, 64, 64);
    ASSERT(at_attention_flops(&bench) <= limit);
    at_attention_desc core = shapes(1, 8, 2048, 2048, 64, 64, 64);
    core.need_weights = true;
    ASSERT(at_attention_flops(&core) <= limit);
    /* Issue 10: 100k queries over 100k keys of d = 1 (a 391 KB body) held both cores 6.8 s. */
    at_attention_desc abuse = shapes(1, 1, 100000, 100000, 1, 1, 1);
    ASSERT(at_attention_flops(&abuse) > limit);
    /* ...and 20k tokens of text to the default model took 3.6 s. */
    float *storage = malloc(at_model_default_floats() * sizeof(float));
    ASSERT(storage);
    at_model m;
    at_model_init_default(&m, storage);
    at_attention_desc opts = {0};
    ASSERT(at_model_flops(&m, 20000, 0, &opts) > limit);
    free(storage);
    /* make bench's BERT-base (12 layers of 768, 12 heads, inner 3072) at its longest, 512. */
    at_transformer bert = {.embed_dim = 768, .num_heads = 12, .inner_dim = 3072, .num_layers = 12};
    ASSERT(at_transformer_flops(&bert, 512) <= limit);
    ASSERT(at_transformer_flops(&bert, 512) > 9e10); /* 12 x (8 L E^2 + 4 L E I) alone */
}

TEST(cost_transformer_layers)
{
    /* One layer, E 4, 2 heads of 2, inner 8, 3 tokens, worked by hand. */
    at_transformer t = {.embed_dim = 4, .num_heads = 2, .inner_dim = 8, .num_layers = 1};
    const double l = 3, e = 4, i = 8, ln = 8 * l * e;
    at_attention_desc d = shapes(1, 2, 3, 3, 2, 2, 2);
    const double layer = 8 * l * e * e + 4 * l * e * i + l * i * AT_COST_TRANSCENDENTAL + 2 * ln +
                         at_attention_flops(&d);
    ASSERT_NEAR(at_transformer_flops(&t, 3), 3 * l * e + ln + layer, 1e-9);
    t.num_layers = 5;
    ASSERT_NEAR(at_transformer_flops(&t, 3), 3 * l * e + ln + 5 * layer, 1e-9);
}

TEST(cost_limit_and_timeout_configuration)
{
    srv_config cfg;
    char err[256];
    char *plain[] = {"attnd", NULL};
    setenv("ATTND_MAX_REQUEST_FLOPS", "1234", 1);
    setenv("ATTND_REQUEST_TIMEOUT", "2.5", 1);
    ASSERT_EQ(srv_config_load(&cfg, 1, plain, err, sizeof err), SRV_CONFIG_RUN);
    ASSERT_EQ(cfg.max_request_flops, 1234);
    ASSERT_NEAR(cfg.request_timeout, 2.5, 0);
    char *flags[] = {"attnd", "--max-request-flops", "99", "--request-timeout=0", NULL};
    ASSERT_EQ(srv_config_load(&cfg, 4, flags, err, sizeof err), SRV_CONFIG_RUN);
    ASSERT_EQ(cfg.max_request_flops, 99); /* the flag wins */
    ASSERT_NEAR(cfg.request_timeout, 0, 0);
    unsetenv("ATTND_MAX_REQUEST_FLOPS");
    unsetenv("ATTND_REQUEST_TIMEOUT");
    ASSERT_EQ(srv_config_load(&cfg, 1, plain, err, sizeof err), SRV_CONFIG_RUN);
    ASSERT_NEAR(cfg.request_timeout, 30, 0);
    char *bad[] = {"attnd", "--request-timeout", "-1", NULL};
    ASSERT_EQ(srv_config_load(&cfg, 3, bad, err, sizeof err), SRV_CONFIG_ERROR);
    ASSERT_CONTAINS(err, "--request-timeout");
    char *zero[] = {"attnd", "--max-request-flops", "0", NULL};
    ASSERT_EQ(srv_config_load(&cfg, 3, zero, err, sizeof err), SRV_CONFIG_ERROR);
    ASSERT_CONTAINS(err, "--max-request-flops");
}
