/* Prometheus metrics of the daemon: request counters and latency histograms by route, gauges
 * for in-flight requests and the worker queue, build info and process statistics, rendered in
 * the text exposition format (version 0.0.4). Counters are lock-free atomics. */
#ifndef SRV_METRICS_H
#define SRV_METRICS_H

#include <stdbool.h>

#include "../api/buf.h"
#include "../api/protocol.h"
#include "../core/pool.h"

/* The routes requests are counted under: the server's own below, then every protocol's routes
 * (api/protocol.h) in the order of api_protocols. Every unknown path is "unmatched", and the
 * model routes are counted under their template ("{name}", not the model asked for), so that a
 * scanner cannot create unbounded label values. */
#define SRV_ROUTE_MAP(X)                                                                           \
    X(HEALTHZ, "/healthz")                                                                         \
    X(READYZ, "/readyz")                                                                           \
    X(METRICS, "/metrics")                                                                         \
    X(UI, "/")                                                                                     \
    X(OPENAPI, "/openapi.json")                                                                    \
    X(UNMATCHED, "unmatched")

enum {
#define SRV_ROUTE_ENUM(name, label) SRV_ROUTE_##name,
    SRV_ROUTE_MAP(SRV_ROUTE_ENUM)
#undef SRV_ROUTE_ENUM
        SRV_ROUTE_OWN /* the first protocol route */
};

/* A route's number: one of the SRV_ROUTE_* above, or a protocol's (srv_route_of). */
typedef int srv_route;

/* Room for the server's routes and every protocol's. */
#define SRV_ROUTES_MAX 48

/* The route number of route `id` of protocol `p`. */
srv_route srv_route_of(const api_protocol *p, int id);

/* The label value of a route ("/v1/attention"), or NULL past the last route. */
const char *srv_route_label(srv_route r);

/* Records the start time of the process and the build labels of attnd_build_info: the version,
 * the BLAS library, the OpenBLAS core it runs and why ("chosen", "forced", "detected"), and the
 * CPU's vector level. Call once before any request. */
void srv_metrics_init(const char *version, const char *blas_version, const char *blas_core,
                      const char *blas_core_reason, const char *cpu_level);

/* A request began (in-flight gauge up). */
void srv_metrics_request_started(void);

/* A request was answered with `status` after `seconds`: counted when its response is queued,
 * before any byte of it leaves, so a client that has its answer and then scrapes /metrics
 * always sees it counted. Thread-safe. */
void srv_metrics_request_answered(srv_route route, int status, double seconds);

/* A request's connection is done with it (response sent, or the client went away): the
 * in-flight gauge goes down. Thread-safe. */
void srv_metrics_request_done(void);

/* Why attnd closed or refused a connection on its own (server/conn_guard.c, admission.c). */
#define SRV_SHED_MAP(X)                                                                            \
    X(CONNECTION_LIMIT, "connection_limit")                                                        \
    X(EVICTED, "evicted")                                                                          \
    X(HEADER_TIMEOUT, "header_timeout")                                                            \
    X(BODY_RATE, "body_rate")                                                                      \
    X(IDLE_TIMEOUT, "idle_timeout")                                                                \
    X(BODY_MEMORY, "body_memory")                                                                  \
    X(BODY_TOO_LARGE, "body_too_large")                                                            \
    X(DRAIN, "drain")

typedef enum srv_shed {
#define SRV_SHED_ENUM(name, label) SRV_SHED_##name,
    SRV_SHED_MAP(SRV_SHED_ENUM)
#undef SRV_SHED_ENUM
        SRV_SHED_COUNT
} srv_shed;

/* Counts one connection closed or refused for `reason`. Thread-safe. */
void srv_metrics_shed(srv_shed reason);

/* Open connections (+1 / -1), and request-body bytes reserved now (set). Thread-safe. */
void srv_metrics_connections_add(int delta);
void srv_metrics_body_memory_set(long long bytes);

/* A request was refused with an error: `kind` an api_error_kind, or -1 when only the HTTP
 * `status` is known (the reason is then the first error kind answered with that status, or
 * "other"). Counted in attnd_http_rejections_total{reason}. Thread-safe. */
void srv_metrics_rejected(int kind, int status);

/* A request on `route` came without a valid API key (attnd_auth_failures_total). */
void srv_metrics_auth_failure(srv_route route);

/* A worker computed a job of `route` for `seconds` (attnd_compute_duration_seconds). */
void srv_metrics_compute(srv_route route, double seconds);

/* A job of `route` was computed on the HTTP thread that decoded it (attnd_inline_jobs_total). */
void srv_metrics_inline_job(srv_route route);

/* Request body bytes received and response body bytes sent for a request on `route`. */
void srv_metrics_bytes(srv_route route, unsigned long long in, unsigned long long out);

/* A body went through a content coding (server/content_coding.h's srv_coding `coding`): a
 * request body inflated (response false) or a response compressed, `plain` bytes before
 * coding and `coded` after (attnd_http_content_coding_bytes_total). Thread-safe. */
void srv_metrics_content_coding(bool response, int coding, unsigned long long plain,
                                unsigned long long coded);

/* Requests begun and not yet finished. */
long srv_metrics_in_flight(void);

/* Appends the whole exposition to out; `pool` supplies queue and worker gauges. */
void srv_metrics_render(api_buf *out, at_pool *pool);

#endif
