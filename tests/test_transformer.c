/* The BERT and GPT-2 forward passes against tests/fixtures/hf/cases.json (made by
 * make_hf_fixtures.py from the architectures' definitions in PyTorch): every layer's attention
 * to 1e-5 absolute and every hidden state to 1e-5 + 1e-4 relative, in F32, F16 and BF16
 * checkpoints of 1 to 3 layers; the same bits on any thread count and without weights; the
 * checkpoints the loader must refuse; and the LayerNorm and activation kernels against their
 * double references. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/hf_model.h"
#include "../core/activation.h"
#include "../core/layernorm.h"
#include "../core/pool.h"
#include "../core/status.h"
#include "../core/transformer.h"
#include "core_support.h"
#include "harness.h"
#include "model_support.h"

typedef struct tf_call {
    const at_transformer *t;
    const at_tf_run *run;
    void *ws;
} tf_call;

static int tf_call_run(void *ctx, at_pool *pool, int worker)
{
    tf_call *c = ctx;
    return at_transformer_forward(c->t, c->run, c->ws, pool, worker);
}

/* Runs the forward pass with an exactly sized workspace, as a job of `pool` or inline. */
static int tf_run(at_pool *pool, const at_transformer *t, const at_tf_run *run)
{
    bool any = false;
    for (int64_t i = 0; run->weights && i < t->num_layers; i++)
        any = any || run->weights[i];
    size_t size = at_transformer_workspace_size(t, run->len, any, at_pool_threads(pool));
    tf_call c = {t, run, aligned_alloc(64, (size + 63) / 64 * 64)};
    ASSERT(c.ws != NULL);
    int rc = ct_run_on_pool(pool, tf_call_run, &c);
    ASSERT(rc != AT_EBUSY && rc != AT_ESHUTDOWN);
    free(c.ws);
    return rc;
}

static api_hf_model *open_fixture(const char *name)
{
    char rel[256], path[1024], err[1024];
    snprintf(rel, sizeof rel, "hf/%s", name);
    api_hf_model *m = NULL;
    int rc = api_hf_model_open(mt_fixture_path(rel, path, sizeof path), &m, err, sizeof err);
    if (rc != AT_OK) harness_fail(__FILE__, __LINE__, "loading %s: %s", path, err);
    return m;
}

static void read_u64(const cJSON *a, uint64_t *out)
{
    int i = 0;
    for (const cJSON *c = a->child; c; c = c->next)
        out[i++] = (uint64_t)c->valuedouble;
}

/* One case's outputs, computed with every layer's weights and every hidden state. */
typedef struct outputs {
    int64_t n, h, len, e;
    float *hidden, *all_hidden, *attn;
    float **weights;
} outputs;

static void outputs_init(outputs *o, const at_transformer *t, int64_t len)
{
    o->n = t->num_layers, o->h = t->num_heads, o->len = len, o->e = t->embed_dim;
    o->hidden = calloc((size_t)(len * o->e), sizeof(float));
    o->all_hidden = calloc((size_t)((o->n + 1) * len * o->e), sizeof(float));
    o->attn = calloc((size_t)(o->n * o->h * len * len), sizeof(float));
    o->weights = calloc((size_t)o->n, sizeof(float *));
    ASSERT(o->hidden && o->all_hidden && o->attn && o->weights);
    for (int64_t i = 0; i < o->n; i++)
        o->weights[i] = o->attn + i * o->h * len * len;
}

static void outputs_free(outputs *o)
{
    free(o->hidden);
    free(o->all_hidden);
    free(o->attn);
    free(o->weights);
}

static double max_attn_err, max_hidden_rel;

/* Compares against the case; returns nothing, fails the test with the case's index. */
static void check_case(const cJSON *c, int index, const outputs *o)
{
    const cJSON *attn = cJSON_GetObjectItem(c, "attentions"),
                *hid = cJSON_GetObjectItem(c, "hidden");
    ASSERT_EQ(cJSON_GetArraySize(attn), o->n * o->h * o->len * o->len);
    ASSERT_EQ(cJSON_GetArraySize(hid), (o->n + 1) * o->len * o->e);
    int64_t i = 0;
    for (const cJSON *v = attn->child; v; v = v->next, i++) {
        double d = fabs(o->attn[i] - v->valuedouble);
        if (d > max_attn_err) max_attn_err = d;
        if (!(d <= 1e-5))
            harness_fail(__FILE__, __LINE__, "case %d (%s): attentions[%lld] %.9g vs %.9g", index,
                         cJSON_GetObjectItem(c, "model")->valuestring, (long long)i, o->attn[i],
                         v->valuedouble);
    }
    i = 0;
    for (const cJSON *v = hid->child; v; v = v->next, i++) {
        double d = fabs(o->all_hidden[i] - v->valuedouble);
        double rel = d / (fabs(v->valuedouble) + 1e-1);
        if (rel > max_hidden_rel) max_hidden_rel = rel;
        if (!(d <= 1e-5 + 1e-4 * fabs(v->valuedouble)))
            harness_fail(__FILE__, __LINE__, "case %d (%s): hidden[%lld] %.9g vs %.9g", index,
                         cJSON_GetObjectItem(c, "model")->valuestring, (long long)i,
                         o->all_hidden[i], v->valuedouble);
    }
    /* The last hidden state is the last entry of all of them. */
    ASSERT(memcmp(o->hidden, o->all_hidden + o->n * o->len * o->e,
                  (size_t)(o->len * o->e) * sizeof(float)) == 0);
}

TEST(transformer_matches_pytorch_reference)
{
    cJSON *doc = mt_load_json("hf/cases.json");
    at_pool *pool = at_pool_new(2, 4);
    ASSERT(pool != NULL);
    int index = 0, count = 0, packed_cases = 0;
    for (const cJSON *c = cJSON_GetObjectItem(doc, "cases")->child; c; c = c->next, index++) {
        api_hf_model *m = open_fixture(cJSON_GetObjectItem(c, "model")->valuestring);
        const at_transformer *t = api_hf_model_core(m);
        /* Loading an F32 checkpoint packs every layer's weights (core/packed.h), an F16 or
         * BF16 one none: the comparison covers both paths. */
        bool f32 = !strcmp(api_hf_model_dtype(m), "F32");
        for (int64_t l = 0; l < t->num_layers; l++) {
            const at_tf_layer *y = &t->layers[l];
            ASSERT_EQ(!!y->ffn_in_packed + !!y->ffn_out_packed + !!y->attn.packed_qkv +
                          !!y->attn.packed_qkv_bias + !!y->attn.packed_out,
                      f32 ? 5 : 0);
        }
        packed_cases += f32;
        const cJSON *ids = cJSON_GetObjectItem(c, "ids"),
                    *tt = cJSON_GetObjectItem(c, "token_type_ids");
        int64_t len = cJSON_GetArraySize(ids);
        uint64_t idv[64];
        uint8_t types[64] = {0};
        ASSERT(len <= 64);
        read_u64(ids, idv);
        int k = 0;
        for (const cJSON *v = tt ? tt->child : NULL; v; v = v->next)
            types[k++] = (uint8_t)v->valueint;
        outputs o, p;
        outputs_init(&o, t, len);
        at_tf_run run = {.ids = idv,
                         .types = types,
                         .len = len,
                         .hidden = o.hidden,
                         .all_hidden = o.all_hidden,
                         .weights = o.weights};
        ASSERT_EQ(tf_run(NULL, t, &run), AT_OK);
        check_case(c, index, &o);
        /* On two workers: the same bits. */
        outputs_init(&p, t, len);
        run.hidden = p.hidden, run.all_hidden = p.all_hidden, run.weights = p.weights;
        ASSERT_EQ(tf_run(pool, t, &run), AT_OK);
        ASSERT(memcmp(o.attn, p.attn, (size_t)(o.n * o.h * len * len) * sizeof(float)) == 0);
        ASSERT(memcmp(o.all_hidden, p.all_hidden,
                      (size_t)((o.n + 1) * len * o.e) * sizeof(float)) == 0);
        /* Without weights (the tiled attention) and without all hidden states: the same last
         * hidden state within float rounding. */
        memset(p.hidden, 0, (size_t)(len * o.e) * sizeof(float));
        run = (at_tf_run){.ids = idv, .types = types, .len = len, .hidden = p.hidden};
        ASSERT_EQ(tf_run(pool, t, &run), AT_OK);
        for (int64_t i = 0; i < len * o.e; i++)
            ASSERT_NEAR(p.hidden[i], o.hidden[i], 1e-5 + 1e-5 * fabs(o.hidden[i]));
        outputs_free(&o);
        outputs_free(&p);
        api_hf_model_free(m);
        count++;
    }
    ASSERT(count >= 18);
    ASSERT(packed_cases >= 6 && packed_cases < count);
    fprintf(stderr,
            "  transformer: %d cases, max attention error %.3g, max hidden error %.3g "
            "(relative to |ref| + 0.1)\n",
            count, max_attn_err, max_hidden_rel);
    at_pool_free(pool);
    cJSON_Delete(doc);
}

/* LayerNorm.gamma / .beta (TensorFlow-converted checkpoints) load as .weight / .bias. */
TEST(transformer_loader_reads_gamma_beta_names)
{
    api_hf_model *a = open_fixture("bert_l1_f16"), *b = open_fixture("bert_l1_f16_gamma");
    const at_transformer *ta = api_hf_model_core(a), *tb = api_hf_model_core(b);
    uint64_t ids[5] = {2, 5, 6, 7, 3};
    float ha[5 * 16], hb[5 * 16];
    at_tf_run ra = {.ids = ids, .len = 5, .hidden = ha}, rb = {.ids = ids, .len = 5, .hidden = hb};
    ASSERT_EQ(tf_run(NULL, ta, &ra), AT_OK);
    ASSERT_EQ(tf_run(NULL, tb, &rb), AT_OK);
    ASSERT(memcmp(ha, hb, sizeof ha) == 0);
    api_hf_model_free(a);
    api_hf_model_free(b);
}

TEST(transformer_loader_refuses_bad_checkpoints)
{
    cJSON *doc = mt_load_json("hf/cases.json");
    int n = 0;
    for (const cJSON *c = cJSON_GetObjectItem(doc, "refused")->child; c; c = c->next, n++) {
        char rel[256], path[1024], err[1024] = "";
        snprintf(rel, sizeof rel, "hf/%s", cJSON_GetObjectItem(c, "dir")->valuestring);
        api_hf_model *m = NULL;
        int rc = api_hf_model_open(mt_fixture_path(rel, path, sizeof path), &m, err, sizeof err);
        ASSERT(rc != AT_OK);
        ASSERT(m == NULL);
        ASSERT_CONTAINS(err, cJSON_GetObjectItem(c, "error")->valuestring);
        ASSERT_CONTAINS(err, path); /* the file at fault is named */
    }
    ASSERT_EQ(n, 5);
    cJSON_Delete(doc);
}

TEST(transformer_loader_names_the_file)
{
    char dir[256], buf[1024], err[1024];
    mt_tmpdir(dir, sizeof dir);
    api_hf_model *m = NULL;
    /* No config.json. */
    ASSERT(api_hf_model_open(dir, &m, err, sizeof err) == AT_EIO);
    ASSERT_CONTAINS(err, "config.json: cannot open");
    /* A model type it does not serve. */
    const char *t5 = "{\"model_type\": \"t5\"}";
    mt_write_file(dir, "config.json", t5, strlen(t5), buf, sizeof buf);
    ASSERT(api_hf_model_open(dir, &m, err, sizeof err) == AT_EINVAL);
    ASSERT_CONTAINS(err, "model_type: \"t5\" is not supported");
    /* A size of the wrong type. */
    const char *bad = "{\"model_type\": \"gpt2\", \"vocab_size\": 40, \"n_embd\": \"16\"}";
    mt_write_file(dir, "config.json", bad, strlen(bad), buf, sizeof buf);
    ASSERT(api_hf_model_open(dir, &m, err, sizeof err) == AT_EINVAL);
    ASSERT_CONTAINS(err, "key n_embd: expected an integer");
    /* A decoder BERT computes something else: refused. */
    const char *dec = "{\"model_type\": \"bert\", \"vocab_size\": 4, \"hidden_size\": 4, "
                      "\"num_hidden_layers\": 1, \"num_attention_heads\": 1, "
                      "\"intermediate_size\": 4, \"max_position_embeddings\": 4, "
                      "\"type_vocab_size\": 1, \"is_decoder\": true}";
    mt_write_file(dir, "config.json", dec, strlen(dec), buf, sizeof buf);
    ASSERT(api_hf_model_open(dir, &m, err, sizeof err) == AT_EINVAL);
    ASSERT_CONTAINS(err, "is_decoder");
    /* A valid config without weights. */
    const char *ok = "{\"model_type\": \"bert\", \"vocab_size\": 4, \"hidden_size\": 4, "
                     "\"num_hidden_layers\": 1, \"num_attention_heads\": 1, "
                     "\"intermediate_size\": 4, \"max_position_embeddings\": 4, "
                     "\"type_vocab_size\": 1}";
    mt_write_file(dir, "config.json", ok, strlen(ok), buf, sizeof buf);
    ASSERT(api_hf_model_open(dir, &m, err, sizeof err) == AT_EIO);
    ASSERT_CONTAINS(err, "model.safetensors: not found");
    mt_tmpdir_remove(dir);
}

/* The 16-lane paths with a tail: rows of 37 with large means, 100 activations over [-12, 12]. */
TEST(layernorm_and_activations_vector_paths_match_references)
{
    enum { R = 3, D = 37, N = 100 };
    float x[R * D], g[D], b[D], out[R * D];
    double ref[R * D];
    for (int i = 0; i < R * D; i++)
        x[i] = (float)(sin(i * 1.3) * 2 + (i / D) * 300);
    for (int i = 0; i < D; i++)
        g[i] = 1.0f - 0.01f * (float)i, b[i] = 0.05f * (float)i;
    at_layernorm(x, R, D, g, b, 1e-12f, out);
    at_ref_layernorm(x, R, D, g, b, 1e-12, ref);
    for (int i = 0; i < R * D; i++)
        ASSERT_NEAR(out[i], ref[i], 2e-6 * (1 + fabs(ref[i])));
    const at_activation acts[] = {AT_ACT_GELU, AT_ACT_GELU_TANH, AT_ACT_RELU};
    for (int a = 0; a < 3; a++) {
        float v[N];
        for (int i = 0; i < N; i++)
            v[i] = (float)(-12.0 + 24.0 * i / (N - 1));
        at_activation_apply(acts[a], v, N);
        for (int i = 0; i < N; i++) {
            double in = (float)(-12.0 + 24.0 * i / (N - 1));
            ASSERT_NEAR(v[i], at_ref_activation(acts[a], in), 1e-6 + 1e-6 * fabs(in));
        }
    }
    /* Far out on the negative side GELU is x Phi(x), tiny but not zero: erfc keeps it. */
    float far[16];
    for (int i = 0; i < 16; i++)
        far[i] = -7.0f - 0.25f * (float)i;
    at_activation_apply(AT_ACT_GELU, far, 16);
    for (int i = 0; i < 16; i++) {
        double xv = -7.0 - 0.25 * i, want = 0.5 * xv * erfc(-xv * M_SQRT1_2);
        ASSERT_NEAR(far[i], want, 1e-5 * fabs(want));
    }
}

TEST(layernorm_and_activations_match_references)
{
    float x[3 * 7], g[7], b[7], out[3 * 7];
    double ref[3 * 7];
    for (int i = 0; i < 21; i++)
        x[i] = (float)(sin(i * 1.7) * 3 + (i / 7) * 100); /* rows with large means */
    for (int i = 0; i < 7; i++)
        g[i] = 1.0f + 0.1f * (float)i, b[i] = -0.2f * (float)i;
    at_layernorm(x, 3, 7, g, b, 1e-5f, out);
    at_ref_layernorm(x, 3, 7, g, b, 1e-5, ref);
    for (int i = 0; i < 21; i++)
        ASSERT_NEAR(out[i], ref[i], 2e-6 * (1 + fabs(ref[i])));
    at_layernorm(x, 3, 7, g, b, 1e-5f, x); /* in place */
    ASSERT(memcmp(x, out, sizeof out) == 0);
    const at_activation acts[] = {AT_ACT_GELU, AT_ACT_GELU_TANH, AT_ACT_RELU};
    for (int a = 0; a < 3; a++) {
        float v[9];
        for (int i = 0; i < 9; i++)
            v[i] = (float)(i - 4) * 0.75f;
        at_activation_apply(acts[a], v, 9);
        for (int i = 0; i < 9; i++)
            ASSERT_NEAR(v[i], at_ref_activation(acts[a], (i - 4) * 0.75), 1e-6);
    }
    /* Known values: gelu(1) = 0.8413447, gelu_new(1) = 0.8411920. */
    ASSERT_NEAR(at_ref_activation(AT_ACT_GELU, 1.0), 0.8413447460685429, 1e-12);
    ASSERT_NEAR(at_ref_activation(AT_ACT_GELU_TANH, 1.0), 0.8411919906082768, 1e-12);
    at_activation act;
    ASSERT_EQ(at_activation_parse("gelu_pytorch_tanh", &act), 0);
    ASSERT_EQ(act, AT_ACT_GELU_TANH);
    ASSERT_EQ(at_activation_parse("silu", &act), -1);
}
