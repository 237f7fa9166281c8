/* Helpers shared by the api layer's unit tests (test_api.c, test_api_options.c): decoding a
 * body as the server would, running it on the calling thread, reading the response back, and
 * checking that a body is refused with the right status, error code, field and message. */
#ifndef TESTS_API_SUPPORT_H
#define TESTS_API_SUPPORT_H

#include <cjson/cJSON.h>

#include "../api/api.h"
#include "../api/protocol.h"
#include "../api/v1/v1.h"

/* Decodes json from an exactly sized copy without a NUL, so ASan catches any read past it.
 * Returns the codec's status; *req is the request (free it) when that is 0. */
int api_test_decode(const char *json, const api_limits *lim, api_attention_request **req,
                    api_error *err);

/* Decodes body[0..len) into *job as the server would for the v1 protocol: a POST
 * /v1/attention body when m is NULL, else a POST /v1/models/{name}/attention body for m.
 * Returns api_job_decode's status. */
int api_test_job_decode(api_job *job, const api_model *m, const char *body, size_t len,
                        const api_limits *lim, api_error *err);

/* Decodes (no limits), runs on the calling thread and encodes; returns the parsed response
 * (cJSON_Delete it). Fails the test on any error. */
cJSON *api_test_compute(const char *json);

/* The same, returning the response text (free it). */
char *api_test_compute_text(const char *json);

/* The number at node[idx[0]][idx[1]]...; fails the test when there is none. */
double api_test_at(const cJSON *node, int n, const int *idx);
#define AT(node, ...)                                                                              \
    api_test_at((node), (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__})

/* Checks that a JSON array of numbers equals the given sizes. */
void api_test_check_shape(const cJSON *arr, int rank, const long long *ne, const char *file,
                          int line);
#define CHECK_SHAPE(arr, ...)                                                                      \
    api_test_check_shape((arr), (int)(sizeof((long long[]){__VA_ARGS__}) / sizeof(long long)),     \
                         (long long[]){__VA_ARGS__}, __FILE__, __LINE__)

/* Checks that a nested array's own nesting has the given sizes (the data, not meta). */
void api_test_check_nesting(const cJSON *node, int rank, const long long *ne, const char *file,
                            int line);
#define CHECK_NESTING(arr, ...)                                                                    \
    api_test_check_nesting((arr), (int)(sizeof((long long[]){__VA_ARGS__}) / sizeof(long long)),   \
                           (long long[]){__VA_ARGS__}, __FILE__, __LINE__)

/* Decodes json with limits lim and fails the test unless it is refused with HTTP `status`, error
 * `kind`, field `field` and a message containing `substr`, and no request. */
void api_test_check_error(const char *file, int line, const char *json, const api_limits *lim,
                          int status, api_error_kind kind, const char *field, const char *substr);
#define EXPECT_ERROR(json, status, kind, field, substr)                                            \
    api_test_check_error(__FILE__, __LINE__, (json), NULL, (status), API_ERR_##kind, (field),      \
                         (substr))

/* Member `name` of obj; fails the test when it is missing. */
const cJSON *api_test_get(const cJSON *obj, const char *name);

#endif
