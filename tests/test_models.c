/* Unit tests of core/model.c, core/embed.c and the registry of api/model_registry.c: the
 * built-in model is deterministic and takes text in any language, token ids (vocabulary,
 * lower-casing, [UNK], hashing), length and id checks, positional encodings, and the registry's
 * listing, names and JSON descriptions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/embed.h"
#include "../core/model.h"
#include "../core/status.h"
#include "harness.h"
#include "model_support.h"

/* Tokenizes text into toks (at most 64), returns the count. */
static size_t tokens_of(const char *text, at_token *toks)
{
    size_t n = 0;
    char err[256];
    if (at_tokenize(text, strlen(text), toks, 64, &n, err, sizeof err) != AT_OK)
        harness_fail(__FILE__, __LINE__, "%s", err);
    ASSERT(n <= 64);
    return n;
}

/* Runs a model on text (self-attention, weights per head); returns context and weights. */
static void run_text(const at_model *m, const char *text, at_pool *pool, float **ctx, float **wts,
                     int64_t *len)
{
    at_token toks[64];
    uint64_t ids[64];
    char err[256];
    size_t n = tokens_of(text, toks);
    ASSERT_EQ(at_model_check_len(m, (int64_t)n, "text", err, sizeof err), AT_OK);
    ASSERT_EQ(at_model_token_ids(m, toks, n, ids, NULL, err, sizeof err), AT_OK);
    const int64_t e = m->mha.embed_dim, h = m->mha.num_heads, L = (int64_t)n;
    float *x = malloc((size_t)(L * e) * sizeof(float));
    *ctx = malloc((size_t)(L * e) * sizeof(float));
    *wts = malloc((size_t)(h * L * L) * sizeof(float));
    ASSERT(x && *ctx && *wts);
    at_model_embed(m, ids, L, x);
    at_attention_desc o = {.need_weights = true};
    at_mha_out out = {*ctx, *wts};
    ASSERT_EQ(mt_run_mha(pool, &m->mha, x, L, NULL, 0, &o, &out), AT_OK);
    free(x);
    *len = L;
}

TEST(model_default_is_deterministic)
{
    api_model_registry *r1 = api_model_registry_new(), *r2 = api_model_registry_new();
    ASSERT(r1 && r2);
    const at_model *a = api_model_core(api_model_registry_find(r1, "default"));
    const at_model *b = api_model_core(api_model_registry_find(r2, "default"));
    ASSERT(a->mha.embed_dim == 64 && a->mha.num_heads == 4 && a->mha.additive != NULL);
    ASSERT(memcmp(a->mha.in_proj_weight, b->mha.in_proj_weight, 3 * 64 * 64 * sizeof(float)) == 0);
    at_pool *pool = at_pool_new(3, 4);
    float *c1, *w1, *c2, *w2;
    int64_t l1, l2;
    const char *text = "The quick brown fox 跳过 the lazy dog";
    run_text(a, text, NULL, &c1, &w1, &l1);
    run_text(b, text, pool, &c2, &w2, &l2);
    ASSERT_EQ(l1, 9);
    ASSERT(memcmp(c1, c2, (size_t)(l1 * 64) * sizeof(float)) == 0);
    ASSERT(memcmp(w1, w2, (size_t)(4 * l1 * l1) * sizeof(float)) == 0);
    free(c1), free(w1), free(c2), free(w2);
    at_pool_free(pool);
    api_model_registry_free(r1);
    api_model_registry_free(r2);
}

TEST(model_default_takes_any_language)
{
    static const char *const texts[] = {
        "欢迎来北京", "こんにちは世界", "안녕하세요 세계", "مرحبا بالعالم",      "नमस्ते दुनिया",
        "สวัสดีชาวโลก", "Γειά σου Κόσμε", "Привет, мир!",    "🙂 👋🏽 🎉", "x",
    };
    api_model_registry *r = api_model_registry_new();
    const at_model *m = api_model_core(api_model_registry_find(r, "default"));
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        float *ctx, *wts;
        int64_t L;
        run_text(m, texts[t], NULL, &ctx, &wts, &L);
        for (int64_t i = 0; i < L * 64; i++)
            ASSERT(isfinite(ctx[i]));
        for (int64_t r0 = 0; r0 < 4 * L; r0++) {
            double sum = 0;
            for (int64_t j = 0; j < L; j++)
                sum += wts[r0 * L + j];
            ASSERT_NEAR(sum, 1.0, 1e-5);
        }
        free(ctx), free(wts);
    }
    api_model_registry_free(r);
}

TEST(model_hashing_embeddings)
{
    float a[64], b[64], c[64];
    at_embed_hashed(AT_DEFAULT_SEED, at_fnv1a64("北京", strlen("北京")), 64, a);
    at_embed_hashed(AT_DEFAULT_SEED, at_fnv1a64("北京", strlen("北京")), 64, b);
    at_embed_hashed(AT_DEFAULT_SEED, at_fnv1a64("东京", strlen("东京")), 64, c);
    ASSERT(memcmp(a, b, sizeof a) == 0 && memcmp(a, c, sizeof a) != 0);
    /* Unit variance per component: over many ids the mean square is about 1. */
    double sq = 0, mean = 0;
    float v[64];
    for (uint64_t id = 0; id < 500; id++) {
        at_embed_hashed(AT_DEFAULT_SEED, id, 64, v);
        for (int e = 0; e < 64; e++)
            sq += (double)v[e] * v[e], mean += v[e];
    }
    ASSERT_NEAR(sq / 32000, 1.0, 0.03);
    ASSERT_NEAR(mean / 32000, 0.0, 0.02);
}

TEST(model_sinusoidal_positions)
{
    float x[3 * 5] = {0};
    at_positional_add_sinusoidal(x, 3, 5);
    ASSERT(x[0] == 0.0f && x[1] == 1.0f && x[4] == 0.0f); /* pos 0: sin 0, cos 0, ..., sin 0 */
    ASSERT_NEAR(x[5 + 0], sin(1.0), 1e-7);
    ASSERT_NEAR(x[5 + 1], cos(1.0), 1e-7);
    ASSERT_NEAR(x[10 + 2], sin(2.0 / pow(10000.0, 2.0 / 5)), 1e-7);
    ASSERT_NEAR(x[10 + 3], cos(2.0 / pow(10000.0, 2.0 / 5)), 1e-7);
    ASSERT_NEAR(x[10 + 4], sin(2.0 / pow(10000.0, 4.0 / 5)), 1e-7); /* odd dim ends with a sine */
}

TEST(model_token_ids_vocab_lowercase_unknown)
{
    api_model_registry *r = mt_fixture_registry();
    const at_model *tiny = api_model_core(api_model_registry_find(r, "tiny"));
    ASSERT(tiny->lowercase && tiny->unk_id == 1 && tiny->max_len == 32);
    at_token toks[64];
    uint64_t ids[64];
    size_t unknown = 0, n = tokens_of("HELLO wOrLd zebra 北京 欢迎 CAFÉ МОСКВА", toks);
    char err[256];
    ASSERT_EQ(at_model_token_ids(tiny, toks, n, ids, &unknown, err, sizeof err), AT_OK);
    /* Spaces separate the CJK words, so 北京 and 欢迎 stay whole. */
    static const uint64_t want[] = {18, 19, 1, 10, 9, 30, 31};
    ASSERT_EQ(n, 7);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(ids[i], want[i]);
    ASSERT_EQ(unknown, 1);
    /* Tokens given as-is: whole words and a token longer than any vocabulary entry. */
    at_token given[3] = {
        {"北京", strlen("北京")}, {"with space", 10}, {"averyveryverylongtokenindeed", 28}};
    ASSERT_EQ(at_model_token_ids(tiny, given, 3, ids, &unknown, err, sizeof err), AT_OK);
    ASSERT(ids[0] == 10 && ids[1] == 1 && ids[2] == 1 && unknown == 2);
    /* The hashing model: ids are FNV-1a of the bytes, with no lower-casing. */
    const at_model *d = api_model_core(api_model_registry_find(r, "default"));
    ASSERT_EQ(at_model_token_ids(d, toks, 1, ids, &unknown, err, sizeof err), AT_OK);
    ASSERT(ids[0] == at_fnv1a64("HELLO", 5) && unknown == 0);
    api_model_registry_free(r);
}

TEST(model_length_and_id_checks)
{
    api_model_registry *r = mt_fixture_registry();
    const at_model *tiny = api_model_core(api_model_registry_find(r, "tiny"));
    const at_model *d = api_model_core(api_model_registry_find(r, "default"));
    char err[256];
    ASSERT_EQ(at_model_check_len(tiny, 32, "text", err, sizeof err), AT_OK);
    ASSERT_EQ(at_model_check_len(tiny, 33, "source", err, sizeof err), AT_ELIMIT);
    ASSERT_STREQ(err, "source: 33 tokens, but this model accepts at most 32");
    ASSERT_EQ(at_model_check_len(d, 0, "text", err, sizeof err), AT_EINVAL);
    ASSERT_STREQ(err, "text: no tokens");
    ASSERT_EQ(at_model_check_len(d, 1000000, "text", err, sizeof err), AT_OK);
    uint64_t ids[3] = {0, 31, 32};
    size_t bad = 0;
    ASSERT_EQ(at_model_check_ids(tiny, ids, 2, &bad, err, sizeof err), AT_OK);
    ASSERT_EQ(at_model_check_ids(tiny, ids, 3, &bad, err, sizeof err), AT_ERANGE);
    ASSERT_EQ(bad, 2);
    ASSERT_STREQ(err, "ids[2]: 32 is not a token id of this model (0..31)");
    uint64_t any[1] = {UINT64_MAX};
    ASSERT_EQ(at_model_check_ids(d, any, 1, &bad, err, sizeof err), AT_OK);
    api_model_registry_free(r);
}

TEST(model_registry_listing_and_descriptions)
{
    api_model_registry *r = mt_fixture_registry();
    ASSERT_EQ(api_model_registry_count(r), 4);
    static const char *const names[] = {"default", "tiny", "tiny_f16", "tiny_bf16"};
    for (size_t i = 0; i < 4; i++)
        ASSERT_STREQ(api_model_name(api_model_registry_at(r, i)), names[i]);
    ASSERT(api_model_registry_at(r, 4) == NULL && api_model_registry_find(r, "nope") == NULL);

    api_model_info in;
    api_model_get_info(api_model_registry_find(r, "tiny_f16"), &in);
    ASSERT(in.embed_dim == 16 && in.num_heads == 2 && in.head_dim == 8 && in.vocab_size == 32);
    ASSERT(in.has_additive && in.additive_dim == 6 && in.lowercase && in.max_len == 32);
    ASSERT_STREQ(in.dtype, "F16");
    ASSERT_STREQ(in.embedding, "table");
    ASSERT_CONTAINS(in.source, "models/tiny_f16.safetensors");
    ASSERT_CONTAINS(in.vocab_path, "models/vocab.txt");

    cJSON *j = api_model_to_json(api_model_registry_find(r, "default"));
    /* loaded_at is when the registry was made: RFC 3339 UTC, checked against the info's. */
    api_model_get_info(api_model_registry_find(r, "default"), &in);
    char stamp[32];
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&in.loaded_at, &tm));
    ASSERT(in.loaded_at > 1700000000 && in.loaded_at <= time(NULL));
    ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(j, "loaded_at")), stamp);
    cJSON_DeleteItemFromObject(j, "loaded_at");
    char *text = cJSON_PrintUnformatted(j);
    ASSERT_STREQ(text, "{\"name\":\"default\",\"source\":null,\"embedding\":\"hashing\","
                       "\"vocab_size\":null,\"embed_dim\":64,\"num_heads\":4,\"head_dim\":16,"
                       "\"positional\":\"sinusoidal\",\"lowercase\":false,\"max_len\":null,"
                       "\"additive\":{\"dim\":16},\"dtype\":\"F32\"}");
    free(text);
    cJSON_Delete(j);
    j = api_model_to_json(api_model_registry_find(r, "tiny"));
    ASSERT_EQ(cJSON_GetObjectItem(j, "vocab_size")->valueint, 32);
    ASSERT_EQ(cJSON_GetObjectItem(j, "max_len")->valueint, 32);
    cJSON_Delete(j);
    api_model_registry_free(r);
}

TEST(model_registry_names)
{
    api_model_registry *r = api_model_registry_new();
    char path[512], spec[1100], err[512];
    mt_fixture_path("models/tiny.safetensors", path, sizeof path);
    ASSERT_EQ(api_model_registry_load(r, "default", path, err, sizeof err), AT_EINVAL);
    ASSERT_CONTAINS(err, "model name \"default\" is already taken");
    ASSERT_EQ(api_model_registry_load(r, "bad name", path, err, sizeof err), AT_EINVAL);
    ASSERT_CONTAINS(err, "model name \"bad name\" must be 1 to 63 characters of A-Z a-z 0-9 . _ -");
    snprintf(spec, sizeof spec, "mini-1.0=%s", path);
    ASSERT_EQ(api_model_registry_load_spec(r, spec, err, sizeof err), AT_OK);
    ASSERT_EQ(api_model_registry_load_spec(r, path, err, sizeof err), AT_OK); /* named "tiny" */
    ASSERT(api_model_registry_find(r, "mini-1.0") && api_model_registry_find(r, "tiny"));
    ASSERT_EQ(api_model_registry_load_spec(r, path, err, sizeof err), AT_EINVAL);
    ASSERT_CONTAINS(err, "\"tiny\" is already taken");
    snprintf(spec, sizeof spec, "%0100d=%s", 7, path);
    ASSERT_EQ(api_model_registry_load_spec(r, spec, err, sizeof err), AT_EINVAL);
    ASSERT_CONTAINS(err, "is longer than 63 characters");
    ASSERT_EQ(api_model_registry_count(r), 3);
    api_model_registry_free(r);
    api_model_registry_free(NULL);
}
