/* Sources a model encoded, against the real daemon through libcurl: PUT /v1/sources/{id} with
 * {"model", "source"}, then POST /v1/models/{name}/attention with "source_id" answering the very
 * bytes the same "source" sent inline answers (zh-en, tiny and default; text, tokens and ids;
 * causal, additive, top-k, no weights; sources over several blocks of rows), GET describing it,
 * /v1/attention reading its per-head keys and values, every error a client can cause, and the
 * refusal (409) of a source whose model was reloaded since it was encoded. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../core/model.h"
#include "daemon.h"
#include "harness.h"
#include "model_support.h"

/* The body up to its "compute_ms" (the one member that may differ), malloc'd. */
static char *without_compute_ms(const char *body)
{
    const char *cut = strstr(body, "\"compute_ms\":");
    if (!cut) harness_fail(__FILE__, __LINE__, "no compute_ms in %.300s", body);
    return strndup(body, (size_t)(cut - body));
}

/* Stores `source` (a JSON object) for `model` as `id`, then sends `seq` (members of the body,
 * e.g. "\"text\": \"hello\"") with `options` (", ..." or "") once with "source_id" and once
 * with the source inline: both 200 and the same bytes but for compute_ms. */
static void same_as_inline(const test_daemon *d, const char *model, const char *id,
                           const char *source, const char *seq, const char *options)
{
    char put[4096], path[128], by_id[4096], inline_body[4096];
    snprintf(put, sizeof put, "{\"model\": \"%s\", \"source\": %s}", model, source);
    snprintf(path, sizeof path, "/v1/sources/%s", id);
    test_response r;
    long st = test_request(d, "PUT", path, put, &r);
    if (st != 201 && st != 200)
        harness_fail(__FILE__, __LINE__, "PUT %s: %ld %.300s", path, st, r.body);
    test_response_free(&r);
    snprintf(by_id, sizeof by_id, "{%s, \"source_id\": \"%s\"%s}", seq, id, options);
    snprintf(inline_body, sizeof inline_body, "{%s, \"source\": %s%s}", seq, source, options);
    snprintf(path, sizeof path, "/v1/models/%s/attention", model);
    test_response a, b;
    ASSERT_EQ(test_request(d, "POST", path, by_id, &a), 200);
    ASSERT_EQ(test_request(d, "POST", path, inline_body, &b), 200);
    char *x = without_compute_ms(a.body), *y = without_compute_ms(b.body);
    if (strcmp(x, y) != 0)
        harness_fail(__FILE__, __LINE__, "%s %s%s: by id\n%.600s\ninline\n%.600s", model, source,
                     options, x, y);
    ASSERT_CONTAINS(x, "\"attention\":\"cross\"");
    free(x), free(y);
    test_response_free(&a);
    test_response_free(&b);
}

static int start(test_daemon *d)
{
    char tiny[512], bert[512], tiny_arg[600], bert_arg[600];
    mt_fixture_path("models/tiny.safetensors", tiny, sizeof tiny);
    mt_fixture_path("hf/bert_l2_f32", bert, sizeof bert);
    snprintf(tiny_arg, sizeof tiny_arg, "tiny=%s", tiny);
    snprintf(bert_arg, sizeof bert_arg, "bert=%s", bert);
    const char *args[] = {"--model", tiny_arg, "--model", bert_arg, NULL};
    return test_daemon_start(d, args);
}

/* ---- tests ---- */

TEST(http_model_sources_answer_as_inline)
{
    test_daemon d;
    ASSERT_EQ(start(&d), 0);
    const char *zh = "{\"text\": \"欢迎来北京\"}";
    const char *en = "\"text\": \"welcome to Beijing\"";
    same_as_inline(&d, "zh-en", "zh", zh, en, "");
    same_as_inline(&d, "zh-en", "zh", zh, en, ", \"average_heads\": true");
    same_as_inline(&d, "zh-en", "zh", zh, en, ", \"causal\": true");
    same_as_inline(&d, "zh-en", "zh", zh, en, ", \"return_weights\": false");
    same_as_inline(&d, "zh-en", "zh", zh, "\"tokens\": [\"welcome\", \"to\", \"Mars\"]",
                   ", \"selection\": \"topk\", \"k\": 2");
    /* Longer than one block of rows (32) on both sides, as ids. */
    char ids[1024] = "{\"ids\": [", seq[1024] = "\"ids\": [";
    for (int i = 0; i < 45; i++) {
        char one[16];
        snprintf(one, sizeof one, "%s%d", i ? ", " : "", (i * 37 + 11) % 320);
        strcat(ids, one);
        if (i < 40) strcat(seq, one);
    }
    strcat(ids, "]}");
    strcat(seq, "]");
    same_as_inline(&d, "zh-en", "long", ids, seq, "");
    same_as_inline(&d, "zh-en", "long", ids, seq, ", \"causal\": true, \"return_weights\": false");

    const char *toks = "{\"tokens\": [\"欢迎\", \"来\", \"北京\"]}";
    const char *hello = "\"text\": \"hello world\"";
    same_as_inline(&d, "tiny", "t", toks, hello, "");
    same_as_inline(&d, "tiny", "t", toks, hello, ", \"score\": \"additive\"");
    same_as_inline(&d, "tiny", "t", toks, hello, ", \"causal\": true, \"average_heads\": true");
    same_as_inline(&d, "tiny", "t-ids", "{\"ids\": [9, 6, 10, 31, 0]}", "\"ids\": [1, 2]", "");
    same_as_inline(&d, "tiny", "t-unk", "{\"text\": \"the Cat sat on a zebra\"}", hello, "");
    /* The hashing model: its ids travel as strings. */
    same_as_inline(&d, "default", "h", "{\"text\": \"a source for the default model\"}",
                   "\"text\": \"query words\"", ", \"score\": \"additive\"");

    /* GET describes it: the model, the source's length, the per-head shapes [H, S, E/H]. */
    test_expect(&d, "GET", "/v1/sources/long", NULL, 200,
                "{\"id\":\"long\",\"model\":\"zh-en\",\"source_length\":45,\"key_shape\":[4,45,16],"
                "\"value_shape\":[4,45,16],\"key_lengths\":false,\"bytes\":");
    test_expect(&d, "GET", "/v1/sources/t", NULL, 200,
                "\"model\":\"tiny\",\"source_length\":3,\"key_shape\":[2,3,8]");
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* POST /v1/attention with a model's source: its keys and values are [H, S, E/H] tensors like
 * any other, the model's projections of the embedded source (checked here in double). */
TEST(http_model_sources_on_the_attention_route)
{
    test_daemon d;
    ASSERT_EQ(start(&d), 0);
    test_expect(&d, "PUT", "/v1/sources/t",
                "{\"model\": \"tiny\", \"source\": {\"ids\": [9, 6, 10]}}", 201,
                "\"key_shape\":[2,3,8]");
    api_model_registry *reg = mt_fixture_registry();
    const at_model *m = api_model_core(api_model_registry_find(reg, "tiny"));
    enum { S = 3, E = 16, H = 2, HD = 8 };
    const uint64_t ids[S] = {9, 6, 10};
    float x[S * E];
    at_model_embed(m, ids, S, x);
    /* Query [H, 1, HD]: small distinct values; score dot, so weights are softmax(q . k). */
    double q[H][HD], k[H][S][HD], v[H][S][HD];
    char body[2048] = "{\"query\": [";
    for (int h = 0; h < H; h++) {
        strcat(body, h ? ", [[" : "[[");
        for (int j = 0; j < HD; j++) {
            q[h][j] = 0.125 * (double)((h * HD + j) % 5) - 0.25;
            char one[32];
            snprintf(one, sizeof one, "%s%g", j ? ", " : "", q[h][j]);
            strcat(body, one);
        }
        strcat(body, "]]");
    }
    strcat(body, "], \"source_id\": \"t\", \"score\": \"dot\"}");
    const float *w = m->mha.in_proj_weight, *b = m->mha.in_proj_bias;
    for (int h = 0; h < H; h++)
        for (int s = 0; s < S; s++)
            for (int j = 0; j < HD; j++) {
                int kr = E + h * HD + j, vr = 2 * E + h * HD + j;
                double ks = b ? b[kr] : 0, vs = b ? b[vr] : 0;
                for (int i = 0; i < E; i++) {
                    ks += (double)x[s * E + i] * w[kr * E + i];
                    vs += (double)x[s * E + i] * w[vr * E + i];
                }
                k[h][s][j] = ks, v[h][s][j] = vs;
            }
    test_response r;
    ASSERT_EQ(test_request(&d, "POST", "/v1/attention", body, &r), 200);
    cJSON *root = cJSON_Parse(r.body);
    ASSERT(root != NULL);
    const cJSON *weights = cJSON_GetObjectItem(root, "weights"),
                *context = cJSON_GetObjectItem(root, "context");
    ASSERT(weights && context);
    for (int h = 0; h < H; h++) {
        double sc[S], mx = -1e300, sum = 0;
        for (int s = 0; s < S; s++) {
            sc[s] = 0;
            for (int j = 0; j < HD; j++)
                sc[s] += q[h][j] * k[h][s][j];
            mx = fmax(mx, sc[s]);
        }
        for (int s = 0; s < S; s++)
            sum += sc[s] = exp(sc[s] - mx);
        const cJSON *wr = cJSON_GetArrayItem(cJSON_GetArrayItem(weights, h), 0);
        const cJSON *cr = cJSON_GetArrayItem(cJSON_GetArrayItem(context, h), 0);
        for (int s = 0; s < S; s++)
            ASSERT_NEAR(cJSON_GetArrayItem(wr, s)->valuedouble, sc[s] / sum, 1e-5);
        for (int j = 0; j < HD; j++) {
            double c = 0;
            for (int s = 0; s < S; s++)
                c += sc[s] / sum * v[h][s][j];
            ASSERT_NEAR(cJSON_GetArrayItem(cr, j)->valuedouble, c, 1e-5);
        }
    }
    cJSON_Delete(root);
    test_response_free(&r);
    api_model_registry_free(reg);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(http_model_sources_errors)
{
    test_daemon d;
    ASSERT_EQ(start(&d), 0);
    const char *put = "/v1/sources/e";
    test_expect(
        &d, "PUT", put,
        "{\"model\": \"tiny\", \"source\": {\"text\": \"a\"}, \"key\": [[1]], \"value\": [[1]]}",
        400,
        "send either tensors {\\\"key\\\", \\\"value\\\", \\\"key_lengths\\\"?} or a "
        "model's source {\\\"model\\\", \\\"source\\\"}, not both");
    test_expect(&d, "PUT", put, "{\"model\": \"tiny\"}", 400, "missing field 'source'");
    test_expect(&d, "PUT", put, "{\"source\": {\"text\": \"a\"}}", 400, "missing field 'model'");
    test_expect(&d, "PUT", put, "{\"model\": 3, \"source\": {\"text\": \"a\"}}", 400,
                "model: expected a string");
    test_expect(&d, "PUT", put, "{\"model\": \"nope\", \"source\": {\"text\": \"a\"}}", 404,
                "no model \\\"nope\\\" is loaded");
    test_expect(&d, "PUT", put, "{\"model\": \"bert\", \"source\": {\"text\": \"a\"}}", 400,
                "self-attention only: it has no cross-attention to encode a source for");
    test_expect(&d, "PUT", put, "{\"model\": \"tiny\", \"source\": {\"text\": \"\"}}", 400,
                "source: no tokens");
    test_expect(&d, "PUT", put, "{\"model\": \"tiny\", \"source\": {\"ids\": [99]}}", 400,
                "is not a token id of this model");
    test_expect(&d, "PUT", put, "{\"model\": \"tiny\", \"source\": \"text\"}", 400,
                "source: expected an object");
    test_expect(&d, "PUT", put, "{\"model\": \"tiny\", \"source\": {\"txt\": \"a\"}}", 400,
                "source: unknown member 'txt'");
    char many[512] = "{\"model\": \"tiny\", \"source\": {\"ids\": [";
    for (int i = 0; i < 33; i++)
        strcat(many, i ? ", 1" : "1");
    strcat(many, "]}}");
    test_expect(&d, "PUT", put, many, 400, "at most 32");
    test_expect(&d, "GET", put, NULL, 404, "not found"); /* nothing was stored */

    test_expect(&d, "PUT", "/v1/sources/zh",
                "{\"model\": \"zh-en\", \"source\": {\"text\": \"北京\"}}", 201,
                "\"model\":\"zh-en\"");
    test_expect(&d, "PUT", "/v1/sources/raw", "{\"key\": [[1]], \"value\": [[2]]}", 201, NULL);
    const char *tiny = "/v1/models/tiny/attention";
    test_expect(&d, "POST", tiny, "{\"text\": \"a\", \"source_id\": \"zh\"}", 400,
                "source 'zh' was encoded by model 'zh-en', not 'tiny'");
    test_expect(&d, "POST", tiny, "{\"text\": \"a\", \"source_id\": \"raw\"}", 400,
                "source 'raw' holds key and value tensors, not a model's encoded source");
    test_expect(&d, "POST", tiny,
                "{\"text\": \"a\", \"source_id\": \"zh\", \"source\": {\"text\": \"a\"}}", 400,
                "send either \\\"source\\\"");
    test_expect(&d, "POST", tiny, "{\"text\": \"a\", \"source_id\": 7}", 400,
                "source_id: expected a string");
    test_expect(&d, "POST", tiny, "{\"text\": \"a\", \"source_id\": \"a/b\"}", 400,
                "is not allowed");
    double misses = test_metric(&d, "attnd_sources_misses_total");
    test_expect(&d, "POST", tiny, "{\"text\": \"a\", \"source_id\": \"gone\"}", 404,
                "source 'gone' not found");
    ASSERT_EQ(test_metric(&d, "attnd_sources_misses_total"), misses + 1);
    test_expect(&d, "POST", "/v1/models/bert/attention", "{\"text\": \"a\", \"source_id\": \"zh\"}",
                400, "unknown field 'source_id'");

    /* Replaced: the next request sees the new source; deleted: 404. */
    const char *zh_en = "/v1/models/zh-en/attention";
    test_expect(&d, "POST", zh_en, "{\"text\": \"Beijing\", \"source_id\": \"zh\"}", 200,
                "\"source_tokens\":[\"北\",\"京\"]");
    test_expect(&d, "PUT", "/v1/sources/zh",
                "{\"model\": \"zh-en\", \"source\": {\"text\": \"来北京\"}}", 200,
                "\"source_length\":3");
    test_expect(&d, "POST", zh_en, "{\"text\": \"Beijing\", \"source_id\": \"zh\"}", 200,
                "\"source_tokens\":[\"来\",\"北\",\"京\"]");
    test_expect(&d, "DELETE", "/v1/sources/zh", NULL, 204, NULL);
    test_expect(&d, "POST", zh_en, "{\"text\": \"Beijing\", \"source_id\": \"zh\"}", 404,
                "source 'zh' not found");
    test_expect(&d, "GET", "/healthz", NULL, 200, "ok");
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

typedef struct stepper {
    const test_daemon *d;
    int ok, gone, bad;
    char last[512];
} stepper;

/* Decoding steps against source "c" while the main thread replaces and deletes it. */
static void *step_run(void *arg)
{
    stepper *s = arg;
    for (int i = 0; i < 60; i++) {
        test_response r;
        long st = test_request(s->d, "POST", "/v1/models/zh-en/attention",
                               "{\"text\": \"Beijing\", \"source_id\": \"c\"}", &r);
        if (st == 200 && (strstr(r.body, "\"source_tokens\":[\"北\",\"京\"]") ||
                          strstr(r.body, "\"source_tokens\":[\"来\",\"北\",\"京\"]")))
            s->ok++;
        else if (st == 404 && strstr(r.body, "source 'c' not found"))
            s->gone++;
        else
            s->bad++, snprintf(s->last, sizeof s->last, "%ld %.400s", st, r.body);
        test_response_free(&r);
    }
    return NULL;
}

/* A source replaced or deleted while requests use it: each finishes on the source it started
 * with (under ASan, a freed one would show), and answers 200 or, once deleted, 404. */
TEST(http_model_sources_replaced_and_deleted_while_in_use)
{
    test_daemon d;
    ASSERT_EQ(start(&d), 0);
    const char *a = "{\"model\": \"zh-en\", \"source\": {\"text\": \"北京\"}}";
    const char *b = "{\"model\": \"zh-en\", \"source\": {\"text\": \"来北京\"}}";
    test_expect(&d, "PUT", "/v1/sources/c", a, 201, NULL);
    stepper s = {.d = &d};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, step_run, &s), 0);
    for (int i = 0; i < 30; i++) {
        test_response r;
        long st = test_request(&d, i % 3 == 2 ? "DELETE" : "PUT", "/v1/sources/c",
                               i % 3 == 2 ? NULL
                               : i % 2    ? b
                                          : a,
                               &r);
        ASSERT(st == 200 || st == 201 || st == 204);
        test_response_free(&r);
    }
    pthread_join(t, NULL);
    if (s.bad) harness_fail(__FILE__, __LINE__, "%d of 60 failed, last: %s", s.bad, s.last);
    ASSERT_EQ(s.ok + s.gone, 60);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* A model reloaded (SIGHUP) is a new model: the keys and values it encoded before are stale and
 * refused with 409 until the source is stored again. A built-in model, which a reload shares
 * unchanged, keeps its sources. */
TEST(http_model_sources_of_a_reloaded_model_are_refused)
{
    char dir[256], live[512], spec[600];
    mt_tmpdir(dir, sizeof dir);
    mt_write_tiny_variant(dir, "m.safetensors", NULL, NULL, NULL, live, sizeof live);
    snprintf(spec, sizeof spec, "m=%s", live);
    test_daemon d;
    const char *args[] = {"--model", spec, NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    const char *put = "{\"model\": \"m\", \"source\": {\"text\": \"the cat\"}}";
    test_expect(&d, "PUT", "/v1/sources/s", put, 201, "\"model\":\"m\"");
    test_expect(&d, "PUT", "/v1/sources/zh",
                "{\"model\": \"zh-en\", \"source\": {\"text\": \"北京\"}}", 201, NULL);
    const char *use = "{\"text\": \"a dog\", \"source_id\": \"s\"}";
    test_expect(&d, "POST", "/v1/models/m/attention", use, 200,
                "\"source_tokens\":[\"the\",\"cat\"]");

    kill(d.pid, SIGHUP);
    test_wait_log(&d, "msg=reloaded models_failed=0", 1);
    test_expect(&d, "POST", "/v1/models/m/attention", use, 409,
                "source_id: source 's' was encoded by model 'm' loaded at ");
    test_expect(&d, "POST", "/v1/models/m/attention", use, 409,
                "which has since been reloaded (the model serving now was loaded at ");
    test_expect(&d, "POST", "/v1/models/m/attention", use, 409, "PUT /v1/sources/s again");
    test_expect(&d, "POST", "/v1/models/zh-en/attention",
                "{\"text\": \"Beijing\", \"source_id\": \"zh\"}", 200, "\"source_length\":2");
    test_expect(&d, "PUT", "/v1/sources/s", put, 200, "\"model\":\"m\"");
    test_expect(&d, "POST", "/v1/models/m/attention", use, 200,
                "\"source_tokens\":[\"the\",\"cat\"]");
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
    mt_tmpdir_remove(dir);
}

/* The Open Inference Protocol's token models take the stored source as the parameter
 * "source_id": the same response as the source input. */
TEST(http_model_sources_on_v2_token_models)
{
    test_daemon d;
    ASSERT_EQ(start(&d), 0);
    test_expect(&d, "PUT", "/v1/sources/zh",
                "{\"model\": \"zh-en\", \"source\": {\"text\": \"欢迎来北京\"}}", 201, NULL);
    static const char text[] =
        "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":"
        "[\"welcome to beijing\"]}";
    static const char source[] = ",{\"name\":\"source_text\",\"shape\":[1],\"datatype\":"
                                 "\"BYTES\",\"data\":[\"欢迎来北京\"]}";
    static const char outputs[] = "],\"outputs\":[{\"name\":\"context\"},{\"name\":\"weights\"},"
                                  "{\"name\":\"source_tokens\"},{\"name\":\"source_ids\"}]";
    char by_id[2048], inline_body[2048];
    snprintf(by_id, sizeof by_id, "%s%s,\"parameters\":{\"source_id\":\"zh\",\"causal\":true}}",
             text, outputs);
    snprintf(inline_body, sizeof inline_body, "%s%s%s,\"parameters\":{\"causal\":true}}", text,
             source, outputs);
    test_response a, b;
    ASSERT_EQ(test_request(&d, "POST", "/v2/models/zh-en/infer", by_id, &a), 200);
    ASSERT_EQ(test_request(&d, "POST", "/v2/models/zh-en/infer", inline_body, &b), 200);
    ASSERT_STREQ(a.body, b.body);
    ASSERT_CONTAINS(a.body, "\"name\":\"source_tokens\"");
    test_response_free(&a);
    test_response_free(&b);

    snprintf(by_id, sizeof by_id, "%s%s%s,\"parameters\":{\"source_id\":\"zh\"}}", text, source,
             outputs);
    test_expect(&d, "POST", "/v2/models/zh-en/infer", by_id, 400,
                "send the source as input 'source_text' or 'source_ids', or name a stored one");
    snprintf(by_id, sizeof by_id, "%s%s,\"parameters\":{\"source_id\":\"none\"}}", text, outputs);
    test_expect(&d, "POST", "/v2/models/zh-en/infer", by_id, 404, "source 'none' not found");
    snprintf(by_id, sizeof by_id, "%s%s,\"parameters\":{\"source_id\":3}}", text, outputs);
    test_expect(&d, "POST", "/v2/models/zh-en/infer", by_id, 400,
                "parameters.source_id: expected a string");
    snprintf(by_id, sizeof by_id, "%s],\"parameters\":{\"source_id\":\"zh\"}}", text);
    test_expect(&d, "POST", "/v2/models/tiny/infer", by_id, 400,
                "source 'zh' was encoded by model 'zh-en', not 'tiny'");
    test_expect(
        &d, "POST", "/v2/models/attention/infer",
        "{\"inputs\":[{\"name\":\"query\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[1]}],"
        "\"parameters\":{\"source_id\":\"zh\"}}",
        400, "parameters.source_id: the attention model takes no stored source");
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}
