/* Request handling on libmicrohttpd. The server's own routes (health, metrics, the explorer
 * page) are answered here; every other path belongs to the protocol whose prefix it has
 * (api/protocol.h: /v1, /v2), which resolves the route, decodes the whole request, and encodes
 * whole responses, errors included. A job route's life: headers arrive (route, model, method,
 * the protocol's header checks and Content-Length checked at once), the body is collected up
 * to --max-body-bytes, the protocol decodes and validates it on the polling thread, the
 * connection is suspended and a job queued; a worker computes and encodes, then resumes the
 * connection, and the polling thread sends the response the worker made (a job cheaper than
 * that hand-off, --inline-max-flops, is computed at once on the polling thread instead). While
 * suspended, the request is on the watcher (watch.h), which cancels its job at its deadline or
 * when its client hangs up. Routes without a body are answered on the polling thread. Every
 * answer, error or not, is counted and logged once. */
#include "http.h"

#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../api/api.h"
#include "../api/big_alloc.h"
#include "../api/protocol.h"
#include "../core/status.h"
#include "admission.h"
#include "auth.h"
#include "conn_guard.h"
#include "content_coding.h"
#include "cors.h"
#include "log.h"
#include "metrics.h"
#include "models.h"
#include "request_id.h"
#include "source_metrics.h"
#include "tls.h"
#include "ui.h"
#include "watch.h"

/* Each connection's buffer, --connection-memory (libmicrohttpd's pool: headers, then each read of
 * the body). Its default of 32 KiB reads a 34 MB binary tensor body in over a thousand poll/recv
 * rounds, each through the upload callback. Measured over loopback, interleaved, best of 8 (one
 * such request): 32 KiB 64.7 ms, 128 KiB 47.3 ms (1.37x), 256 KiB 1.3-1.6x. But libmicrohttpd
 * 0.9.75 zeroes the whole pool after every request, and the half of it that was the read buffer
 * once more: 192 KiB of memset per request at 128 KiB, 17 % of attnd's CPU time under tiny requests
 * at 32 connections (perf), 22-27 us of CPU per request against 17-18 at 32 KiB and 18-21 at 64
 * KiB. 64 KiB keeps most of the large body's gain (34 MB: best of 16, 53 ms at 32 KiB, 46 at 64
 * KiB, 45 at 128 KiB). The pool is touched whole once a connection is used: 200 kept-alive
 * connections held +7 MB of RSS at 32 KiB, +26 MB at 128 KiB; --max-connections 1024 busy ones
 * hold at most 64 MiB. So the default is 64 KiB (SRV_CONNECTION_MEMORY); at 32 KiB a tiny
 * request costs about 1 us less CPU and a large body 15 % more time. */

/* Response size from which the heaps' free pages are given back when the request ends. */
#define TRIM_AFTER_BYTES ((uint64_t)8 << 20)

struct srv_http {
    struct MHD_Daemon *daemon;
    at_pool *pool;
    srv_models *models;
    srv_auth *auth; /* NULL: no API keys */
    bool metrics_auth;
    srv_cors cors;
    char tls_err[512];   /* what libmicrohttpd said while starting (a bad certificate or key) */
    atomic_bool started; /* MHD_start_daemon returned: its messages no longer go to tls_err */
    char *tls_cert, *tls_key; /* PEM, kept while the daemon runs (libmicrohttpd points at them) */
    api_limits limits;
    int64_t max_body_bytes;
    double request_timeout;  /* --request-timeout, 0: none */
    double inline_max_flops; /* --inline-max-flops: computed on the polling thread up to this */
    srv_watch *watch;        /* deadlines and hang-ups of suspended requests */
    int port;
    atomic_bool draining;
    srv_admission *admission;  /* --max-body-memory */
    srv_guard *guard;          /* --max-connections, deadlines */
    api_source_store *sources; /* --source-memory, --source-ttl */
    /* Suspended connections, and whether the daemon is about to stop: a request that comes
     * after that is answered 503 instead of suspended, as MHD_stop_daemon must not meet a
     * suspended connection (it aborts the process). */
    pthread_mutex_t gate;
    bool gate_ready;
    int suspended;
    bool stopping;
};

typedef enum req_state {
    REQ_RECEIVING,  /* headers seen, body arriving */
    REQ_COMPUTING,  /* suspended, a worker owns the job */
    REQ_READY,      /* the worker left a response to send */
    REQ_ANSWERED,   /* a response was queued */
    REQ_DISCARDING, /* answered at the headers: the body is read and dropped, then it is sent */
} req_state;

typedef struct srv_request {
    srv_http *http;
    struct MHD_Connection *conn;
    srv_route route;
    srv_model_set *models;     /* the models of the moment, held until the request ends */
    const api_protocol *proto; /* the protocol owning the path, or NULL */
    api_route proto_route;     /* its route (id -1: none), with the model the path names */
    char request_id[SRV_REQUEST_ID_MAX + 1];
    const char *cors_origin; /* Access-Control-Allow-Origin to send, or NULL */
    int error_kind;          /* the api_error_kind answered, or -1 */
    uint64_t bytes_in;       /* request body bytes received */
    req_state state;
    struct timespec start;
    char method[16];
    char path[256];

    char *body;
    size_t body_len, body_cap;
    int64_t reserved; /* bytes of the body budget held (>= body_cap) */
    /* Content codings (content_coding.h): the body is inflated as it arrives, within
     * --max-body-bytes; a body refused on the way (corrupt, too large once inflated) is read
     * to its end and dropped, and body_err answered then. */
    srv_coding body_coding; /* Content-Encoding */
    srv_inflate *inflate;
    bool body_refused;
    api_error body_err;
    srv_accept accept;      /* what Accept-Encoding allows for the response */
    srv_coding resp_coding; /* resp.body's coding, once the worker compressed it (resp_coded) */
    bool resp_coded;

    api_job job;
    at_cancel cancel;       /* set by the watcher: deadline passed or client gone */
    srv_watch_entry watch;  /* while the job is queued or running */
    api_http_response resp; /* left by the worker for the polling thread */

    int status;     /* what was answered, for metrics and the log */
    uint64_t bytes; /* response body bytes */

    /* An answer decided at the headers of a request whose body is already on its way (a
     * Content-Length within --max-body-bytes, no "Expect: 100-continue"): sent once that body
     * has been read and dropped. Sent at once, libmicrohttpd would close the connection under
     * the client's upload, and the client's TCP stack would discard the answer on the reset
     * (curl: "failed sending data to the peer", no status). */
    bool defer_answer; /* set during the headers' call only */
    struct MHD_Response *deferred;
    int deferred_status;
    size_t deferred_len;
} srv_request;

static const char JSON_TYPE[] = "application/json";

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The headers of every response: its request id and, for an allowed origin, CORS. */
static void add_common_headers(const srv_request *r, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    if (!srv_cors_enabled(&r->http->cors)) return;
    MHD_add_response_header(resp, "Vary", "Origin");
    if (!r->cors_origin) return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->cors_origin);
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", SRV_CORS_EXPOSE_HEADERS);
}

/* Records the answer before any byte of it is sent, so that a client which has its answer and
 * then scrapes /metrics finds it counted. */
static void mark_answered(srv_request *r, int status, size_t len)
{
    r->status = status;
    r->bytes = len;
    r->state = REQ_ANSWERED;
    srv_metrics_request_answered(r->route, status, seconds_since(&r->start));
}

/* The protocol whose shape the request's errors take: its path's, else v1's. */
static const api_protocol *error_protocol(const srv_request *r)
{
    return r->proto ? r->proto : &api_v1_protocol;
}

/* Gives back the body's share of --max-body-memory and frees it. */
static void body_free(srv_request *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = 0;
    srv_admission_release(r->http->admission, r->reserved);
    r->reserved = 0;
}

/* Answers while the body is still arriving, where libmicrohttpd cannot queue a response: the
 * bytes go straight to the socket and MHD_NO makes libmicrohttpd close the connection, so that
 * no more of the body is read. */
static enum MHD_Result answer_raw_and_close(srv_request *r, const api_error *e, bool retry_after)
{
    api_http_response out = {0};
    int status = api_error_http_status(e->kind);
    if (error_protocol(r)->encode_error(e, &out) == 0)
        srv_guard_reply_raw(r->conn, status, out.body.data, out.body.len, retry_after);
    r->error_kind = (int)e->kind;
    mark_answered(r, status, out.body.len);
    api_http_response_free(&out);
    body_free(r);
    return MHD_NO;
}

/* Queues `resp` (`len` body bytes) with `status` and releases it: every answer that goes
 * through libmicrohttpd goes through here. Returns MHD_YES/MHD_NO. */
static enum MHD_Result queue(srv_request *r, int status, struct MHD_Response *resp, size_t len)
{
    /* An answer that closes the connection (a request whose framing cannot be trusted) goes at
     * once: reading "its body" would mean trusting that framing. */
    if (r->defer_answer && !MHD_get_response_header(resp, MHD_HTTP_HEADER_CONNECTION)) {
        r->deferred = resp;
        r->deferred_status = status;
        r->deferred_len = len;
        r->state = REQ_DISCARDING;
        body_free(r);
        return MHD_YES;
    }
    /* Draining: this connection's last request (libmicrohttpd closes it after the response). */
    if (atomic_load(&r->http->draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    srv_guard_request_busy(r->conn);
    mark_answered(r, status, len);
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Content-Encoding of a body in `coding`, and Vary: Accept-Encoding when the client's
 * Accept-Encoding decided it (content_coding.h). */
static void add_coding_headers(struct MHD_Response *resp, srv_coding coding,
                               const char *content_type, size_t len)
{
    if (coding != SRV_CODING_IDENTITY)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, srv_coding_name(coding));
    if (coding != SRV_CODING_IDENTITY || srv_coding_varies(content_type, len))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
}

/* Queues `body` (taken over: freed by MHD), already in `coding`, with `status`. Returns
 * MHD_YES/MHD_NO. */
static enum MHD_Result answer_coded(srv_request *r, int status, char *body, size_t len,
                                    srv_coding coding, const char *content_type, const char *hname,
                                    const char *hvalue)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    add_coding_headers(resp, coding, content_type, len);
    if (hname) MHD_add_response_header(resp, hname, hvalue);
    add_common_headers(r, resp);
    return queue(r, status, resp, len);
}

/* answer_coded, compressed first when the client's Accept-Encoding allows it. */
static enum MHD_Result answer(srv_request *r, int status, char *body, size_t len,
                              const char *content_type, const char *hname, const char *hvalue)
{
    srv_coding coding = srv_coding_compress_response(r->accept, content_type, &body, &len);
    return answer_coded(r, status, body, len, coding, content_type, hname, hvalue);
}

static enum MHD_Result answer_text(srv_request *r, int status, const char *text,
                                   const char *content_type)
{
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (!copy) return MHD_NO;
    memcpy(copy, text, len + 1);
    return answer(r, status, copy, len, content_type, NULL, NULL);
}

/* Answers with a file compiled into attnd (server/ui.h): the explorer page may load nothing
 * from elsewhere (its Content-Security-Policy says so), and clients revalidate each time. */
static enum MHD_Result answer_asset(srv_request *r)
{
    srv_asset a;
    if (!srv_ui_find(r->path, &a)) return MHD_NO;
    /* A browser asks for gzip: the page's script and the spec (38 and 28 KB) go as 14 and
     * 6 KB, compressed from a copy (the compiled-in bytes stay as they are). */
    char *coded = NULL;
    size_t len = a.len;
    srv_coding coding = SRV_CODING_IDENTITY;
    if (r->accept.coding != SRV_CODING_IDENTITY && (coded = malloc(a.len))) {
        memcpy(coded, a.data, a.len);
        coding = srv_coding_compress_response(r->accept, a.content_type, &coded, &len);
        if (coding == SRV_CODING_IDENTITY) {
            free(coded);
            coded = NULL;
        }
    }
    struct MHD_Response *resp =
        coded ? MHD_create_response_from_buffer(len, coded, MHD_RESPMEM_MUST_FREE)
              : MHD_create_response_from_buffer(a.len, (void *)a.data, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(coded);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a.content_type);
    add_coding_headers(resp, coding, a.content_type, a.len);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (a.is_page)
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data: blob:; "
                                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
    return queue(r, 200, resp, len);
}

/* Queues a protocol's response (its body taken over), plus an optional header of the server's.
 * Returns MHD_YES/MHD_NO. */
static enum MHD_Result answer_response(srv_request *r, api_http_response *resp, const char *hname,
                                       const char *hvalue)
{
    size_t len;
    char *body = api_buf_release(&resp->body, &len);
    if (!body) return MHD_NO;
    /* A worker's response was compressed on the worker (run_job); any other is, if at all, here. */
    srv_coding coding =
        resp == &r->resp && r->resp_coded
            ? r->resp_coding
            : srv_coding_compress_response(r->accept, resp->content_type, &body, &len);
    struct MHD_Response *m = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!m) {
        free(body);
        return MHD_NO;
    }
    if (resp->content_type)
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    add_coding_headers(m, coding, resp->content_type, len);
    for (int i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(m, resp->headers[i].name, resp->headers[i].value);
    if (hname) MHD_add_response_header(m, hname, hvalue);
    add_common_headers(r, m);
    return queue(r, resp->status, m, len);
}

/* Answers an api_error in the shape of the request's protocol, with its HTTP status (and
 * Retry-After on a 503) and an optional header of the server's. */
static enum MHD_Result answer_error(srv_request *r, const api_error *e, const char *hname,
                                    const char *hvalue)
{
    api_http_response out = {0};
    if (error_protocol(r)->encode_error(e, &out) != 0) {
        api_http_response_free(&out);
        return MHD_NO;
    }
    r->error_kind = (int)e->kind;
    return answer_response(r, &out, hname, hvalue);
}

static enum MHD_Result fail(srv_request *r, api_error_kind kind, const char *hname,
                            const char *hvalue, const char *fmt, const char *arg)
{
    api_error e;
    api_error_set(&e, kind, "", fmt, arg);
    return answer_error(r, &e, hname, hvalue);
}

/* ---- the job, run on a worker ---- */

static bool inflate_complete(srv_request *r);

/* Resumes a connection start_job suspended. Once MHD_resume_connection returned, MHD_stop_daemon
 * no longer meets the connection suspended (it completes pending resumes first), so the count
 * goes down here rather than when the polling thread gets to it (the client may be gone by then,
 * and the request handler never called again). `conn`'s request may be freed on return. */
static void resume(srv_http *h, struct MHD_Connection *conn)
{
    MHD_resume_connection(conn);
    pthread_mutex_lock(&h->gate);
    h->suspended--;
    pthread_mutex_unlock(&h->gate);
}

/* Runs the job (on worker `worker` of `pool`, or on this thread alone when pool is NULL) and
 * leaves its response, or the error's, in r->resp. */
static void compute(srv_request *r, at_pool *pool, int worker)
{
    api_error err;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = api_job_run(&r->job, pool, worker, &r->resp, &err);
    if (pool) srv_watch_remove(r->http->watch, &r->watch);
    srv_metrics_compute(r->route, seconds_since(&t0));
    api_job_free(&r->job); /* the inputs are not needed to send the answer */
    if (status == 0 && r->resp.body.oom)
        status = api_error_set(&err, API_ERR_INTERNAL, "", "out of memory encoding the response");
    if (status != 0) {
        api_http_response_free(&r->resp);
        error_protocol(r)->encode_error(&err, &r->resp);
        r->error_kind = (int)err.kind;
    }
    /* Compressed here, on the worker, rather than on the polling thread that sends it. */
    api_buf *b = &r->resp.body;
    if (b->data && !b->oom) {
        r->resp_coding =
            srv_coding_compress_response(r->accept, r->resp.content_type, &b->data, &b->len);
        if (r->resp_coding != SRV_CODING_IDENTITY) b->cap = b->len + 1; /* and its NUL */
    }
    r->resp_coded = true;
    r->state = REQ_READY;
}

static void run_job(void *arg, int worker)
{
    srv_request *r = arg;
    compute(r, r->http->pool, worker);
    resume(r->http, r->conn); /* publishes the fields compute left to the polling thread */
}

/* The request's deadline in seconds from its arrival (0: none): the server's, or the
 * client's when that is shorter. Arms r->cancel and hands both to the job. */
static double arm_deadline(srv_request *r)
{
    double timeout = r->http->request_timeout, asked = api_job_requested_timeout(&r->job);
    if (asked > 0 && (timeout <= 0 || asked < timeout)) timeout = asked;
    at_cancel_init(&r->cancel);
    r->job.cancel = &r->cancel;
    r->job.timeout = timeout;
    return timeout;
}

/* A request header by name, for the protocols (api_http_request.header). */
static const char *lookup_header(const void *conn, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)conn, MHD_HEADER_KIND, name);
}

/* The request as a protocol sees it (body NULL until it is complete). */
static api_http_request http_request(const srv_request *r)
{
    return (api_http_request){.method = r->method,
                              .path = r->path,
                              .header = lookup_header,
                              .header_ctx = r->conn,
                              .body = r->body ? r->body : "",
                              .body_len = r->body_len};
}

/* A job whose estimated work is below the hand-off's cost (--inline-max-flops) is computed
 * right here, on the polling thread that decoded it: no queue, no suspend, no resume. It takes
 * less time than the hand-off would, so neither the watcher (a deadline that passed while the
 * body arrived still gives 504) nor the drain gate is needed. */
static enum MHD_Result compute_inline(srv_request *r)
{
    double timeout = arm_deadline(r);
    if (timeout > 0 && seconds_since(&r->start) >= timeout)
        at_cancel_request(&r->cancel, AT_ETIMEDOUT);
    srv_metrics_inline_job(r->route);
    compute(r, NULL, 0);
    return answer_response(r, &r->resp, NULL, NULL);
}

/* Body complete: decode on this (polling) thread, then compute it here when it is cheaper than
 * the hand-off, else queue the job and suspend. */
static enum MHD_Result start_job(srv_request *r)
{
    srv_http *h = r->http;
    api_error err;
    if (!inflate_complete(r)) {
        body_free(r);
        return answer_error(r, &r->body_err, NULL, NULL);
    }
    api_http_request req = http_request(r);
    int status = api_job_decode(&r->job, r->proto, &r->proto_route, &req, &h->limits, &err);
    body_free(r);
    if (status != 0) return answer_error(r, &err, NULL, NULL);
    if (h->inline_max_flops > 0 && api_job_flops(&r->job) <= h->inline_max_flops)
        return compute_inline(r);

    pthread_mutex_lock(&h->gate);
    bool stopping = h->stopping;
    if (!stopping) h->suspended++;
    pthread_mutex_unlock(&h->gate);
    if (stopping) {
        api_job_free(&r->job);
        return fail(r, API_ERR_SHUTTING_DOWN, NULL, NULL, "the server is shutting down%s", "");
    }

    /* The deadline counts from the request's arrival; the client may ask for a shorter one. */
    double timeout = arm_deadline(r);
    double start = (double)r->start.tv_sec + (double)r->start.tv_nsec / 1e9;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    srv_watch_add(h->watch, &r->watch, ci ? (int)ci->connect_fd : -1,
                  timeout > 0 ? start + timeout : 0, &r->cancel);

    r->state = REQ_COMPUTING;
    MHD_suspend_connection(r->conn);
    /* A request that got this far was received before any drain began: it is finished even
     * while draining. The pool only refuses once it is being freed. */
    int rc = at_pool_submit(h->pool, run_job, r);
    if (rc != AT_OK) {
        srv_watch_remove(h->watch, &r->watch);
        api_job_free(&r->job);
        api_error e;
        if (rc == AT_EBUSY)
            api_error_set(&e, API_ERR_OVERLOADED, "",
                          "all %d workers are busy and %d requests are queued; retry after 1 s",
                          at_pool_threads(h->pool), at_pool_capacity(h->pool));
        else
            api_error_set(&e, API_ERR_SHUTTING_DOWN, "", "the server is shutting down");
        error_protocol(r)->encode_error(&e, &r->resp);
        r->error_kind = (int)e.kind;
        r->state = REQ_READY;
        resume(h, r->conn);
    }
    return MHD_YES;
}

/* ---- routing ---- */

/* The server's own route of `url`, or SRV_ROUTE_UNMATCHED. */
static srv_route own_route_of(const char *url)
{
    if (strcmp(url, "/healthz") == 0) return SRV_ROUTE_HEALTHZ;
    if (strcmp(url, "/readyz") == 0) return SRV_ROUTE_READYZ;
    if (strcmp(url, "/metrics") == 0) return SRV_ROUTE_METRICS;
    srv_asset asset;
    if (srv_ui_find(url, &asset)) /* the explorer page (its files count as "/") and the spec */
        return strcmp(url, "/openapi.json") == 0 ? SRV_ROUTE_OPENAPI : SRV_ROUTE_UI;
    return SRV_ROUTE_UNMATCHED;
}

/* The protocol route of the request, or NULL for the server's own routes and unknown paths. */
static const api_route_def *proto_route_def(const srv_request *r)
{
    if (!r->proto || r->proto_route.id < 0) return NULL;
    return &r->proto->routes[r->proto_route.id];
}

/* The routes that take a body and answer through a job. */
static bool is_job(const srv_request *r)
{
    const api_route_def *d = proto_route_def(r);
    return d && d->job;
}

static const char *allowed_methods(const srv_request *r)
{
    const api_route_def *d = proto_route_def(r);
    return d ? d->methods : "GET, HEAD";
}

/* Whether `method` is one of the comma-separated `methods`. */
static bool method_allowed(const char *methods, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = methods; *p; p += strspn(p, ", ")) {
        size_t len = strcspn(p, ", ");
        if (len == n && strncmp(p, method, n) == 0) return true;
        p += len;
    }
    return false;
}

/* The daemon's state for a protocol's answers. */
static api_context context_of(const srv_request *r)
{
    return (api_context){.models = srv_model_set_registry(r->models),
                         .ready = !atomic_load(&r->http->draining),
                         .version = ATTND_VERSION,
                         .sources = r->http->sources};
}

/* Answers a protocol route without a body (metadata, listings, health). */
static enum MHD_Result serve_protocol(srv_request *r)
{
    api_context ctx = context_of(r);
    api_http_request req = http_request(r);
    api_http_response out = {0};
    api_error e;
    if (r->proto->answer(&r->proto_route, &req, &ctx, &out, &e) != 0) {
        api_http_response_free(&out);
        return answer_error(r, &e, NULL, NULL);
    }
    return answer_response(r, &out, NULL, NULL);
}

static enum MHD_Result serve_get(srv_request *r)
{
    srv_http *h = r->http;
    switch (r->route) {
    case SRV_ROUTE_HEALTHZ: return answer_text(r, 200, "{\"status\":\"ok\"}\n", JSON_TYPE);
    case SRV_ROUTE_READYZ:
        if (atomic_load(&h->draining))
            return answer_text(r, 503, "{\"status\":\"draining\"}\n", JSON_TYPE);
        return answer_text(r, 200, "{\"status\":\"ok\"}\n", JSON_TYPE);
    case SRV_ROUTE_UI:
    case SRV_ROUTE_OPENAPI: return answer_asset(r);
    case SRV_ROUTE_METRICS: {
        api_buf out = {0};
        srv_metrics_render(&out, h->pool);
        srv_source_metrics_render(&out, h->sources);
        size_t len;
        char *body = api_buf_release(&out, &len);
        if (!body) return MHD_NO;
        return answer(r, 200, body, len, "text/plain; version=0.0.4; charset=utf-8", NULL, NULL);
    }
    default: return r->proto ? serve_protocol(r) : MHD_NO;
    }
}

/* 503 for a body of `bytes` that does not fit in --max-body-memory now: at the headers when
 * raw is false, else while the (chunked) body arrives. */
static enum MHD_Result answer_memory_full(srv_request *r, int64_t bytes, bool raw)
{
    srv_metrics_shed(SRV_SHED_BODY_MEMORY);
    api_error e;
    char msg[256];
    snprintf(msg, sizeof msg,
             "request bodies being received hold %lld of %lld bytes (--max-body-memory) and this "
             "one needs %lld more; retry after 1 s",
             (long long)srv_admission_reserved(r->http->admission),
             (long long)srv_admission_limit(r->http->admission), (long long)bytes);
    api_error_set(&e, API_ERR_OVERLOADED, "", "%s", msg);
    if (raw) return answer_raw_and_close(r, &e, true);
    return answer_error(r, &e, NULL, NULL);
}

/* Counts the Content-Length headers' distinct values into *distinct (0, 1 or 2 = several). */
typedef struct length_headers {
    const char *first;
    int distinct;
    bool transfer_encoding;
} length_headers;

static enum MHD_Result count_lengths(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    length_headers *l = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) l->transfer_encoding = true;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0) return MHD_YES;
    if (!l->first) {
        l->first = value ? value : "";
        l->distinct = 1;
    } else if (strcmp(l->first, value ? value : "") != 0) {
        l->distinct = 2;
    }
    return MHD_YES;
}

/* Refuses a request whose body framing is ambiguous: Content-Length headers that disagree, or
 * Content-Length beside Transfer-Encoding. A proxy in front may frame it the other way, and the
 * rest would then be read as a second request (request smuggling). The 400 closes the
 * connection (libmicrohttpd closes after an answer queued at the headers). */
static bool check_framing(srv_request *r, enum MHD_Result *ret)
{
    length_headers l = {0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_lengths, &l);
    const char *why = NULL;
    if (l.distinct > 1)
        why = "the request has Content-Length headers with different values";
    else if (l.distinct == 1 && l.transfer_encoding)
        why = "the request has both Content-Length and Transfer-Encoding";
    if (!why) return false;
    *ret = fail(r, API_ERR_BAD_REQUEST, MHD_HTTP_HEADER_CONNECTION, "close",
                "%s; send exactly one of them", why);
    return true;
}

/* A route's methods as "PUT/GET/DELETE" (its "PUT, GET, DELETE" without HEAD, which every GET
 * route has, and with '/' so that they read apart from the list's commas). */
static void route_methods(const char *methods, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = methods; *p && n + 1 < len;) {
        p += strspn(p, ", ");
        size_t w = strcspn(p, ", ");
        if (w && !(w == 4 && strncmp(p, "HEAD", 4) == 0)) {
            int m = snprintf(out + n, len - n, "%s%.*s", n ? "/" : "", (int)w, p);
            n += m > 0 ? (size_t)m : 0;
        }
        p += w;
    }
}

/* "no route ...; the routes are ..." naming every route of the server and its protocols. */
static enum MHD_Result answer_no_route(srv_request *r)
{
    char routes[1024];
    size_t n = 0;
    for (int i = 0; api_protocols[i]; i++)
        for (int k = 0; k < api_protocols[i]->nroutes && n < sizeof routes; k++) {
            const api_route_def *d = &api_protocols[i]->routes[k];
            char methods[64];
            route_methods(d->methods, methods, sizeof methods);
            int m = snprintf(routes + n, sizeof routes - n, "%s%s %s", n ? ", " : "", methods,
                             d->label);
            n += m > 0 ? (size_t)m : 0;
        }
    api_error e;
    api_error_set(&e, API_ERR_NOT_FOUND, "",
                  "no route %.64s%s; the routes are %s, GET /healthz, /readyz, /metrics, / (the "
                  "explorer page), /openapi.json",
                  r->path, strlen(r->path) > 64 ? "..." : "", routes);
    return answer_error(r, &e, NULL, NULL);
}

/* First call for a request: everything that can be decided from the headers alone. Returns
 * true when an answer was queued. */
static bool check_headers(srv_request *r, const char *method, const api_error *route_err,
                          enum MHD_Result *ret)
{
    if (check_framing(r, ret)) return true;
    if (route_err) { /* the route exists, the model or version it names does not */
        *ret = answer_error(r, route_err, NULL, NULL);
        return true;
    }
    if (r->route == SRV_ROUTE_UNMATCHED) {
        *ret = answer_no_route(r);
        return true;
    }
    if (!method_allowed(allowed_methods(r), method)) {
        api_error e;
        api_error_set(&e, API_ERR_METHOD_NOT_ALLOWED, "", "%s %s is not supported; allowed: %s",
                      method, r->path, allowed_methods(r));
        *ret = answer_error(r, &e, MHD_HTTP_HEADER_ALLOW, allowed_methods(r));
        return true;
    }
    if (!is_job(r)) return false;

    if (r->proto->check_headers) {
        api_http_request req = http_request(r);
        req.body = NULL;
        api_error e;
        if (r->proto->check_headers(&r->proto_route, &req, &e) != 0) {
            *ret = answer_error(r, &e, NULL, NULL);
            return true;
        }
    }
    /* A coded body is inflated as it arrives (append_body); an unknown coding is a 415 that
     * says which ones attnd takes (RFC 7694). */
    char msg[400];
    if (srv_coding_parse_request(
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING),
            &r->body_coding, msg, sizeof msg) != 0) {
        *ret = fail(r, API_ERR_UNSUPPORTED_MEDIA_TYPE, MHD_HTTP_HEADER_ACCEPT_ENCODING,
                    SRV_CODING_ACCEPTED, "%s", msg);
        return true;
    }
    if (r->body_coding != SRV_CODING_IDENTITY && !(r->inflate = srv_inflate_new(r->body_coding))) {
        *ret = MHD_NO;
        return true;
    }
    const char *clen =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (clen) {
        char *end;
        unsigned long long n = strtoull(clen, &end, 10);
        if ((long long)n > r->http->max_body_bytes || n > (unsigned long long)INT64_MAX) {
            api_error e;
            api_error_set(
                &e, API_ERR_PAYLOAD_TOO_LARGE, "",
                "request body of %llu bytes exceeds the limit of %lld bytes (--max-body-bytes)", n,
                (long long)r->http->max_body_bytes);
            *ret = answer_error(r, &e, NULL, NULL);
            return true;
        }
    }
    /* Admission, before a byte of the body is read: room in the worker queue, and the body's
     * declared length in --max-body-memory (a chunked body reserves as it grows). */
    if (!srv_admission_queue_has_room(r->http->pool)) {
        api_error e;
        api_error_set(&e, API_ERR_OVERLOADED, "",
                      "all %d workers are busy and %d requests are queued; retry after 1 s",
                      at_pool_threads(r->http->pool), at_pool_capacity(r->http->pool));
        *ret = answer_error(r, &e, NULL, NULL);
        return true;
    }
    if (clen) {
        unsigned long long n = strtoull(clen, NULL, 10);
        if (!srv_admission_reserve(r->http->admission, (int64_t)n)) {
            *ret = answer_memory_full(r, (int64_t)n, false);
            return true;
        }
        r->reserved = (int64_t)n;
        if (n > 0) {
            r->body = api_big_alloc((size_t)n, 64);
            if (!r->body) {
                *ret = MHD_NO;
                return true;
            }
            r->body_cap = (size_t)n;
        }
    }
    srv_guard_body_started(r->conn);
    return false;
}

/* 413 for a body whose bytes on the wire pass --max-body-bytes as they arrive (chunked): at
 * once, and the connection is closed. */
static enum MHD_Result answer_too_large_raw(srv_request *r)
{
    srv_metrics_shed(SRV_SHED_BODY_TOO_LARGE);
    api_error e;
    api_error_set(&e, API_ERR_PAYLOAD_TOO_LARGE, "",
                  "request body exceeds the limit of %lld bytes (--max-body-bytes)",
                  (long long)r->http->max_body_bytes);
    return answer_raw_and_close(r, &e, false);
}

/* Stores a piece of the (inflated) body. Only a chunked or coded body can grow past its
 * buffer: the buffer grows within --max-body-bytes and --max-body-memory, and the first byte
 * past either is answered (413 or 503) at once and the connection closed, so that an endless
 * upload is not read on. */
static enum MHD_Result store_body(srv_request *r, const char *data, size_t len)
{
    if ((int64_t)(r->body_len + len) > r->http->max_body_bytes) return answer_too_large_raw(r);
    if (r->body_len + len > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap * 2 : 64 * 1024;
        while (cap < r->body_len + len)
            cap *= 2;
        if ((int64_t)cap > r->http->max_body_bytes) cap = (size_t)r->http->max_body_bytes;
        int64_t more = (int64_t)cap - r->reserved;
        if (more > 0) {
            if (!srv_admission_reserve(r->http->admission, more))
                return answer_memory_full(r, more, true);
            r->reserved += more;
        }
        char *p = api_big_realloc(r->body, cap);
        if (!p) return MHD_NO;
        r->body = p;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    return MHD_YES;
}

/* Refuses the body being received with an error answered once it has ended (start_job): the
 * rest is read and dropped, so that the client, still sending, gets the answer. */
static void refuse_body(srv_request *r, api_error_kind kind, const char *msg)
{
    r->body_refused = true;
    api_error_set(&r->body_err, kind, "", "%s", msg);
    body_free(r);
}

typedef struct inflate_sink {
    srv_request *r;
    enum MHD_Result ret;
} inflate_sink;

/* Takes a piece of inflated body: past --max-body-bytes the body is refused (413) there, so a
 * decompression bomb costs at most the limit plus one piece. */
static int store_inflated(void *ud, const char *data, size_t len)
{
    inflate_sink *s = ud;
    srv_request *r = s->r;
    if ((int64_t)(r->body_len + len) > r->http->max_body_bytes) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "request body inflates (Content-Encoding %s) to more than the limit of %lld "
                 "bytes (--max-body-bytes)",
                 srv_coding_name(r->body_coding), (long long)r->http->max_body_bytes);
        refuse_body(r, API_ERR_PAYLOAD_TOO_LARGE, msg);
        return 1;
    }
    s->ret = store_body(r, data, len);
    return s->ret == MHD_YES ? 0 : 1;
}

/* Inflates a piece of a coded body into the body buffer. */
static enum MHD_Result inflate_body(srv_request *r, const char *data, size_t len)
{
    if ((int64_t)r->bytes_in > r->http->max_body_bytes) return answer_too_large_raw(r);
    if (r->body_refused) return MHD_YES;
    inflate_sink s = {r, MHD_YES};
    char msg[400];
    srv_inflate_status st =
        srv_inflate_feed(r->inflate, data, len, store_inflated, &s, msg, sizeof msg);
    if (st == SRV_INFLATE_CORRUPT) refuse_body(r, API_ERR_BAD_REQUEST, msg);
    if (st == SRV_INFLATE_NOMEM) return MHD_NO;
    if (st == SRV_INFLATE_STOPPED) return s.ret;
    return MHD_YES;
}

/* The body has ended: whether it is whole and accepted (else r->body_err says why). */
static bool inflate_complete(srv_request *r)
{
    if (r->inflate && !r->body_refused) {
        char msg[400];
        if (srv_inflate_finish(r->inflate, msg, sizeof msg) != SRV_INFLATE_OK)
            refuse_body(r, API_ERR_BAD_REQUEST, msg);
    }
    srv_inflate_free(r->inflate);
    r->inflate = NULL;
    return !r->body_refused;
}

/* Appends a piece of the body as it arrives. */
static enum MHD_Result append_body(srv_request *r, const char *data, size_t len)
{
    r->bytes_in += len;
    srv_guard_body_progress(r->conn, len);
    if (r->inflate) return inflate_body(r, data, len);
    return store_body(r, data, len);
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* CORS and API keys, before anything else: a preflight is answered here (it carries no key),
 * and a request without a valid key gets 401. Returns true when an answer was queued. */
static bool check_access(srv_request *r, const char *method, enum MHD_Result *ret)
{
    srv_http *h = r->http;
    if (srv_cors_enabled(&h->cors)) {
        r->cors_origin = srv_cors_allow(&h->cors, header(r->conn, "Origin"));
        if (strcmp(method, "OPTIONS") == 0 && header(r->conn, "Access-Control-Request-Method")) {
            struct MHD_Response *resp =
                MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
            if (!resp) return *ret = MHD_NO, true;
            add_common_headers(r, resp);
            if (r->cors_origin) {
                MHD_add_response_header(resp, "Access-Control-Allow-Methods",
                                        SRV_CORS_ALLOW_METHODS);
                MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                        SRV_CORS_ALLOW_HEADERS);
                MHD_add_response_header(resp, "Access-Control-Max-Age", SRV_CORS_MAX_AGE);
            }
            *ret = queue(r, MHD_HTTP_NO_CONTENT, resp, 0);
            return true;
        }
    }
    if (!h->auth || srv_auth_open_path(r->path, h->metrics_auth)) return false;
    if (srv_auth_check(h->auth, header(r->conn, MHD_HTTP_HEADER_AUTHORIZATION),
                       header(r->conn, "X-Api-Key")))
        return false;
    srv_metrics_auth_failure(r->route);
    *ret = fail(r, API_ERR_UNAUTHORIZED, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer",
                "%s needs an API key: send Authorization: Bearer KEY or X-Api-Key: KEY", r->path);
    return true;
}

/* Whether an answer decided at the headers should wait for the body (srv_request's
 * defer_answer): a body of a declared length within --max-body-bytes that the client sends
 * without waiting for "100 Continue". A longer or chunked body is answered at once (it would
 * not be read to its end anyway), as is a client that asked to wait. */
static bool body_on_its_way(srv_request *r)
{
    const char *clen = header(r->conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *expect = header(r->conn, MHD_HTTP_HEADER_EXPECT);
    if (!clen || (expect && strcasecmp(expect, "100-continue") == 0)) return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(clen, &end, 10);
    return !errno && end != clen && *end == '\0' && n > 0 &&
           n <= (unsigned long long)r->http->max_body_bytes;
}

/* src into dst[cap], cut to cap - 1 bytes (what snprintf "%s" did, at a tenth of its cost on
 * every request). */
static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    srv_http *h = cls;
    srv_request *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        *con_cls = r;
        r->http = h;
        r->conn = conn;
        clock_gettime(CLOCK_MONOTONIC, &r->start);
        copy_cut(r->method, sizeof r->method, method);
        copy_cut(r->path, sizeof r->path, url);
        r->error_kind = -1;
        r->models = srv_models_acquire(h->models);
        r->route = own_route_of(url);
        r->proto_route.id = -1;
        api_error route_err;
        bool bad_route = false;
        if (r->route == SRV_ROUTE_UNMATCHED && (r->proto = api_protocol_for(url))) {
            api_context ctx = context_of(r);
            int rc = r->proto->route(url, &ctx, &r->proto_route, &route_err);
            if (rc == 0 || rc == 404) r->route = srv_route_of(r->proto, r->proto_route.id);
            bad_route = rc > 0;
            if (rc != 0 && rc != 404) r->proto_route.id = -1;
        }
        srv_request_id_make(header(conn, "X-Request-Id"), r->request_id, sizeof r->request_id);
        r->accept = srv_coding_negotiate(header(conn, MHD_HTTP_HEADER_ACCEPT_ENCODING));
        srv_metrics_request_started();
        r->defer_answer = body_on_its_way(r);
        enum MHD_Result ret;
        bool answered = check_access(r, method, &ret) ||
                        check_headers(r, method, bad_route ? &route_err : NULL, &ret);
        r->defer_answer = false;
        if (answered) return ret;
        if (!is_job(r)) return serve_get(r);
        return MHD_YES; /* wait for the body */
    }

    switch (r->state) {
    case REQ_RECEIVING:
        if (*upload_data_size) {
            enum MHD_Result ok = append_body(r, upload_data, *upload_data_size);
            *upload_data_size = 0;
            return ok;
        }
        srv_guard_request_busy(conn);
        return start_job(r);
    case REQ_READY: return answer_response(r, &r->resp, NULL, NULL);
    case REQ_DISCARDING: {
        if (*upload_data_size) {
            r->bytes_in += *upload_data_size;
            srv_guard_body_progress(conn, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        struct MHD_Response *resp = r->deferred;
        r->deferred = NULL;
        r->defer_answer = false;
        return queue(r, r->deferred_status, resp, r->deferred_len);
    }
    case REQ_COMPUTING: /* not called while suspended */
    case REQ_ANSWERED:
        *upload_data_size = 0; /* a body we do not read (e.g. on GET): drop it */
        return MHD_YES;
    }
    return MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    srv_request *r = *con_cls;
    srv_guard_request_done(conn);
    if (!r) return;
    *con_cls = NULL;
    double secs = seconds_since(&r->start);
    int status = r->state == REQ_ANSWERED ? r->status : 499; /* client went away first */
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->state == REQ_ANSWERED &&
        toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
        srv_log(SRV_LOG_DEBUG, "response_incomplete", "path=%s status=%d termination=%d", r->path,
                r->status, (int)toe);
    if (status >= 400 && status != 499) srv_metrics_rejected(r->error_kind, status);
    srv_metrics_bytes(r->route, r->bytes_in,
                      toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? r->bytes : 0);
    if (r->state != REQ_ANSWERED) srv_metrics_request_answered(r->route, status, secs);
    srv_metrics_request_done();
    srv_log_access(r->method, r->path, status, r->bytes, secs, r->request_id);
    if (r->deferred) MHD_destroy_response(r->deferred); /* the client left before its body ended */
    srv_models_release(r->models);
    api_job_free(&r->job);
    body_free(r);
    srv_inflate_free(r->inflate);
    api_http_response_free(&r->resp);
    bool large = r->bytes >= TRIM_AFTER_BYTES;
    free(r);
    /* glibc keeps freed blocks of up to 32 MiB in its heaps for reuse, which is what makes
     * medium requests fast (a fixed 1 MiB mmap threshold cost them 2.6x in page faults and TLB
     * shootdowns); after a large response, give the free pages back so that one big request
     * (a BERT-base forward with every layer's attentions) does not leave the RSS high. */
    if (large) malloc_trim(0);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    srv_http *h = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* While starting, keep the first message: the cause (the ones after it say what failed). */
    if (!atomic_load(&h->started) && !*h->tls_err)
        snprintf(h->tls_err, sizeof h->tls_err, "%s", msg);
    srv_log(SRV_LOG_WARN, "libmicrohttpd", "detail=\"%s\"", msg);
}

srv_http *srv_http_start(const srv_config *cfg, at_pool *pool, srv_models *models, srv_auth *auth,
                         char *err, size_t errlen)
{
    srv_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->pool = pool;
    h->models = models;
    h->auth = auth;
    h->metrics_auth = cfg->metrics_auth != 0;
    h->cors = cfg->cors;
    char *cert = NULL, *key = NULL;
    if (*cfg->tls_cert) {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
            snprintf(err, errlen, "--tls-cert: this libmicrohttpd was built without TLS support");
            free(h);
            return NULL;
        }
        if (srv_tls_load(cfg->tls_cert, cfg->tls_key, &cert, &key, err, errlen) != 0) {
            free(h);
            return NULL;
        }
    }
    h->max_body_bytes = cfg->max_body_bytes;
    h->limits.max_elements = cfg->max_elements;
    h->limits.max_score_elements = cfg->max_score_elements;
    h->limits.max_flops = cfg->max_request_flops;
    h->request_timeout = cfg->request_timeout;
    h->inline_max_flops = (double)cfg->inline_max_flops;
    h->watch = srv_watch_new(err, errlen);
    if (!h->watch) goto fail;
    pthread_mutex_init(&h->gate, NULL);
    h->gate_ready = true;
    h->admission = srv_admission_new(cfg->max_body_memory, cfg->max_body_bytes);
    h->sources = api_source_store_new((size_t)cfg->source_memory, cfg->source_ttl, NULL);
    if (!h->admission || !h->sources) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* Over TLS the guard cannot write a response of its own into the stream: it only closes. */
    srv_guard_config gc = {cfg->max_connections, cfg->header_timeout, cfg->min_body_rate,
                           cfg->idle_timeout, cert == NULL};
    h->guard = srv_guard_new(&gc, err, errlen);
    if (!h->guard) goto fail;

    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve --host %s: %s", cfg->host, gai_strerror(gai));
        goto fail;
    }
    /* poll(), not epoll: libmicrohttpd 0.9.75 aborts the process at random when
     * MHD_quiesce_daemon runs on an epoll daemon with internal threads (the polling thread and
     * quiesce both remove the listen fd from the epoll set, and the loser's ENOENT is an
     * MHD_PANIC). The poll() loop learns of the quiesce through the ITC and never panics; for
     * the tens to hundreds of connections one attnd serves, poll costs next to nothing. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (cert) flags |= MHD_USE_TLS;
    /* With TLS the certificate and key come first; MHD_OPTION_ARRAY keeps the plain case's
     * option list as it was. */
    struct MHD_OptionItem tls_opts[] = {
        {cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
        {MHD_OPTION_END, 0, NULL},
    };
    /* libmicrohttpd's own timeout (restarted by every byte) stays as a backstop for a client
     * that stops reading its response; the guard's deadlines do the rest. */
    unsigned idle = cfg->idle_timeout > 0 ? (unsigned)(cfg->idle_timeout + 0.999) : 0;
    h->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)cfg->http_threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_CONNECTION_TIMEOUT, idle, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->connection_memory,
        MHD_OPTION_CONNECTION_LIMIT, srv_guard_mhd_connection_limit(&gc),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
        MHD_OPTION_NOTIFY_CONNECTION, srv_guard_on_connection, h->guard,
        MHD_OPTION_URI_LOG_CALLBACK, srv_guard_on_request_line, h->guard, MHD_OPTION_ARRAY,
        tls_opts, MHD_OPTION_END);
    freeaddrinfo(ai);
    atomic_store(&h->started, true);
    if (!h->daemon) {
        if (cert)
            snprintf(err, errlen,
                     "cannot start HTTPS on %s:%d with --tls-cert %s and --tls-key %s: %s",
                     cfg->host, cfg->port, cfg->tls_cert, cfg->tls_key,
                     *h->tls_err ? h->tls_err : "address in use or not available?");
        else
            snprintf(err, errlen, "cannot listen on %s:%d (address in use or not available?)",
                     cfg->host, cfg->port);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : cfg->port;
    h->tls_cert = cert;
    h->tls_key = key;
    return h;
fail:
    srv_guard_free(h->guard);
    srv_admission_free(h->admission);
    api_source_store_free(h->sources);
    if (h->gate_ready) pthread_mutex_destroy(&h->gate);
    srv_watch_free(h->watch);
    free(cert);
    if (key) explicit_bzero(key, strlen(key));
    free(key);
    free(h);
    return NULL;
}

int srv_http_port(const srv_http *h)
{
    return h->port;
}

void srv_http_drain(srv_http *h)
{
    if (atomic_exchange(&h->draining, true)) return;
    MHD_socket fd = MHD_quiesce_daemon(h->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    srv_guard_drain(h->guard);
}

bool srv_http_wait_drained(srv_http *h, double timeout)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        /* Nothing in flight and no request begun: close the gate, then make sure no request
         * slipped in between the two reads and the gate (one suspended: wait for its job). */
        if (srv_metrics_in_flight() == 0 && srv_guard_active(h->guard) == 0) {
            pthread_mutex_lock(&h->gate);
            h->stopping = true;
            bool idle = h->suspended == 0;
            pthread_mutex_unlock(&h->gate);
            if (idle) return true;
        }
        if (seconds_since(&t0) >= timeout) break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&h->gate);
    h->stopping = true;
    int suspended = h->suspended;
    pthread_mutex_unlock(&h->gate);
    srv_log(SRV_LOG_WARN, "drain_incomplete", "in_flight=%ld requests_begun=%d suspended=%d",
            srv_metrics_in_flight(), srv_guard_active(h->guard), suspended);
    return suspended == 0 && srv_metrics_in_flight() == 0;
}

void srv_http_stop(srv_http *h)
{
    if (!h) return;
    MHD_stop_daemon(h->daemon);
    srv_guard_free(h->guard);
    srv_admission_free(h->admission);
    api_source_store_free(h->sources);
    pthread_mutex_destroy(&h->gate);
    srv_watch_free(h->watch);
    free(h->tls_cert);
    if (h->tls_key) explicit_bzero(h->tls_key, strlen(h->tls_key));
    free(h->tls_key);
    free(h);
}
