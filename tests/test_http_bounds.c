/* The scanner's bounds end to end: bodies whose bulk is an unknown or oversized small field,
 * and JSON that RFC 8259 does not allow, refused over HTTP by both attention endpoints with a
 * 400 that names the field, the daemon serving on. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "harness.h"

/* "<head>[1,1,...,1]<tail>" of about `bytes` bytes, NUL-terminated (malloc'd). */
static char *junk(const char *head, const char *tail, size_t bytes)
{
    size_t h = strlen(head), t = strlen(tail), n = h;
    char *b = malloc(h + t + bytes + 8);
    ASSERT(b != NULL);
    memcpy(b, head, h);
    b[n++] = '[';
    while (n + 2 < h + bytes) {
        b[n++] = '1';
        b[n++] = ',';
    }
    b[n++] = '1';
    b[n++] = ']';
    memcpy(b + n, tail, t + 1);
    return b;
}

static void expect(test_daemon *d, const char *path, const char *body, long status,
                   const char *code, const char *field, const char *part, int line)
{
    test_response r;
    ASSERT_EQ(test_http(d, "POST", path, "application/json", body, strlen(body), &r), 0);
    cJSON *j = cJSON_Parse(r.body);
    cJSON *e = cJSON_GetObjectItem(j, "error");
    const char *got_code = cJSON_GetStringValue(cJSON_GetObjectItem(e, "code"));
    const char *got_field = cJSON_GetStringValue(cJSON_GetObjectItem(e, "field"));
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
    if (!got_field) got_field = ""; /* errors of the whole body name no field */
    if (r.status != status || !got_code || strcmp(got_code, code) || strcmp(got_field, field) ||
        !msg || !strstr(msg, part))
        harness_fail(__FILE__, line, "%s: %ld %.300s; want %ld %s [%s] ...%s...", path, r.status,
                     r.body, status, code, field, part);
    cJSON_Delete(j);
    test_response_free(&r);
}

TEST(http_bounds_junk_fields_and_strict_json)
{
    test_daemon d;
    const char *args[] = {"--threads", "2", NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    static const char *const paths[] = {"/v1/attention", "/v1/models/default/attention"};
    static const char *const heads[] = {"{\"query\":[[1]],\"zzz\":", "{\"text\":\"a b\",\"zzz\":"};
    for (int p = 0; p < 2; p++) {
        /* 8 MiB of junk in an unknown field, then in a small one. */
        char *b = junk(heads[p], "}", 8 << 20);
        expect(&d, paths[p], b, 400, "unknown_field", "zzz", "unknown field 'zzz'", __LINE__);
        free(b);
        static const char *const small[] = {"{\"query\":[[1]],\"k\":", "{\"text\":\"a b\",\"k\":"};
        b = junk(small[p], "}", 8 << 20);
        expect(&d, paths[p], b, 400, "invalid_value", "k", "more than the 4096", __LINE__);
        free(b);
    }
    expect(&d, paths[0], "{\"query\":[[01]]}", 400, "invalid_json", "", "malformed JSON", __LINE__);
    expect(&d, paths[0], "{\"query\":[[1.,2]]}", 400, "invalid_json", "", "near byte 11", __LINE__);
    expect(&d, paths[0], "{\"query\":[[1,\v2]]}", 400, "invalid_json", "", "near byte 13",
           __LINE__);
    expect(&d, paths[1], "{\"ids\":[01]}", 400, "invalid_json", "", "malformed JSON", __LINE__);
    /* Still serving. */
    test_response r;
    ASSERT_EQ(test_post_json(&d, "/v1/attention", "{\"query\":[[1,2]]}", &r), 0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}

/* Issue 10's reproducers of float32 overflow over HTTP: numbers, never null, on both
 * endpoints. */
TEST(http_bounds_overflowing_scores_give_numbers)
{
    test_daemon d;
    const char *args[] = {"--threads", "2", NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    static const struct {
        const char *path, *body, *want;
    } cases[] = {
        {"/v1/attention", "{\"query\": [[3e38, 3e38]], \"score\": \"dot\"}",
         "{\"context\":[[3e38,3e38]],\"weights\":[[1]]"},
        {"/v1/attention",
         "{\"query\": [[1, 2], [3, 4]], \"scale\": 3e38, \"return_weights\": false}",
         "{\"context\":[[3,4],[3,4]]"},
        {"/v1/models/default/attention",
         "{\"text\": \"a b c\", \"score\": \"dot\", \"scale\": 3e38}",
         "{\"tokens\":[\"a\",\"b\",\"c\"]"},
        {"/v1/models/default/attention",
         "{\"text\": \"a b c\", \"selection\": \"topk\", \"k\": 1, \"scale\": -3e38, "
         "\"return_weights\": false}",
         "{\"tokens\":[\"a\",\"b\",\"c\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        test_response r;
        ASSERT_EQ(test_post_json(&d, cases[i].path, cases[i].body, &r), 0);
        if (r.status != 200 || strncmp(r.body, cases[i].want, strlen(cases[i].want)) ||
            strstr(r.body, "null,") || strstr(r.body, "[null") || strstr(r.body, "null]"))
            harness_fail(__FILE__, __LINE__, "%s %s -> %ld %.300s", cases[i].path, cases[i].body,
                         r.status, r.body);
        test_response_free(&r);
    }
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}
