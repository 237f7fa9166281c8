/* The request/response layer between the HTTP server and the attention core. It turns a request
 * body in some wire format into a validated, format-neutral request, runs it on the core, and
 * encodes the result. Wire formats are protocols (protocol.h: api/v1/ and api/v2/), each owning
 * its routes, its requests and its responses; this header is what they share. */
#ifndef API_API_H
#define API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/cancel.h"
#include "../core/pool.h"
#include "buf.h"

/* Error codes a client sees in {"error": {"code": ...}}, with the HTTP status each implies. */
#define API_ERROR_MAP(X)                                                                           \
    X(INVALID_JSON, "invalid_json", 400)                                                           \
    X(MISSING_FIELD, "missing_field", 400)                                                         \
    X(UNKNOWN_FIELD, "unknown_field", 400)                                                         \
    X(INVALID_TYPE, "invalid_type", 400)                                                           \
    X(INVALID_VALUE, "invalid_value", 400)                                                         \
    X(INVALID_SHAPE, "invalid_shape", 400)                                                         \
    X(UNAUTHORIZED, "unauthorized", 401)                                                           \
    X(NOT_FOUND, "not_found", 404)                                                                 \
    X(METHOD_NOT_ALLOWED, "method_not_allowed", 405)                                               \
    X(PAYLOAD_TOO_LARGE, "payload_too_large", 413)                                                 \
    X(LIMIT_EXCEEDED, "limit_exceeded", 413)                                                       \
    X(UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415)                                       \
    X(BAD_REQUEST, "bad_request", 400)                                                             \
    X(REQUEST_TIMEOUT, "request_timeout", 408)                                                     \
    X(CONFLICT, "conflict", 409)                                                                   \
    X(OVERLOADED, "overloaded", 503)                                                               \
    X(SHUTTING_DOWN, "shutting_down", 503)                                                         \
    X(TIMEOUT, "timeout", 504)                                                                     \
    X(CANCELED, "canceled", 499)                                                                   \
    X(INTERNAL, "internal", 500)

typedef enum api_error_kind {
#define API_ERROR_ENUM(name, str, http) API_ERR_##name,
    API_ERROR_MAP(API_ERROR_ENUM)
#undef API_ERROR_ENUM
        API_ERR_COUNT
} api_error_kind;

typedef struct api_error {
    api_error_kind kind;
    char field[64];    /* the request field at fault ("query", "mask"), or "" */
    char message[512]; /* what went wrong and what to send instead */
} api_error;

/* Fills *e (snprintf-style message). Returns the error's HTTP status for convenience. */
int api_error_set(api_error *e, api_error_kind kind, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "invalid_json" for API_ERR_INVALID_JSON. Static storage. */
const char *api_error_code(api_error_kind kind);

/* The HTTP status an error of this kind should be answered with (400, 404, 413, ...). */
int api_error_http_status(api_error_kind kind);

/* Limits checked against shapes before anything is allocated; a limit <= 0 means none.
 *
 * max_elements bounds the memory of one request: the elements of every input (query, key,
 * value, mask, key_lengths, the additive score's weight, bias and v) and output (context, and
 * the weights only when they are returned) together, plus, for the additive score, the
 * B*H*Lk*da key projections W_k k that the core keeps while it runs.
 *
 * max_score_elements bounds B*H*Lq*Lk, the attention matrix, and applies only when the
 * weights are returned (return_weights true), because only then is the matrix materialised.
 * Without weights the core never holds Lq x Lk: soft selection streams over key tiles (the
 * flash path) and top-k and sampling keep one block of rows per worker, so long sequences are
 * bounded by max_elements alone (Lq = Lk = 16384, d = 64 fits the defaults of 64Mi each).
 *
 * max_flops bounds the work: core/cost.h's estimate of the request's floating-point operations
 * (scores, selection, weighted sum, additive projections, a model's embeddings and
 * projections), whether or not the weights are returned. */
typedef struct api_limits {
    int64_t max_elements;       /* inputs + outputs (+ additive key projections) */
    int64_t max_score_elements; /* B*H*Lq*Lk, only when the weights are returned */
    int64_t max_flops;          /* estimated FLOPs of the whole request */
} api_limits;

/* A decoded, validated request. Owns its tensors (one arena). Opaque outside api/. */
typedef struct api_attention_request api_attention_request;

/* A decoded, validated POST /v1/models/{name}/attention request: its tokens, ids and outputs
 * (one arena). Opaque outside api/. */
typedef struct api_model_request api_model_request;

/* The models a daemon serves and one of them (model_registry.h). */
typedef struct api_model api_model;
typedef struct api_model_registry api_model_registry;

/* Runs the attention of a decoded request on worker `worker` of `pool` (pool may be NULL: runs
 * on the calling thread). Allocates the workspace, computes, records the compute time. Returns
 * 0, or the HTTP status of a failure with *err filled. Call from a worker; an HTTP thread calls
 * it with pool NULL only for work below the cost of handing it to a worker. */
int api_attention_run(api_attention_request *req, at_pool *pool, int worker, api_error *err);

/* Frees the request and everything it owns. NULL is a no-op. */
void api_attention_request_free(api_attention_request *req);

/* Runs a decoded model request on worker `worker` of `pool` (NULL: the calling thread): the
 * embeddings plus positions of the sequence (and source), then the model's multi-head attention.
 * Allocates the workspace and records the compute time. Returns 0, or the HTTP status of a
 * failure with *err filled. Call from a worker; an HTTP thread calls it with pool NULL only
 * for work below the cost of handing it to a worker. */
int api_model_attention_run(api_model_request *req, at_pool *pool, int worker, api_error *err);

/* Frees the request and everything it owns. NULL is a no-op. */
void api_model_request_free(api_model_request *req);

/* Fills *err with 404 not_found for a model `name` that `models` does not hold; the message
 * names it and lists the loaded models. Returns 404. */
int api_model_not_found(const api_model_registry *models, const char *name, api_error *err);

/* ---- jobs: what the server hands to a worker ---- */

/* A decoded request of any attention route (protocol.h, where it is defined). */
typedef struct api_job api_job;
typedef struct api_http_request api_http_request;
typedef struct api_http_response api_http_response;
typedef struct api_protocol api_protocol;
typedef struct api_route api_route;

/* Decodes `req` (the whole request of a job route) with `protocol` into *job, for the route
 * `route` that protocol resolved. Returns 0, or the HTTP status to answer with and *err
 * filled (the job is then empty). Runs on the calling (HTTP) thread. */
int api_job_decode(api_job *job, const api_protocol *protocol, const api_route *route,
                   const api_http_request *req, const api_limits *limits, api_error *err);

/* The "timeout" the client sent (seconds, > 0), or 0 when it sent none or the job is empty. */
double api_job_requested_timeout(const api_job *job);

/* The job's work by core/cost.h's estimate (floating-point operations, from its shapes alone):
 * what the server weighs against the cost of handing it to a worker. INFINITY for a
 * transformer checkpoint's request (never cheap enough to matter) and for an empty job. */
double api_job_flops(const api_job *job);

/* Computes the job on worker `worker` of `pool` and encodes its response into *out (status,
 * headers, body) with the job's protocol. Returns 0, or the HTTP status of a failure with *err
 * filled (out then holds nothing worth sending: encode the error with the protocol). When
 * job->cancel holds a status, before or while it runs, the computation stops between items and
 * this returns 504 timeout (AT_ETIMEDOUT, naming job->timeout) or 499 canceled (AT_ECANCELED:
 * nobody is left to read it). Call from a worker, or with pool NULL and worker 0 from any
 * thread (the work then runs on that thread alone). The job keeps its request: free it with
 * api_job_free. */
int api_job_run(api_job *job, at_pool *pool, int worker, api_http_response *out, api_error *err);

/* Frees the job's request (and the protocol's wire state) and empties it. An empty job is a
 * no-op. */
void api_job_free(api_job *job);

#endif
