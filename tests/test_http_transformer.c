/* BERT and GPT-2 folders served over HTTP: tests/fixtures/hf/cases.json replayed through POST
 * /v1/models/{name}/attention against a daemon started with --model NAME=DIR (every layer's
 * attention to 1e-5, every hidden state to 1e-5 + 1e-4 relative), layer and head selection,
 * average_heads, return_weights false, text (+ text_pair) through the checkpoints' tokenizers
 * with offsets, the listing, bad requests, and folders the daemon refuses to start with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon.h"
#include "harness.h"
#include "model_support.h"

static const char *const models[] = {"bert_l2_f32", "bert_l3_bf16", "bert_l1_f16", "gpt2_l2_f32",
                                     "gpt2_l1_f16", "gpt2_l3_bf16", "gpt2_bpe_f32"};
#define NMODELS (sizeof models / sizeof models[0])

typedef struct args {
    char spec[NMODELS][1100];
    const char *argv[2 * NMODELS + 1];
} args;

/* --model NAME=<fixtures>/hf/NAME for each (the last one by directory alone, with a trailing
 * slash: its name comes from the folder). */
static const char *const *hf_models(args *a)
{
    int n = 0;
    for (size_t i = 0; i < NMODELS; i++) {
        char rel[128], path[1024];
        snprintf(rel, sizeof rel, "hf/%s", models[i]);
        mt_fixture_path(rel, path, sizeof path);
        if (i + 1 == NMODELS)
            snprintf(a->spec[i], sizeof a->spec[i], "%s/", path);
        else
            snprintf(a->spec[i], sizeof a->spec[i], "%s=%s", models[i], path);
        a->argv[n++] = "--model";
        a->argv[n++] = a->spec[i];
    }
    a->argv[n] = NULL;
    return a->argv;
}

static cJSON *post(const test_daemon *d, const char *model, const char *body, long want)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/models/%s/attention", model);
    test_response r;
    int rc = test_post_json(d, path, body, &r);
    if (rc) {
        char *log = test_daemon_log(d);
        harness_fail(__FILE__, __LINE__, "%s: curl error %d for %.200s; daemon log:\n%s", model, rc,
                     body, log ? log : "");
    }
    if (r.status != want)
        harness_fail(__FILE__, __LINE__, "%s: status %ld, want %ld: %.400s (body %.200s)", model,
                     r.status, want, r.body, body);
    cJSON *j = cJSON_Parse(r.body);
    test_response_free(&r);
    if (!j) harness_fail(__FILE__, __LINE__, "response is not JSON");
    return j;
}

/* The flattened numbers of a nested JSON array into v (at most cap); returns the count. */
static size_t flatten(const cJSON *a, double *v, size_t cap, size_t n)
{
    for (const cJSON *c = a->child; c; c = c->next) {
        if (cJSON_IsArray(c))
            n = flatten(c, v, cap, n);
        else if (n < cap)
            v[n++] = c->valuedouble;
        else
            n++;
    }
    return n;
}

static char *case_body(const cJSON *c, const char *extra)
{
    char *ids = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "ids"));
    const cJSON *tt = cJSON_GetObjectItem(c, "token_type_ids");
    char *types = tt ? cJSON_PrintUnformatted(tt) : NULL;
    size_t n = strlen(ids) + (types ? strlen(types) : 0) + strlen(extra) + 64;
    char *body = malloc(n);
    snprintf(body, n, "{\"ids\": %s%s%s%s}", ids, types ? ", \"token_type_ids\": " : "",
             types ? types : "", extra);
    free(ids);
    free(types);
    return body;
}

static double max_attn, max_hidden;

TEST(http_transformer_cases_match_reference)
{
    test_daemon d;
    args a;
    ASSERT_EQ(test_daemon_start(&d, hf_models(&a)), 0);
    cJSON *doc = mt_load_json("hf/cases.json");
    static double got[1 << 16], want[1 << 16];
    int n = 0;
    for (const cJSON *c = cJSON_GetObjectItem(doc, "cases")->child; c; c = c->next, n++) {
        const char *model = cJSON_GetObjectItem(c, "model")->valuestring;
        char *body = case_body(c, ", \"return_hidden_states\": \"all\"");
        cJSON *r = post(&d, model, body, 200);
        free(body);
        size_t na = flatten(cJSON_GetObjectItem(c, "attentions"), want, 1 << 16, 0);
        ASSERT_EQ(flatten(cJSON_GetObjectItem(r, "attentions"), got, 1 << 16, 0), na);
        for (size_t i = 0; i < na; i++) {
            double e = fabs(got[i] - want[i]);
            if (e > max_attn) max_attn = e;
            ASSERT_NEAR(got[i], want[i], 1e-5);
        }
        size_t nh = flatten(cJSON_GetObjectItem(c, "hidden"), want, 1 << 16, 0);
        ASSERT_EQ(flatten(cJSON_GetObjectItem(r, "hidden_states"), got, 1 << 16, 0), nh);
        for (size_t i = 0; i < nh; i++) {
            double e = fabs(got[i] - want[i]) / (fabs(want[i]) + 0.1);
            if (e > max_hidden) max_hidden = e;
            ASSERT_NEAR(got[i], want[i], 1e-5 + 1e-4 * fabs(want[i]));
        }
        /* context is the last hidden state */
        size_t nc = flatten(cJSON_GetObjectItem(r, "context"), got, 1 << 16, 0);
        for (size_t i = 0; i < nc; i++)
            ASSERT_NEAR(got[i], want[nh - nc + i], 1e-5 + 1e-4 * fabs(want[nh - nc + i]));
        const cJSON *meta = cJSON_GetObjectItem(r, "meta");
        ASSERT_STREQ(cJSON_GetObjectItem(meta, "type")->valuestring,
                     cJSON_GetObjectItem(c, "type")->valuestring);
        ASSERT_EQ(cJSON_GetObjectItem(meta, "causal")->valueint,
                  !strcmp(cJSON_GetObjectItem(c, "type")->valuestring, "gpt2"));
        cJSON_Delete(r);
    }
    ASSERT(n >= 20);
    fprintf(stderr, "  http transformer: %d cases, max attention error %.3g, hidden %.3g\n", n,
            max_attn, max_hidden);
    cJSON_Delete(doc);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}

/* A case of `model` from cases.json (the first one with L tokens, or any when L is 0). */
static const cJSON *find_case(const cJSON *doc, const char *model, int len)
{
    for (const cJSON *c = cJSON_GetObjectItem(doc, "cases")->child; c; c = c->next)
        if (!strcmp(cJSON_GetObjectItem(c, "model")->valuestring, model) &&
            (!len || cJSON_GetArraySize(cJSON_GetObjectItem(c, "ids")) == len))
            return c;
    harness_fail(__FILE__, __LINE__, "no case for %s", model);
}

TEST(http_transformer_selection_average_and_no_weights)
{
    test_daemon d;
    args a;
    ASSERT_EQ(test_daemon_start(&d, hf_models(&a)), 0);
    cJSON *doc = mt_load_json("hf/cases.json");
    const cJSON *c = find_case(doc, "bert_l3_bf16", 10); /* N 3, H 3, L 10 */
    static double ref[3 * 3 * 100], got[3 * 3 * 100];
    ASSERT_EQ(flatten(cJSON_GetObjectItem(c, "attentions"), ref, 900, 0), 900);
    const int L = 10;
    /* layers [2, 0], heads [1]: [2, 1, L, L] in that order */
    char *body = case_body(c, ", \"layers\": [2, 0], \"heads\": [1]");
    cJSON *r = post(&d, "bert_l3_bf16", body, 200);
    free(body);
    ASSERT_EQ(flatten(cJSON_GetObjectItem(r, "attentions"), got, 900, 0), 2 * L * L);
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < L * L; k++)
            ASSERT_NEAR(got[l * L * L + k], ref[((l ? 0 : 2) * 3 + 1) * L * L + k], 1e-5);
    const cJSON *meta = cJSON_GetObjectItem(r, "meta");
    char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(meta, "attentions_shape"));
    ASSERT_STREQ(s, "[2,1,10,10]");
    free(s);
    s = cJSON_PrintUnformatted(cJSON_GetObjectItem(meta, "selected_layers"));
    ASSERT_STREQ(s, "[2,0]");
    free(s);
    ASSERT(cJSON_GetObjectItem(r, "hidden_states") == NULL);
    cJSON_Delete(r);
    /* average_heads over heads [0, 2] of layer 1: [1, L, L] */
    body = case_body(c, ", \"layers\": [1], \"heads\": [0, 2], \"average_heads\": true");
    r = post(&d, "bert_l3_bf16", body, 200);
    free(body);
    ASSERT_EQ(flatten(cJSON_GetObjectItem(r, "attentions"), got, 900, 0), L * L);
    for (int k = 0; k < L * L; k++)
        ASSERT_NEAR(got[k], (ref[(3 + 0) * L * L + k] + ref[(3 + 2) * L * L + k]) / 2, 1e-5);
    s = cJSON_PrintUnformatted(
        cJSON_GetObjectItem(cJSON_GetObjectItem(r, "meta"), "attentions_shape"));
    ASSERT_STREQ(s, "[1,10,10]");
    free(s);
    size_t nc = flatten(cJSON_GetObjectItem(r, "context"), ref, 900, 0);
    cJSON_Delete(r);
    /* no weights: no attentions, the same context */
    body = case_body(c, ", \"return_weights\": false");
    r = post(&d, "bert_l3_bf16", body, 200);
    free(body);
    ASSERT(cJSON_GetObjectItem(r, "attentions") == NULL);
    ASSERT(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "meta"), "attentions_shape") == NULL);
    ASSERT_EQ(flatten(cJSON_GetObjectItem(r, "context"), got, 900, 0), nc);
    for (size_t k = 0; k < nc; k++)
        ASSERT_NEAR(got[k], ref[k], 1e-5 + 1e-5 * fabs(ref[k]));
    cJSON_Delete(r);
    cJSON_Delete(doc);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}

static void expect_json(const cJSON *j, const char *key, const char *want)
{
    char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, key));
    if (!s || strcmp(s, want))
        harness_fail(__FILE__, __LINE__, "%s: %s, want %s", key, s ? s : "(absent)", want);
    free(s);
}

TEST(http_transformer_text_and_pairs)
{
    test_daemon d;
    args a;
    ASSERT_EQ(test_daemon_start(&d, hf_models(&a)), 0);
    /* BERT: lower-cased, accents stripped, punctuation split, CJK per character, [UNK], a pair */
    cJSON *r =
        post(&d, "bert_l2_f32",
             "{\"text\": \"Hello, the CAT sat!\", \"text_pair\": \"Café 欢迎 αλφ dogs\"}", 200);
    expect_json(r, "tokens",
                "[\"[CLS]\",\"hello\",\",\",\"the\",\"cat\",\"sat\",\"!\",\"[SEP]\","
                "\"cafe\",\"欢\",\"迎\",\"α\",\"##λ\",\"##φ\",\"dog\",\"##s\",\"[SEP]\"]");
    expect_json(r, "token_type_ids", "[0,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,1]");
    expect_json(r, "offsets",
                "[null,[0,5],[5,6],[7,10],[11,14],[15,18],[18,19],null,[0,4],[5,6],"
                "[6,7],[8,9],[9,10],[10,11],[12,15],[15,16],null]");
    expect_json(cJSON_GetObjectItem(r, "meta"), "unknown_tokens", "0");
    /* The same ids sent as ids give the same context. */
    char *ids = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "ids"));
    char *types = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "token_type_ids"));
    char body[1024];
    snprintf(body, sizeof body, "{\"ids\": %s, \"token_type_ids\": %s}", ids, types);
    cJSON *r2 = post(&d, "bert_l2_f32", body, 200);
    char *c1 = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "context"));
    char *c2 = cJSON_PrintUnformatted(cJSON_GetObjectItem(r2, "context"));
    ASSERT_STREQ(c1, c2);
    expect_json(r2, "offsets", "null");
    free(ids), free(types), free(c1), free(c2);
    cJSON_Delete(r);
    cJSON_Delete(r2);
    /* tokens are looked up as given; unknown ones become [UNK] */
    r = post(&d, "bert_l2_f32", "{\"tokens\": [\"[CLS]\", \"cat\", \"zebra\", \"[SEP]\"]}", 200);
    expect_json(r, "ids", "[2,6,1,3]");
    expect_json(cJSON_GetObjectItem(r, "meta"), "unknown_tokens", "1");
    cJSON_Delete(r);
    /* GPT-2: byte-level BPE as the HF library gave it (tokenizers/expected.json) */
    cJSON *exp = mt_load_json("tokenizers/expected.json");
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(exp, "gpt2"), 0);
    char *text = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "text"));
    snprintf(body, sizeof body, "{\"text\": %s, \"layers\": [1], \"average_heads\": true}", text);
    r = post(&d, "gpt2_bpe_f32", body, 200);
    char *want_ids = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "ids"));
    char *want_tokens = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "tokens"));
    char *want_offsets = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "offsets"));
    expect_json(r, "ids", want_ids);
    expect_json(r, "tokens", want_tokens);
    expect_json(r, "offsets", want_offsets);
    ASSERT(cJSON_GetObjectItem(r, "token_type_ids") == NULL);
    /* causal: every row's weights after the diagonal are 0 */
    const cJSON *rows = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "attentions"), 0);
    int i = 0;
    for (const cJSON *row = rows->child; row; row = row->next, i++) {
        int j = 0;
        for (const cJSON *v = row->child; v; v = v->next, j++)
            if (j > i) ASSERT_EQ(v->valuedouble, 0);
    }
    free(text), free(want_ids), free(want_tokens), free(want_offsets);
    cJSON_Delete(r);
    cJSON_Delete(exp);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}

TEST(http_transformer_bad_requests_and_listing)
{
    test_daemon d;
    args a;
    ASSERT_EQ(test_daemon_start(&d, hf_models(&a)), 0);
    struct {
        const char *model, *body, *field, *message;
    } bad[] = {
        {"bert_l2_f32", "{\"ids\": [1, 2], \"layers\": [2]}", "layers", "an index from 0 to 1"},
        {"bert_l2_f32", "{\"ids\": [1, 2], \"heads\": [0, 0]}", "heads", "listed twice"},
        {"bert_l2_f32", "{\"ids\": [1, 40]}", "ids", "a token id from 0 to 39"},
        {"bert_l2_f32", "{\"ids\": [1, 2], \"token_type_ids\": [0, 2]}", "token_type_ids",
         "not a token type"},
        {"bert_l2_f32", "{\"ids\": [1, 2], \"token_type_ids\": [0]}", "token_type_ids",
         "1 entries for 2 tokens"},
        {"bert_l2_f32", "{\"text\": \"a\", \"ids\": [1]}", "text", "one form"},
        {"bert_l2_f32", "{\"ids\": [1], \"score\": \"dot\"}", "score", "unknown field"},
        {"bert_l2_f32", "{\"ids\": [1], \"return_hidden_states\": \"some\"}",
         "return_hidden_states", "\"last\" or \"all\""},
        {"bert_l2_f32", "{\"ids\": []}", "ids", "no tokens"},
        {"bert_l2_f32", "{\"ids\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}", "ids",
         "25 tokens, but model \"bert_l2_f32\" accepts at most 24"},
        {"gpt2_l2_f32", "{\"text\": \"hi\"}", "text", "has no tokenizer"},
        {"gpt2_bpe_f32", "{\"text\": \"hi\", \"text_pair\": \"x\"}", "text_pair", "only for BERT"},
        {"gpt2_l2_f32", "{\"tokens\": [\"the\", \"zebra\"]}", "tokens", "not in the vocabulary"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *r = post(&d, bad[i].model, bad[i].body, 400);
        const cJSON *err = cJSON_GetObjectItem(r, "error");
        ASSERT_STREQ(cJSON_GetObjectItem(err, "field")->valuestring, bad[i].field);
        const char *msg = cJSON_GetObjectItem(err, "message")->valuestring;
        if (!strstr(msg, bad[i].message))
            harness_fail(__FILE__, __LINE__, "%s: %s lacks %s", bad[i].body, msg, bad[i].message);
        cJSON_Delete(r);
    }
    /* still serving; the listing shows the folders' architectures */
    test_response r;
    ASSERT_EQ(test_http(&d, "GET", "/v1/models/gpt2_bpe_f32", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "\"type\":\"gpt2\",\"layers\":2,\"embed_dim\":16,\"num_heads\":2");
    ASSERT_CONTAINS(r.body, "\"causal\":true,\"tokenizer\":\"bpe\",\"dtype\":\"F32\"");
    test_response_free(&r);
    ASSERT_EQ(test_http(&d, "GET", "/v1/models", NULL, NULL, 0, &r), 0);
    ASSERT_CONTAINS(r.body, "\"name\":\"bert_l3_bf16\"");
    ASSERT_CONTAINS(r.body, "\"type\":\"bert\",\"layers\":3");
    ASSERT_CONTAINS(r.body, "\"dtype\":\"BF16\"");
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}

TEST(http_transformer_refused_folders)
{
    cJSON *doc = mt_load_json("hf/cases.json");
    const char *bin = getenv("ATTND_BIN");
    if (!bin || !*bin) bin = "build/attnd";
    for (const cJSON *c = cJSON_GetObjectItem(doc, "refused")->child; c; c = c->next) {
        char rel[128], path[1024], cmd[2400], out[4096];
        snprintf(rel, sizeof rel, "hf/%s", cJSON_GetObjectItem(c, "dir")->valuestring);
        mt_fixture_path(rel, path, sizeof path);
        snprintf(cmd, sizeof cmd, "timeout 20 %s --port 0 --model m=%s 2>&1", bin, path);
        FILE *p = popen(cmd, "r");
        ASSERT(p != NULL);
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = '\0';
        int st = pclose(p);
        ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 1);
        ASSERT_CONTAINS(out, "msg=start_failed");
        ASSERT_CONTAINS(out, path);
        ASSERT(strstr(out, "msg=listening") == NULL);
    }
    cJSON_Delete(doc);
}

/* --max-request-flops covers the transformer models: a long sequence is refused before any work
 * with 413 naming the estimate and the flag, a short one still runs. */
TEST(http_transformer_flops_limit)
{
    test_daemon d;
    args a;
    const char *const *models_args = hf_models(&a);
    const char *argv[2 * NMODELS + 3];
    int n = 0;
    while (models_args[n]) {
        argv[n] = models_args[n];
        n++;
    }
    argv[n++] = "--max-request-flops";
    argv[n++] = "100000";
    argv[n] = NULL;
    ASSERT_EQ(test_daemon_start(&d, argv), 0);
    cJSON *r = post(&d, "bert_l2_f32",
                    "{\"ids\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}", 413);
    const cJSON *err = cJSON_GetObjectItem(r, "error");
    ASSERT_STREQ(cJSON_GetObjectItem(err, "code")->valuestring, "limit_exceeded");
    ASSERT_CONTAINS(cJSON_GetObjectItem(err, "message")->valuestring, "--max-request-flops");
    cJSON_Delete(r);
    r = post(&d, "bert_l2_f32", "{\"ids\": [1]}", 200);
    ASSERT(cJSON_GetObjectItem(r, "context") != NULL);
    cJSON_Delete(r);
    /* ...and "return_context": false leaves the last hidden state out. */
    r = post(&d, "bert_l2_f32", "{\"ids\": [1], \"return_context\": false}", 200);
    ASSERT(cJSON_GetObjectItem(r, "context") == NULL);
    ASSERT(cJSON_GetObjectItem(r, "attentions") != NULL);
    cJSON_Delete(r);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}
