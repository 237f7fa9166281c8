/* Connection limits and deadlines on top of libmicrohttpd, whose own timeout restarts with every
 * byte (so one header line every few seconds keeps a connection forever) and whose own
 * connection limit stops accepting when full (so idle sockets lock everyone out). Every
 * connection is tracked here with the phase of its current request and when that phase's clock
 * started; a thread closes those past their deadline, and a new connection beyond the cap closes
 * the connection that has been idle the longest. */
#include "conn_guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "../api/api.h"
#include "../api/protocol.h"
#include "metrics.h"

typedef enum phase {
    PH_NEW,     /* accepted, no request line yet */
    PH_HEADERS, /* request line arrived, header block not complete */
    PH_BODY,    /* headers complete, body arriving */
    PH_BUSY,    /* request complete: being computed or answered */
    PH_IDLE,    /* keep-alive: between requests */
} phase;

typedef struct gconn {
    srv_guard *g;
    struct gconn *prev, *next;   /* every tracked connection */
    struct gconn *iprev, *inext; /* the idle list, oldest first */
    bool in_idle;
    MHD_socket fd;
    phase ph;
    int64_t since_ns;     /* when this phase's clock started */
    int64_t window_ns;    /* PH_BODY: when the current rate window began */
    int64_t window_bytes; /* PH_BODY: body bytes received in it */
    bool closing;         /* shut down here; libmicrohttpd has yet to notice and free it */
} gconn;

struct srv_guard {
    srv_guard_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool thread_started, stop, draining;
    gconn *head, *tail;
    /* The connections without a request in progress (is_idle, not closing), in the order
     * their clocks started: a new connection beyond the cap closes the head in O(1), which
     * matters when a flood brings thousands of connections a second. */
    gconn *idle_head, *idle_tail;
    int live;   /* tracked and not closing */
    int active; /* in PH_HEADERS, PH_BODY or PH_BUSY */
    int64_t tick_ns;
    char header_timeout_json[640], body_rate_json[640];
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static bool is_active(phase ph)
{
    return ph == PH_HEADERS || ph == PH_BODY || ph == PH_BUSY;
}

static bool is_idle(phase ph)
{
    return ph == PH_NEW || ph == PH_HEADERS || ph == PH_IDLE;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

static bool send_raw(MHD_socket fd, int status, const char *body, size_t len, bool retry_after)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n",
                     status, reason_phrase(status), len, retry_after ? "Retry-After: 1\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof head) return false;
    char msg[1024];
    if ((size_t)n + len > sizeof msg) return false;
    memcpy(msg, head, (size_t)n);
    memcpy(msg + n, body, len);
    /* Non-blocking: a few hundred bytes fit in any socket buffer that is not full already, and
     * a client that does not read is not waited for. */
    ssize_t w = send(fd, msg, (size_t)n + len, MSG_NOSIGNAL | MSG_DONTWAIT);
    return w == (ssize_t)((size_t)n + len);
}

static void idle_remove(srv_guard *g, gconn *c)
{
    if (!c->in_idle) return;
    if (c->iprev)
        c->iprev->inext = c->inext;
    else
        g->idle_head = c->inext;
    if (c->inext)
        c->inext->iprev = c->iprev;
    else
        g->idle_tail = c->iprev;
    c->iprev = c->inext = NULL;
    c->in_idle = false;
}

/* Appends c to the idle list: its clock started now, so it is the youngest. */
static void idle_push(srv_guard *g, gconn *c)
{
    idle_remove(g, c);
    c->iprev = g->idle_tail;
    c->inext = NULL;
    if (g->idle_tail)
        g->idle_tail->inext = c;
    else
        g->idle_head = c;
    g->idle_tail = c;
    c->in_idle = true;
}

/* Closes c's socket (the guard's lock held); libmicrohttpd sees the end of the stream, closes
 * the connection and reports it through srv_guard_on_connection, which unlinks c. The fd
 * cannot have been reused yet: libmicrohttpd closes it only after that report, which needs the
 * lock held here. */
static void condemn(srv_guard *g, gconn *c, srv_shed reason, const char *json)
{
    if (c->closing) return;
    if (json && g->cfg.raw_replies) send_raw(c->fd, 408, json, strlen(json), false);
    shutdown(c->fd, SHUT_RDWR);
    c->closing = true;
    idle_remove(g, c);
    g->live--;
    srv_metrics_shed(reason);
}

static void unlink_conn(srv_guard *g, gconn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        g->tail = c->prev;
    c->prev = c->next = NULL;
}

static void set_phase(gconn *c, phase ph, bool restart_clock)
{
    srv_guard *g = c->g;
    g->active += (int)is_active(ph) - (int)is_active(c->ph);
    c->ph = ph;
    if (restart_clock) c->since_ns = now_ns();
    if (c->closing || !is_idle(ph))
        idle_remove(g, c);
    else if (restart_clock || !c->in_idle)
        idle_push(g, c);
}

/* The body rate is measured over consecutive windows of --header-timeout seconds (10 s when
 * that is 0), each of which must bring min_body_rate * window bytes: an average since the
 * start would let a client that sent much quickly stall for as long as it had been fast. */
static int64_t body_window_ns(const srv_guard_config *cfg)
{
    return (int64_t)((cfg->header_timeout > 0 ? cfg->header_timeout : 10.0) * 1e9);
}

static void expire(srv_guard *g, int64_t now)
{
    const srv_guard_config *cfg = &g->cfg;
    int64_t ht = (int64_t)(cfg->header_timeout * 1e9);
    int64_t it = (int64_t)(cfg->idle_timeout * 1e9);
    int64_t win = body_window_ns(cfg);
    for (gconn *c = g->head; c; c = c->next) {
        if (c->closing) continue;
        switch (c->ph) {
        case PH_NEW:
            if (ht > 0 && now - c->since_ns >= ht) condemn(g, c, SRV_SHED_HEADER_TIMEOUT, NULL);
            break;
        case PH_HEADERS:
            if (ht > 0 && now - c->since_ns >= ht)
                condemn(g, c, SRV_SHED_HEADER_TIMEOUT, g->header_timeout_json);
            break;
        case PH_BODY:
            if (cfg->min_body_rate <= 0 || now - c->window_ns < win) break;
            if ((double)c->window_bytes < (double)cfg->min_body_rate * ((double)win / 1e9)) {
                condemn(g, c, SRV_SHED_BODY_RATE, g->body_rate_json);
            } else {
                c->window_ns = now;
                c->window_bytes = 0;
            }
            break;
        case PH_IDLE:
            if (it > 0 && now - c->since_ns >= it) condemn(g, c, SRV_SHED_IDLE_TIMEOUT, NULL);
            break;
        case PH_BUSY: break;
        }
    }
}

static void *guard_main(void *arg)
{
    srv_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        expire(g, now_ns());
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        int64_t ns = (int64_t)t.tv_nsec + g->tick_ns;
        t.tv_sec += (time_t)(ns / 1000000000);
        t.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&g->cv, &g->mu, &t);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* The error body of a 408 with `msg`, into dst (empty when it does not fit). It is sent before
 * the request's path is known, so in the shape of the first protocol (v1's JSON). */
static void make_json(char *dst, size_t cap, const char *msg)
{
    api_error e;
    api_error_set(&e, API_ERR_REQUEST_TIMEOUT, "", "%s", msg);
    api_http_response out = {0};
    dst[0] = '\0';
    if (api_v1_protocol.encode_error(&e, &out) == 0 && !out.body.oom && out.body.len < cap) {
        memcpy(dst, out.body.data, out.body.len);
        dst[out.body.len] = '\0';
    }
    api_http_response_free(&out);
}

/* Room for the cap, libmicrohttpd's slack and a few hundred other files. */
static void raise_open_files(const srv_guard_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t want = (rlim_t)srv_guard_mhd_connection_limit(cfg) + 256;
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

unsigned srv_guard_mhd_connection_limit(const srv_guard_config *cfg)
{
    unsigned max = (unsigned)cfg->max_connections;
    return max + (max / 4 > 64 ? max / 4 : 64);
}

srv_guard *srv_guard_new(const srv_guard_config *cfg, char *err, size_t errlen)
{
    srv_guard *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->cfg = *cfg;
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* A tenth of the shortest deadline, within [10 ms, 200 ms]: deadlines are met to within
     * 10% without the thread waking more than a hundred times a second. */
    double shortest = 2.0;
    if (cfg->header_timeout > 0 && cfg->header_timeout < shortest) shortest = cfg->header_timeout;
    if (cfg->idle_timeout > 0 && cfg->idle_timeout < shortest) shortest = cfg->idle_timeout;
    g->tick_ns = (int64_t)(shortest / 10 * 1e9);
    if (g->tick_ns < 10000000) g->tick_ns = 10000000;
    char msg[256];
    snprintf(msg, sizeof msg,
             "the request's header block did not arrive within %g s (--header-timeout)",
             cfg->header_timeout);
    make_json(g->header_timeout_json, sizeof g->header_timeout_json, msg);
    snprintf(msg, sizeof msg,
             "the request body arrived slower than %lld bytes/s over %g s "
             "(--min-body-rate, measured over --header-timeout)",
             (long long)cfg->min_body_rate, (double)body_window_ns(cfg) / 1e9);
    make_json(g->body_rate_json, sizeof g->body_rate_json, msg);
    raise_open_files(cfg);
    int rc = pthread_create(&g->thread, NULL, guard_main, g);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the connection guard thread: %s", strerror(rc));
        srv_guard_free(g);
        return NULL;
    }
    g->thread_started = true;
    return g;
}

void srv_guard_free(srv_guard *g)
{
    if (!g) return;
    if (g->thread_started) {
        pthread_mutex_lock(&g->mu);
        g->stop = true;
        pthread_cond_signal(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->thread, NULL);
    }
    while (g->head) { /* none after MHD_stop_daemon; kept for a failed start */
        gconn *c = g->head;
        unlink_conn(g, c);
        free(c);
    }
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* The connection that has waited longest without a request in progress, other than `except`. */
static gconn *oldest_idle(srv_guard *g, const gconn *except)
{
    gconn *c = g->idle_head;
    return c == except ? c->inext : c;
}

void srv_guard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode code)
{
    srv_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        gconn *c = fi ? calloc(1, sizeof *c) : NULL;
        *socket_context = c;
        if (!c) return; /* untracked: libmicrohttpd's own timeout still applies */
        c->g = g;
        c->fd = fi->connect_fd;
        c->ph = PH_NEW;
        c->since_ns = now_ns();
        pthread_mutex_lock(&g->mu);
        c->prev = g->tail;
        if (g->tail)
            g->tail->next = c;
        else
            g->head = c;
        g->tail = c;
        idle_push(g, c);
        g->live++;
        srv_metrics_connections_add(1);
        if (g->draining) {
            condemn(g, c, SRV_SHED_DRAIN, NULL);
        } else if (g->live > g->cfg.max_connections) {
            gconn *victim = oldest_idle(g, c);
            if (victim)
                condemn(g, victim, SRV_SHED_EVICTED, NULL);
            else
                condemn(g, c, SRV_SHED_CONNECTION_LIMIT, NULL);
        }
        pthread_mutex_unlock(&g->mu);
        return;
    }
    gconn *c = *socket_context;
    if (!c) return;
    *socket_context = NULL;
    pthread_mutex_lock(&g->mu);
    unlink_conn(g, c);
    idle_remove(g, c);
    if (!c->closing) g->live--;
    if (is_active(c->ph)) g->active--;
    srv_metrics_connections_add(-1);
    pthread_mutex_unlock(&g->mu);
    free(c);
}

static gconn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

void *srv_guard_on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)uri;
    gconn *c = conn_of(conn);
    if (!c) return NULL;
    pthread_mutex_lock(&c->g->mu);
    /* A new connection's first header block counts from the accept: a request line trickled
     * in a byte at a time must not buy a fresh allowance. */
    set_phase(c, PH_HEADERS, c->ph != PH_NEW);
    pthread_mutex_unlock(&c->g->mu);
    return NULL;
}

void srv_guard_body_started(struct MHD_Connection *conn)
{
    gconn *c = conn_of(conn);
    if (!c) return;
    pthread_mutex_lock(&c->g->mu);
    set_phase(c, PH_BODY, true);
    c->window_ns = c->since_ns;
    c->window_bytes = 0;
    pthread_mutex_unlock(&c->g->mu);
}

void srv_guard_body_progress(struct MHD_Connection *conn, size_t bytes)
{
    gconn *c = conn_of(conn);
    if (!c) return;
    pthread_mutex_lock(&c->g->mu);
    c->window_bytes += (int64_t)bytes;
    pthread_mutex_unlock(&c->g->mu);
}

void srv_guard_request_busy(struct MHD_Connection *conn)
{
    gconn *c = conn_of(conn);
    if (!c) return;
    pthread_mutex_lock(&c->g->mu);
    set_phase(c, PH_BUSY, true);
    pthread_mutex_unlock(&c->g->mu);
}

void srv_guard_request_done(struct MHD_Connection *conn)
{
    gconn *c = conn_of(conn);
    if (!c) return;
    srv_guard *g = c->g;
    pthread_mutex_lock(&g->mu);
    set_phase(c, PH_IDLE, true);
    if (g->draining) condemn(g, c, SRV_SHED_DRAIN, NULL); /* its response said so */
    pthread_mutex_unlock(&g->mu);
}

void srv_guard_drain(srv_guard *g)
{
    pthread_mutex_lock(&g->mu);
    g->draining = true;
    for (gconn *c = g->head; c; c = c->next)
        if (!c->closing && (c->ph == PH_NEW || c->ph == PH_IDLE))
            condemn(g, c, SRV_SHED_DRAIN, NULL);
    pthread_mutex_unlock(&g->mu);
}

int srv_guard_active(srv_guard *g)
{
    pthread_mutex_lock(&g->mu);
    int n = g->active;
    pthread_mutex_unlock(&g->mu);
    return n;
}

bool srv_guard_reply_raw(struct MHD_Connection *conn, int status, const char *body, size_t len,
                         bool retry_after)
{
    gconn *c = conn_of(conn);
    if (!c || !c->g->cfg.raw_replies) return false;
    return send_raw(c->fd, status, body, len, retry_after);
}
