/* The operational features against the real daemon through libcurl: API keys (401, open routes,
 * --metrics-auth, reload on SIGHUP over a kept-alive connection), CORS, X-Request-Id, the
 * operator metrics, HTTPS with a certificate made here by openssl, and model reload on SIGHUP. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "harness.h"
#include "model_support.h"

static const char ATTENTION_BODY[] = "{\"query\": [[1.0]], \"key\": [[1.6094379], [1.0986123], "
                                     "[0.6931472]], \"value\": [[1,0,0],[0,1,0],[0,0,1]], "
                                     "\"score\": \"dot\"}";

/* One request on handle c, to
 * scheme://127.0.0.1:port/path with the NULL-terminated extra headers; cainfo (NULL: none) is
 * the certificate HTTPS is verified against. Fills *out like test_http; *new_connections (NULL:
 * not asked) is how many connections this request opened. Returns the curl code. */
static int ops_request(CURL *c, const char *scheme, int port, const char *method, const char *path,
                       const char *const *headers, const char *body, const char *cainfo,
                       test_response *out, long *new_connections)
{
    memset(out, 0, sizeof *out);
    char url[512];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", scheme, port, path);
    test_growbuf b = {0}, h = {0};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
    for (int i = 0; headers && headers[i]; i++)
        hdrs = curl_slist_append(hdrs, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, test_curl_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, test_curl_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") ? method : NULL);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    if (cainfo) curl_easy_setopt(c, CURLOPT_CAINFO, cainfo);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    if (new_connections) curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, new_connections);
    out->body = b.p ? b.p : strdup("");
    out->len = b.n;
    out->headers = h.p ? h.p : strdup("");
    curl_slist_free_all(hdrs);
    return (int)rc;
}

/* GET/POST over plain HTTP on a fresh handle. */
static long req(const test_daemon *d, const char *method, const char *path,
                const char *const *headers, const char *body, test_response *out)
{
    CURL *c = curl_easy_init();
    ASSERT(c != NULL);
    int rc = ops_request(c, "http", d->port, method, path, headers, body, NULL, out, NULL);
    curl_easy_cleanup(c);
    if (rc != 0) harness_fail(__FILE__, __LINE__, "%s %s: curl error %d", method, path, rc);
    return out->status;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    ASSERT(fputs(text, f) >= 0);
    ASSERT_EQ(fclose(f), 0);
}

/* A plain TCP connection to the daemon, for requests sent in pieces. */
static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Reads until the server closes (attnd answers with Connection: close) or cap is full. */
static void raw_read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
}

static void settled_metrics(const test_daemon *d, const char *const *headers, test_response *r);

/* Waits until the daemon has read the headers of a request sent in pieces: it then counts it
 * in flight, besides the metrics request that asks. Call settled_metrics before sending it, so
 * that no earlier request is still being counted out. */
static void wait_headers_in(const test_daemon *d)
{
    const char *none[] = {NULL};
    for (int tries = 0;; tries++) {
        ASSERT(tries < 3000);
        test_response r;
        req(d, "GET", "/metrics", none, NULL, &r);
        double inflight = test_metric_value(r.body, "attnd_http_requests_in_flight");
        test_response_free(&r);
        if (inflight >= 2) return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* GET /metrics once every earlier request is fully counted: a client has its response before
 * the daemon's completion callback counts it, so ask until only this request is in flight. */
static void settled_metrics(const test_daemon *d, const char *const *headers, test_response *r)
{
    for (int tries = 0;; tries++) {
        ASSERT(tries < 3000);
        ASSERT_EQ(req(d, "GET", "/metrics", headers, NULL, r), 200);
        if (test_metric_value(r->body, "attnd_http_requests_in_flight") == 1) return;
        test_response_free(r);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void expect_401(const test_response *r)
{
    ASSERT_EQ(r->status, 401);
    ASSERT_CONTAINS(r->headers, "WWW-Authenticate: Bearer");
    ASSERT_CONTAINS(r->headers, "Content-Type: application/json");
    cJSON *j = cJSON_Parse(r->body);
    ASSERT(j != NULL);
    cJSON *e = cJSON_GetObjectItem(j, "error");
    ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(e, "code")), "unauthorized");
    ASSERT_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(e, "message")),
                    "needs an API key: send Authorization: Bearer KEY or X-Api-Key: KEY");
    cJSON_Delete(j);
}

TEST(http_ops_api_keys)
{
    char dir[256], keys[512];
    mt_tmpdir(dir, sizeof dir);
    snprintf(keys, sizeof keys, "%s/keys", dir);
    write_text(keys, "# team keys\nk-first-0001\n\nk-second-0002\n");
    test_daemon d;
    const char *args[] = {"--api-key-file", keys, NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    test_response r;

    const char *none[] = {NULL}, *wrong[] = {"Authorization: Bearer k-guess-9999", NULL},
               *almost[] = {"X-Api-Key: k-first-000", NULL};
    req(&d, "GET", "/v1/models", none, NULL, &r);
    expect_401(&r);
    ASSERT(!strstr(r.body, "k-first") && !strstr(r.body, "k-second"));
    test_response_free(&r);
    req(&d, "GET", "/v1/models", wrong, NULL, &r);
    expect_401(&r);
    test_response_free(&r);
    req(&d, "POST", "/v1/attention", almost, ATTENTION_BODY, &r);
    expect_401(&r);
    test_response_free(&r);
    req(&d, "GET", "/no/such/route", none, NULL, &r); /* no key, no route list either */
    expect_401(&r);
    test_response_free(&r);

    const char *bearer[] = {"Authorization: Bearer k-first-0001", NULL},
               *xkey[] = {"X-Api-Key: k-second-0002", "Content-Type: application/json", NULL};
    ASSERT_EQ(req(&d, "GET", "/v1/models", bearer, NULL, &r), 200);
    test_response_free(&r);
    ASSERT_EQ(req(&d, "POST", "/v1/attention", xkey, ATTENTION_BODY, &r), 200);
    ASSERT_CONTAINS(r.body, "\"weights\"");
    test_response_free(&r);
    /* The probes and, by default, /metrics need no key. */
    ASSERT_EQ(req(&d, "GET", "/healthz", none, NULL, &r), 200);
    test_response_free(&r);
    ASSERT_EQ(req(&d, "GET", "/readyz", none, NULL, &r), 200);
    test_response_free(&r);
    /* Nor do the explorer page, its script and the API description: the page asks the user
     * for the key and sends it with its API calls. */
    ASSERT_EQ(req(&d, "GET", "/", none, NULL, &r), 200);
    test_response_free(&r);
    ASSERT_EQ(req(&d, "GET", "/ui/app.js", none, NULL, &r), 200);
    test_response_free(&r);
    ASSERT_EQ(req(&d, "GET", "/openapi.json", none, NULL, &r), 200);
    test_response_free(&r);
    settled_metrics(&d, none, &r);
    ASSERT_EQ(test_metric_value(r.body, "attnd_auth_failures_total{route=\"/v1/models\"}"), 2);
    ASSERT_EQ(test_metric_value(r.body, "attnd_auth_failures_total{route=\"/v1/attention\"}"), 1);
    ASSERT_EQ(test_metric_value(r.body, "attnd_auth_failures_total{route=\"unmatched\"}"), 1);
    ASSERT_EQ(test_metric_value(r.body, "attnd_http_rejections_total{reason=\"unauthorized\"}"), 4);
    test_response_free(&r);

    /* SIGHUP re-reads the file. A request whose body is still arriving meanwhile is not
     * dropped: it was let in with the keys of its headers' time and finishes. */
    settled_metrics(&d, none, &r);
    test_response_free(&r);
    int fd = raw_connect(d.port);
    char head[512];
    size_t half = strlen(ATTENTION_BODY) / 2;
    int hn = snprintf(head, sizeof head,
                      "POST /v1/attention HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                      "Authorization: Bearer "
                      "k-first-0001\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "\r\n%.*s",
                      strlen(ATTENTION_BODY), (int)half, ATTENTION_BODY);
    ASSERT_EQ(write(fd, head, (size_t)hn), hn);
    /* Only once the headers are in is the key checked, so only then may the file change. */
    wait_headers_in(&d);
    write_text(keys, "k-third-0003\n");
    kill(d.pid, SIGHUP);
    test_wait_log(&d, "msg=api_keys_reloaded keys=1", 1);
    const char *rest = ATTENTION_BODY + half;
    ASSERT_EQ(write(fd, rest, strlen(rest)), (long long)strlen(rest));
    char resp[4096];
    raw_read_all(fd, resp, sizeof resp);
    close(fd);
    ASSERT_CONTAINS(resp, "HTTP/1.1 200 OK");
    ASSERT_CONTAINS(resp, "\"weights\"");
    /* From then on the new keys hold. */
    req(&d, "GET", "/v1/models", bearer, NULL, &r);
    expect_401(&r);
    test_response_free(&r);
    const char *third[] = {"Authorization: Bearer k-third-0003", NULL};
    ASSERT_EQ(req(&d, "GET", "/v1/models", third, NULL, &r), 200);
    test_response_free(&r);
    /* A file that became empty or unreadable keeps the keys there were, and the log says why. */
    write_text(keys, "# nothing\n");
    kill(d.pid, SIGHUP);
    test_wait_log(&d, "msg=api_keys_reload_failed", 1);
    unlink(keys);
    kill(d.pid, SIGHUP);
    test_wait_log(&d, "msg=api_keys_reload_failed", 2);
    ASSERT_EQ(req(&d, "GET", "/v1/models", third, NULL, &r), 200);
    test_response_free(&r);

    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
    char *log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "holds no key");
    ASSERT_CONTAINS(log, "cannot open");
    ASSERT_CONTAINS(log, "kept_keys=1");
    /* No key, right or wrong, ever reaches the log. */
    ASSERT(!strstr(log, "k-first") && !strstr(log, "k-second") && !strstr(log, "k-guess") &&
           !strstr(log, "k-third"));
    free(log);
    mt_tmpdir_remove(dir);
}

/* Runs attnd until it exits; returns its exit status and output. */
static int run_attnd(const char *env, const char *args, char *out, size_t cap)
{
    const char *bin = getenv("ATTND_BIN");
    if (!bin || !*bin) bin = "build/attnd";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "env %s timeout 20 %s --port 0 %s 2>&1 </dev/null", env ? env : "",
             bin, args);
    FILE *p = popen(cmd, "r");
    ASSERT(p != NULL);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(http_ops_metrics_auth_and_env)
{
    char dir[256], keys[512], env[700];
    mt_tmpdir(dir, sizeof dir);
    snprintf(keys, sizeof keys, "%s/keys", dir);
    write_text(keys, "metrics-reader\n");
    /* The key file through ATTND_API_KEY_FILE, and /metrics closed with --metrics-auth. */
    snprintf(env, sizeof env, "ATTND_API_KEY_FILE=%s", keys);
    ASSERT_EQ(setenv("ATTND_API_KEY_FILE", keys, 1), 0);
    test_daemon d;
    const char *args[] = {"--metrics-auth", NULL};
    int started = test_daemon_start(&d, args);
    unsetenv("ATTND_API_KEY_FILE");
    ASSERT_EQ(started, 0);
    test_response r;
    const char *none[] = {NULL}, *key[] = {"X-Api-Key: metrics-reader", NULL};
    req(&d, "GET", "/metrics", none, NULL, &r);
    expect_401(&r);
    test_response_free(&r);
    settled_metrics(&d, key, &r);
    ASSERT_EQ(test_metric_value(r.body, "attnd_auth_failures_total{route=\"/metrics\"}"), 1);
    test_response_free(&r);
    ASSERT_EQ(req(&d, "GET", "/healthz", none, NULL, &r), 200);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);

    /* A missing or empty key file stops the start with the reason. */
    char out[8192], a[700];
    snprintf(a, sizeof a, "--api-key-file %s/missing", dir);
    ASSERT_EQ(run_attnd(NULL, a, out, sizeof out), 1);
    ASSERT_CONTAINS(out, "msg=start_failed reason=\"--api-key-file ");
    ASSERT_CONTAINS(out, "/missing: cannot open: No such file or directory");
    write_text(keys, "# none yet\n");
    ASSERT_EQ(run_attnd(env, "", out, sizeof out), 1);
    ASSERT_CONTAINS(out, "holds no key");
    ASSERT(!strstr(out, "msg=listening"));
    mt_tmpdir_remove(dir);
}

TEST(http_ops_cors)
{
    char dir[256], keys[512];
    mt_tmpdir(dir, sizeof dir);
    snprintf(keys, sizeof keys, "%s/keys", dir);
    write_text(keys, "browser-key\n");
    test_daemon d;
    const char *args[] = {"--cors-origin",
                          "https://app.example",
                          "--cors-origin",
                          "http://localhost:3000",
                          "--api-key-file",
                          keys,
                          NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    test_response r;
    /* A preflight needs no key and gets the methods and headers a page may use. */
    const char *pre[] = {"Origin: https://app.example", "Access-Control-Request-Method: POST",
                         "Access-Control-Request-Headers: authorization, content-type", NULL};
    ASSERT_EQ(req(&d, "OPTIONS", "/v1/attention", pre, NULL, &r), 204);
    ASSERT_CONTAINS(r.headers, "Access-Control-Allow-Origin: https://app.example\r\n");
    ASSERT_CONTAINS(r.headers, "Access-Control-Allow-Methods: GET, HEAD, POST, OPTIONS");
    ASSERT_CONTAINS(r.headers,
                    "Access-Control-Allow-Headers: Authorization, X-Api-Key, Content-Type");
    ASSERT_CONTAINS(r.headers, "Vary: Origin");
    ASSERT_CONTAINS(r.headers, "X-Request-Id: ");
    test_response_free(&r);
    /* An origin not listed gets no allowance. */
    const char *other[] = {"Origin: https://evil.example", "Access-Control-Request-Method: POST",
                           NULL};
    ASSERT_EQ(req(&d, "OPTIONS", "/v1/attention", other, NULL, &r), 204);
    ASSERT(!strstr(r.headers, "Access-Control-Allow"));
    ASSERT_CONTAINS(r.headers, "Vary: Origin");
    test_response_free(&r);
    /* The actual request carries the allowance, on errors too. */
    const char *actual[] = {"Origin: http://localhost:3000", "Authorization: Bearer browser-key",
                            "Content-Type: application/json", NULL};
    ASSERT_EQ(req(&d, "POST", "/v1/attention", actual, ATTENTION_BODY, &r), 200);
    ASSERT_CONTAINS(r.headers, "Access-Control-Allow-Origin: http://localhost:3000\r\n");
    ASSERT_CONTAINS(r.headers, "Access-Control-Expose-Headers: X-Request-Id");
    ASSERT_CONTAINS(r.headers, "Vary: Origin");
    test_response_free(&r);
    const char *nokey[] = {"Origin: https://app.example", NULL};
    req(&d, "GET", "/v1/models", nokey, NULL, &r);
    expect_401(&r);
    ASSERT_CONTAINS(r.headers, "Access-Control-Allow-Origin: https://app.example\r\n");
    test_response_free(&r);
    const char *evil[] = {"Origin: https://evil.example", "Authorization: Bearer browser-key",
                          NULL};
    ASSERT_EQ(req(&d, "GET", "/v1/models", evil, NULL, &r), 200);
    ASSERT(!strstr(r.headers, "Access-Control-Allow-Origin"));
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);

    /* "*" allows any origin; without --cors-origin there is no CORS at all. */
    const char *star[] = {"--cors-origin", "*", NULL};
    ASSERT_EQ(test_daemon_start(&d, star), 0);
    ASSERT_EQ(req(&d, "OPTIONS", "/v1/models", other, NULL, &r), 204);
    ASSERT_CONTAINS(r.headers, "Access-Control-Allow-Origin: *\r\n");
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    ASSERT_EQ(req(&d, "OPTIONS", "/v1/attention", pre, NULL, &r), 405);
    ASSERT(!strstr(r.headers, "Access-Control") && !strstr(r.headers, "Vary"));
    test_response_free(&r);
    ASSERT_EQ(req(&d, "GET", "/healthz", nokey, NULL, &r), 200);
    ASSERT(!strstr(r.headers, "Access-Control"));
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);

    char out[4096];
    ASSERT_EQ(run_attnd(NULL, "--cors-origin app.example", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--cors-origin: expected * or an origin scheme://host[:port]");
    mt_tmpdir_remove(dir);
}

/* The X-Request-Id header of a response, into id. */
static void request_id_of(const test_response *r, char *id, size_t cap)
{
    const char *p = strstr(r->headers, "X-Request-Id: ");
    ASSERT(p != NULL);
    p += strlen("X-Request-Id: ");
    size_t n = strcspn(p, "\r\n");
    ASSERT(n > 0 && n < cap);
    snprintf(id, cap, "%.*s", (int)n, p);
}

TEST(http_ops_request_id)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    test_response r;
    char id[256], line[400];
    const char *mine[] = {"X-Request-Id: trace-42.a:b_c", NULL};
    ASSERT_EQ(req(&d, "GET", "/healthz", mine, NULL, &r), 200);
    request_id_of(&r, id, sizeof id);
    ASSERT_STREQ(id, "trace-42.a:b_c");
    test_response_free(&r);
    /* Errors carry one too; an insane one is replaced by a generated one. */
    const char *insane[] = {"X-Request-Id: two words;<script>", "Content-Type: application/json",
                            NULL};
    ASSERT_EQ(req(&d, "POST", "/v1/attention", insane, "{", &r), 400);
    request_id_of(&r, id, sizeof id);
    ASSERT_EQ(strlen(id), 29);
    ASSERT(!strstr(r.headers, "script"));
    test_response_free(&r);
    /* Generated ids are unique. */
    char seen[20][64];
    for (int i = 0; i < 20; i++) {
        ASSERT_EQ(req(&d, i % 2 ? "GET" : "POST", i % 2 ? "/v1/models" : "/v1/attention",
                      (const char *[]){"Content-Type: application/json", NULL},
                      i % 2 ? NULL : ATTENTION_BODY, &r),
                  200);
        request_id_of(&r, seen[i], sizeof seen[i]);
        for (int j = 0; j < i; j++)
            ASSERT(strcmp(seen[i], seen[j]) != 0);
        test_response_free(&r);
    }
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
    char *log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "method=GET path=\"/healthz\" status=200 bytes=16 duration_ms=");
    ASSERT_CONTAINS(log, " request_id=trace-42.a:b_c\n");
    snprintf(line, sizeof line, "path=\"/v1/attention\" status=200 bytes=");
    ASSERT_CONTAINS(log, line);
    snprintf(line, sizeof line, " request_id=%s\n", seen[19]);
    ASSERT_CONTAINS(log, line);
    free(log);
}

TEST(http_ops_metrics)
{
    test_daemon d;
    const char *args[] = {"--max-body-bytes", "1000", NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    test_response r;
    const char *json[] = {"Content-Type: application/json", NULL};
    size_t out_bytes = 0;
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(req(&d, "POST", "/v1/attention", json, ATTENTION_BODY, &r), 200);
        out_bytes += r.len;
        test_response_free(&r);
    }
    char big[1200];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ(req(&d, "POST", "/v1/attention", json, big, &r), 413);
    out_bytes += r.len;
    test_response_free(&r);
    ASSERT_EQ(req(&d, "POST", "/v1/attention", json, "{\"query\": 1}", &r), 400);
    out_bytes += r.len;
    test_response_free(&r);
    ASSERT_EQ(req(&d, "GET", "/v1/models/nope", json, NULL, &r), 404);
    test_response_free(&r);

    settled_metrics(&d, NULL, &r);
    const char *m = r.body;
    ASSERT_EQ(test_metric_value(m, "attnd_compute_duration_seconds_count{route=\"/v1/attention\"}"),
              3);
    ASSERT(test_metric_value(m, "attnd_compute_duration_seconds_sum{route=\"/v1/attention\"}") > 0);
    ASSERT_EQ(test_metric_value(m,
                                "attnd_compute_duration_seconds_bucket{route=\"/v1/attention\",le="
                                "\"+Inf\"}"),
              3);
    /* Bodies received: three requests, and the 413's 1199 bytes sent with a Content-Length
     * refused before any was read count nothing; the 400's 12. */
    ASSERT_EQ(test_metric_value(m, "attnd_http_request_body_bytes_total{route=\"/v1/attention\"}"),
              (double)(3 * strlen(ATTENTION_BODY) + 12));
    ASSERT_EQ(test_metric_value(m, "attnd_http_response_body_bytes_total{route=\"/v1/attention\"}"),
              (double)out_bytes);
    ASSERT_EQ(test_metric_value(m, "attnd_http_rejections_total{reason=\"payload_too_large\"}"), 1);
    ASSERT_EQ(test_metric_value(m, "attnd_http_rejections_total{reason=\"invalid_type\"}"), 1);
    ASSERT_EQ(test_metric_value(m, "attnd_http_rejections_total{reason=\"not_found\"}"), 1);
    ASSERT_EQ(test_metric_value(m, "attnd_http_rejections_total{reason=\"unauthorized\"}"), -1);

    char path[] = "/tmp/attnd-metrics-XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, r.body, r.len), (long long)r.len);
    close(fd);
    char cmd[256], out[4096] = "";
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    ASSERT(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    unlink(path);
    if (st != 0) harness_fail(__FILE__, __LINE__, "promtool check metrics failed: %s", out);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* Runs a shell command; fails the test with its output when it does not exit 0. */
static void sh(const char *cmd)
{
    char full[2048], out[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ASSERT(p != NULL);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    if (pclose(p) != 0) harness_fail(__FILE__, __LINE__, "%s failed:\n%s", cmd, out);
}

TEST(http_ops_tls)
{
    char dir[256], cert[512], key[512], cmd[2048];
    mt_tmpdir(dir, sizeof dir);
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    /* A self-signed certificate for 127.0.0.1, made now (EC P-256: quick to generate). */
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s -out %s -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1",
             key, cert);
    sh(cmd);
    test_daemon d;
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    char *log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "msg=listening url=https://127.0.0.1:");
    free(log);

    /* HTTPS, verified against the certificate: the probes, a computation, the metrics. */
    CURL *c = curl_easy_init();
    test_response r;
    const char *json[] = {"Content-Type: application/json", NULL};
    ASSERT_EQ(ops_request(c, "https", d.port, "GET", "/healthz", NULL, NULL, cert, &r, NULL), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(r.body, "{\"status\":\"ok\"}\n");
    test_response_free(&r);
    ASSERT_EQ(ops_request(c, "https", d.port, "POST", "/v1/attention", json, ATTENTION_BODY, cert,
                          &r, NULL),
              0);
    ASSERT_EQ(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    cJSON *w = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "weights"), 0);
    ASSERT_NEAR(cJSON_GetArrayItem(w, 0)->valuedouble, 0.5, 1e-5);
    ASSERT_NEAR(cJSON_GetArrayItem(w, 2)->valuedouble, 0.2, 1e-5);
    cJSON_Delete(j);
    test_response_free(&r);
    ASSERT_EQ(ops_request(c, "https", d.port, "GET", "/metrics", NULL, NULL, cert, &r, NULL), 0);
    ASSERT_EQ(
        test_metric_value(r.body, "attnd_compute_duration_seconds_count{route=\"/v1/attention\"}"),
        1);
    test_response_free(&r);
    curl_easy_cleanup(c);
    /* Plain HTTP on the HTTPS port gets no HTTP answer; an unverified peer is refused. */
    c = curl_easy_init();
    ASSERT(ops_request(c, "http", d.port, "GET", "/healthz", NULL, NULL, NULL, &r, NULL) != 0 ||
           r.status != 200);
    test_response_free(&r);
    curl_easy_cleanup(c);
    c = curl_easy_init();
    ASSERT_EQ(
        ops_request(c, "https", d.port, "GET", "/healthz", NULL, NULL, "/dev/null", &r, NULL) != 0,
        1);
    test_response_free(&r);
    curl_easy_cleanup(c);
    /* attnd --healthcheck speaks HTTPS when configured with the daemon's TLS files. */
    char out[8192], a[2048], other[512];
    snprintf(a, sizeof a, "--healthcheck --host 127.0.0.1 --port %d --tls-cert %s --tls-key %s",
             d.port, cert, key);
    ASSERT_EQ(run_attnd(NULL, a, out, sizeof out), 0);
    snprintf(a, sizeof a, "--healthcheck --host 127.0.0.1 --port %d", d.port);
    ASSERT_EQ(run_attnd(NULL, a, out, sizeof out), 1);
    ASSERT_CONTAINS(out, "attnd --healthcheck: unhealthy: ");
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
    ASSERT_EQ(test_daemon_start(&d, NULL), 0); /* and says so when the daemon serves HTTP */
    snprintf(a, sizeof a, "--healthcheck --host 127.0.0.1 --port %d --tls-cert %s --tls-key %s",
             d.port, cert, key);
    ASSERT_EQ(run_attnd(NULL, a, out, sizeof out), 1);
    ASSERT_CONTAINS(out, "(does it serve HTTPS?)");
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);

    /* Start-up errors name the flag, the file and the problem. */
    snprintf(a, sizeof a, "--tls-cert %s", cert);
    ASSERT_EQ(run_attnd(NULL, a, out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--tls-cert given without --tls-key");
    snprintf(a, sizeof a, "--tls-cert %s/missing.pem --tls-key %s", dir, key);
    ASSERT_EQ(run_attnd(NULL, a, out, sizeof out), 1);
    ASSERT_CONTAINS(out, "missing.pem: cannot open: No such file or directory");
    snprintf(a, sizeof a, "--tls-cert %s --tls-key %s", key, key);
    ASSERT_EQ(run_attnd(NULL, a, out, sizeof out), 1);
    ASSERT_CONTAINS(out, "no complete PEM certificate in it");
    snprintf(a, sizeof a, "--tls-cert %s --tls-key %s", cert, cert);
    ASSERT_EQ(run_attnd(NULL, a, out, sizeof out), 1);
    ASSERT_CONTAINS(out, "no complete PEM private key in it");
    /* A well-formed key that is not the certificate's: GnuTLS's verdict, reported. */
    snprintf(other, sizeof other, "%s/other.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out %s", other);
    sh(cmd);
    snprintf(a, sizeof a, "--tls-cert %s --tls-key %s", cert, other);
    ASSERT_EQ(run_attnd(NULL, a, out, sizeof out), 1);
    ASSERT_CONTAINS(out, "msg=start_failed reason=\"cannot start HTTPS on 127.0.0.1:0 with "
                         "--tls-cert ");
    ASSERT_CONTAINS(out, "The certificate and the given key do not match.");
    ASSERT(!strstr(out, "msg=listening"));
    /* A certificate cut short. */
    snprintf(cmd, sizeof cmd, "head -c 200 %s > %s/cut.pem", cert, dir);
    sh(cmd);
    snprintf(a, sizeof a, "--tls-cert %s/cut.pem --tls-key %s", dir, key);
    ASSERT_EQ(run_attnd(NULL, a, out, sizeof out), 1);
    ASSERT_CONTAINS(out, "cut.pem: no complete PEM certificate in it");
    mt_tmpdir_remove(dir);
}

/* The object of GET /v1/models/{name} (cJSON_Delete it). */
static cJSON *model_info(const test_daemon *d, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/models/%s", name);
    test_response r;
    ASSERT_EQ(req(d, "GET", path, NULL, NULL, &r), 200);
    cJSON *j = cJSON_Parse(r.body);
    ASSERT(j != NULL);
    test_response_free(&r);
    const char *at = cJSON_GetStringValue(cJSON_GetObjectItem(j, "loaded_at"));
    struct tm tm = {0};
    ASSERT(at != NULL && strlen(at) == 20);
    const char *end = strptime(at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    ASSERT(end != NULL && *end == '\0');
    return j;
}

typedef struct hammer {
    const test_daemon *d;
    int ok, failed;
    char last[512];
} hammer;

/* Model requests, one after another, while the main thread reloads the model under them. */
static void *hammer_run(void *arg)
{
    hammer *h = arg;
    const char *json[] = {"Content-Type: application/json", NULL};
    for (int i = 0; i < 40; i++) {
        test_response r;
        CURL *c = curl_easy_init();
        int rc = ops_request(c, "http", h->d->port, "POST", "/v1/models/m/attention", json,
                             "{\"text\": \"the cat sat on the mat\"}", NULL, &r, NULL);
        curl_easy_cleanup(c);
        if (rc == 0 && r.status == 200 && strstr(r.body, "\"weights\""))
            h->ok++;
        else
            h->failed++, snprintf(h->last, sizeof h->last, "%d %ld %.300s", rc, r.status, r.body);
        test_response_free(&r);
    }
    return NULL;
}

TEST(http_ops_model_reload)
{
    char dir[256], live[512], spec[600], path[512];
    mt_tmpdir(dir, sizeof dir);
    mt_write_tiny_variant(dir, "m.safetensors", NULL, NULL, NULL, live, sizeof live);
    snprintf(spec, sizeof spec, "m=%s", live);
    test_daemon d;
    const char *args[] = {"--model", spec, NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    cJSON *j = model_info(&d, "m");
    ASSERT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "additive"), "dim")->valueint, 6);
    cJSON_Delete(j);

    /* A new file put in place (renamed over the old one, as a deploy would), then SIGHUP: the
     * new model serves. This one has no additive score parameters. A request whose headers
     * came before the reload finishes on the model it started with, which has them. */
    static const char body[] = "{\"text\": \"the cat\", \"score\": \"additive\"}";
    test_response r0;
    settled_metrics(&d, NULL, &r0);
    test_response_free(&r0);
    int fd = raw_connect(d.port);
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST /v1/models/m/attention HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
                      "close\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%.10s",
                      strlen(body), body);
    ASSERT_EQ(write(fd, head, (size_t)hn), hn);
    wait_headers_in(&d);
    mt_write_tiny_variant(dir, "next.safetensors", "additive.", NULL, NULL, path, sizeof path);
    ASSERT_EQ(rename(path, live), 0);
    kill(d.pid, SIGHUP);
    test_wait_log(&d, "msg=reloaded models_failed=0", 1);
    ASSERT_EQ(write(fd, body + 10, strlen(body) - 10), (long long)strlen(body) - 10);
    char resp[8192];
    raw_read_all(fd, resp, sizeof resp);
    close(fd);
    ASSERT_CONTAINS(resp, "HTTP/1.1 200 OK");
    ASSERT_CONTAINS(resp, "\"score\":\"additive\"");
    j = model_info(&d, "m");
    ASSERT(cJSON_IsNull(cJSON_GetObjectItem(j, "additive")));
    cJSON_Delete(j);
    const char *json0[] = {"Content-Type: application/json", NULL};
    ASSERT_EQ(req(&d, "POST", "/v1/models/m/attention", json0, body, &r0), 400);
    ASSERT_CONTAINS(r0.body, "has no additive score parameters");
    test_response_free(&r0);
    char *log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "msg=model_reloaded name=m source=\"");
    free(log);

    /* A corrupt file and SIGHUP: the model of before keeps serving, and the log says why. */
    mt_write_file(dir, "bad.safetensors", "hello\n", 6, path, sizeof path);
    ASSERT_EQ(rename(path, live), 0);
    kill(d.pid, SIGHUP);
    test_wait_log(&d, "msg=reloaded models_failed=1", 1);
    j = model_info(&d, "m");
    ASSERT(cJSON_IsNull(cJSON_GetObjectItem(j, "additive")));
    ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(j, "source")), live);
    cJSON_Delete(j);
    test_response r;
    const char *json[] = {"Content-Type: application/json", NULL};
    ASSERT_EQ(req(&d, "POST", "/v1/models/m/attention", json, "{\"text\": \"the cat\"}", &r), 200);
    test_response_free(&r);
    log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "level=error msg=model_reload_failed model=\"m=");
    ASSERT_CONTAINS(log, "too few for the 8-byte header length");
    ASSERT_CONTAINS(log, "kept=previous");
    free(log);

    /* Requests keep being answered while the model is swapped under them, six times over:
     * each finishes on the model it started with (under ASan, a freed model would show). */
    hammer h = {.d = &d};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, hammer_run, &h), 0);
    for (int i = 0; i < 6; i++) {
        mt_write_tiny_variant(dir, "next.safetensors", i % 2 ? "additive." : NULL, NULL, NULL, path,
                              sizeof path);
        ASSERT_EQ(rename(path, live), 0);
        kill(d.pid, SIGHUP);
        test_wait_log(&d, "msg=reloaded models_failed=0", 2 + i);
    }
    pthread_join(t, NULL);
    if (h.failed) harness_fail(__FILE__, __LINE__, "%d of 40 failed, last: %s", h.failed, h.last);
    ASSERT_EQ(h.ok, 40);
    j = model_info(&d, "m"); /* the last file written (i = 5) has no additive parameters */
    ASSERT(cJSON_IsNull(cJSON_GetObjectItem(j, "additive")));
    cJSON_Delete(j);
    /* The built-in models are kept as they were (same objects: loaded at start-up). */
    ASSERT_EQ(req(&d, "GET", "/v1/models", NULL, NULL, &r), 200);
    j = cJSON_Parse(r.body);
    test_response_free(&r);
    const cJSON *list = cJSON_GetObjectItem(j, "models");
    ASSERT_EQ(cJSON_GetArraySize(list), 3);
    ASSERT_STREQ(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "name")->valuestring, "default");
    ASSERT_STREQ(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "name")->valuestring, "zh-en");
    ASSERT_STREQ(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 2), "name")->valuestring, "m");
    cJSON_Delete(j);
    ASSERT_EQ(
        req(&d, "POST", "/v1/models/zh-en/attention", json, "{\"text\": \"欢迎 来 北京\"}", &r),
        200);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
    mt_tmpdir_remove(dir);
}
