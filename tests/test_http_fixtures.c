/* Replays every PyTorch fixture of tests/fixtures/attention_basic.json and
 * attention_variants.json (made by make_fixtures.py) through the real daemon over HTTP, with
 * the checks of fixture_check.c: weights to 1e-5 absolute, context to 1e-4 relative, top-k and
 * sampled selections by their defining properties. The core-level replay is test_fixtures.c. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "fixture_check.h"
#include "harness.h"

/* The case's request body, with a seed that differs from the case's when `seed_xor` is not 0.
 * The seed is written from the case's exact digits: a double would round 64-bit seeds. */
static char *request_body(const cJSON *c, uint64_t seed_xor)
{
    cJSON *req = cJSON_Duplicate(fx_field(c, "request"), true);
    ASSERT(req != NULL);
    if (fx_field(req, "seed")) {
        char digits[32];
        snprintf(digits, sizeof digits, "%" PRIu64, fx_case_seed(c) ^ seed_xor);
        cJSON_ReplaceItemInObjectCaseSensitive(req, "seed", cJSON_CreateRaw(digits));
    }
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    ASSERT(body != NULL);
    return body;
}

/* POSTs the body; fails the test unless the answer is 200. Returns the response text. */
static char *post(const test_daemon *d, const char *name, const char *body)
{
    test_response r;
    ASSERT_EQ(test_post_json(d, "/v1/attention", body, &r), 0);
    if (r.status != 200)
        harness_fail(__FILE__, __LINE__, "%s: HTTP %ld %.300s", name, r.status, r.body);
    char *text = r.body;
    r.body = NULL;
    test_response_free(&r);
    return text;
}

/* Checks one response against its case, and meta's echo of the options. */
static void check_response(const cJSON *c, const char *text)
{
    const char *name = fx_case_name(c);
    const cJSON *req = fx_field(c, "request");
    cJSON *got = cJSON_Parse(text);
    if (!got) harness_fail(__FILE__, __LINE__, "%s: response is not JSON", name);
    fx_tensor ctx = fx_flatten(fx_field(got, "context"), false, "context"), w = {0};
    float *cf = fx_floats(&ctx), *wf = NULL;
    if (fx_field(got, "weights")) {
        w = fx_flatten(fx_field(got, "weights"), false, "weights");
        wf = fx_floats(&w);
    }
    fx_check_case(c, cf, ctx.count, wf, w.count);

    const cJSON *meta = fx_field(got, "meta");
    const char *sel = fx_case_selection(c);
    const char *score = cJSON_GetStringValue(fx_field(req, "score"));
    ASSERT_STREQ(cJSON_GetStringValue(fx_field(meta, "selection")), sel);
    ASSERT_STREQ(cJSON_GetStringValue(fx_field(meta, "score")), score ? score : "scaled_dot");
    if (strcmp(sel, "soft") != 0) {
        ASSERT_EQ(fx_field(meta, "k")->valuedouble, fx_field(req, "k")->valuedouble);
        ASSERT(cJSON_IsTrue(fx_field(meta, "normalize")) ==
               cJSON_IsTrue(fx_field(req, "normalize")));
    } else {
        ASSERT(fx_field(meta, "k") == NULL);
    }
    if (strcmp(sel, "sample") == 0) {
        char echo[64];
        snprintf(echo, sizeof echo, "\"seed\":%" PRIu64 ",", fx_case_seed(c));
        ASSERT_CONTAINS(text, echo);
    }
    free(cf);
    free(wf);
    fx_tensor_free(&ctx);
    fx_tensor_free(&w);
    cJSON_Delete(got);
}

/* Replays every case of `file` through a daemon started with the environment changes `env`
 * (test_daemon_start_env; NULL: none). */
static void replay_file(const char *file, int min_cases, const char *const *env)
{
    cJSON *doc = fx_load(file);
    const cJSON *cases = fx_field(doc, "cases");
    ASSERT(cJSON_GetArraySize(cases) >= min_cases);
    test_daemon d;
    ASSERT_EQ(test_daemon_start_env(&d, NULL, env), 0);
    for (const cJSON *c = cases->child; c; c = c->next) {
        char *body = request_body(c, 0);
        char *text = post(&d, fx_case_name(c), body);
        check_response(c, text);
        free(text);
        free(body);
    }
    cJSON_Delete(doc);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(fixture_http_attention_basic)
{
    replay_file("attention_basic.json", 20, NULL);
}

TEST(fixture_http_attention_variants)
{
    replay_file("attention_variants.json", 50, NULL);
}

/* The same numbers from the OpenBLAS kernels attnd picks for this CPU by itself (the suite
 * otherwise runs on whatever the environment's OPENBLAS_CORETYPE says). */
TEST(fixture_http_blas_core_auto)
{
    const char *env[] = {"OPENBLAS_CORETYPE", "ATTND_BLAS_CORE", NULL};
    replay_file("attention_basic.json", 20, env);
    replay_file("attention_variants.json", 50, env);
}

/* The response up to meta's compute_ms, the one part that varies between identical requests. */
static size_t stable_len(const char *text)
{
    const char *p = strstr(text, ",\"compute_ms\":");
    ASSERT(p != NULL);
    return (size_t)(p - text);
}

/* The same request and seed give the same bytes; another seed other keys. On a daemon with
 * several workers, so that the split of the work varies too. */
TEST(fixture_http_sample_reproducible)
{
    cJSON *doc = fx_load("attention_variants.json");
    test_daemon d;
    const char *args[] = {"--threads", "3", NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    int checked = 0;
    for (const cJSON *c = fx_field(doc, "cases")->child; c; c = c->next) {
        if (!fx_case_is_distribution(c)) continue;
        const char *name = fx_case_name(c);
        char *body = request_body(c, 0), *other_body = request_body(c, 1);
        char *a = post(&d, name, body), *b = post(&d, name, body);
        char *other = post(&d, name, other_body);
        size_t n = stable_len(a);
        if (stable_len(b) != n || memcmp(a, b, n) != 0)
            harness_fail(__FILE__, __LINE__, "%s: the same request gave different responses", name);
        const char *wa = strstr(a, "\"weights\":"), *wo = strstr(other, "\"weights\":");
        ASSERT(wa && wo);
        size_t na = (size_t)(strstr(wa, "],\"meta\"") - wa);
        if (strncmp(wa, wo, na) == 0)
            harness_fail(__FILE__, __LINE__,
                         "%s: seeds %" PRIu64 " and %" PRIu64 " drew the same keys", name,
                         fx_case_seed(c), fx_case_seed(c) ^ 1);
        check_response(c, a);
        free(a);
        free(b);
        free(other);
        free(body);
        free(other_body);
        checked++;
    }
    ASSERT(checked >= 3);
    cJSON_Delete(doc);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}
