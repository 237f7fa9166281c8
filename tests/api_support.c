/* The api unit tests' helpers (api_support.h). */
#include "api_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/protocol.h"
#include "../api/v1/v1.h"
#include "harness.h"

int api_test_decode(const char *json, const api_limits *lim, api_attention_request **req,
                    api_error *err)
{
    size_t n = strlen(json);
    char *body = malloc(n ? n : 1);
    ASSERT(body != NULL);
    memcpy(body, json, n);
    memset(err, 0, sizeof *err);
    int rc = api_v1_decode_attention(body, n, lim, req, err);
    free(body);
    return rc;
}

/* A request header lookup that finds none. */
static const char *no_header(const void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return NULL;
}

int api_test_job_decode(api_job *job, const api_model *m, const char *body, size_t len,
                        const api_limits *lim, api_error *err)
{
    api_route route = {.id = m ? API_V1_MODEL_ATTENTION : API_V1_ATTENTION, .model = m};
    api_http_request req = {.method = "POST",
                            .path = m ? "/v1/models/{name}/attention" : "/v1/attention",
                            .header = no_header,
                            .body = body,
                            .body_len = len};
    return api_job_decode(job, &api_v1_protocol, &route, &req, lim, err);
}

char *api_test_compute_text(const char *json)
{
    api_attention_request *req = NULL;
    api_error err;
    int rc = api_test_decode(json, NULL, &req, &err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "decode %.200s: %d %s: %s", json, rc, err.field,
                     err.message);
    ASSERT(req != NULL);
    rc = api_attention_run(req, NULL, 0, &err);
    if (rc != 0) harness_fail(__FILE__, __LINE__, "run: %d %s", rc, err.message);
    api_buf out = {0};
    ASSERT_EQ(api_v1_encode_attention(req, &out, &err), 0);
    api_attention_request_free(req);
    size_t len;
    char *text = api_buf_release(&out, &len);
    ASSERT(text != NULL);
    ASSERT_EQ(strlen(text), len);
    return text;
}

cJSON *api_test_compute(const char *json)
{
    char *text = api_test_compute_text(json);
    cJSON *root = cJSON_Parse(text);
    if (!root) harness_fail(__FILE__, __LINE__, "response is not JSON: %.300s", text);
    free(text);
    return root;
}

double api_test_at(const cJSON *node, int n, const int *idx)
{
    for (int i = 0; i < n; i++)
        node = cJSON_GetArrayItem(node, idx[i]);
    ASSERT(cJSON_IsNumber(node));
    return node->valuedouble;
}

void api_test_check_shape(const cJSON *arr, int rank, const long long *ne, const char *file,
                          int line)
{
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != rank)
        harness_fail(file, line, "shape: expected rank %d", rank);
    for (int i = 0; i < rank; i++)
        if (cJSON_GetArrayItem(arr, i)->valuedouble != (double)ne[i])
            harness_fail(file, line, "shape[%d]: %g != %lld", i,
                         cJSON_GetArrayItem(arr, i)->valuedouble, ne[i]);
}

void api_test_check_nesting(const cJSON *node, int rank, const long long *ne, const char *file,
                            int line)
{
    for (int d = 0; d < rank; d++) {
        if (!cJSON_IsArray(node) || cJSON_GetArraySize(node) != ne[d])
            harness_fail(file, line, "nesting depth %d: expected %lld elements", d, ne[d]);
        node = node->child;
    }
    if (!cJSON_IsNumber(node)) harness_fail(file, line, "nesting: leaf is not a number");
}

void api_test_check_error(const char *file, int line, const char *json, const api_limits *lim,
                          int status, api_error_kind kind, const char *field, const char *substr)
{
    api_attention_request *req = (api_attention_request *)1;
    api_error err;
    int rc = api_test_decode(json, lim, &req, &err);
    if (rc != status || err.kind != kind || strcmp(err.field, field) != 0 ||
        !strstr(err.message, substr) || req != NULL) {
        api_attention_request_free(rc == 0 ? req : NULL);
        harness_fail(file, line,
                     "%.200s\n    want %d %s field '%s' message containing \"%s\"\n"
                     "    got  %d %s field '%s' message \"%s\"",
                     json, status, api_error_code(kind), field, substr, rc,
                     api_error_code(err.kind), err.field, err.message);
    }
}

const cJSON *api_test_get(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v) harness_fail(__FILE__, __LINE__, "missing member '%s'", name);
    return v;
}
