/* Issue 10, compute: against the real daemon, a small body cannot buy minutes of both cores.
 * The cost model refuses work above --max-request-flops before anything is allocated; a
 * deadline (--request-timeout, the request's "timeout") answers 504; a client that hangs up
 * frees its worker; and a tiny request is served while a big one runs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "harness.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* {"query": [[v], [v], ...] (n rows of d = 1), "return_weights": false<extra>}: n queries
 * attending to themselves, about 4 bytes a row. */
static char *long_request(int n, const char *extra)
{
    size_t cap = (size_t)n * 4 + 256 + (extra ? strlen(extra) : 0);
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t len = (size_t)snprintf(s, cap, "{\"query\": [");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s[%d]", i ? "," : "", i % 2);
    snprintf(s + len, cap - len, "], \"return_weights\": false%s}", extra ? extra : "");
    return s;
}

TEST(http_compute_flops_limit_413)
{
    const char *args[] = {"--threads", "2", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    /* Issue 10's reproducer: 100k queries over 100k keys without weights, which held both
     * workers for 6.8 s, is refused at once, naming its cost and the limit. */
    char *body = long_request(100000, NULL);
    ASSERT(strlen(body) < 450000);
    test_response r;
    double t0 = now();
    ASSERT_EQ(test_post_json(&d, "/v1/attention", body, &r), 0);
    double secs = now() - t0;
    ASSERT_EQ(r.status, 413);
    ASSERT_CONTAINS(r.body, "\"limit_exceeded\"");
    ASSERT_CONTAINS(r.body, "about 2.4e+11 floating-point operations");
    ASSERT_CONTAINS(r.body, "limit of 1e+11 per request (--max-request-flops)");
    ASSERT(secs < 3.0); /* decoding 400 KB, not computing 10^10 scores */
    test_response_free(&r);
    free(body);
    /* The same for a model: 20k tokens of text to the default model took 3.6 s. */
    size_t cap = 20000 * 2 + 64;
    char *text = malloc(cap);
    size_t len = (size_t)snprintf(text, cap, "{\"text\": \"");
    for (int i = 0; i < 20000; i++)
        text[len++] = (char)('a' + i % 26), text[len++] = ' ';
    snprintf(text + len, cap - len, "\", \"return_weights\": false}");
    ASSERT_EQ(test_post_json(&d, "/v1/models/default/attention", text, &r), 0);
    ASSERT_EQ(r.status, 413);
    ASSERT_CONTAINS(r.body, "floating-point operations");
    ASSERT_CONTAINS(r.body, "--max-request-flops");
    test_response_free(&r);
    free(text);
    /* Still serving. */
    ASSERT_EQ(test_post_json(&d, "/v1/attention", "{\"query\": [[1]]}", &r), 0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);

    /* The flag sets the limit: 8 queries of d = 2 attending to themselves take 64 * 28 = 1792
     * FLOPs by the cost model, so 1791 refuses them and 1792 does not. */
    const char *q8 = "{\"query\": [[1,0],[0,1],[1,1],[0,0],[1,0],[0,1],[1,1],[0,0]]}";
    const char *tight[] = {"--max-request-flops", "1791", NULL};
    ASSERT_EQ(test_daemon_start(&d, tight), 0);
    ASSERT_EQ(test_post_json(&d, "/v1/attention", q8, &r), 0);
    ASSERT_EQ(r.status, 413);
    ASSERT_CONTAINS(r.body, "about 1.79e+03 floating-point operations");
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
    const char *enough[] = {"--max-request-flops", "1792", NULL};
    ASSERT_EQ(test_daemon_start(&d, enough), 0);
    ASSERT_EQ(test_post_json(&d, "/v1/attention", q8, &r), 0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* The value of the gauge `name` in /metrics, or -1. */
static double gauge(const test_daemon *d, const char *name)
{
    test_response r;
    double v = -1;
    if (test_http(d, "GET", "/metrics", NULL, NULL, 0, &r) != 0) return -1;
    size_t n = strlen(name);
    for (const char *p = r.body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ') {
            v = strtod(p + n + 1, NULL);
            break;
        }
    test_response_free(&r);
    return v;
}

/* Waits (polling /metrics, at most `secs`) until attnd_workers_busy is `want`; returns whether
 * it got there. */
static int wait_busy(const test_daemon *d, double want, double secs)
{
    double end = now() + secs;
    while (now() < end) {
        if (gauge(d, "attnd_workers_busy") == want) return 1;
        usleep(5000);
    }
    return 0;
}

/* A connected socket that has sent POST /v1/attention with `body`, or -1. */
static int send_raw(const test_daemon *d, const char *body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
    char head[256];
    int n = snprintf(head, sizeof head,
                     "POST /v1/attention HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\n\r\n",
                     strlen(body));
    if (write(fd, head, (size_t)n) != n) return -1;
    for (size_t off = 0, len = strlen(body); off < len;) {
        ssize_t w = write(fd, body + off, len - off);
        if (w <= 0) return -1;
        off += (size_t)w;
    }
    return fd;
}

/* 60k queries of d = 1 over themselves: 8.6e10 FLOPs, under the default limit, and seconds of
 * work for both cores (about 8 s on the 2-core machine the issue was measured on). */
#define LONG_ROWS 60000

TEST(http_compute_deadline_504)
{
    const char *args[] = {"--threads", "2", "--request-timeout", "0.5", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    char *body = long_request(LONG_ROWS, NULL);
    test_response r;
    double t0 = now();
    ASSERT_EQ(test_post_json(&d, "/v1/attention", body, &r), 0);
    double secs = now() - t0;
    ASSERT_EQ(r.status, 504);
    ASSERT_CONTAINS(r.body, "\"code\":\"timeout\"");
    ASSERT_CONTAINS(r.body, "deadline of 0.5 s");
    ASSERT(secs < 3.0);
    test_response_free(&r);
    free(body);
    /* A request that fits its deadline is answered as usual. */
    ASSERT_EQ(test_post_json(&d, "/v1/attention", "{\"query\": [[1]]}", &r), 0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);

    /* The request's own "timeout", shorter than the server's 30 s, on both endpoints. */
    const char *dflt[] = {"--threads", "2", NULL};
    ASSERT_EQ(test_daemon_start(&d, dflt), 0);
    body = long_request(LONG_ROWS, ", \"timeout\": 0.25");
    t0 = now();
    ASSERT_EQ(test_post_json(&d, "/v1/attention", body, &r), 0);
    secs = now() - t0;
    ASSERT_EQ(r.status, 504);
    ASSERT_CONTAINS(r.body, "deadline of 0.25 s");
    ASSERT(secs < 3.0);
    test_response_free(&r);
    free(body);
    ASSERT_EQ(test_post_json(&d, "/v1/models/default/attention",
                             "{\"text\": \"a small request\", \"timeout\": 10}", &r),
              0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    /* Bad values are the client's to fix. */
    ASSERT_EQ(test_post_json(&d, "/v1/attention", "{\"query\": [[1]], \"timeout\": 0}", &r), 0);
    ASSERT_EQ(r.status, 400);
    ASSERT_CONTAINS(r.body, "\"field\":\"timeout\"");
    ASSERT_CONTAINS(r.body, "expected seconds > 0");
    test_response_free(&r);
    ASSERT_EQ(test_post_json(&d, "/v1/attention", "{\"query\": [[1]], \"timeout\": \"1s\"}", &r),
              0);
    ASSERT_EQ(r.status, 400);
    ASSERT_CONTAINS(r.body, "\"invalid_type\"");
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(http_compute_client_gone_frees_worker)
{
    const char *args[] = {"--threads", "2", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    char *body = long_request(LONG_ROWS, NULL);
    int fd = send_raw(&d, body);
    ASSERT(fd >= 0);
    ASSERT(wait_busy(&d, 1, 30.0)); /* the job runs */
    double t0 = now();
    close(fd);
    /* The worker stops within a tile or two, not when the 8 s of work would have ended. */
    ASSERT(wait_busy(&d, 0, 20.0));
    double freed = now() - t0;
    fprintf(stderr, "    worker free %.0f ms after the client closed\n", freed * 1e3);
    ASSERT(freed < 2.0);
    free(body);
    /* Logged as 499, and the daemon serves on. */
    test_response r;
    ASSERT_EQ(test_post_json(&d, "/v1/attention", "{\"query\": [[1]]}", &r), 0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    char *log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "status=499");
    free(log);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

TEST(http_compute_tiny_request_not_stuck_behind_big_one)
{
    const char *args[] = {"--threads", "2", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    char *body = long_request(LONG_ROWS, NULL);
    int fd = send_raw(&d, body);
    ASSERT(fd >= 0);
    ASSERT(wait_busy(&d, 1, 30.0)); /* the big job holds both workers */
    enum { N = 40 };
    double lat[N];
    for (int i = 0; i < N; i++) {
        test_response r;
        double t0 = now();
        ASSERT_EQ(test_post_json(&d, "/v1/attention", "{\"query\": [[1, 2], [3, 4]]}", &r), 0);
        lat[i] = now() - t0;
        ASSERT_EQ(r.status, 200);
        test_response_free(&r);
    }
    /* Every tiny request was answered while the big one was still running... */
    ASSERT(gauge(&d, "attnd_workers_busy") >= 1);
    close(fd); /* ...which is then cancelled, so the test does not wait for it */
    ASSERT(wait_busy(&d, 0, 20.0));
    qsort(lat, N, sizeof lat[0], cmp_double);
    double p50 = lat[N / 2], p99 = lat[N - 1];
    fprintf(stderr, "    tiny requests during a big one: p50 %.1f ms, p99 %.1f ms\n", p50 * 1e3,
            p99 * 1e3);
    /* ...each within a few of the big job's items (tens of ms here), far from its seconds. */
    ASSERT(p99 < 1.0);
    free(body);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}
