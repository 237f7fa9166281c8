/* Unit tests of the model endpoint's api layer (api/json_model.c, api/model_request.c,
 * api/job.c) without HTTP: every case of tests/fixtures/model_cases.json decoded, run and encoded
 * as the server does, then the options, the limits, every refusal of a bad body, the listings
 * and the not-found message. Bodies are decoded from exactly sized copies without a NUL, so
 * ASan catches any read past them. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/api.h"
#include "../api/model_registry.h"
#include "../core/pool.h"
#include "../core/status.h"
#include "api_support.h"
#include "harness.h"
#include "model_support.h"

static int decode(const api_model *m, const char *json, size_t len, const api_limits *lim,
                  api_job *job, api_error *err)
{
    char *copy = malloc(len ? len : 1);
    ASSERT(copy != NULL);
    memcpy(copy, json, len);
    int rc = api_test_job_decode(job, m, copy, len, lim, err);
    free(copy);
    return rc;
}

/* Decodes, runs on `pool` (NULL: this thread) and encodes; returns the response text. */
static char *compute_text(const api_model *m, const char *json, at_pool *pool)
{
    api_job job;
    api_error err;
    api_http_response out = {0};
    int rc = decode(m, json, strlen(json), NULL, &job, &err);
    if (rc) harness_fail(__FILE__, __LINE__, "%s -> %d %s", json, rc, err.message);
    ASSERT(job.model != NULL && job.attention == NULL);
    rc = api_job_run(&job, pool, 0, &out, &err);
    api_job_free(&job);
    if (rc) harness_fail(__FILE__, __LINE__, "run: %d %s", rc, err.message);
    size_t len;
    char *text = api_buf_release(&out.body, &len);
    ASSERT(text != NULL && len > 0 && text[len - 1] == '\n');
    return text;
}

/* The same, parsed. */
static cJSON *compute_on(const api_model *m, const char *json, at_pool *pool)
{
    char *text = compute_text(m, json, pool);
    cJSON *j = cJSON_Parse(text);
    if (!j) harness_fail(__FILE__, __LINE__, "not JSON: %.300s", text);
    free(text);
    return j;
}

static cJSON *compute(const api_model *m, const char *json)
{
    return compute_on(m, json, NULL);
}

static void check_error(int line, const api_model *m, const char *json, size_t len,
                        const api_limits *lim, int status, api_error_kind kind, const char *field,
                        const char *substr)
{
    api_job job;
    api_error err;
    int rc = decode(m, json, len, lim, &job, &err);
    if (rc != status)
        harness_fail(__FILE__, line, "%.200s -> %d (want %d): %s", json, rc, status,
                     rc ? err.message : "accepted");
    if (job.model || job.attention) harness_fail(__FILE__, line, "a request on error");
    if (err.kind != kind)
        harness_fail(__FILE__, line, "%.200s: code %s, want %s (%s)", json,
                     api_error_code(err.kind), api_error_code(kind), err.message);
    if (strcmp(err.field, field) != 0)
        harness_fail(__FILE__, line, "%.200s: field \"%s\", want \"%s\" (%s)", json, err.field,
                     field, err.message);
    if (!strstr(err.message, substr))
        harness_fail(__FILE__, line, "%.200s: message \"%s\" lacks \"%s\"", json, err.message,
                     substr);
}

/* Decodes json and expects it accepted (the request is freed unrun). */
static void check_accepted(int line, const api_model *m, const char *json, const api_limits *lim)
{
    api_job job;
    api_error err;
    int rc = decode(m, json, strlen(json), lim, &job, &err);
    if (rc) harness_fail(__FILE__, line, "%.200s -> %d: %s", json, rc, err.message);
    ASSERT(job.model != NULL);
    api_job_free(&job);
}

#define EXPECT(m, json, status, kind, field, substr)                                               \
    check_error(__LINE__, (m), (json), strlen(json), NULL, (status), API_ERR_##kind, (field),      \
                (substr))

/* ---- the fixture cases ---- */

static void replay(at_pool *pool)
{
    api_model_registry *reg = mt_fixture_registry();
    cJSON *doc = mt_load_json("model_cases.json");
    int n = 0;
    for (const cJSON *c = cJSON_GetObjectItem(doc, "cases")->child; c; c = c->next, n++) {
        const api_model *m =
            api_model_registry_find(reg, cJSON_GetObjectItem(c, "model")->valuestring);
        ASSERT(m != NULL);
        char *body = mt_case_body(c);
        cJSON *got = compute_on(m, body, pool);
        mt_check_case_response(c, got);
        cJSON_Delete(got);
        free(body);
    }
    ASSERT(n >= 15);
    cJSON_Delete(doc);
    api_model_registry_free(reg);
}

TEST(model_api_fixture_cases_match_pytorch)
{
    replay(NULL);
}

/* ---- what a response holds ---- */

TEST(model_api_response_fields)
{
    api_model_registry *reg = mt_fixture_registry();
    const api_model *tiny = api_model_registry_find(reg, "tiny");
    const api_model *dflt = api_model_registry_find(reg, "default");

    /* Tokens as the tokenizer split them (case kept), ids after lower-casing, [UNK] counted. */
    cJSON *j = compute(tiny, "{\"text\": \"Hello zebra\", \"return_weights\": false}");
    char *text = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "tokens"));
    ASSERT_STREQ(text, "[\"Hello\",\"zebra\"]");
    free(text);
    text = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "ids"));
    ASSERT_STREQ(text, "[18,1]");
    free(text);
    ASSERT(cJSON_GetObjectItem(j, "weights") == NULL);
    const cJSON *meta = cJSON_GetObjectItem(j, "meta");
    ASSERT(cJSON_GetObjectItem(meta, "weights_shape") == NULL);
    ASSERT_EQ(cJSON_GetObjectItem(meta, "unknown_tokens")->valueint, 1);
    ASSERT_EQ(cJSON_GetObjectItem(meta, "num_heads")->valueint, 2);
    ASSERT_NEAR(cJSON_GetObjectItem(meta, "scale")->valuedouble, 0.35355338, 1e-7);
    ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "selection")), "soft");
    cJSON_Delete(j);

    /* Hashing ids are decimal strings both ways; a string id round-trips exactly. */
    j = compute(dflt, "{\"ids\": [\"18446744073709551615\", 0, 9007199254740992]}");
    text = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "ids"));
    ASSERT_STREQ(text, "[\"18446744073709551615\",\"0\",\"9007199254740992\"]");
    free(text);
    ASSERT(cJSON_IsNull(cJSON_GetObjectItem(j, "tokens")));
    meta = cJSON_GetObjectItem(j, "meta");
    ASSERT(cJSON_GetObjectItem(meta, "unknown_tokens") == NULL);           /* no vocabulary */
    ASSERT_NEAR(cJSON_GetObjectItem(meta, "scale")->valuedouble, 0.25, 0); /* 1/sqrt(16) */
    cJSON_Delete(j);

    /* The same text as text, as tokens and as ids gives the same numbers. */
    cJSON *a = compute(dflt, "{\"text\": \"欢迎 来 北京\", \"causal\": true}");
    cJSON *b = compute(dflt, "{\"tokens\": [\"欢迎\", \"来\", \"北京\"], \"causal\": true}");
    char *ids = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "ids"));
    char body[1024];
    snprintf(body, sizeof body, "{\"ids\": %s, \"causal\": true}", ids);
    cJSON *c = compute(dflt, body);
    char *wa = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "weights"));
    char *wb = cJSON_PrintUnformatted(cJSON_GetObjectItem(b, "weights"));
    char *wc = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "weights"));
    ASSERT_STREQ(wa, wb);
    ASSERT_STREQ(wa, wc);
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(a, "weights")), 4); /* [H, L, L] */
    free(ids);
    free(wa);
    free(wb);
    free(wc);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);

    /* Tokens with characters JSON must escape come back escaped, and intact. */
    j = compute(dflt, "{\"tokens\": [\"a\\\"b\", \"c\\\\d\", \"e\\u0001f\", \"🙂\"]}");
    text = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "tokens"));
    ASSERT_STREQ(text, "[\"a\\\"b\",\"c\\\\d\",\"e\\u0001f\",\"🙂\"]");
    free(text);
    cJSON_Delete(j);
    api_model_registry_free(reg);
}

TEST(model_api_options)
{
    api_model_registry *reg = mt_fixture_registry();
    const api_model *tiny = api_model_registry_find(reg, "tiny");
    /* Top-2 per row, normalised: every row of every head has two weights of 1/2. */
    cJSON *j = compute(tiny, "{\"text\": \"the cat sat on the mat\", \"selection\": \"topk\", "
                             "\"k\": 2, \"normalize\": true}");
    const cJSON *w = cJSON_GetObjectItem(j, "weights");
    ASSERT_EQ(cJSON_GetArraySize(w), 2);
    for (const cJSON *h = w->child; h; h = h->next)
        for (const cJSON *row = h->child; row; row = row->next) {
            int half = 0, zero = 0;
            for (const cJSON *x = row->child; x; x = x->next)
                half += x->valuedouble == 0.5, zero += x->valuedouble == 0;
            ASSERT(half == 2 && zero == 4);
        }
    const cJSON *meta = cJSON_GetObjectItem(j, "meta");
    ASSERT_EQ(cJSON_GetObjectItem(meta, "k")->valueint, 2);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(meta, "normalize")));
    cJSON_Delete(j);

    /* Sampling: the same seed gives the same keys, on a pool as on this thread. */
    const char *sample = "{\"text\": \"the cat sat on the mat\", \"selection\": \"sample\", "
                         "\"k\": 1, \"seed\": 18446744073709551615}";
    at_pool *pool = at_pool_new(3, 8);
    ASSERT(pool != NULL);
    cJSON *a = compute(tiny, sample), *b = compute_on(tiny, sample, pool);
    char *wa = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "weights"));
    char *wb = cJSON_PrintUnformatted(cJSON_GetObjectItem(b, "weights"));
    ASSERT_STREQ(wa, wb);
    char *ma = compute_text(tiny, sample, NULL);
    ASSERT_CONTAINS(ma, "\"seed\":18446744073709551615,");
    free(wa);
    free(wb);
    free(ma);
    cJSON_Delete(a);
    cJSON_Delete(b);
    at_pool_free(pool);

    /* dot and an explicit scale are echoed; additive uses the model's parameters. */
    j = compute(tiny, "{\"text\": \"hello\", \"score\": \"dot\"}");
    ASSERT_NEAR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "meta"), "scale")->valuedouble, 1, 0);
    cJSON_Delete(j);
    j = compute(tiny, "{\"text\": \"hello world\", \"scale\": 0.5}");
    ASSERT_NEAR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "meta"), "scale")->valuedouble, 0.5, 0);
    cJSON_Delete(j);
    j = compute(tiny, "{\"text\": \"hello world\", \"score\": \"additive\", \"average_heads\": "
                      "true, \"source\": {\"ids\": [4, 5, 6]}}");
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "weights")), 2); /* [L, S] */
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "weights")->child), 3);
    char *st = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "source_tokens"));
    ASSERT_STREQ(st, "[\"欢\",\"迎\",\"来\"]"); /* ids of a vocabulary model: its tokens */
    free(st);
    cJSON_Delete(j);
    api_model_registry_free(reg);
}

/* ---- refusals ---- */

TEST(model_api_bad_bodies)
{
    api_model_registry *reg = mt_fixture_registry();
    const api_model *tiny = api_model_registry_find(reg, "tiny");
    const api_model *dflt = api_model_registry_find(reg, "default");

    EXPECT(tiny, "", 400, INVALID_JSON, "", "empty body");
    EXPECT(tiny, "{\"text\": \"a\"", 400, INVALID_JSON, "", "malformed JSON near byte");
    EXPECT(tiny, "{\"text\": \"a\"} x", 400, INVALID_JSON, "", "unexpected data after");
    EXPECT(tiny, "[\"a\"]", 400, INVALID_TYPE, "", "must be a JSON object");
    EXPECT(tiny, "{}", 400, MISSING_FIELD, "text", "send the sequence as \"text\"");
    EXPECT(tiny, "{\"txt\": \"a\"}", 400, UNKNOWN_FIELD, "txt", "did you mean 'text'?");
    EXPECT(tiny, "{\"text\": \"a\", \"query\": [[1]]}", 400, UNKNOWN_FIELD, "query",
           "known fields: text, tokens, ids, source, source_id, score");
    EXPECT(tiny, "{\"text\": \"a\", \"text\": \"b\"}", 400, INVALID_JSON, "text", "duplicate");
    EXPECT(tiny, "{\"text\": \"a\", \"ids\": [1]}", 400, INVALID_VALUE, "ids",
           "one form: \"text\" or \"ids\", not both");

    /* text */
    EXPECT(tiny, "{\"text\": 5}", 400, INVALID_TYPE, "text",
           "text: expected a string, got a "
           "number");
    EXPECT(tiny, "{\"text\": \"\"}", 400, INVALID_VALUE, "text",
           "text: no tokens (the text is "
           "empty or blank)");
    EXPECT(tiny, "{\"text\": \" \\t\\u3000\\n\"}", 400, INVALID_VALUE, "text", "no tokens");
    const char bad_utf8[] = "{\"text\": \"ok \xff\xfe here\"}";
    EXPECT(tiny, bad_utf8, 400, INVALID_VALUE, "text", "text: invalid UTF-8 at byte 3");
    const char surrogate[] = "{\"text\": \"\xed\xa0\x80\"}"; /* U+D800 as raw bytes */
    EXPECT(tiny, surrogate, 400, INVALID_VALUE, "text", "invalid UTF-8");
    EXPECT(tiny, "{\"text\": \"a\\u0000b\"}", 400, INVALID_VALUE, "", "U+0000");
    check_error(__LINE__, tiny, "{\"text\": \"a\0b\"}", 15, NULL, 400, API_ERR_INVALID_JSON, "",
                "byte 11 of the body is NUL");
    check_accepted(__LINE__, tiny, "{\"text\": \"a\\\\u0000b\"}", NULL); /* a literal \u0000 */

    /* tokens */
    EXPECT(tiny, "{\"tokens\": \"a b\"}", 400, INVALID_TYPE, "tokens", "an array of strings");
    EXPECT(tiny, "{\"tokens\": []}", 400, INVALID_VALUE, "tokens",
           "no tokens (the array is "
           "empty)");
    EXPECT(tiny, "{\"tokens\": [\"a\", 1]}", 400, INVALID_TYPE, "tokens",
           "tokens[1]: expected a string, got a number");
    EXPECT(tiny, "{\"tokens\": [\"a\", \"\"]}", 400, INVALID_VALUE, "tokens",
           "tokens[1]: a token cannot be empty");
    const char bad_token[] = "{\"tokens\": [\"a\", \"b\xc0\xaf\"]}"; /* overlong '/' */
    EXPECT(tiny, bad_token, 400, INVALID_VALUE, "tokens", "tokens[1]: invalid UTF-8 at byte 1");

    /* ids */
    EXPECT(tiny, "{\"ids\": 3}", 400, INVALID_TYPE, "ids", "an array of token ids");
    EXPECT(tiny, "{\"ids\": []}", 400, INVALID_VALUE, "ids", "no tokens");
    EXPECT(tiny, "{\"ids\": [1, 32]}", 400, INVALID_VALUE, "ids",
           "ids[1]: 32 is not a token id of this model (0..31)");
    EXPECT(tiny, "{\"ids\": [-1]}", 400, INVALID_VALUE, "ids", "ids[0]: expected a token id");
    EXPECT(tiny, "{\"ids\": [1.5]}", 400, INVALID_VALUE, "ids", "ids[0]: expected a token id");
    EXPECT(tiny, "{\"ids\": [true]}", 400, INVALID_TYPE, "ids", "ids[0]: expected a token id");
    EXPECT(tiny, "{\"ids\": [\"12x\"]}", 400, INVALID_VALUE, "ids", "got \"12x\"");
    EXPECT(dflt, "{\"ids\": [\"18446744073709551616\"]}", 400, INVALID_VALUE, "ids",
           "ids[0]: expected a token id");
    EXPECT(dflt, "{\"ids\": [1e300]}", 400, INVALID_VALUE, "ids", "ids[0]");

    /* source */
    EXPECT(tiny, "{\"text\": \"a\", \"source\": \"b\"}", 400, INVALID_TYPE, "source",
           "source: expected an object");
    EXPECT(tiny, "{\"text\": \"a\", \"source\": {}}", 400, MISSING_FIELD, "source",
           "got an empty object");
    EXPECT(tiny, "{\"text\": \"a\", \"source\": {\"txt\": \"b\"}}", 400, UNKNOWN_FIELD, "source",
           "source: unknown member 'txt'");
    EXPECT(tiny, "{\"text\": \"a\", \"source\": {\"score\": \"dot\"}}", 400, UNKNOWN_FIELD,
           "source", "known members: text, tokens, ids");
    EXPECT(tiny, "{\"text\": \"a\", \"source\": {\"text\": \"b\", \"tokens\": [\"c\"]}}", 400,
           INVALID_VALUE, "source", "source: send the sequence in one form");
    EXPECT(tiny, "{\"text\": \"a\", \"source\": {\"text\": \"\"}}", 400, INVALID_VALUE, "source",
           "source: no tokens");
    EXPECT(tiny, "{\"text\": \"a\", \"source\": {\"ids\": [99]}}", 400, INVALID_VALUE, "source",
           "source.ids[0]: 99 is not a token id");
    EXPECT(tiny, "{\"text\": \"a\", \"source\": {\"tokens\": [7]}}", 400, INVALID_TYPE, "source",
           "source.tokens[0]: expected a string");
    const char bad_src[] = "{\"text\": \"a\", \"source\": {\"text\": \"\x80\"}}";
    EXPECT(tiny, bad_src, 400, INVALID_VALUE, "source", "source.text: invalid UTF-8 at byte 0");

    /* options, shared with /v1/attention */
    EXPECT(tiny, "{\"text\": \"a\", \"causal\": 1}", 400, INVALID_TYPE, "causal",
           "causal: expected true or false");
    EXPECT(tiny, "{\"text\": \"a\", \"score\": \"cosine\"}", 400, INVALID_VALUE, "score",
           "unknown score 'cosine'");
    EXPECT(tiny, "{\"text\": \"a\", \"k\": 2}", 400, INVALID_VALUE, "k",
           "k applies only to selection topk or sample");
    EXPECT(tiny, "{\"text\": \"a\", \"selection\": \"topk\"}", 400, MISSING_FIELD, "k",
           "missing field 'k'");
    EXPECT(tiny, "{\"text\": \"a\", \"seed\": 3}", 400, INVALID_VALUE, "seed",
           "seed applies only to selection sample");
    EXPECT(tiny, "{\"text\": \"a\", \"scale\": 1e39}", 400, INVALID_VALUE, "scale",
           "not a finite float32");
    api_model_registry_free(reg);
}

TEST(model_api_lengths_limits_and_additive)
{
    api_model_registry *reg = mt_fixture_registry();
    const api_model *tiny = api_model_registry_find(reg, "tiny");
    const api_model *dflt = api_model_registry_find(reg, "default");
    char body[4096];

    /* tiny accepts at most 32 tokens (its metadata max_len): 33 is refused, not truncated. */
    size_t n = (size_t)snprintf(body, sizeof body, "{\"text\": \"");
    for (int i = 0; i < 33; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%sthe", i ? " " : "");
    snprintf(body + n, sizeof body - n, "\"}");
    EXPECT(tiny, body, 400, INVALID_VALUE, "text",
           "text: 33 tokens, but this model accepts at most 32");
    body[n - 4] = '\0'; /* drop the last " the": 32 tokens pass */
    strcat(body, "\"}");
    cJSON *j = compute(tiny, body);
    ASSERT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "meta"), "length")->valueint, 32);
    cJSON_Delete(j);
    n = (size_t)snprintf(body, sizeof body, "{\"text\": \"a\", \"source\": {\"ids\": [");
    for (int i = 0; i < 33; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%s4", i ? "," : "");
    snprintf(body + n, sizeof body - n, "]}}");
    EXPECT(tiny, body, 400, INVALID_VALUE, "source", "source: 33 tokens");

    /* The server's limits: 413 before anything is allocated. */
    api_limits lim = {.max_elements = 1000, .max_score_elements = 8};
    const char three[] = "{\"text\": \"the cat sat\"}";
    check_error(__LINE__, tiny, three, strlen(three), &lim, 413, API_ERR_LIMIT_EXCEEDED, "",
                "the attention weights H*L*S = 2*3*3 = 18 elements exceed");
    /* 3*16 embeddings + 9*16 projections + 2*3*16 contexts + 18 weights = 306 */
    lim = (api_limits){.max_elements = 306, .max_score_elements = 18};
    check_accepted(__LINE__, tiny, three, &lim);
    lim.max_elements = 305;
    check_error(__LINE__, tiny, three, strlen(three), &lim, 413, API_ERR_LIMIT_EXCEEDED, "",
                "the request needs 306 elements (embeddings 48, projections 144, context per "
                "head and projected 96, weights 18, additive key projections 0) for 3 tokens");
    lim = (api_limits){.max_elements = 0, .max_score_elements = 8};
    check_accepted(__LINE__, tiny, "{\"text\": \"the cat sat\", \"return_weights\": false}", &lim);

    /* The additive score needs the model's parameters: a copy of tiny without them refuses it,
     * the built-in model has them. */
    char dir[256], path[512], err[1024];
    mt_tmpdir(dir, sizeof dir);
    mt_write_tiny_variant(dir, "plain.safetensors", "additive.", NULL, NULL, path, sizeof path);
    ASSERT_EQ(api_model_registry_load(reg, "plain", path, err, sizeof err), AT_OK);
    const api_model *plain = api_model_registry_find(reg, "plain");
    EXPECT(plain, "{\"text\": \"hello\", \"score\": \"additive\"}", 400, INVALID_VALUE, "score",
           "score: model \"plain\" has no additive score parameters");
    j = compute(plain, "{\"text\": \"hello\"}");
    cJSON_Delete(j);
    j = compute(dflt, "{\"text\": \"hello world\", \"score\": \"additive\"}");
    cJSON_Delete(j);
    mt_tmpdir_remove(dir);
    api_model_registry_free(reg);
}

/* ---- listings and not found ---- */

TEST(model_api_listings_and_not_found)
{
    api_model_registry *reg = mt_fixture_registry();
    api_buf out = {0};
    ASSERT_EQ(api_v1_encode_models(reg, &out), 0);
    size_t len;
    char *text = api_buf_release(&out, &len);
    ASSERT(text[len - 1] == '\n');
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *models = cJSON_GetObjectItem(j, "models");
    ASSERT_EQ(cJSON_GetArraySize(models), 4);
    ASSERT_STREQ(cJSON_GetObjectItem(models->child, "name")->valuestring, "default");
    cJSON_Delete(j);

    ASSERT_EQ(api_v1_encode_model(api_model_registry_find(reg, "tiny_bf16"), &out), 0);
    text = api_buf_release(&out, &len);
    j = cJSON_Parse(text);
    free(text);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "dtype")->valuestring, "BF16");
    ASSERT_EQ(cJSON_GetObjectItem(j, "vocab_size")->valueint, 32);
    cJSON_Delete(j);

    api_error e;
    ASSERT_EQ(api_model_not_found(reg, "nope", &e), 404);
    ASSERT_STREQ(api_error_code(e.kind), "not_found");
    ASSERT_CONTAINS(e.message, "no model \"nope\" is loaded; the models are: default, tiny, "
                               "tiny_f16, tiny_bf16");
    api_model_registry_free(reg);
}
