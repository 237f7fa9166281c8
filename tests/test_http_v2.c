/* The Open Inference Protocol (/v2) against the real daemon through libcurl: every endpoint, the
 * exact bytes tritonclient.http sends, binary and JSON requests giving /v1's numbers, the
 * response decoded as the client decodes it, every malformed binary layout answered 400 while
 * the daemon keeps serving, and a token model fed text. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon.h"
#include "harness.h"

/* POSTs body[0..len) to path with the NULL-terminated extra headers and no Content-Type (as
 * tritonclient sends it). Fills *out like test_http. */
static void post(const test_daemon *d, const char *path, const char *const *headers,
                 const void *body, size_t len, test_response *out)
{
    const char *all[16] = {"Content-Type:"}; /* none at all */
    int n = 1;
    for (int i = 0; headers && headers[i]; i++) {
        ASSERT(n < 15);
        all[n++] = headers[i];
    }
    ASSERT_EQ(test_http_headers(d, "POST", path, all, body, len, out), CURLE_OK);
}

/* The value of response header `name` (any case), or -1. */
static long header_value(const test_response *r, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') return atol(p + n + 1);
    return -1;
}

static bool has_header(const test_response *r, const char *line)
{
    return strcasestr(r->headers, line) != NULL;
}

static test_daemon start(void)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    return d;
}

/* A body of the JSON header and n raw bytes; *len its size, hl the header length. */
static char *body_of(const char *json, const void *bin, size_t n, size_t *len, char *hl)
{
    size_t j = strlen(json);
    char *b = malloc(j + n + 1);
    memcpy(b, json, j);
    if (n) memcpy(b + j, bin, n);
    *len = j + n;
    sprintf(hl, "inference-header-content-length: %zu", j);
    return b;
}

/* The floats of output `name` as tritonclient's InferResult finds them: in the binary section
 * after the header, at the sum of the binary_data_size of the outputs before it; or its JSON
 * data. Returns how many (at most cap) were written to dst. */
static int64_t client_output(const test_response *r, const char *name, float *dst, int64_t cap)
{
    long hl = header_value(r, "Inference-Header-Content-Length");
    size_t header_len = hl >= 0 ? (size_t)hl : r->len;
    ASSERT(header_len <= r->len);
    cJSON *h = cJSON_ParseWithLength(r->body, header_len);
    ASSERT(h);
    size_t at = header_len;
    int64_t n = -1;
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(h, "outputs"))
    {
        const cJSON *size =
            cJSON_GetObjectItem(cJSON_GetObjectItem(o, "parameters"), "binary_data_size");
        if (strcmp(cJSON_GetObjectItem(o, "name")->valuestring, name) == 0) {
            ASSERT_STREQ(cJSON_GetObjectItem(o, "datatype")->valuestring, "FP32");
            n = 0;
            if (size) {
                n = (int64_t)size->valuedouble / 4;
                ASSERT(n <= cap && at + (size_t)n * 4 <= r->len);
                memcpy(dst, r->body + at, (size_t)n * 4);
            } else {
                const cJSON *x;
                cJSON_ArrayForEach(x, cJSON_GetObjectItem(o, "data"))
                {
                    ASSERT(n < cap);
                    dst[n++] = (float)x->valuedouble;
                }
            }
        }
        if (size) at += (size_t)size->valuedouble;
    }
    ASSERT_EQ(at, r->len); /* the binary section holds exactly the outputs' bytes */
    cJSON_Delete(h);
    ASSERT(n >= 0);
    return n;
}

/* Appends the numbers of the nested array x to dst[*n..cap), row-major. */
static void flatten(const cJSON *x, float *dst, int64_t cap, int64_t *n)
{
    if (!cJSON_IsArray(x)) {
        ASSERT(*n < cap);
        dst[(*n)++] = (float)x->valuedouble;
        return;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, x) flatten(c, dst, cap, n);
}

/* Flattens a /v1 response's nested array `field` into dst; returns the count. */
static int64_t v1_values(const char *body, const char *field, float *dst, int64_t cap)
{
    cJSON *j = cJSON_Parse(body);
    ASSERT(j && cJSON_GetObjectItem(j, field));
    int64_t n = 0;
    flatten(cJSON_GetObjectItem(j, field), dst, cap, &n);
    cJSON_Delete(j);
    return n;
}

TEST(http_v2_server_health_and_metadata)
{
    test_daemon d = start();
    test_response r;
    ASSERT_EQ(test_http(&d, "GET", "/v2", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT(has_header(&r, "Content-Type: application/json"));
    cJSON *j = cJSON_Parse(r.body);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "name")->valuestring, "attnd");
    ASSERT(cJSON_IsString(cJSON_GetObjectItem(j, "version")));
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "extensions"), 0)->valuestring,
                 "binary_tensor_data");
    cJSON_Delete(j);
    test_response_free(&r);

    const char *ok[] = {"/v2/health/live", "/v2/health/ready", "/v2/models/attention/ready",
                        "/v2/models/default/versions/1/ready", "/v2/models/zh-en/ready"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ASSERT_EQ(test_http(&d, "GET", ok[i], NULL, NULL, 0, &r), 0);
        ASSERT_EQ(r.status, 200);
        ASSERT_EQ(r.len, 0);
        test_response_free(&r);
    }

    ASSERT_EQ(test_http(&d, "GET", "/v2/models/attention/versions/1", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 200);
    j = cJSON_Parse(r.body);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "name")->valuestring, "attention");
    ASSERT_STREQ(cJSON_GetObjectItem(j, "platform")->valuestring, "attnd");
    const cJSON *q = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "inputs"), 0);
    ASSERT_STREQ(cJSON_GetObjectItem(q, "name")->valuestring, "query");
    ASSERT_STREQ(cJSON_GetObjectItem(q, "datatype")->valuestring, "FP32");
    ASSERT_EQ(cJSON_GetArrayItem(cJSON_GetObjectItem(q, "shape"), 0)->valuedouble, -1);
    cJSON_Delete(j);
    test_response_free(&r);
    ASSERT_EQ(test_http(&d, "GET", "/v2/models/zh-en", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[1]}");
    test_response_free(&r);

    /* 404s: unknown model, unknown version, unknown route; 405 for a GET of infer. */
    struct {
        const char *method, *path;
        long status;
        const char *msg;
    } bad[] = {
        {"GET", "/v2/models/nope", 404, "unknown model 'nope'; the models are attention, default"},
        {"POST", "/v2/models/nope/infer", 404, "unknown model 'nope'"},
        {"GET", "/v2/models/attention/versions/2", 404,
         "model 'attention' has no version '2'; its one version is '1'"},
        {"POST", "/v2/models/default/versions/7/infer", 404, "has no version '7'"},
        {"GET", "/v2/models/attention/stats", 404, "no route /v2/models/attention/stats"},
        {"GET", "/v2/models/attention/infer", 405, "GET /v2/models/attention/infer is not"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ(test_http(&d, bad[i].method, bad[i].path, NULL,
                            bad[i].method[0] == 'P' ? "{}" : NULL, 2, &r),
                  0);
        ASSERT_EQ(r.status, bad[i].status);
        j = cJSON_Parse(r.body);
        ASSERT(cJSON_IsString(cJSON_GetObjectItem(j, "error"))); /* {"error": "message"} */
        ASSERT_CONTAINS(cJSON_GetObjectItem(j, "error")->valuestring, bad[i].msg);
        cJSON_Delete(j);
        test_response_free(&r);
    }
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

static const float one_to_four[] = {1, 2, 3, 4};

/* tritonclient.http's request, byte for byte (issue 12). */
static const char captured[] =
    "{\"id\":\"42\",\"inputs\":[{\"name\":\"input0\",\"shape\":[2,2],\"datatype\":\"FP32\","
    "\"parameters\":{\"binary_data_size\":16}}],\"parameters\":{\"binary_data_output\":true}}";

TEST(http_v2_captured_client_bytes)
{
    test_daemon d = start();
    test_response r, v1;
    size_t len;
    char hl[64];
    char *b = body_of(captured, one_to_four, 16, &len, hl);
    ASSERT_EQ(len, 166);
    ASSERT_STREQ(hl, "inference-header-content-length: 150");
    const char *const hdrs[] = {hl, NULL};
    /* Exactly what the client sent: our model has no input0. */
    post(&d, "/v2/models/attention/infer", hdrs, b, len, &r);
    ASSERT_EQ(r.status, 400);
    ASSERT_STREQ(r.body, "{\"error\":\"unknown input 'input0' of model 'attention'; its inputs "
                         "are query, key, value, mask, key_lengths, additive_weight, "
                         "additive_bias, additive_v\"}");
    test_response_free(&r);
    free(b);

    /* The same framing with our input's name: binary outputs, walked as the client walks them,
     * equal to /v1's answer for the same query. */
    char json[256];
    snprintf(json, sizeof json, "%s", captured);
    char *at = strstr(json, "input0");
    memmove(at + 5, at + 6, strlen(at + 6) + 1);
    memcpy(at, "query", 5);
    b = body_of(json, one_to_four, 16, &len, hl);
    post(&d, "/v2/models/attention/infer", hdrs, b, len, &r);
    free(b);
    ASSERT_EQ(r.status, 200);
    ASSERT(has_header(&r, "Content-Type: application/octet-stream"));
    long header_len = header_value(&r, "Inference-Header-Content-Length");
    ASSERT(header_len > 0 && (size_t)header_len + 32 == r.len);
    ASSERT_CONTAINS(r.body, "\"id\":\"42\"");
    ASSERT_EQ(test_post_json(&d, "/v1/attention", "{\"query\": [[1, 2], [3, 4]]}", &v1), 0);
    ASSERT_EQ(v1.status, 200);
    float got[8], want[8];
    ASSERT_EQ(client_output(&r, "context", got, 8), 4);
    ASSERT_EQ(v1_values(v1.body, "context", want, 8), 4);
    for (int i = 0; i < 4; i++)
        ASSERT(got[i] == want[i]);
    ASSERT_EQ(client_output(&r, "weights", got, 8), 4);
    ASSERT_EQ(v1_values(v1.body, "weights", want, 8), 4);
    for (int i = 0; i < 4; i++)
        ASSERT(got[i] == want[i]);
    test_response_free(&r);
    test_response_free(&v1);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(http_v2_json_and_binary_equal_v1)
{
    test_daemon d = start();
    /* A rank-4 query with key, value, causal: as JSON (nested data, outputs in JSON) and as
     * binary (FP64 key and value), both against /v1. */
    static const char v1_body[] =
        "{\"query\": [[[[1, 0], [0, 1], [1, 1]]]], \"key\": [[[[0.5, 1], [2, -1], [0, 3]]]], "
        "\"value\": [[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], \"causal\": true}";
    static const char v2_json[] =
        "{\"inputs\":[{\"name\":\"query\",\"shape\":[1,1,3,2],\"datatype\":\"FP32\",\"data\":"
        "[[[[1,0],[0,1],[1,1]]]]},{\"name\":\"key\",\"shape\":[1,1,3,2],\"datatype\":\"FP32\","
        "\"data\":[0.5,1,2,-1,0,3]},{\"name\":\"value\",\"shape\":[1,1,3,3],\"datatype\":"
        "\"FP32\",\"data\":[1,2,3,4,5,6,7,8,9]}],\"parameters\":{\"causal\":true},"
        "\"outputs\":[{\"name\":\"weights\"},{\"name\":\"context\",\"parameters\":"
        "{\"binary_data\":false}}]}";
    test_response v1, js, bin;
    ASSERT_EQ(test_post_json(&d, "/v1/attention", v1_body, &v1), 0);
    ASSERT_EQ(v1.status, 200);
    post(&d, "/v2/models/attention/infer", NULL, v2_json, strlen(v2_json), &js);
    ASSERT_EQ(js.status, 200);
    ASSERT(has_header(&js, "Content-Type: application/json"));
    ASSERT_EQ(header_value(&js, "Inference-Header-Content-Length"), -1);

    const float q[] = {1, 0, 0, 1, 1, 1};
    const double k[] = {0.5, 1, 2, -1, 0, 3}, v[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    unsigned char raw[24 + 48 + 72];
    memcpy(raw, q, 24);
    memcpy(raw + 24, k, 48);
    memcpy(raw + 72, v, 72);
    static const char v2_bin[] =
        "{\"inputs\":[{\"name\":\"query\",\"shape\":[1,1,3,2],\"datatype\":\"FP32\","
        "\"parameters\":{\"binary_data_size\":24}},{\"name\":\"key\",\"shape\":[1,1,3,2],"
        "\"datatype\":\"FP64\",\"parameters\":{\"binary_data_size\":48}},{\"name\":\"value\","
        "\"shape\":[1,1,3,3],\"datatype\":\"FP64\",\"parameters\":{\"binary_data_size\":72}}],"
        "\"parameters\":{\"causal\":true,\"binary_data_output\":true}}";
    size_t len;
    char hl[64];
    char *b = body_of(v2_bin, raw, sizeof raw, &len, hl);
    const char *const hdrs[] = {hl, "Content-Type: application/octet-stream", NULL};
    post(&d, "/v2/models/attention/infer", hdrs, b, len, &bin);
    free(b);
    ASSERT_EQ(bin.status, 200);
    ASSERT(header_value(&bin, "Inference-Header-Content-Length") > 0);

    float want[16], a[16], c[16];
    ASSERT_EQ(v1_values(v1.body, "context", want, 16), 9);
    ASSERT_EQ(client_output(&js, "context", a, 16), 9);
    ASSERT_EQ(client_output(&bin, "context", c, 16), 9);
    for (int i = 0; i < 9; i++)
        ASSERT(a[i] == want[i] && c[i] == want[i]);
    ASSERT_EQ(v1_values(v1.body, "weights", want, 16), 9);
    ASSERT_EQ(client_output(&js, "weights", a, 16), 9);
    ASSERT_EQ(client_output(&bin, "weights", c, 16), 9);
    for (int i = 0; i < 9; i++)
        ASSERT(a[i] == want[i] && c[i] == want[i]);
    /* The JSON response lists the outputs in the request's order, weights binary by default
     * only when asked: here neither is binary. */
    ASSERT(strstr(js.body, "\"weights\"") < strstr(js.body, "\"context\""));
    test_response_free(&v1);
    test_response_free(&js);
    test_response_free(&bin);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(http_v2_malformed_requests_are_400_and_the_daemon_serves_on)
{
    test_daemon d = start();
    static const char q_bin[] = "{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":"
                                "\"FP32\",\"parameters\":{\"binary_data_size\":16}}]}";
    static const unsigned char off_end[] = {9, 0, 0, 0, 'a', 'b'};
    const float five[] = {1, 2, 3, 4, 5};
    struct {
        const char *json;
        const void *bin;
        size_t n;
        const char *header; /* NULL: framed by the JSON's length */
        const char *msg;
    } cases[] = {
        {q_bin, one_to_four, 16, "Inference-Header-Content-Length: 999",
         "Inference-Header-Content-Length: 999 is past the end of the 114-byte body"},
        {q_bin, one_to_four, 16, "Inference-Header-Content-Length: 12a",
         "expected the JSON header's length in bytes"},
        {q_bin, one_to_four, 12, NULL, "binary_data_size 16, but only 12 bytes of binary data"},
        {q_bin, five, 20, NULL, "4 bytes are extra"},
        {q_bin, one_to_four, 16, "X-None: 1", "needs an Inference-Header-Content-Length header"},
        {"{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\",\"parameters\":"
         "{\"binary_data_size\":12}}]}",
         one_to_four, 12, NULL, "binary_data_size 12 does not match shape [2, 2] of FP32"},
        {"{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP8\",\"data\":"
         "[1,2,3,4]}]}",
         NULL, 0, NULL, "input 'query': unknown datatype 'FP8'"},
        {"{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\",\"parameters\":"
         "{\"binary_data_size\":6}}]}",
         off_end, 6, NULL, "input 'text': element 0 says 9 bytes, only 2 are left"},
        {"{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":"
         "[1,2,3]}]}",
         NULL, 0, NULL, "data is an array [3], but shape [2, 2] needs 4 values"},
        {"{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP64\",\"parameters\":"
         "{\"binary_data_size\":32}}]}",
         NULL, 0, NULL, "only 0 bytes of binary data are left"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char hl[64];
        char *b = body_of(cases[i].json, cases[i].bin, cases[i].n, &len, hl);
        const char *const hdrs[] = {cases[i].header ? cases[i].header : hl, NULL};
        test_response r;
        post(&d, "/v2/models/attention/infer", hdrs, b, len, &r);
        free(b);
        if (r.status != 400 || !strstr(r.body, cases[i].msg))
            harness_fail(__FILE__, __LINE__, "case %zu: %ld %s", i, r.status, r.body);
        cJSON *j = cJSON_Parse(r.body);
        ASSERT(cJSON_IsString(cJSON_GetObjectItem(j, "error")));
        cJSON_Delete(j);
        test_response_free(&r);
    }
    /* FP64 that does not fit FP32, named by element. */
    const double big[] = {1, 2, 1e300, 4};
    size_t len;
    char hl[64];
    char *b = body_of("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP64\","
                      "\"parameters\":{\"binary_data_size\":32}}]}",
                      big, 32, &len, hl);
    const char *const hdrs[] = {hl, NULL};
    test_response r;
    post(&d, "/v2/models/attention/infer", hdrs, b, len, &r);
    free(b);
    ASSERT_EQ(r.status, 400);
    ASSERT_CONTAINS(r.body, "input 'query': element 2 (1e300) does not fit FP32");
    test_response_free(&r);
    ASSERT_EQ(test_http(&d, "GET", "/v2/health/ready", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(http_v2_token_model_text_matches_v1)
{
    test_daemon d = start();
    static const char v2[] =
        "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":"
        "[\"welcome to beijing\"]},{\"name\":\"source_text\",\"shape\":[1],\"datatype\":"
        "\"BYTES\",\"data\":[\"欢迎 来 北京\"]}],\"outputs\":[{\"name\":\"tokens\"},{\"name\":"
        "\"context\",\"parameters\":{\"binary_data\":true}}]}";
    test_response r, v1;
    post(&d, "/v2/models/zh-en/infer", NULL, v2, strlen(v2), &r);
    ASSERT_EQ(r.status, 200);
    ASSERT(header_value(&r, "Inference-Header-Content-Length") > 0);
    ASSERT_CONTAINS(r.body, "\"name\":\"tokens\",\"datatype\":\"BYTES\",\"shape\":[3],\"data\":"
                            "[\"welcome\",\"to\",\"beijing\"]");
    ASSERT_EQ(test_post_json(&d, "/v1/models/zh-en/attention",
                             "{\"text\": \"welcome to beijing\", \"source\": {\"text\": \"欢迎 来 "
                             "北京\"}, \"return_weights\": false}",
                             &v1),
              0);
    ASSERT_EQ(v1.status, 200);
    static float got[4096], want[4096];
    int64_t n = client_output(&r, "context", got, 4096);
    ASSERT(n > 3);
    ASSERT_EQ(v1_values(v1.body, "context", want, 4096), n);
    for (int64_t i = 0; i < n; i++)
        ASSERT(got[i] == want[i]);
    test_response_free(&r);
    test_response_free(&v1);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(http_v2_body_over_the_limit_is_413_in_v2_shape)
{
    test_daemon d;
    const char *args[] = {"--max-body-bytes", "100", NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    size_t len;
    char hl[64];
    char *b = body_of(captured, one_to_four, 16, &len, hl);
    const char *const hdrs[] = {hl, NULL};
    test_response r;
    post(&d, "/v2/models/attention/infer", hdrs, b, len, &r);
    free(b);
    ASSERT_EQ(r.status, 413);
    cJSON *j = cJSON_Parse(r.body);
    ASSERT(cJSON_IsString(cJSON_GetObjectItem(j, "error")));
    ASSERT_CONTAINS(cJSON_GetObjectItem(j, "error")->valuestring, "exceeds the limit of 100 bytes");
    cJSON_Delete(j);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(http_v2_transformer_folder_model_matches_v1)
{
    test_daemon d;
    const char *args[] = {"--model", "bert=tests/fixtures/hf/bert_l2_f32", NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    test_response r, v1, ids;
    /* Text and pair as JSON BYTES, both outputs binary. */
    static const char v2[] =
        "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"hello "
        "world\"]},{\"name\":\"text_pair\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":"
        "[\"world\"]}],\"parameters\":{\"binary_data_output\":true}}";
    post(&d, "/v2/models/bert/infer", NULL, v2, strlen(v2), &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "{\"name\":\"weights\",\"datatype\":\"FP32\",\"shape\":[2,4,6,6]");
    ASSERT_EQ(test_post_json(&d, "/v1/models/bert/attention",
                             "{\"text\": \"hello world\", \"text_pair\": \"world\"}", &v1),
              0);
    ASSERT_EQ(v1.status, 200);
    static float got[4096], want[4096];
    int64_t n = client_output(&r, "context", got, 4096);
    ASSERT_EQ(n, 6 * 16);
    ASSERT_EQ(v1_values(v1.body, "context", want, 4096), n);
    for (int64_t i = 0; i < n; i++)
        ASSERT(got[i] == want[i]);
    n = client_output(&r, "weights", got, 4096);
    ASSERT_EQ(n, 2 * 4 * 6 * 6);
    ASSERT_EQ(v1_values(v1.body, "attentions", want, 4096), n);
    for (int64_t i = 0; i < n; i++)
        ASSERT(got[i] == want[i]);

    /* The same pieces as binary INT64 ids and token types give the same context. */
    const int64_t id[] = {2, 12, 13, 3, 13, 3}, type[] = {0, 0, 0, 0, 1, 1};
    unsigned char raw[96];
    memcpy(raw, id, 48);
    memcpy(raw + 48, type, 48);
    size_t len;
    char hl[64];
    char *b = body_of("{\"inputs\":[{\"name\":\"ids\",\"shape\":[6],\"datatype\":\"INT64\","
                      "\"parameters\":{\"binary_data_size\":48}},{\"name\":\"token_type_ids\","
                      "\"shape\":[6],\"datatype\":\"INT64\",\"parameters\":{\"binary_data_size\":"
                      "48}}],\"outputs\":[{\"name\":\"context\",\"parameters\":{\"binary_data\":"
                      "true}},{\"name\":\"weights\"}]}",
                      raw, sizeof raw, &len, hl);
    const char *const hdrs[] = {hl, NULL};
    post(&d, "/v2/models/bert/infer", hdrs, b, len, &ids);
    free(b);
    ASSERT_EQ(ids.status, 200);
    float again[4096];
    ASSERT_EQ(client_output(&ids, "context", again, 4096), 6 * 16);
    int64_t m = client_output(&r, "context", got, 4096);
    for (int64_t i = 0; i < m; i++)
        ASSERT(again[i] == got[i]);
    test_response_free(&ids);

    /* The one-layer models' options do not apply. */
    static const char bad[] = "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":"
                              "\"BYTES\",\"data\":[\"hi\"]}],\"parameters\":{\"causal\":true}}";
    post(&d, "/v2/models/bert/infer", NULL, bad, strlen(bad), &ids);
    ASSERT_EQ(ids.status, 400);
    ASSERT_CONTAINS(ids.body, "parameters: 'causal' does not apply to model 'bert'");
    test_response_free(&ids);
    test_response_free(&r);
    test_response_free(&v1);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}
