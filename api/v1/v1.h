/* attnd's own JSON dialect, /v1: the bodies of POST /v1/attention and their errors, for the v1
 * protocol (protocol.c), the fuzzers and the tests. The model endpoints' bodies are in
 * json_model.h. Internal to api/v1/. */
#ifndef API_V1_V1_H
#define API_V1_V1_H

#include <stdbool.h>
#include <stddef.h>

#include "../api.h"
#include "../buf.h"
#include "json_model.h"

/* The routes of the v1 protocol (api_v1_protocol.routes[] in this order). */
enum api_v1_route {
    API_V1_ATTENTION,       /* POST /v1/attention */
    API_V1_MODELS,          /* GET /v1/models */
    API_V1_MODEL,           /* GET /v1/models/{name} */
    API_V1_MODEL_ATTENTION, /* POST /v1/models/{name}/attention */
    API_V1_SOURCE,          /* PUT, GET, DELETE /v1/sources/{id} */
    API_V1_ROUTES
};

struct api_http_request;
struct api_http_response;
struct api_job;
struct api_job_wire;

/* PUT, GET or DELETE /v1/sources/{id} (json_source.c): checks the id and, for PUT, decodes and
 * validates the body {"key", "value", "key_lengths"?} into a source the job keeps (job->wire)
 * until api_v1_run_source stores it. Returns 0 or an HTTP status with *err filled. Runs on an
 * HTTP thread. */
int api_v1_decode_source(const struct api_http_request *req, const api_limits *limits,
                         struct api_job *job, api_error *err);

/* Runs a job of api_v1_decode_source on job->route.sources: stores (201 Created, 200 when it
 * replaced one), describes (200) or deletes (204) the source, with the response's body
 * {"id", "key_shape", "value_shape", "key_lengths"?, "bytes", "expires_in"} (none for 204).
 * Returns 0 or an HTTP status with *err filled (404 unknown id, 413 larger than the budget). */
int api_v1_run_source(struct api_job *job, at_pool *pool, int worker, struct api_http_response *out,
                      api_error *err);

/* Frees what api_v1_decode_source left in a job (a source not stored). */
void api_v1_source_wire_free(struct api_job_wire *wire);

/* True for "application/json" or "application/<anything>+json" (any case, parameters after ';'
 * ignored), and for a missing or empty type: clients that send none mean JSON here. */
bool api_v1_accepts(const char *content_type);

/* Decodes and validates a POST /v1/attention body. On success returns 0 and a request the
 * caller frees with api_attention_request_free. On failure returns the HTTP status to answer
 * with and fills *err; *out is NULL. The body is only read; it need not be NUL-terminated. */
int api_v1_decode_attention(const char *body, size_t len, const api_limits *limits,
                            api_attention_request **out, api_error *err);

/* Appends the response for a request that api_attention_run completed. Returns 0, or the HTTP
 * status of a failure (out of memory: 500) with *err filled. */
int api_v1_encode_attention(const api_attention_request *req, api_buf *out, api_error *err);

/* Appends {"error": {"code", "message", "field"?}} and a newline. Returns 0, or -1 when out of
 * memory. */
int api_v1_encode_error(const api_error *err, api_buf *out);

#endif
