/* Abuse of the real daemon over raw sockets and libcurl (issue 10, server side): request
 * smuggling with two Content-Lengths, an endless chunked upload, the body-memory budget and a
 * full queue answered at the headers, slowloris and idle floods against the connection cap and
 * the deadlines, SIGTERM under keep-alive load, and /metrics counting a request before its
 * answer leaves. Deadlines are shrunk by flags so that every test takes a few seconds. */
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "harness.h"
#include "raw_client.h"

/* A self-attention request over `rows` rows of width `dm`, weights not returned. */
static char *attention_body(int rows, int dm)
{
    size_t cap = (size_t)rows * dm * 16 + 256;
    char *s = malloc(cap);
    size_t n = (size_t)snprintf(s, cap, "{\"query\": [");
    for (int i = 0; i < rows; i++) {
        n += (size_t)snprintf(s + n, cap - n, "%s[", i ? "," : "");
        for (int k = 0; k < dm; k++)
            n += (size_t)snprintf(s + n, cap - n, "%s%.4f", k ? "," : "", sin(0.11 * i * (k + 1)));
        n += (size_t)snprintf(s + n, cap - n, "]");
    }
    snprintf(s + n, cap - n, "], \"return_weights\": false}");
    return s;
}

static void expect_healthy(const test_daemon *d)
{
    test_response r;
    ASSERT_EQ(test_http(d, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
}

/* Two Content-Lengths that disagree: with the first, "{}" is the body and a GET /healthz
 * follows; with the second, it is all one body. Either way one side of a proxy would see a
 * request the other does not. attnd answers one 400 and closes. */
TEST(http_abuse_duplicate_content_length_400)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    const char *smuggle[] = {
        "POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nContent-Length: 36\r\n\r\n{}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    const char *why[] = {"different values", "both Content-Length and Transfer-Encoding"};
    for (int i = 0; i < 2; i++) {
        int fd = raw_connect(d.port, NULL);
        ASSERT(fd >= 0);
        ASSERT_EQ(raw_send(fd, smuggle[i], 0), 0);
        char buf[8192];
        bool closed;
        raw_read_until_close(fd, buf, sizeof buf, 10000, &closed);
        close(fd);
        ASSERT(closed);
        ASSERT_CONTAINS(buf, "HTTP/1.1 400");
        ASSERT_CONTAINS(buf, "\"bad_request\"");
        ASSERT_CONTAINS(buf, why[i]);
        ASSERT(strstr(strstr(buf, "HTTP/1.1") + 1, "HTTP/1.1") == NULL); /* one answer only */
    }
    /* The same value twice is one length, not ambiguous. */
    int fd = raw_connect(d.port, NULL);
    ASSERT(fd >= 0);
    ASSERT_EQ(
        raw_send(fd,
                 "POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 17\r\nContent-Length: 17\r\nConnection: close\r\n\r\n"
                 "{\"query\":[[1.0]]}",
                 0),
        0);
    char buf[8192];
    raw_read_until_close(fd, buf, sizeof buf, 10000, NULL);
    close(fd);
    ASSERT_CONTAINS(buf, "HTTP/1.1 200");
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* A chunked upload that never ends is answered 413 as soon as it passes --max-body-bytes, and
 * the connection closed: the client cannot make attnd read on. */
TEST(http_abuse_endless_chunked_upload_413)
{
    const char *args[] = {"--max-body-bytes", "65536", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    int fd = raw_connect(d.port, NULL);
    ASSERT(fd >= 0);
    int small = 65536; /* bounds what the socket buffers can hide */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ASSERT_EQ(
        raw_send(fd,
                 "POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 0),
        0);
    char chunk[16384 + 16];
    int head = snprintf(chunk, sizeof chunk, "4000\r\n");
    memset(chunk + head, ' ', 16384);
    memcpy(chunk + head + 16384, "\r\n", 2);
    size_t sent = 0, cap = (size_t)64 << 20;
    while (sent < cap && !raw_readable(fd, 0)) {
        if (raw_send(fd, chunk, (size_t)head + 16384 + 2) != 0) break;
        sent += 16384;
    }
    char buf[8192];
    raw_read_until_close(fd, buf, sizeof buf, 10000, NULL);
    close(fd);
    ASSERT_CONTAINS(buf, "HTTP/1.1 413");
    ASSERT_CONTAINS(buf, "\"payload_too_large\"");
    ASSERT_CONTAINS(buf, "--max-body-bytes");
    if (sent >= (size_t)8 << 20)
        harness_fail(__FILE__, __LINE__, "sent %zu bytes before the 413 (limit 65536)", sent);
    expect_healthy(&d);
    ASSERT(test_metric(&d, "attnd_http_connections_shed_total{reason=\"body_too_large\"}") >= 1);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* --max-body-memory 2.25 MiB: two connections hold 1 MiB bodies half-sent; a third that
 * declares 1 MiB and waits for "100 Continue" is answered 503 + Retry-After at its headers,
 * one that sends its body at once gets the 503 after it (nothing buffered), while a small
 * request still fits in the budget's small-body reserve (1/16 of it). Once the
 * two go away, the budget is back. */
TEST(http_abuse_body_memory_503_at_headers)
{
    const char *args[] = {"--max-body-bytes", "1048576", "--max-body-memory", "2359296", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    const char *head =
        "POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 1048576\r\n\r\n";
    int hold[2];
    for (int i = 0; i < 2; i++) {
        hold[i] = raw_connect(d.port, NULL);
        ASSERT(hold[i] >= 0);
        ASSERT_EQ(raw_send(hold[i], head, 0), 0);
        ASSERT_EQ(raw_send(hold[i], "{\"query\": [[1", 0), 0);
    }
    /* Both are admitted once the gauge shows their 2 MiB reserved. */
    double reserved = 0;
    for (int i = 0; i < 500 && reserved < 2097152; i++) {
        reserved = test_metric(&d, "attnd_http_body_memory_bytes");
        if (reserved < 2097152) usleep(10000);
    }
    ASSERT_EQ((long long)reserved, 2097152);
    /* A client that waits for "100 Continue" gets the 503 at its headers. */
    int fd = raw_connect(d.port, NULL);
    ASSERT(fd >= 0);
    ASSERT_EQ(
        raw_send(fd,
                 "POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Expect: 100-continue\r\nContent-Length: 1048576\r\n\r\n",
                 0),
        0);
    char buf[8192];
    bool closed;
    raw_read_until_close(fd, buf, sizeof buf, 10000, &closed);
    close(fd);
    ASSERT_CONTAINS(buf, "HTTP/1.1 503");
    ASSERT_CONTAINS(buf, "Retry-After: 1");
    ASSERT(strstr(strstr(buf, "Retry-After") + 1, "Retry-After") == NULL); /* just once */
    ASSERT_CONTAINS(buf, "--max-body-memory");
    ASSERT(closed);
    /* One that sends its body straight away gets the 503 once the body is read (and dropped,
     * not buffered): answered under its upload, it would lose the answer to a reset. The
     * connection stays open for its next request. */
    fd = raw_connect(d.port, NULL);
    ASSERT(fd >= 0);
    ASSERT_EQ(
        raw_send(fd,
                 "POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 600000\r\n\r\n",
                 0),
        0);
    char *half = malloc(300000);
    ASSERT(half);
    memset(half, ' ', 300000);
    ASSERT_EQ(raw_send(fd, half, 300000), 0);
    ASSERT(!raw_readable(fd, 200)); /* no answer while the body is still arriving */
    ASSERT_EQ(raw_send(fd, half, 300000), 0);
    free(half);
    ASSERT(raw_readable(fd, 10000));
    ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
    ASSERT(got > 0);
    buf[got] = '\0';
    ASSERT_CONTAINS(buf, "HTTP/1.1 503");
    ASSERT_CONTAINS(buf, "Retry-After: 1");
    ASSERT(!strstr(buf, "Connection: close"));
    close(fd);
    ASSERT(test_metric(&d, "attnd_http_connections_shed_total{reason=\"body_memory\"}") >= 1);
    test_response small;
    ASSERT_EQ(test_post_json(&d, "/v1/attention", "{\"query\": [[1.0]]}", &small), 0);
    ASSERT_EQ(small.status, 200);
    test_response_free(&small);
    for (int i = 0; i < 2; i++)
        close(hold[i]);
    for (int i = 0; i < 500 && reserved > 0; i++) {
        reserved = test_metric(&d, "attnd_http_body_memory_bytes");
        if (reserved > 0) usleep(10000);
    }
    ASSERT_EQ((long long)reserved, 0);
    test_response r;
    ASSERT_EQ(test_post_json(&d, "/v1/attention", "{\"query\": [[1.0]]}", &r), 0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

typedef struct heavy {
    const test_daemon *d;
    const char *body;
    long status;
    int done;
} heavy;

static void *post_heavy(void *p)
{
    heavy *h = p;
    test_response r;
    if (test_post_json(h->d, "/v1/attention", h->body, &r) == 0) h->status = r.status;
    test_response_free(&r);
    __atomic_store_n(&h->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Sends a POST's headers (Content-Length 100000, waiting for "100 Continue") and never its
 * body; returns whether a 503 with Retry-After came back within `ms`. */
static int refused_at_headers(const test_daemon *d, int ms)
{
    int fd = raw_connect(d->port, NULL);
    if (fd < 0) return 0;
    int got = 0;
    if (raw_send(fd,
                 "POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n",
                 0) == 0 &&
        raw_readable(fd, ms)) {
        /* Admitted, the request gets "100 Continue" at once: not refused, next probe. */
        char buf[4096];
        ssize_t n = recv(fd, buf, 12, MSG_PEEK);
        if (n == 12 && strncmp(buf, "HTTP/1.1 503", 12) == 0) {
            raw_read_until_close(fd, buf, sizeof buf, 2000, NULL);
            got = strstr(buf, "Retry-After: 1") && strstr(buf, "\"overloaded\"");
        }
    }
    close(fd);
    return got;
}

/* With the one worker busy and the one queue slot taken, a request is refused 503 at its
 * headers: its body is never sent, and the answer comes anyway (it used to wait for the body,
 * decode it, and only then find the queue full). Jobs last milliseconds on a fast machine, so
 * probes are sent while three jobs run, round after round, until one lands in a full queue. */
TEST(http_abuse_queue_full_503_at_headers)
{
    const char *args[] = {"--threads", "1", "--queue-depth", "1", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    char *body = attention_body(8192, 16);
    int refused = 0;
    for (int round = 0; round < 50 && !refused; round++) {
        enum { N = 3 };
        heavy h[N];
        pthread_t t[N];
        for (int i = 0; i < N; i++) {
            h[i] = (heavy){&d, body, 0, 0};
            pthread_create(&t[i], NULL, post_heavy, &h[i]);
        }
        for (;;) {
            int running = 0;
            for (int i = 0; i < N; i++)
                running += !__atomic_load_n(&h[i].done, __ATOMIC_ACQUIRE);
            if (!running || refused) break;
            refused = refused_at_headers(&d, 50);
        }
        for (int i = 0; i < N; i++) {
            pthread_join(t[i], NULL);
            ASSERT(h[i].status == 200 || h[i].status == 503);
        }
    }
    free(body);
    ASSERT(refused);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* Slowloris: a header line every 100 ms would restart an idle timeout forever; the header
 * block's deadline does not move, and the client gets a 408. A connection that sends nothing
 * at all is closed at the same deadline. */
TEST(http_abuse_header_deadline_408)
{
    const char *args[] = {"--header-timeout", "1", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    int fd = raw_connect(d.port, NULL);
    int quiet = raw_connect(d.port, NULL);
    ASSERT(fd >= 0 && quiet >= 0);
    double t0 = raw_now();
    ASSERT_EQ(raw_send(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 0), 0);
    while (raw_now() - t0 < 15 && !raw_readable(fd, 100))
        if (raw_send(fd, "X-Slow: 1\r\n", 0) != 0) break;
    double took = raw_now() - t0;
    char buf[4096];
    bool closed;
    raw_read_until_close(fd, buf, sizeof buf, 5000, &closed);
    close(fd);
    ASSERT_CONTAINS(buf, "HTTP/1.1 408");
    ASSERT_CONTAINS(buf, "\"request_timeout\"");
    ASSERT_CONTAINS(buf, "--header-timeout");
    ASSERT(closed);
    ASSERT(took >= 0.9);
    if (took > 10) harness_fail(__FILE__, __LINE__, "closed after %.1f s (deadline 1 s)", took);
    raw_read_until_close(quiet, buf, sizeof buf, 10000, &closed);
    ASSERT(closed);
    ASSERT_EQ(strlen(buf), 0);
    close(quiet);
    expect_healthy(&d);
    ASSERT(test_metric(&d, "attnd_http_connections_shed_total{reason=\"header_timeout\"}") >= 2);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* --min-body-rate 1000 over 1 s windows: a body trickled at 50 bytes/s gets a 408, and so
 * does one that sent 60 KB at once and then trickles (an average since the start would let it
 * stall for a minute). */
TEST(http_abuse_min_body_rate_408)
{
    const char *args[] = {"--header-timeout", "1", "--min-body-rate", "1000", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    static char burst[60000];
    memset(burst, ' ', sizeof burst);
    for (int c = 0; c < 2; c++) {
        int fd = raw_connect(d.port, NULL);
        ASSERT(fd >= 0);
        double t0 = raw_now();
        ASSERT_EQ(raw_send(fd,
                           "POST /v1/attention HTTP/1.1\r\nHost: x\r\n"
                           "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
                           0),
                  0);
        if (c == 1) ASSERT_EQ(raw_send(fd, burst, sizeof burst), 0);
        while (raw_now() - t0 < 15 && !raw_readable(fd, 200))
            if (raw_send(fd, "          ", 10) != 0) break;
        double took = raw_now() - t0;
        char buf[4096];
        raw_read_until_close(fd, buf, sizeof buf, 5000, NULL);
        close(fd);
        ASSERT_CONTAINS(buf, "HTTP/1.1 408");
        ASSERT_CONTAINS(buf, "--min-body-rate");
        if (took > 10)
            harness_fail(__FILE__, __LINE__, "closed after %.1f s (deadline ~2 s)", took);
    }
    ASSERT(test_metric(&d, "attnd_http_connections_shed_total{reason=\"body_rate\"}") >= 2);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* An idle flood and a slowloris above --max-connections: each new connection closes the one
 * idle the longest, so a normal client is answered at once, and attnd never holds more than
 * the cap (plus the few being closed). The attackers come from 127.0.0.2. */
TEST(http_abuse_connection_cap_serves_normal_client)
{
    const char *args[] = {"--max-connections",
                          "16",
                          "--max-connections-per-ip",
                          "0",
                          "--header-timeout",
                          "60",
                          "--idle-timeout",
                          "60",
                          NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    enum { N = 48 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect(d.port, "127.0.0.2");
        ASSERT(fds[i] >= 0);
        /* Half idle, half a slowloris header block in progress. */
        if (i % 2) ASSERT_EQ(raw_send(fds[i], "GET /healthz HTTP/1.1\r\nX-Slow: 1\r\n", 0), 0);
    }
    double t0 = raw_now();
    expect_healthy(&d);
    double took = raw_now() - t0;
    if (took > 5) harness_fail(__FILE__, __LINE__, "normal client waited %.1f s", took);
    /* Evicted connections are freed once libmicrohttpd notices their shutdown; then at most
     * the cap remain (the scrape's own connection among them). */
    double open = test_metric(&d, "attnd_http_connections");
    for (int i = 0; i < 500 && open > 16; i++) {
        usleep(10000);
        open = test_metric(&d, "attnd_http_connections");
    }
    if (open > 16) harness_fail(__FILE__, __LINE__, "%.0f connections open (cap 16)", open);
    ASSERT(test_metric(&d, "attnd_http_connections_shed_total{reason=\"evicted\"}") >= N - 16);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* --max-connections-per-ip: the fifth connection from 127.0.0.2 is closed at once; 127.0.0.1
 * is still served. */
TEST(http_abuse_per_ip_cap)
{
    const char *args[] = {"--max-connections-per-ip", "4", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    int fds[5];
    for (int i = 0; i < 5; i++) {
        fds[i] = raw_connect(d.port, "127.0.0.2");
        ASSERT(fds[i] >= 0);
    }
    char buf[256];
    bool closed;
    raw_read_until_close(fds[4], buf, sizeof buf, 5000, &closed);
    ASSERT(closed);
    ASSERT(!raw_readable(fds[0], 0)); /* the first four stay open */
    expect_healthy(&d);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* ---- shutdown under keep-alive load ---- */

typedef struct keepalive_client {
    const test_daemon *d;
    const char *body;
    int stop;
    int answered, bad, ended;
} keepalive_client;

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

/* Posts small requests on one keep-alive connection until an error (the daemon went away). */
static void *keepalive_loop(void *p)
{
    keepalive_client *k = p;
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/attention", k->d->port);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, k->body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    while (!__atomic_load_n(&k->stop, __ATOMIC_RELAXED)) {
        if (curl_easy_perform(c) != CURLE_OK) break;
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status == 200 || status == 503)
            __atomic_add_fetch(&k->answered, 1, __ATOMIC_RELAXED);
        else
            k->bad++;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    __atomic_store_n(&k->ended, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* One connection that pipelines small requests back to back: the next request is already in
 * attnd's buffer when the previous one completes, so it is read and suspended microseconds
 * after the in-flight count touched 0, which is when the old shutdown called MHD_stop_daemon. */
typedef struct pipeliner {
    int fd;
    int answered, bad;
} pipeliner;

static void *pipeline_writer(void *p)
{
    pipeliner *pl = p;
    static const char req[] = "POST /v1/attention HTTP/1.1\r\nHost: x\r\n"
                              "Content-Type: application/json\r\nContent-Length: 17\r\n\r\n"
                              "{\"query\":[[1.0]]}";
    char batch[sizeof req * 64];
    size_t n = 0;
    for (int i = 0; i < 64; i++, n += sizeof req - 1)
        memcpy(batch + n, req, sizeof req - 1);
    for (int i = 0; i < 400; i++) /* 25,600 requests at most */
        if (raw_send(pl->fd, batch, n) != 0) break;
    return NULL;
}

static void *pipeline_reader(void *p)
{
    pipeliner *pl = p;
    char buf[65536 + 16];
    size_t carry = 0;
    for (;;) {
        ssize_t r = recv(pl->fd, buf + carry, sizeof buf - 1 - carry, 0);
        if (r <= 0) break;
        size_t len = carry + (size_t)r;
        buf[len] = '\0';
        const char *q = buf;
        while ((q = strstr(q, "HTTP/1.1 ")) && q + 12 <= buf + len) {
            if (strncmp(q + 9, "200", 3) == 0 || strncmp(q + 9, "503", 3) == 0)
                __atomic_add_fetch(&pl->answered, 1, __ATOMIC_RELAXED);
            else
                pl->bad++;
            q += 12;
        }
        /* A status line split across reads: keep 11 bytes, less than a whole one, so that
         * none is counted twice. */
        carry = len < 11 ? len : 11;
        memmove(buf, buf + len - carry, carry);
    }
    return NULL;
}

/* SIGTERM under keep-alive load: a pipelining connection and two curl clients, each sending
 * request after request on one connection. attnd stops accepting, closes each connection
 * after its current request, and exits 0; it used to abort (exit 134: MHD_stop_daemon met a
 * connection suspended after the in-flight count had read 0) in most rounds. */
TEST(http_abuse_sigterm_under_keepalive)
{
    char *body = attention_body(512, 8);
    for (int round = 0; round < 5; round++) {
        const char *args[] = {"--threads", "2", NULL};
        test_daemon d;
        ASSERT_EQ(test_daemon_start(&d, args), 0);
        pipeliner pl = {raw_connect(d.port, NULL), 0, 0};
        ASSERT(pl.fd >= 0);
        pthread_t pw, pr;
        pthread_create(&pw, NULL, pipeline_writer, &pl);
        pthread_create(&pr, NULL, pipeline_reader, &pl);
        enum { N = 2 };
        keepalive_client k[N];
        pthread_t t[N];
        for (int i = 0; i < N; i++) {
            k[i] = (keepalive_client){&d, body, 0, 0, 0, 0};
            pthread_create(&t[i], NULL, keepalive_loop, &k[i]);
        }
        for (int i = 0; i < N; i++) /* each client is in its loop */
            while (__atomic_load_n(&k[i].answered, __ATOMIC_RELAXED) < 5 &&
                   !__atomic_load_n(&k[i].ended, __ATOMIC_ACQUIRE))
                usleep(1000);
        while (__atomic_load_n(&pl.answered, __ATOMIC_RELAXED) < 20)
            usleep(1000);
        ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
        for (int i = 0; i < N; i++) {
            __atomic_store_n(&k[i].stop, 1, __ATOMIC_RELAXED);
            pthread_join(t[i], NULL);
            ASSERT_EQ(k[i].bad, 0);
        }
        shutdown(pl.fd, SHUT_RDWR);
        pthread_join(pw, NULL);
        pthread_join(pr, NULL);
        close(pl.fd);
        ASSERT_EQ(pl.bad, 0);
    }
    free(body);
}

/* A drain that times out abandons requests, and the exit status says so: here a request whose
 * body is half-sent when SIGTERM comes, with --shutdown-timeout 0. */
TEST(http_abuse_drain_timeout_exits_nonzero)
{
    const char *args[] = {"--shutdown-timeout", "0", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    int fd = raw_connect(d.port, NULL);
    ASSERT(fd >= 0);
    ASSERT_EQ(
        raw_send(fd,
                 "POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 1000\r\n\r\n{\"query\": ",
                 0),
        0);
    /* In flight: it and the scrape that sees it. (A scrape's own count drops only after its
     * client has the answer, so the next scrape may still see it: wait for exactly 2.) */
    double in_flight = 0;
    for (int i = 0; i < 1000; i++) {
        in_flight = test_metric(&d, "attnd_http_requests_in_flight");
        if (in_flight == 2) break;
        usleep(5000);
    }
    ASSERT_EQ(in_flight, 2);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 1);
    close(fd);
    char *log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "msg=drain_timeout");
    free(log);
}

/* The answer is counted before it leaves: a scrape right after any answer finds it. */
TEST(http_abuse_metrics_count_before_answer)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    for (int i = 1; i <= 200; i++) {
        test_response r;
        ASSERT_EQ(test_http(&d, "GET", "/healthz", NULL, NULL, 0, &r), 0);
        test_response_free(&r);
        double seen = test_metric(&d, "attnd_http_requests_total{route=\"/healthz\",code=\"200\"}");
        if (seen != i)
            harness_fail(__FILE__, __LINE__, "after %d answers /metrics counts %g", i, seen);
    }
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* The limit flags are listed by --help and checked like every other option. */
TEST(http_abuse_limit_flags)
{
    char out[16384];
    ASSERT_EQ(test_run_attnd(NULL, "--help", out, sizeof out), 0);
    const char *flags[] = {"--max-body-memory", "ATTND_MAX_BODY_MEMORY",
                           "--max-connections", "--max-connections-per-ip",
                           "--header-timeout",  "--min-body-rate",
                           "--idle-timeout"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        ASSERT_CONTAINS(out, flags[i]);
    ASSERT_EQ(test_run_attnd(NULL, "--max-body-bytes 2048 --max-body-memory 1024", out, sizeof out),
              2);
    ASSERT_CONTAINS(out, "--max-body-memory (1024) must be at least --max-body-bytes (2048)");
    ASSERT_EQ(test_run_attnd("ATTND_HEADER_TIMEOUT=soon", "--version", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "ATTND_HEADER_TIMEOUT");
    ASSERT_EQ(test_run_attnd(NULL, "--max-connections 0", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--max-connections");
}
