/* A protocol: the routes under one path prefix and the wire format of their requests and
 * responses. attnd's own JSON dialect (/v1, api/v1/) is one protocol, the Open Inference
 * Protocol (/v2, api/v2/) another. The server (server/http.c) knows HTTP: connections, bodies,
 * limits, suspension, metrics. It finds the protocol of a path by its prefix, and from then on
 * asks the protocol what the route is, decodes the whole request (method, path, headers, body)
 * through it into a job, and sends the whole response (status, headers, body) the protocol
 * encodes, its errors included. The server never looks inside a body. */
#ifndef API_PROTOCOL_H
#define API_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "buf.h"

/* ---- what the server gives a protocol ---- */

/* The daemon's state a route may answer from. */
typedef struct api_context {
    const api_model_registry *models; /* the models of the moment (held for the request) */
    bool ready;                       /* false while draining */
    const char *version;              /* attnd's version */
    struct api_source_store *sources; /* stored key/value sets (source_store.h), or NULL */
} api_context;

/* A request as HTTP delivered it. `header` looks a request header up by name (any case),
 * returning its value or NULL; `body` is NULL for the headers-only checks. */
typedef struct api_http_request {
    const char *method;
    const char *path;
    const char *(*header)(const void *ctx, const char *name);
    const void *header_ctx;
    const char *body; /* need not be NUL-terminated */
    size_t body_len;
} api_http_request;

#define API_HTTP_HEADERS_MAX 4

/* A whole response. The body is an api_buf the server takes over; the header values are
 * copies. Statuses are HTTP's. */
typedef struct api_http_response {
    int status;
    const char *content_type; /* static storage */
    int nheaders;
    struct {
        const char *name; /* static storage */
        char value[64];
    } headers[API_HTTP_HEADERS_MAX];
    api_buf body;
} api_http_response;

/* Adds a header (snprintf-style value). Extra headers past API_HTTP_HEADERS_MAX are an internal
 * error of the protocol: they are dropped and the function returns -1. */
int api_http_response_header(api_http_response *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- routes ---- */

/* One route of a protocol, for listings and metrics. */
typedef struct api_route_def {
    const char *label;   /* the path template, the metrics label: "/v2/models/{name}/infer" */
    const char *methods; /* allowed, for Allow and 405: "POST", "GET, HEAD" */
    bool job;            /* answered through a job a worker runs (takes a body) */
} api_route_def;

/* A resolved route: which of the protocol's routes, and the model its path names. */
typedef struct api_route {
    int id;                           /* index into the protocol's routes[] */
    const api_model *model;           /* the {name} of a model route, or NULL */
    struct api_source_store *sources; /* the context's, for routes that store or use sources */
    const api_model_registry *models; /* the context's, for routes that name a model in the body */
} api_route;

typedef struct api_protocol api_protocol;

/* ---- jobs ---- */

/* What a protocol's decode leaves for its encode besides the request (the v2 request id,
 * which outputs were asked for and in which form): freed by the protocol's wire_free. */
typedef struct api_job_wire api_job_wire;

/* A decoded request of any attention route, with the protocol that decoded it (and encodes its
 * response). Exactly one of attention and model is set while the job holds a request. */
struct api_job {
    const api_protocol *protocol;
    api_route route;
    api_attention_request *attention; /* raw tensors */
    api_model_request *model;         /* a token model */
    api_job_wire *wire;               /* the protocol's, or NULL */
    /* Set by the caller after decoding, both optional: what stops the computation (a deadline
     * or a client that went away), and the deadline in seconds for the 504's message. Not
     * owned; `cancel` must outlive api_job_run. */
    const at_cancel *cancel;
    double timeout;
};

/* ---- the protocol ---- */

struct api_protocol {
    const char *name;   /* "v1" */
    const char *prefix; /* "/v1": the protocol owns this path and every path under it */
    const api_route_def *routes;
    int nroutes;

    /* Resolves `path` (under the prefix) into *out. Returns 0; -1 when the protocol has no such
     * route (*err untouched: the server names every route it has); or 404 with *err filled when
     * the route exists but a model or version it names does not. Method-independent. */
    int (*route)(const char *path, const api_context *ctx, api_route *out, api_error *err);

    /* For a job route, the checks that need only the headers (req->body is NULL): the media
     * type, a header the protocol requires. Returns 0 or an HTTP status with *err filled. May
     * be NULL. */
    int (*check_headers)(const api_route *route, const api_http_request *req, api_error *err);

    /* Answers a route that is not a job (GET metadata, health) into *out. Returns 0, or the
     * HTTP status of an error with *err filled (out then holds nothing). */
    int (*answer)(const api_route *route, const api_http_request *req, const api_context *ctx,
                  api_http_response *out, api_error *err);

    /* Decodes and validates a job route's whole request into *job (job->protocol and
     * job->route already set by the caller). Returns 0, or the HTTP status to answer with and
     * *err filled (the job is then empty). Runs on an HTTP thread. */
    int (*decode)(const api_http_request *req, const api_limits *limits, api_job *job,
                  api_error *err);

    /* Encodes the response of a job that ran (on a worker). Returns 0, or the HTTP status of a
     * failure (out of memory) with *err filled. */
    int (*encode)(const api_job *job, api_http_response *out, api_error *err);

    /* Encodes an error response in this protocol's shape (status from the error, and the
     * Retry-After of 503s). Returns 0, or -1 when out of memory. */
    int (*encode_error)(const api_error *err, api_http_response *out);

    /* Frees a job's wire state. May be NULL when decode never sets one. */
    void (*wire_free)(api_job_wire *wire);

    /* Runs, on worker `worker` of `pool` (NULL: the calling thread), a job that holds neither
     * an attention nor a model request (the protocol's own operation, such as storing a source:
     * decode left it in job->wire) and encodes its whole response. Returns 0, or an HTTP
     * status with *err filled. May be NULL when every job of the protocol is an attention or
     * model request. */
    int (*run)(api_job *job, at_pool *pool, int worker, api_http_response *out, api_error *err);
};

/* The protocols attnd speaks, NULL-terminated, and the one whose error shape answers paths no
 * protocol owns. */
extern const api_protocol *const api_protocols[];
extern const api_protocol api_v1_protocol;
extern const api_protocol api_v2_protocol;

/* The protocol owning `path` (its prefix, followed by '/' or the end), or NULL. */
const api_protocol *api_protocol_for(const char *path);

/* Sets the status of an error response from err's kind, and Retry-After: 1 on a 503 (the
 * server is overloaded or draining: the client should retry). For encode_error. */
void api_http_response_error(api_http_response *out, const api_error *err);

/* Frees the response's body and empties it. */
void api_http_response_free(api_http_response *r);

#endif
