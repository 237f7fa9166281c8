/* Unit tests of core/mha.c: the fixture cases of tests/fixtures/model_cases.json (PyTorch's
 * nn.MultiheadAttention in float64 on the fixture models, loaded through the registry, and the
 * built-in model rebuilt in Python from its specification), then random shapes and options
 * against a double-precision multi-head attention written here, on the calling thread and on
 * a pool, and the checks of at_mha_check. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/model.h"
#include "../core/status.h"
#include "core_support.h"
#include "harness.h"
#include "model_support.h"

/* ---- the fixture cases ---- */

/* The ids of a case's input {"text"}, {"tokens"} or {"ids"} (malloc'd, *n of them), checked
 * against the expected tokens and ids. */
static uint64_t *case_ids(const at_model *m, const cJSON *seq, const cJSON *want_tokens,
                          const cJSON *want_ids, int64_t *n, const char *name)
{
    const cJSON *text = cJSON_GetObjectItem(seq, "text"),
                *toks = cJSON_GetObjectItem(seq, "tokens");
    const cJSON *ids = cJSON_GetObjectItem(seq, "ids");
    char err[256];
    size_t count = 0;
    at_token *tk = NULL;
    if (text) {
        const char *s = text->valuestring;
        ASSERT_EQ(at_tokenize_vocab(s, strlen(s), m->vocab, NULL, 0, &count, err, sizeof err),
                  AT_OK);
        tk = calloc(count, sizeof *tk);
        ASSERT(tk != NULL);
        ASSERT_EQ(at_tokenize_vocab(s, strlen(s), m->vocab, tk, count, &count, err, sizeof err),
                  AT_OK);
    } else if (toks) {
        count = (size_t)cJSON_GetArraySize(toks);
        tk = calloc(count, sizeof *tk);
        ASSERT(tk != NULL);
        for (size_t i = 0; i < count; i++) {
            const char *s = cJSON_GetArrayItem(toks, (int)i)->valuestring;
            ASSERT_EQ(at_utf8_check(s, strlen(s), NULL, err, sizeof err), AT_OK);
            tk[i] = (at_token){s, strlen(s)};
        }
    } else {
        count = (size_t)cJSON_GetArraySize(ids);
    }
    ASSERT(count == (size_t)cJSON_GetArraySize(want_ids));
    uint64_t *out = malloc(count * sizeof *out);
    ASSERT(out != NULL);
    if (tk) {
        for (size_t i = 0; i < count; i++) {
            const char *w = cJSON_GetArrayItem(want_tokens, (int)i)->valuestring;
            if (tk[i].len != strlen(w) || memcmp(tk[i].ptr, w, tk[i].len))
                harness_fail(__FILE__, __LINE__, "%s: token %zu is \"%.*s\", want \"%s\"", name, i,
                             (int)tk[i].len, tk[i].ptr, w);
        }
        ASSERT_EQ(at_model_token_ids(m, tk, count, out, NULL, err, sizeof err), AT_OK);
    } else {
        for (size_t i = 0; i < count; i++)
            out[i] = (uint64_t)cJSON_GetArrayItem(ids, (int)i)->valuedouble;
        ASSERT_EQ(at_model_check_ids(m, out, count, NULL, err, sizeof err), AT_OK);
    }
    for (size_t i = 0; i < count; i++) {
        const cJSON *w = cJSON_GetArrayItem(want_ids, (int)i);
        uint64_t want =
            cJSON_IsString(w) ? strtoull(w->valuestring, NULL, 10) : (uint64_t)w->valuedouble;
        if (out[i] != want)
            harness_fail(__FILE__, __LINE__, "%s: id %zu is %llu, want %llu", name, i,
                         (unsigned long long)out[i], (unsigned long long)want);
    }
    free(tk);
    *n = (int64_t)count;
    return out;
}

/* Compares a flat float array with a nested JSON array of numbers in row-major order. */
static size_t compare_nested(const cJSON *node, const float *got, size_t at, double abs_tol,
                             double rel_tol, const char *what, const char *name)
{
    if (cJSON_IsNumber(node)) {
        double want = node->valuedouble, g = got[at];
        if (!(fabs(g - want) <= abs_tol + rel_tol * fabs(want)))
            harness_fail(__FILE__, __LINE__, "%s: %s[%zu] is %.9g, want %.9g", name, what, at, g,
                         want);
        return at + 1;
    }
    for (const cJSON *c = node->child; c; c = c->next)
        at = compare_nested(c, got, at, abs_tol, rel_tol, what, name);
    return at;
}

static void run_case(const api_model_registry *reg, const cJSON *c, at_pool *pool)
{
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const api_model *am =
        api_model_registry_find(reg, cJSON_GetObjectItem(c, "model")->valuestring);
    ASSERT(am != NULL);
    const at_model *m = api_model_core(am);
    const cJSON *exp = cJSON_GetObjectItem(c, "expected"),
                *src_in = cJSON_GetObjectItem(c, "source");
    int64_t len = 0, slen = 0;
    uint64_t *ids = case_ids(m, cJSON_GetObjectItem(c, "input"), cJSON_GetObjectItem(exp, "tokens"),
                             cJSON_GetObjectItem(exp, "ids"), &len, name);
    uint64_t *sids = src_in ? case_ids(m, src_in, cJSON_GetObjectItem(exp, "source_tokens"),
                                       cJSON_GetObjectItem(exp, "source_ids"), &slen, name)
                            : NULL;
    const int64_t e = m->mha.embed_dim, h = m->mha.num_heads, s = slen ? slen : len;
    float *x = malloc((size_t)(len * e) * sizeof(float));
    float *src = slen ? malloc((size_t)(slen * e) * sizeof(float)) : NULL;
    ASSERT(x && (src || !slen));
    at_model_embed(m, ids, len, x);
    if (src) at_model_embed(m, sids, slen, src);
    at_attention_desc opts = {
        .score = strcmp(cJSON_GetObjectItem(c, "score")->valuestring, "additive")
                     ? AT_SCORE_SCALED_DOT
                     : AT_SCORE_ADDITIVE,
        .causal = cJSON_IsTrue(cJSON_GetObjectItem(c, "causal")),
        .need_weights = true,
        .average_heads = cJSON_IsTrue(cJSON_GetObjectItem(c, "average_heads")),
    };
    size_t nw = (size_t)((opts.average_heads ? 1 : h) * len * s);
    at_mha_out out = {.context = malloc((size_t)(len * e) * sizeof(float)),
                      .weights = malloc(nw * sizeof(float))};
    ASSERT(out.context && out.weights);
    ASSERT_EQ(mt_run_mha(pool, &m->mha, x, len, src, slen, &opts, &out), AT_OK);
    ASSERT_EQ(compare_nested(cJSON_GetObjectItem(exp, "context"), out.context, 0, 1e-5, 1e-4,
                             "context", name),
              len * e);
    ASSERT_EQ(compare_nested(cJSON_GetObjectItem(exp, "weights"), out.weights, 0, 1e-5, 0,
                             "weights", name),
              nw);
    free(out.context);
    free(out.weights);
    free(x);
    free(src);
    free(ids);
    free(sids);
}

static void run_fixture(at_pool *pool)
{
    api_model_registry *reg = mt_fixture_registry();
    cJSON *doc = mt_load_json("model_cases.json");
    const cJSON *cases = cJSON_GetObjectItem(doc, "cases");
    ASSERT(cJSON_GetArraySize(cases) >= 15);
    for (const cJSON *c = cases->child; c; c = c->next)
        run_case(reg, c, pool);
    cJSON_Delete(doc);
    api_model_registry_free(reg);
}

TEST(mha_fixture_cases_match_pytorch)
{
    run_fixture(NULL);
}

TEST(mha_fixture_cases_on_a_pool)
{
    at_pool *pool = at_pool_new(3, 4);
    ASSERT(pool != NULL);
    run_fixture(pool);
    at_pool_free(pool);
}

/* ---- an independent double-precision multi-head attention ---- */

/* context [L, E], weights [H, L, S] or averaged [L, S]; the additive score as
 * sum_a v[a] tanh(W_q q + W_k k + b)[a]. Rows with no allowed key get zeros. */
static void ref_mha(const at_mha_weights *w, const float *x, int64_t L, const float *src, int64_t S,
                    const at_attention_desc *o, double *ctx, double *wts)
{
    const int64_t E = w->embed_dim, H = w->num_heads, hd = E / H;
    if (!src) src = x, S = L;
    double *q = calloc((size_t)(L * E), sizeof(double)),
           *k = calloc((size_t)(S * E), sizeof(double));
    double *v = calloc((size_t)(S * E), sizeof(double)),
           *heads = calloc((size_t)(L * E), sizeof(double));
    double *p = calloc((size_t)S, sizeof(double));
    ASSERT(q && k && v && heads && p);
    for (int64_t part = 0; part < 3; part++) {
        const float *in = part == 0 ? x : src;
        double *dst = part == 0 ? q : part == 1 ? k : v;
        for (int64_t r = 0; r < (part ? S : L); r++)
            for (int64_t f = 0; f < E; f++) {
                double acc = w->in_proj_bias ? w->in_proj_bias[part * E + f] : 0;
                for (int64_t c = 0; c < E; c++)
                    acc += (double)w->in_proj_weight[(part * E + f) * E + c] * in[r * E + c];
                dst[r * E + f] = acc;
            }
    }
    if (wts) memset(wts, 0, (size_t)((o->average_heads ? 1 : H) * L * S) * sizeof(double));
    const at_additive *ad = w->additive;
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < L; i++) {
            double mx = -INFINITY, sum = 0;
            int64_t limit = o->causal ? (i + 1 < S ? i + 1 : S) : S;
            for (int64_t j = 0; j < limit; j++) {
                double sc = 0;
                if (o->score == AT_SCORE_ADDITIVE) {
                    int64_t da = ad->weight.ne[0];
                    const float *W = ad->weight.data;
                    for (int64_t a = 0; a < da; a++) {
                        double t = ad->bias ? ad->bias[a] : 0;
                        for (int64_t c = 0; c < hd; c++)
                            t += W[a * 2 * hd + c] * q[i * E + h * hd + c] +
                                 W[a * 2 * hd + hd + c] * k[j * E + h * hd + c];
                        sc += (ad->v ? ad->v[a] : 1.0) * tanh(t);
                    }
                } else {
                    for (int64_t c = 0; c < hd; c++)
                        sc += q[i * E + h * hd + c] * k[j * E + h * hd + c];
                    sc /= sqrt((double)hd);
                }
                p[j] = sc;
                mx = fmax(mx, sc);
            }
            for (int64_t j = 0; j < limit; j++)
                sum += (p[j] = exp(p[j] - mx));
            for (int64_t j = 0; j < limit; j++) {
                p[j] /= sum;
                for (int64_t c = 0; c < hd; c++)
                    heads[i * E + h * hd + c] += p[j] * v[j * E + h * hd + c];
                if (wts && o->average_heads)
                    wts[i * S + j] += p[j] / (double)H;
                else if (wts)
                    wts[(h * L + i) * S + j] = p[j];
            }
        }
    for (int64_t i = 0; i < L; i++)
        for (int64_t f = 0; f < E; f++) {
            double acc = w->out_proj_bias ? w->out_proj_bias[f] : 0;
            for (int64_t c = 0; c < E; c++)
                acc += (double)w->out_proj_weight[f * E + c] * heads[i * E + c];
            ctx[i * E + f] = acc;
        }
    free(q), free(k), free(v), free(heads), free(p);
}

static float *random_floats(ct_rng *r, int64_t n, float scale)
{
    float *f = malloc((size_t)n * sizeof(float));
    ASSERT(f != NULL);
    for (int64_t i = 0; i < n; i++)
        f[i] = scale * ct_rng_float(r);
    return f;
}

static void random_vs_reference(at_pool *pool, uint64_t seed, int rounds)
{
    ct_rng r = {seed};
    for (int n = 0; n < rounds; n++) {
        const int64_t H = ct_rng_int(&r, 1, 4), hd = ct_rng_int(&r, 1, 9), E = H * hd;
        const int64_t L = ct_rng_int(&r, 1, 24),
                      S = ct_rng_int(&r, 0, 1) ? ct_rng_int(&r, 1, 24) : 0;
        const float ws = 1.0f / sqrtf((float)E);
        at_additive add = {0};
        at_mha_weights w = {
            .embed_dim = E,
            .num_heads = H,
            .in_proj_weight = random_floats(&r, 3 * E * E, 1.5f * ws),
            .in_proj_bias = ct_rng_int(&r, 0, 3) ? random_floats(&r, 3 * E, 0.3f) : NULL,
            .out_proj_weight = random_floats(&r, E * E, ws),
            .out_proj_bias = ct_rng_int(&r, 0, 3) ? random_floats(&r, E, 0.3f) : NULL,
        };
        at_attention_desc o = {
            .score = ct_rng_int(&r, 0, 2) ? AT_SCORE_SCALED_DOT : AT_SCORE_ADDITIVE,
            .causal = ct_rng_int(&r, 0, 1),
            .need_weights = ct_rng_int(&r, 0, 3) != 0,
            .average_heads = ct_rng_int(&r, 0, 1),
        };
        if (o.score == AT_SCORE_ADDITIVE) {
            int64_t da = ct_rng_int(&r, 1, 7);
            add.weight = at_tensor_make(AT_F32, 2, (int64_t[]){da, 2 * hd},
                                        random_floats(&r, da * 2 * hd, 0.5f));
            add.bias = ct_rng_int(&r, 0, 1) ? random_floats(&r, da, 0.2f) : NULL;
            add.v = ct_rng_int(&r, 0, 1) ? random_floats(&r, da, 1.0f) : NULL;
            w.additive = &add;
        }
        float *x = random_floats(&r, L * E, 1.0f), *src = S ? random_floats(&r, S * E, 1.0f) : NULL;
        const int64_t s = S ? S : L, nw = (o.average_heads ? 1 : H) * L * s;
        at_mha_out out = {.context = malloc((size_t)(L * E) * sizeof(float)),
                          .weights = o.need_weights ? malloc((size_t)nw * sizeof(float)) : NULL};
        double *ctx = malloc((size_t)(L * E) * sizeof(double)),
               *wts = malloc((size_t)nw * sizeof(double));
        ASSERT(out.context && ctx && wts);
        ASSERT_EQ(mt_run_mha(pool, &w, x, L, src, S, &o, &out), AT_OK);
        ref_mha(&w, x, L, src, S, &o, ctx, wts);
        for (int64_t i = 0; i < L * E; i++)
            if (!(fabs(out.context[i] - ctx[i]) <= 1e-5 + 1e-4 * fabs(ctx[i])))
                harness_fail(__FILE__, __LINE__,
                             "round %d (E %lld H %lld L %lld S %lld score %d causal %d): "
                             "context[%lld] %.9g vs %.9g",
                             n, (long long)E, (long long)H, (long long)L, (long long)S, o.score,
                             o.causal, (long long)i, (double)out.context[i], ctx[i]);
        for (int64_t i = 0; o.need_weights && i < nw; i++)
            if (!(fabs(out.weights[i] - wts[i]) <= 1e-5))
                harness_fail(__FILE__, __LINE__, "round %d: weights[%lld] %.9g vs %.9g", n,
                             (long long)i, (double)out.weights[i], wts[i]);
        free((void *)w.in_proj_weight), free((void *)w.in_proj_bias);
        free((void *)w.out_proj_weight), free((void *)w.out_proj_bias);
        free(add.weight.data), free((void *)add.bias), free((void *)add.v);
        free(x), free(src), free(out.context), free(out.weights), free(ctx), free(wts);
    }
}

TEST(mha_random_vs_double_reference)
{
    random_vs_reference(NULL, 0x243F6A8885A308D3ull, 300);
}

TEST(mha_random_vs_double_reference_on_a_pool)
{
    at_pool *pool = at_pool_new(4, 8);
    ASSERT(pool != NULL);
    random_vs_reference(pool, 0x13198A2E03707344ull, 150);
    at_pool_free(pool);
}

TEST(mha_long_sequence_on_a_pool_matches_inline)
{
    /* Enough rows that the projections are split into several chunks. */
    api_model_registry *reg = api_model_registry_new();
    const at_model *m = api_model_core(api_model_registry_find(reg, "default"));
    const int64_t L = 200, S = 77, E = m->mha.embed_dim;
    uint64_t *ids = malloc((size_t)L * sizeof *ids);
    float *x = malloc((size_t)(L * E) * sizeof(float)),
          *src = malloc((size_t)(S * E) * sizeof(float));
    ASSERT(ids && x && src);
    for (int64_t i = 0; i < L; i++)
        ids[i] = (uint64_t)i * 7919u;
    at_model_embed(m, ids, L, x);
    at_model_embed(m, ids + 5, S, src);
    at_attention_desc o = {.need_weights = true, .causal = true};
    size_t nw = (size_t)(m->mha.num_heads * L * S), nc = (size_t)(L * E);
    at_mha_out a = {malloc(nc * sizeof(float)), malloc(nw * sizeof(float))};
    at_mha_out b = {malloc(nc * sizeof(float)), malloc(nw * sizeof(float))};
    at_pool *pool = at_pool_new(4, 4);
    ASSERT(pool && a.context && a.weights && b.context && b.weights);
    ASSERT_EQ(mt_run_mha(NULL, &m->mha, x, L, src, S, &o, &a), AT_OK);
    ASSERT_EQ(mt_run_mha(pool, &m->mha, x, L, src, S, &o, &b), AT_OK);
    ASSERT(memcmp(a.context, b.context, nc * sizeof(float)) == 0);
    ASSERT(memcmp(a.weights, b.weights, nw * sizeof(float)) == 0);
    at_pool_free(pool);
    free(a.context), free(a.weights), free(b.context), free(b.weights);
    free(ids), free(x), free(src);
    api_model_registry_free(reg);
}

/* ---- a source projected once (at_mha_project_source, at_mha_forward_projected) ---- */

typedef struct projected_call {
    const at_mha_weights *w;
    const float *x, *src;
    int64_t len, src_len;
    const at_attention_desc *opts;
    const at_mha_out *out;
} projected_call;

/* Projects the source on its own workspace, then attends on another: as a stored source is
 * made by one request and used by later ones. */
static int projected_run(void *ctx, at_pool *pool, int worker)
{
    projected_call *c = ctx;
    const at_mha_weights *w = c->w;
    size_t kv = (size_t)(c->src_len * w->embed_dim);
    float *key = malloc(kv * sizeof(float)), *value = malloc(kv * sizeof(float));
    size_t ps = at_mha_source_workspace_size(w, c->src_len);
    void *pws = aligned_alloc(64, (ps + 63) / 64 * 64);
    ASSERT(key && value && pws);
    int rc = at_mha_project_source(w, c->src, c->src_len, key, value, NULL, pws, pool, worker);
    free(pws);
    if (rc == AT_OK) {
        size_t fs =
            at_mha_projected_workspace_size(w, c->len, c->src_len, c->opts, at_pool_threads(pool));
        void *fws = aligned_alloc(64, (fs + 63) / 64 * 64);
        ASSERT(fws != NULL);
        at_mha_kv src = {key, value, c->src_len};
        rc = at_mha_forward_projected(w, c->x, c->len, &src, c->opts, c->out, fws, pool, worker);
        free(fws);
    }
    free(key), free(value);
    return rc;
}

/* Every option family, short and long sequences (several blocks of rows each), on the calling
 * thread and on a pool: the projected source gives the very bits of the source itself. */
static void projected_matches(at_pool *pool)
{
    api_model_registry *reg = mt_fixture_registry();
    const char *models[] = {"default", "tiny"};
    const int64_t shapes[][2] = {{1, 1}, {1, 7}, {5, 3}, {33, 100}, {70, 31}};
    const at_attention_desc opts[] = {
        {.need_weights = true},
        {.need_weights = false},
        {.need_weights = true, .causal = true},
        {.need_weights = true, .average_heads = true},
        {.need_weights = true, .score = AT_SCORE_ADDITIVE},
        {.need_weights = true, .selection = AT_SELECT_TOPK, .k = 2},
    };
    for (size_t mi = 0; mi < 2; mi++) {
        const at_model *m = api_model_core(api_model_registry_find(reg, models[mi]));
        const int64_t E = m->mha.embed_dim, H = m->mha.num_heads;
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            const int64_t L = shapes[si][0], S = shapes[si][1];
            if (m->max_len && (L > m->max_len || S > m->max_len)) continue;
            uint64_t *ids = malloc((size_t)(L + S) * sizeof *ids);
            float *x = malloc((size_t)(L * E) * sizeof(float)),
                  *src = malloc((size_t)(S * E) * sizeof(float));
            ASSERT(ids && x && src);
            for (int64_t i = 0; i < L + S; i++)
                ids[i] = m->vocab_size ? (uint64_t)(i * 7) % (uint64_t)m->vocab_size
                                       : (uint64_t)i * 7919u;
            at_model_embed(m, ids, L, x);
            at_model_embed(m, ids + L, S, src);
            for (size_t oi = 0; oi < sizeof opts / sizeof opts[0]; oi++) {
                if (opts[oi].score == AT_SCORE_ADDITIVE && !m->mha.additive) continue;
                size_t nw = (size_t)(H * L * S), nc = (size_t)(L * E);
                at_mha_out a = {malloc(nc * sizeof(float)), malloc(nw * sizeof(float))};
                at_mha_out b = {malloc(nc * sizeof(float)), malloc(nw * sizeof(float))};
                ASSERT(a.context && a.weights && b.context && b.weights);
                memset(a.weights, 0, nw * sizeof(float)), memset(b.weights, 0, nw * sizeof(float));
                ASSERT_EQ(mt_run_mha(pool, &m->mha, x, L, src, S, &opts[oi], &a), AT_OK);
                projected_call c = {&m->mha, x, src, L, S, &opts[oi], &b};
                ASSERT_EQ(ct_run_on_pool(pool, projected_run, &c), AT_OK);
                if (memcmp(a.context, b.context, nc * sizeof(float)) != 0 ||
                    memcmp(a.weights, b.weights, nw * sizeof(float)) != 0)
                    harness_fail(__FILE__, __LINE__, "%s L %lld S %lld options #%zu differ",
                                 models[mi], (long long)L, (long long)S, oi);
                free(a.context), free(a.weights), free(b.context), free(b.weights);
            }
            free(ids), free(x), free(src);
        }
    }
    api_model_registry_free(reg);
}

TEST(mha_projected_source_matches_forward)
{
    projected_matches(NULL);
}

TEST(mha_projected_source_matches_forward_on_a_pool)
{
    at_pool *pool = at_pool_new(3, 4);
    ASSERT(pool != NULL);
    projected_matches(pool);
    at_pool_free(pool);
}

TEST(mha_check_source_refuses_self_attention_layers)
{
    api_model_registry *reg = mt_fixture_registry();
    const at_model *m = api_model_core(api_model_registry_find(reg, "tiny"));
    char err[256];
    ASSERT_EQ(at_mha_check_source(&m->mha, 3, err, sizeof err), AT_OK);
    ASSERT_EQ(at_mha_check_source(&m->mha, 0, err, sizeof err), AT_EINVAL);
    ASSERT_CONTAINS(err, "expected at least 1");
    at_mha_weights gpt = m->mha;
    gpt.conv1d = true;
    ASSERT_EQ(at_mha_check_source(&gpt, 3, err, sizeof err), AT_EINVAL);
    ASSERT_CONTAINS(err, "self-attention only");
    api_model_registry_free(reg);
}

/* ---- options that pass through to the per-head attention ---- */

TEST(mha_topk_and_key_lengths_pass_through)
{
    api_model_registry *reg = api_model_registry_new();
    const at_model *m = api_model_core(api_model_registry_find(reg, "default"));
    const int64_t L = 4, E = m->mha.embed_dim, H = m->mha.num_heads;
    uint64_t ids[4] = {1, 2, 3, 4};
    float x[4 * 64], ctx[4 * 64], wts[4 * 4 * 4];
    at_model_embed(m, ids, L, x);
    at_attention_desc o = {.selection = AT_SELECT_TOPK, .k = 1, .need_weights = true};
    at_mha_out out = {ctx, wts};
    ASSERT_EQ(mt_run_mha(NULL, &m->mha, x, L, NULL, 0, &o, &out), AT_OK);
    for (int64_t r = 0; r < H * L; r++) { /* one key per row and head */
        double sum = 0;
        for (int64_t j = 0; j < L; j++) {
            ASSERT(wts[r * L + j] == 0.0f || wts[r * L + j] == 1.0f);
            sum += wts[r * L + j];
        }
        ASSERT_NEAR(sum, 1.0, 0);
    }
    int64_t lengths[1] = {2};
    at_attention_desc o2 = {.key_lengths = lengths, .need_weights = true, .average_heads = true};
    ASSERT_EQ(mt_run_mha(NULL, &m->mha, x, L, NULL, 0, &o2, &out), AT_OK);
    for (int64_t i = 0; i < L; i++)
        ASSERT(wts[i * L + 2] == 0.0f && wts[i * L + 3] == 0.0f && wts[i * L] > 0.0f);
    (void)E;
    api_model_registry_free(reg);
}

TEST(mha_check_refuses_bad_requests)
{
    api_model_registry *reg = mt_fixture_registry();
    const at_model *tiny = api_model_core(api_model_registry_find(reg, "tiny"));
    at_mha_weights no_add = tiny->mha;
    no_add.additive = NULL;
    at_attention_desc o = {.score = AT_SCORE_ADDITIVE};
    const char *field = NULL;
    char err[512];
    ASSERT_EQ(at_mha_check(&tiny->mha, 3, 0, &o, &field, err, sizeof err), AT_OK);
    ASSERT_EQ(at_mha_check(&no_add, 3, 0, &o, &field, err, sizeof err), AT_EINVAL);
    ASSERT_STREQ(field, "additive");
    ASSERT_CONTAINS(err, "additive: this model has no additive score parameters (additive.weight "
                         "[da, 16])");
    at_attention_desc plain = {0};
    ASSERT_EQ(at_mha_check(&tiny->mha, 0, 0, &plain, &field, err, sizeof err), AT_EINVAL);
    ASSERT_STREQ(field, "len");
    ASSERT_EQ(at_mha_check(&tiny->mha, 2, -1, &plain, &field, err, sizeof err), AT_EINVAL);
    ASSERT_STREQ(field, "src_len");
    at_attention_desc topk = {.selection = AT_SELECT_TOPK, .k = 0};
    ASSERT_EQ(at_mha_check(&tiny->mha, 2, 3, &topk, &field, err, sizeof err), AT_EINVAL);
    ASSERT_STREQ(field, "k");
    at_attention_desc scale = {.has_scale = true, .scale = NAN};
    ASSERT_EQ(at_mha_check(&tiny->mha, 2, 3, &scale, &field, err, sizeof err), AT_EINVAL);
    ASSERT_STREQ(field, "scale");
    at_mha_weights odd = tiny->mha;
    odd.num_heads = 3;
    ASSERT_EQ(at_mha_check(&odd, 2, 0, &plain, &field, err, sizeof err), AT_EINVAL);
    ASSERT_STREQ(field, "embed_dim");
    ASSERT_CONTAINS(err, "embed_dim: 16 must be >= 1 and divisible by num_heads 3");
    api_model_registry_free(reg);
}
