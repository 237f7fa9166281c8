/* Prometheus exposition of attnd's counters. Request counts are kept per (route, status code)
 * in a fixed table of atomics, durations in fixed-bucket histograms; nothing allocates on the
 * request path. Rendering reads a consistent-enough snapshot (each series individually atomic). */
#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "../api/api.h"
#include "content_coding.h"
#include "process_stats.h"

#define CODE_MIN 100
#define CODE_MAX 599

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

static const char *const own_labels[] = {
#define SRV_ROUTE_LABEL(name, label) label,
    SRV_ROUTE_MAP(SRV_ROUTE_LABEL)
#undef SRV_ROUTE_LABEL
};

typedef struct histogram {
    atomic_ullong bucket[NBUCKETS]; /* non-cumulative; summed when rendered */
    atomic_ullong count;
    atomic_ullong sum_ns;
} histogram;

static const char *const shed_labels[] = {
#define SRV_SHED_LABEL(name, label) label,
    SRV_SHED_MAP(SRV_SHED_LABEL)
#undef SRV_SHED_LABEL
};

static struct {
    atomic_ullong requests[SRV_ROUTES_MAX][CODE_MAX - CODE_MIN + 1];
    atomic_ullong shed[SRV_SHED_COUNT];
    atomic_long connections;
    atomic_llong body_memory;
    histogram duration[SRV_ROUTES_MAX];
    histogram compute[SRV_ROUTES_MAX];
    atomic_ullong inline_jobs[SRV_ROUTES_MAX];
    atomic_ullong rejections[API_ERR_COUNT + 1]; /* the last: "other" */
    atomic_ullong auth_failures[SRV_ROUTES_MAX];
    atomic_ullong bytes_in[SRV_ROUTES_MAX], bytes_out[SRV_ROUTES_MAX];
    /* [response][coding]: bodies, and bytes [0] plain and [1] coded */
    atomic_ullong coded_bodies[2][SRV_CODING_COUNT], coded_bytes[2][SRV_CODING_COUNT][2];
    atomic_long in_flight;
    char version[64];
    char blas[128];
    char blas_core[32], blas_core_reason[16], cpu_level[16];
} m;

srv_route srv_route_of(const api_protocol *p, int id)
{
    srv_route base = SRV_ROUTE_OWN;
    for (int i = 0; api_protocols[i]; i++) {
        if (api_protocols[i] == p)
            return id >= 0 && id < p->nroutes && base + id < SRV_ROUTES_MAX ? base + id
                                                                            : SRV_ROUTE_UNMATCHED;
        base += api_protocols[i]->nroutes;
    }
    return SRV_ROUTE_UNMATCHED;
}

const char *srv_route_label(srv_route r)
{
    if (r >= 0 && r < SRV_ROUTE_OWN) return own_labels[r];
    srv_route base = SRV_ROUTE_OWN;
    for (int i = 0; r >= base && api_protocols[i]; i++) {
        if (r < base + api_protocols[i]->nroutes) return api_protocols[i]->routes[r - base].label;
        base += api_protocols[i]->nroutes;
    }
    return NULL;
}

/* Copies s into a label value, escaping as the exposition format requires. */
static void label_copy(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') {
            dst[n++] = '\\';
            dst[n++] = *s;
        } else if (*s == '\n') {
            dst[n++] = '\\';
            dst[n++] = 'n';
        } else {
            dst[n++] = *s;
        }
    }
    dst[n] = '\0';
}

void srv_metrics_init(const char *version, const char *blas_version, const char *blas_core,
                      const char *blas_core_reason, const char *cpu_level)
{
    label_copy(m.version, sizeof m.version, version);
    label_copy(m.blas, sizeof m.blas, blas_version);
    label_copy(m.blas_core, sizeof m.blas_core, blas_core);
    label_copy(m.blas_core_reason, sizeof m.blas_core_reason, blas_core_reason);
    label_copy(m.cpu_level, sizeof m.cpu_level, cpu_level);
}

void srv_metrics_request_started(void)
{
    atomic_fetch_add_explicit(&m.in_flight, 1, memory_order_relaxed);
}

long srv_metrics_in_flight(void)
{
    return atomic_load(&m.in_flight);
}

static void observe(histogram *h, double seconds)
{
    size_t b = 0;
    while (b < NBUCKETS && seconds > buckets[b])
        b++;
    if (b < NBUCKETS) atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (unsigned long long)(seconds * 1e9),
                              memory_order_relaxed);
}

static srv_route valid_route(srv_route route)
{
    return srv_route_label(route) ? route : SRV_ROUTE_UNMATCHED;
}

void srv_metrics_request_answered(srv_route route, int status, double seconds)
{
    route = valid_route(route);
    if (status < CODE_MIN || status > CODE_MAX) status = 500;
    atomic_fetch_add_explicit(&m.requests[route][status - CODE_MIN], 1, memory_order_relaxed);
    observe(&m.duration[route], seconds);
}

void srv_metrics_request_done(void)
{
    atomic_fetch_sub_explicit(&m.in_flight, 1, memory_order_release);
}

void srv_metrics_shed(srv_shed reason)
{
    if ((unsigned)reason < SRV_SHED_COUNT)
        atomic_fetch_add_explicit(&m.shed[reason], 1, memory_order_relaxed);
}

void srv_metrics_connections_add(int delta)
{
    atomic_fetch_add_explicit(&m.connections, delta, memory_order_relaxed);
}

void srv_metrics_body_memory_set(long long bytes)
{
    atomic_store_explicit(&m.body_memory, bytes, memory_order_relaxed);
}

void srv_metrics_rejected(int kind, int status)
{
    if (kind < 0 || kind >= API_ERR_COUNT) {
        kind = API_ERR_COUNT;
        for (int k = 0; k < API_ERR_COUNT; k++)
            if (api_error_http_status((api_error_kind)k) == status) {
                kind = k;
                break;
            }
    }
    atomic_fetch_add_explicit(&m.rejections[kind], 1, memory_order_relaxed);
}

void srv_metrics_auth_failure(srv_route route)
{
    atomic_fetch_add_explicit(&m.auth_failures[valid_route(route)], 1, memory_order_relaxed);
}

void srv_metrics_compute(srv_route route, double seconds)
{
    observe(&m.compute[valid_route(route)], seconds);
}

void srv_metrics_inline_job(srv_route route)
{
    atomic_fetch_add_explicit(&m.inline_jobs[valid_route(route)], 1, memory_order_relaxed);
}

void srv_metrics_bytes(srv_route route, unsigned long long in, unsigned long long out)
{
    route = valid_route(route);
    atomic_fetch_add_explicit(&m.bytes_in[route], in, memory_order_relaxed);
    atomic_fetch_add_explicit(&m.bytes_out[route], out, memory_order_relaxed);
}

void srv_metrics_content_coding(bool response, int coding, unsigned long long plain,
                                unsigned long long coded)
{
    if (coding < 0 || coding >= SRV_CODING_COUNT) return;
    atomic_fetch_add_explicit(&m.coded_bodies[response][coding], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m.coded_bytes[response][coding][0], plain, memory_order_relaxed);
    atomic_fetch_add_explicit(&m.coded_bytes[response][coding][1], coded, memory_order_relaxed);
}

/* The content-coding counters, each series rendered when it is not zero. */
static void render_content_coding(api_buf *out)
{
    api_buf_puts(out, "# HELP attnd_http_content_coded_bodies_total Bodies inflated (request) or "
                      "compressed (response), by direction and coding.\n"
                      "# TYPE attnd_http_content_coded_bodies_total counter\n");
    static const char *const dir[2] = {"request", "response"};
    for (int d = 0; d < 2; d++)
        for (int c = 0; c < SRV_CODING_COUNT; c++) {
            unsigned long long v =
                atomic_load_explicit(&m.coded_bodies[d][c], memory_order_relaxed);
            if (v)
                api_buf_printf(out,
                               "attnd_http_content_coded_bodies_total{direction=\"%s\","
                               "coding=\"%s\"} %llu\n",
                               dir[d], srv_coding_name((srv_coding)c), v);
        }
    api_buf_puts(out, "# HELP attnd_http_content_coding_bytes_total Bytes of those bodies, plain "
                      "(inflated, or before compression) and coded (as on the wire).\n"
                      "# TYPE attnd_http_content_coding_bytes_total counter\n");
    static const char *const form[2] = {"plain", "coded"};
    for (int d = 0; d < 2; d++)
        for (int c = 0; c < SRV_CODING_COUNT; c++)
            for (int f = 0; f < 2; f++) {
                unsigned long long v =
                    atomic_load_explicit(&m.coded_bytes[d][c][f], memory_order_relaxed);
                if (v)
                    api_buf_printf(out,
                                   "attnd_http_content_coding_bytes_total{direction=\"%s\","
                                   "coding=\"%s\",form=\"%s\"} %llu\n",
                                   dir[d], srv_coding_name((srv_coding)c), form[f], v);
            }
}

/* One histogram per route, each rendered when it has observations. */
static void render_histograms(api_buf *out, const char *name, const char *help,
                              histogram hs[SRV_ROUTES_MAX])
{
    api_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (int r = 0; r < SRV_ROUTES_MAX && srv_route_label(r); r++) {
        const char *label = srv_route_label(r);
        histogram *h = &hs[r];
        unsigned long long count = atomic_load_explicit(&h->count, memory_order_relaxed);
        if (!count) continue;
        unsigned long long cumulative = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cumulative += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
            api_buf_printf(out, "%s_bucket{route=\"%s\",le=\"%g\"} %llu\n", name, label, buckets[b],
                           cumulative);
        }
        /* +Inf equals the count; read count after the buckets so it is never below them. */
        if (count < cumulative) count = cumulative;
        api_buf_printf(out,
                       "%s_bucket{route=\"%s\",le=\"+Inf\"} %llu\n%s_sum{route=\"%s\"} %.9f\n"
                       "%s_count{route=\"%s\"} %llu\n",
                       name, label, count, name, label,
                       (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9, name,
                       label, count);
    }
}

/* One counter per route, each rendered when it is not zero. */
static void render_counters(api_buf *out, const char *name, const char *help,
                            atomic_ullong vs[SRV_ROUTES_MAX])
{
    api_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (int r = 0; r < SRV_ROUTES_MAX && srv_route_label(r); r++) {
        const char *label = srv_route_label(r);
        unsigned long long v = atomic_load_explicit(&vs[r], memory_order_relaxed);
        if (v) api_buf_printf(out, "%s{route=\"%s\"} %llu\n", name, label, v);
    }
}

static void gauge(api_buf *out, const char *name, const char *help, double value)
{
    api_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, value);
}

void srv_metrics_render(api_buf *out, at_pool *pool)
{
    api_buf_puts(out, "# HELP attnd_http_requests_total HTTP requests answered, by route and "
                      "status code.\n# TYPE attnd_http_requests_total counter\n");
    for (int r = 0; r < SRV_ROUTES_MAX && srv_route_label(r); r++)
        for (int c = CODE_MIN; c <= CODE_MAX; c++) {
            const char *label = srv_route_label(r);
            unsigned long long v =
                atomic_load_explicit(&m.requests[r][c - CODE_MIN], memory_order_relaxed);
            if (v)
                api_buf_printf(out, "attnd_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                               label, c, v);
        }

    render_histograms(out, "attnd_http_request_duration_seconds",
                      "Time from the request's headers to its response, by route.", m.duration);
    render_histograms(
        out, "attnd_compute_duration_seconds",
        "Time spent computing and encoding an attention job (on a worker or inline), by route.",
        m.compute);
    render_counters(out, "attnd_inline_jobs_total",
                    "Attention jobs computed on the HTTP thread that decoded them, without the "
                    "worker queue (estimated work within --inline-max-flops), by route.",
                    m.inline_jobs);
    render_counters(out, "attnd_http_request_body_bytes_total",
                    "Request body bytes received, by route.", m.bytes_in);
    render_counters(out, "attnd_http_response_body_bytes_total",
                    "Response body bytes sent (responses sent completely), by route.", m.bytes_out);
    render_content_coding(out);
    render_counters(out, "attnd_auth_failures_total",
                    "Requests refused for a missing or wrong API key, by route.", m.auth_failures);
    api_buf_puts(out, "# HELP attnd_http_rejections_total Requests answered with an error, by "
                      "reason (the error code: overloaded, payload_too_large, unauthorized, ...).\n"
                      "# TYPE attnd_http_rejections_total counter\n");
    for (int k = 0; k <= API_ERR_COUNT; k++) {
        unsigned long long v = atomic_load_explicit(&m.rejections[k], memory_order_relaxed);
        if (v)
            api_buf_printf(out, "attnd_http_rejections_total{reason=\"%s\"} %llu\n",
                           k < API_ERR_COUNT ? api_error_code((api_error_kind)k) : "other", v);
    }

    gauge(out, "attnd_http_requests_in_flight", "HTTP requests being received, computed or sent.",
          (double)srv_metrics_in_flight());
    gauge(out, "attnd_http_connections", "Open HTTP connections.",
          (double)atomic_load_explicit(&m.connections, memory_order_relaxed));
    gauge(out, "attnd_http_body_memory_bytes",
          "Request body bytes reserved now (bounded by --max-body-memory).",
          (double)atomic_load_explicit(&m.body_memory, memory_order_relaxed));
    api_buf_puts(out, "# HELP attnd_http_connections_shed_total Connections attnd closed or "
                      "refused on its own, or requests refused for memory, by reason.\n"
                      "# TYPE attnd_http_connections_shed_total counter\n");
    for (int i = 0; i < SRV_SHED_COUNT; i++)
        api_buf_printf(out, "attnd_http_connections_shed_total{reason=\"%s\"} %llu\n",
                       shed_labels[i], atomic_load_explicit(&m.shed[i], memory_order_relaxed));
    gauge(out, "attnd_queue_depth", "Attention jobs waiting for a worker.",
          (double)at_pool_queued(pool));
    gauge(out, "attnd_queue_capacity", "Jobs that may wait before requests get 503.",
          (double)at_pool_capacity(pool));
    gauge(out, "attnd_workers", "Attention worker threads.", (double)at_pool_threads(pool));
    gauge(out, "attnd_workers_busy", "Attention worker threads running a job.",
          (double)at_pool_running(pool));
    api_buf_printf(out,
                   "# HELP attnd_build_info Build information; the value is always 1.\n"
                   "# TYPE attnd_build_info gauge\n"
                   "attnd_build_info{version=\"%s\",blas=\"%s\",blas_core=\"%s\","
                   "blas_core_reason=\"%s\",cpu_level=\"%s\"} 1\n",
                   m.version, m.blas, m.blas_core, m.blas_core_reason, m.cpu_level);

    srv_process_stats ps;
    srv_process_stats_read(&ps);
    if (ps.cpu_seconds >= 0)
        api_buf_printf(out,
                       "# HELP process_cpu_seconds_total Total user and system CPU time spent in "
                       "seconds.\n# TYPE process_cpu_seconds_total counter\n"
                       "process_cpu_seconds_total %.17g\n",
                       ps.cpu_seconds);
    if (ps.resident_bytes >= 0)
        gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
              ps.resident_bytes);
    if (ps.virtual_bytes >= 0)
        gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
              ps.virtual_bytes);
    if (ps.start_time_seconds >= 0)
        gauge(out, "process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.", ps.start_time_seconds);
    if (ps.open_fds >= 0)
        gauge(out, "process_open_fds", "Number of open file descriptors.", ps.open_fds);
    if (ps.max_fds >= 0)
        gauge(out, "process_max_fds", "Maximum number of open file descriptors.", ps.max_fds);
}
