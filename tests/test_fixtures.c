/* Replays the PyTorch fixtures (tests/fixtures/attention_basic.json and
 * attention_variants.json, made by make_fixtures.py in float64) directly on the core: each
 * request body becomes an at_attention_desc through a small converter here, independent of the
 * api layer, and fixture_check.c judges the outputs. The HTTP layer replays the same files. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/attention.h"
#include "../core/status.h"
#include "core_support.h"
#include "fixture_check.h"
#include "harness.h"

/* The rank-4 shape of a rank-r tensor: 1s prepended (right-aligned, as PyTorch broadcasts). */
static void right_align(const fx_tensor *t, int64_t ne4[4])
{
    for (int i = 0; i < 4; i++)
        ne4[i] = i < 4 - t->rank ? 1 : t->ne[i - (4 - t->rank)];
}

/* A request's inputs as the core sees them; everything owned here. */
typedef struct inputs {
    fx_tensor q, k, v, m, add_w, add_b, add_v;
    float *qf, *kf, *vf, *wf, *bf, *vvf;
    int64_t *key_lengths;
} inputs;

static void inputs_free(inputs *in)
{
    fx_tensor *ts[] = {&in->q, &in->k, &in->v, &in->m, &in->add_w, &in->add_b, &in->add_v};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        fx_tensor_free(ts[i]);
    free(in->qf);
    free(in->kf);
    free(in->vf);
    free(in->wf);
    free(in->bf);
    free(in->vvf);
    free(in->key_lengths);
}

/* Builds the descriptor of case `c` the way the api layer does, with `seed` for sampling, runs
 * it on `pool` (as the server does) and returns the outputs (free them). */
static ct_outputs run_case(const cJSON *c, at_pool *pool, uint64_t seed)
{
    const char *name = fx_case_name(c);
    const cJSON *req = fx_field(c, "request");
    ASSERT(cJSON_IsObject(req));
    inputs in = {0};
    in.q = fx_flatten(fx_field(req, "query"), false, "query");
    const cJSON *kj = fx_field(req, "key") ? fx_field(req, "key") : fx_field(req, "query");
    const cJSON *vj = fx_field(req, "value") ? fx_field(req, "value") : kj;
    in.k = fx_flatten(kj, false, "key");
    in.v = fx_flatten(vj, false, "value");
    in.qf = fx_floats(&in.q);
    in.kf = fx_floats(&in.k);
    in.vf = fx_floats(&in.v);
    ASSERT(in.q.rank >= 2);

    int64_t ne[4];
    at_attention_desc d = {.score = AT_SCORE_SCALED_DOT, .need_weights = true};
    right_align(&in.q, ne);
    d.query = at_tensor_make(AT_F32, 4, ne, in.qf);
    right_align(&in.k, ne);
    d.key = at_tensor_make(AT_F32, 4, ne, in.kf);
    right_align(&in.v, ne);
    d.value = at_tensor_make(AT_F32, 4, ne, in.vf);

    const char *score = cJSON_GetStringValue(fx_field(req, "score"));
    const cJSON *scale = fx_field(req, "scale");
    if (score && strcmp(score, "dot") == 0) d.score = AT_SCORE_DOT;
    if (score && strcmp(score, "additive") == 0) d.score = AT_SCORE_ADDITIVE;
    if (cJSON_IsNumber(scale)) {
        d.has_scale = true;
        d.scale = (float)scale->valuedouble;
    }
    at_additive additive = {0};
    const cJSON *add = fx_field(req, "additive");
    if (add) {
        in.add_w = fx_flatten(fx_field(add, "weight"), false, "additive.weight");
        in.wf = fx_floats(&in.add_w);
        additive.weight = at_tensor_make(AT_F32, 2, in.add_w.ne, in.wf);
        if (fx_field(add, "bias")) {
            in.add_b = fx_flatten(fx_field(add, "bias"), false, "additive.bias");
            additive.bias = in.bf = fx_floats(&in.add_b);
        }
        if (fx_field(add, "v")) {
            in.add_v = fx_flatten(fx_field(add, "v"), false, "additive.v");
            additive.v = in.vvf = fx_floats(&in.add_v);
        }
        d.additive = &additive;
    }
    const char *sel = fx_case_selection(c);
    d.selection = strcmp(sel, "topk") == 0     ? AT_SELECT_TOPK
                  : strcmp(sel, "sample") == 0 ? AT_SELECT_SAMPLE
                                               : AT_SELECT_SOFT;
    if (cJSON_IsNumber(fx_field(req, "k"))) d.k = (int64_t)fx_field(req, "k")->valuedouble;
    d.normalize = cJSON_IsTrue(fx_field(req, "normalize"));
    d.seed = seed;
    d.causal = cJSON_IsTrue(fx_field(req, "causal"));
    d.need_weights = !cJSON_IsFalse(fx_field(req, "return_weights"));
    d.average_heads = cJSON_IsTrue(fx_field(req, "average_heads"));

    const cJSON *kl = fx_field(req, "key_lengths");
    if (kl) {
        int n = cJSON_GetArraySize(kl), i = 0;
        in.key_lengths = malloc((size_t)n * sizeof(int64_t));
        ASSERT(in.key_lengths != NULL && n == d.query.ne[0]);
        for (const cJSON *e = kl->child; e; e = e->next)
            in.key_lengths[i++] = (int64_t)e->valuedouble;
        d.key_lengths = in.key_lengths;
    }
    at_tensor mask;
    if (fx_field(req, "mask")) {
        in.m = fx_flatten(fx_field(req, "mask"), true, "mask");
        right_align(&in.m, ne);
        mask = at_tensor_make(AT_BOOL, 4, ne, in.m.b);
        d.mask = &mask;
    }

    char err[256];
    if (at_attention_check(&d, NULL, err, sizeof err) != AT_OK)
        harness_fail(__FILE__, __LINE__, "%s: %s", name, err);
    ct_outputs r = ct_forward(pool, &d);
    inputs_free(&in);
    return r;
}

/* fixture_check.c's judgement of outputs o of case c. */
static void check_case(const cJSON *c, const ct_outputs *o)
{
    fx_check_case(c, o->context, (int64_t)o->context_n, o->weights, (int64_t)o->weights_n);
}

static void replay_file(const char *file, int min_cases, at_pool *pool)
{
    cJSON *doc = fx_load(file);
    const cJSON *cases = fx_field(doc, "cases");
    ASSERT(cJSON_IsArray(cases));
    ASSERT(cJSON_GetArraySize(cases) >= min_cases);
    for (const cJSON *c = cases->child; c; c = c->next) {
        ct_outputs r = run_case(c, pool, fx_case_seed(c));
        check_case(c, &r);
        ct_free_outputs(&r);
    }
    cJSON_Delete(doc);
}

TEST(fixture_core_attention_basic)
{
    replay_file("attention_basic.json", 20, NULL);
}

/* The same cases split over a pool: the same numbers, whatever the thread count. */
TEST(fixture_core_attention_basic_pool)
{
    at_pool *pool = at_pool_new(2, 2);
    ASSERT(pool != NULL);
    replay_file("attention_basic.json", 20, pool);
    at_pool_free(pool);
}

TEST(fixture_core_attention_variants)
{
    replay_file("attention_variants.json", 50, NULL);
}

TEST(fixture_core_attention_variants_pool)
{
    at_pool *pool = at_pool_new(3, 3);
    ASSERT(pool != NULL);
    replay_file("attention_variants.json", 50, pool);
    at_pool_free(pool);
}

static bool same_result(const ct_outputs *a, const ct_outputs *b)
{
    return a->context_n == b->context_n && a->weights_n == b->weights_n &&
           memcmp(a->context, b->context, a->context_n * sizeof(float)) == 0 &&
           (!a->weights || memcmp(a->weights, b->weights, a->weights_n * sizeof(float)) == 0);
}

/* Sampling is a function of the seed alone: the same keys on one thread and on three, and
 * other keys for another seed (checked where thousands of rows make a coincidence
 * impossible). */
TEST(fixture_core_sample_seeded)
{
    at_pool *pool = at_pool_new(3, 3);
    ASSERT(pool != NULL);
    cJSON *doc = fx_load("attention_variants.json");
    int sampled = 0, distributions = 0;
    for (const cJSON *c = fx_field(doc, "cases")->child; c; c = c->next) {
        if (strcmp(fx_case_selection(c), "sample") != 0) continue;
        uint64_t seed = fx_case_seed(c);
        ct_outputs one = run_case(c, NULL, seed), three = run_case(c, pool, seed);
        if (!same_result(&one, &three))
            harness_fail(__FILE__, __LINE__, "%s: 1 and 3 threads drew different keys",
                         fx_case_name(c));
        sampled++;
        if (fx_case_is_distribution(c)) {
            ct_outputs other = run_case(c, pool, seed ^ 1);
            if (same_result(&one, &other))
                harness_fail(__FILE__, __LINE__, "%s: seeds %llu and %llu drew the same keys",
                             fx_case_name(c), (unsigned long long)seed,
                             (unsigned long long)(seed ^ 1));
            check_case(c, &other);
            ct_free_outputs(&other);
            distributions++;
        }
        ct_free_outputs(&one);
        ct_free_outputs(&three);
    }
    ASSERT(sampled >= 10);
    ASSERT(distributions >= 3);
    cJSON_Delete(doc);
    at_pool_free(pool);
}
