/* The request/response layer between the HTTP server and the attention core. It turns a request
 * body in some wire format into a validated, format-neutral request, runs it on the core, and
 * encodes the result. It knows nothing of HTTP beyond the status code it suggests for an error.
 * Wire formats are codecs (api_codec); JSON is the first, others can be added beside it. */
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

/* A wire format. All functions are thread-safe and hold no state between calls. */
typedef struct api_codec {
    const char *name;       /* "json" */
    const char *media_type; /* Content-Type of what it encodes: "application/json" */

    /* True when this codec reads bodies of the given Content-Type header value (which may carry
     * parameters such as "; charset=utf-8"). */
    bool (*accepts)(const char *content_type);

    /* Decodes and validates a POST /v1/attention body. On success returns 0 and a request the
     * caller frees with api_attention_request_free. On failure returns the HTTP status to answer
     * with and fills *err; *out is NULL. The body is only read; it need not be NUL-terminated. */
    int (*decode_attention)(const char *body, size_t len, const api_limits *limits,
                            api_attention_request **out, api_error *err);

    /* Appends the response for a request that api_attention_run completed. Returns 0, or the
     * HTTP status of a failure (out of memory: 500) with *err filled. */
    int (*encode_attention)(const api_attention_request *req, api_buf *out, api_error *err);

    /* Appends the body for an error response. Never fails except out of memory (returns -1). */
    int (*encode_error)(const api_error *err, api_buf *out);

    /* Decodes and validates a POST /v1/models/{name}/attention body for `model` (the
     * registry's, which must outlive the request): the sequence as text, tokens or ids, an
     * optional source, the attention options. Tokenizes and looks up the ids here; the
     * embeddings and the attention are left to api_model_attention_run. Returns as
     * decode_attention; free the request with api_model_request_free. */
    int (*decode_model_attention)(const char *body, size_t len, const api_model *model,
                                  const api_limits *limits, api_model_request **out,
                                  api_error *err);

    /* Appends the response for a request that api_model_attention_run completed. Returns as
     * encode_attention. */
    int (*encode_model_attention)(const api_model_request *req, api_buf *out, api_error *err);

    /* Appends the body of GET /v1/models (every model of the registry with its configuration)
     * or of GET /v1/models/{name} (one model). Returns 0, or -1 when out of memory. */
    int (*encode_models)(const api_model_registry *models, api_buf *out);
    int (*encode_model)(const api_model *model, api_buf *out);
} api_codec;

extern const api_codec api_json_codec;

/* The codec for a request's Content-Type, or NULL when no codec reads it (answer 415). A NULL
 * or empty content_type gets the JSON codec: clients that send no type mean JSON here. */
const api_codec *api_codec_for(const char *content_type);

/* Runs the attention of a decoded request on worker `worker` of `pool` (pool may be NULL: runs
 * on the calling thread). Allocates the workspace, computes, records the compute time. Returns
 * 0, or the HTTP status of a failure with *err filled. Call from a worker, not an HTTP thread. */
int api_attention_run(api_attention_request *req, at_pool *pool, int worker, api_error *err);

/* Frees the request and everything it owns. NULL is a no-op. */
void api_attention_request_free(api_attention_request *req);

/* Runs a decoded model request on worker `worker` of `pool` (NULL: the calling thread): the
 * embeddings plus positions of the sequence (and source), then the model's multi-head attention.
 * Allocates the workspace and records the compute time. Returns 0, or the HTTP status of a
 * failure with *err filled. Call from a worker, not an HTTP thread. */
int api_model_attention_run(api_model_request *req, at_pool *pool, int worker, api_error *err);

/* Frees the request and everything it owns. NULL is a no-op. */
void api_model_request_free(api_model_request *req);

/* Fills *err with 404 not_found for a model `name` that `models` does not hold; the message
 * names it and lists the loaded models. Returns 404. */
int api_model_not_found(const api_model_registry *models, const char *name, api_error *err);

/* ---- jobs: what the server hands to a worker ---- */

/* A decoded request of either attention endpoint, with the codec that decoded it (and encodes
 * its response). Exactly one of attention and model is set while the job holds a request. */
typedef struct api_job {
    const api_codec *codec;
    api_attention_request *attention; /* POST /v1/attention */
    api_model_request *model;         /* POST /v1/models/{name}/attention */
    /* Set by the caller after api_job_decode, both optional: what stops the computation (a
     * deadline or a client that went away), and the deadline in seconds for the 504's
     * message. Not owned; `cancel` must outlive api_job_run. */
    const at_cancel *cancel;
    double timeout;
} api_job;

/* Decodes body[0..len) with `codec` into *job: a /v1/attention request when model is NULL,
 * else a /v1/models/{name}/attention request for that model. Returns 0, or the HTTP status to
 * answer with and *err filled (the job is then empty). Runs on the calling (HTTP) thread. */
int api_job_decode(api_job *job, const api_codec *codec, const api_model *model, const char *body,
                   size_t len, const api_limits *limits, api_error *err);

/* The "timeout" the client sent (seconds, > 0), or 0 when it sent none or the job is empty. */
double api_job_requested_timeout(const api_job *job);

/* Computes the job on worker `worker` of `pool` and appends its encoded response to out.
 * Returns 0, or the HTTP status of a failure with *err filled (out then holds nothing worth
 * sending). When job->cancel holds a status, before or while it runs, the computation stops
 * between items and this returns 504 timeout (AT_ETIMEDOUT, naming job->timeout) or 499
 * canceled (AT_ECANCELED: nobody is left to read it). Call from a worker. The job keeps its
 * request: free it with api_job_free. */
int api_job_run(api_job *job, at_pool *pool, int worker, api_buf *out, api_error *err);

/* Frees the job's request and empties the job. An empty job is a no-op. */
void api_job_free(api_job *job);

#endif
