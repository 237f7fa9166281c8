/* End-to-end tests of the real attnd over HTTP with libcurl: every route, every error status,
 * concurrent clients, back-pressure (503), metrics through promtool, and graceful SIGTERM. */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "harness.h"

/* One daemon shared by the tests that do not need special flags; started on first use and
 * stopped (and its exit status checked) by the last test in this file. */
static test_daemon shared;
static int shared_started;

static test_daemon *daemon_shared(void)
{
    if (!shared_started) {
        const char *args[] = {"--threads", "2", NULL};
        ASSERT_EQ(test_daemon_start(&shared, args), 0);
        shared_started = 1;
    }
    return &shared;
}

static cJSON *parse_ok(const test_response *r)
{
    cJSON *j = cJSON_Parse(r->body);
    if (!j) harness_fail(__FILE__, __LINE__, "response is not JSON: %.300s", r->body);
    return j;
}

/* Posts `json`, expects `status`, and for an error checks code and field. */
static void expect_error(test_daemon *d, const char *json, long status, const char *code,
                         const char *field, const char *message_part)
{
    test_response r;
    ASSERT_EQ(test_post_json(d, "/v1/attention", json, &r), 0);
    if (r.status != status)
        harness_fail(__FILE__, __LINE__, "%s -> %ld (want %ld): %s", json, r.status, status,
                     r.body);
    cJSON *j = parse_ok(&r);
    cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    ASSERT(cJSON_IsObject(e));
    ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(e, "code")), code);
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
    ASSERT(msg && strlen(msg) > 10);
    if (field) ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(e, "field")), field);
    if (message_part) ASSERT_CONTAINS(msg, message_part);
    cJSON_Delete(j);
    test_response_free(&r);
}

static double num_at(cJSON *arr, int i)
{
    return cJSON_GetArrayItem(arr, i)->valuedouble;
}

TEST(http_healthz_readyz)
{
    test_daemon *d = daemon_shared();
    const char *paths[] = {"/healthz", "/readyz"};
    for (int i = 0; i < 2; i++) {
        test_response r;
        ASSERT_EQ(test_http(d, "GET", paths[i], NULL, NULL, 0, &r), 0);
        ASSERT_EQ(r.status, 200);
        ASSERT_STREQ(r.body, "{\"status\":\"ok\"}\n");
        ASSERT_CONTAINS(r.headers, "Content-Type: application/json");
        test_response_free(&r);
        ASSERT_EQ(test_http(d, "HEAD", paths[i], NULL, NULL, 0, &r), 0);
        ASSERT_EQ(r.status, 200);
        ASSERT_EQ(r.len, 0);
        test_response_free(&r);
    }
}

/* The design's example: one decoder step attends 欢迎/来/北京 with weights 0.5/0.3/0.2, so
 * the context is 0.5·v(欢迎) + 0.3·v(来) + 0.2·v(北京). With dot score, q = [1] and keys
 * ln 5, ln 3, ln 2 the softmax is exactly 5/10, 3/10, 2/10. */
TEST(http_attention_seed_example)
{
    test_daemon *d = daemon_shared();
    test_response r;
    ASSERT_EQ(test_post_json(
                  d, "/v1/attention",
                  "{\"query\": [[1.0]], \"key\": [[1.6094379]], [[1.0986123]], [[0.6931472]]]}",
                  &r),
              0);
    ASSERT_EQ(r.status, 400); /* the body above is malformed on purpose: 400 invalid_json */
    test_response_free(&r);
    ASSERT_EQ(
        test_post_json(d, "/v1/attention",
                       "{\"query\": [[1.0]], \"key\": [[1.6094379], [1.0986123], [0.6931472]],"
                       " \"value\": [[1,0,0],[0,1,0],[0,0,1]], \"score\": \"dot\"}",
                       &r),
        0);
    ASSERT_EQ(r.status, 200);
    cJSON *j = parse_ok(&r);
    cJSON *ctx = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "context"), 0);
    cJSON *w = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "weights"), 0);
    ASSERT_EQ(cJSON_GetArraySize(ctx), 3);
    ASSERT_EQ(cJSON_GetArraySize(w), 3);
    ASSERT_NEAR(num_at(w, 0), 0.5, 1e-6);
    ASSERT_NEAR(num_at(w, 1), 0.3, 1e-6);
    ASSERT_NEAR(num_at(w, 2), 0.2, 1e-6);
    ASSERT_NEAR(num_at(ctx, 0), 0.5, 1e-6);
    ASSERT_NEAR(num_at(ctx, 1), 0.3, 1e-6);
    ASSERT_NEAR(num_at(ctx, 2), 0.2, 1e-6);
    cJSON *meta = cJSON_GetObjectItem(j, "meta");
    ASSERT(cJSON_IsObject(meta));
    ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "score")), "dot");
    ASSERT_CONTAINS(r.headers, "Content-Type: application/json");
    cJSON_Delete(j);
    test_response_free(&r);
}

TEST(http_attention_shapes_and_options)
{
    test_daemon *d = daemon_shared();
    test_response r;
    /* rank 3, self-attention, causal, no weights */
    ASSERT_EQ(
        test_post_json(d, "/v1/attention",
                       "{\"query\": [[[1,0],[0,1],[1,1]],[[2,0],[0,2],[1,0]]], \"causal\": true,"
                       " \"return_weights\": false}",
                       &r),
        0);
    ASSERT_EQ(r.status, 200);
    cJSON *j = parse_ok(&r);
    ASSERT(cJSON_GetObjectItem(j, "weights") == NULL);
    cJSON *ctx = cJSON_GetObjectItem(j, "context");
    ASSERT_EQ(cJSON_GetArraySize(ctx), 2);
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetArrayItem(ctx, 0)), 3);
    /* causal: the first query sees only the first key, so its context is the first value */
    cJSON *c00 = cJSON_GetArrayItem(cJSON_GetArrayItem(ctx, 0), 0);
    ASSERT_NEAR(num_at(c00, 0), 1.0, 1e-6);
    ASSERT_NEAR(num_at(c00, 1), 0.0, 1e-6);
    cJSON_Delete(j);
    test_response_free(&r);

    /* rank 4 with average_heads: weights [B, Lq, Lk] */
    ASSERT_EQ(
        test_post_json(d, "/v1/attention",
                       "{\"query\": [[[[1,0]],[[0,1]]]], \"key\": [[[[1,0],[0,1]],[[1,0],[0,1]]]],"
                       " \"average_heads\": true}",
                       &r),
        0);
    ASSERT_EQ(r.status, 200);
    j = parse_ok(&r);
    cJSON *w = cJSON_GetObjectItem(j, "weights");
    ASSERT_EQ(cJSON_GetArraySize(w), 1);                        /* B */
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetArrayItem(w, 0)), 1); /* Lq */
    cJSON *row = cJSON_GetArrayItem(cJSON_GetArrayItem(w, 0), 0);
    ASSERT_EQ(cJSON_GetArraySize(row), 2);
    /* head 0 prefers key 0, head 1 key 1, symmetrically: the average is 0.5/0.5 */
    ASSERT_NEAR(num_at(row, 0), 0.5, 1e-6);
    ASSERT_NEAR(num_at(row, 1), 0.5, 1e-6);
    cJSON_Delete(j);
    test_response_free(&r);

    /* a mask that hides every key of a row: zeros, not NaN */
    ASSERT_EQ(test_post_json(d, "/v1/attention",
                             "{\"query\": [[1,2],[3,4]], \"value\": [[5,6],[7,8]],"
                             " \"mask\": [[false,false],[true,false]]}",
                             &r),
              0);
    ASSERT_EQ(r.status, 200);
    j = parse_ok(&r);
    ctx = cJSON_GetObjectItem(j, "context");
    w = cJSON_GetObjectItem(j, "weights");
    ASSERT_NEAR(num_at(cJSON_GetArrayItem(w, 0), 0), 0.0, 0);
    ASSERT_NEAR(num_at(cJSON_GetArrayItem(w, 0), 1), 0.0, 0);
    ASSERT_NEAR(num_at(cJSON_GetArrayItem(ctx, 0), 0), 0.0, 0);
    ASSERT_NEAR(num_at(cJSON_GetArrayItem(w, 1), 0), 1.0, 1e-7);
    ASSERT_NEAR(num_at(cJSON_GetArrayItem(ctx, 1), 0), 5.0, 1e-6);
    cJSON_Delete(j);
    test_response_free(&r);
}

/* "return_context": false leaves the context out (and keeps the weights), on both endpoints;
 * anything but a bool is refused. */
TEST(http_return_context_false)
{
    test_daemon *d = daemon_shared();
    const char *bodies[][2] = {
        {"/v1/attention", "{\"query\": [[1,0],[0,1]], \"return_context\": false}"},
        {"/v1/models/default/attention", "{\"text\": \"a b\", \"return_context\": false}"},
    };
    for (int i = 0; i < 2; i++) {
        test_response r;
        ASSERT_EQ(test_post_json(d, bodies[i][0], bodies[i][1], &r), 0);
        ASSERT_EQ(r.status, 200);
        ASSERT(strstr(r.body, "\"context\":") == NULL);
        ASSERT_CONTAINS(r.body, "\"weights\":[[");
        test_response_free(&r);
    }
    test_response r;
    ASSERT_EQ(test_post_json(d, "/v1/attention", "{\"query\": [[1]], \"return_context\": 0}", &r),
              0);
    ASSERT_EQ(r.status, 400);
    ASSERT_CONTAINS(r.body, "\"field\":\"return_context\"");
    test_response_free(&r);
    ASSERT_EQ(test_post_json(d, "/v1/attention", "{\"query\": [[1]]}", &r), 0);
    ASSERT_CONTAINS(r.body, "{\"context\":[[1]]");
    test_response_free(&r);
}

TEST(http_errors_400)
{
    test_daemon *d = daemon_shared();
    expect_error(d, "{\"query\": [[1,2]", 400, "invalid_json", NULL, NULL);
    expect_error(d, "[1,2]", 400, "invalid_type", NULL, "object");
    expect_error(d, "{}", 400, "missing_field", "query", NULL);
    expect_error(d, "{\"query\": [[1]], \"casual\": true}", 400, "unknown_field", "casual",
                 "casual");
    expect_error(d, "{\"query\": \"hello\"}", 400, "invalid_type", "query", NULL);
    expect_error(d, "{\"query\": [[1]], \"causal\": 1}", 400, "invalid_type", "causal", NULL);
    expect_error(d, "{\"query\": [[1,2],[3]]}", 400, "invalid_shape", "query", NULL);
    expect_error(d, "{\"query\": [1,2,3]}", 400, "invalid_shape", "query", NULL);
    expect_error(d, "{\"query\": [[[[[1]]]]]}", 400, "invalid_shape", "query", NULL);
    expect_error(d, "{\"query\": [[1,2]], \"key\": [[1,2,3]]}", 400, "invalid_shape", "key", NULL);
    expect_error(d, "{\"query\": [[1,2]], \"value\": [[1],[2]]}", 400, "invalid_shape", "value",
                 NULL);
    expect_error(d, "{\"query\": [[1,1e39]]}", 400, "invalid_value", "query", NULL);
    expect_error(d, "{\"query\": []}", 400, "invalid_shape", "query", NULL);
    expect_error(d, "{\"query\": [[]]}", 400, "invalid_shape", "query", NULL);
    expect_error(d, "{\"query\": [[1,null]]}", 400, "invalid_type", "query", NULL);
    expect_error(d, "{\"query\": [[1]], \"score\": \"cosine\"}", 400, "invalid_value", "score",
                 "scaled_dot");
    expect_error(d, "{\"query\": [[1],[2]], \"mask\": [[true,false,true]]}", 400, "invalid_shape",
                 "mask", NULL);
    expect_error(d, "{\"query\": [[1],[2]], \"mask\": [[1,0],[0,1]]}", 400, "invalid_type", "mask",
                 NULL);
}

TEST(http_errors_404_405_415)
{
    test_daemon *d = daemon_shared();
    test_response r;
    ASSERT_EQ(test_http(d, "GET", "/nope", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 404);
    ASSERT_CONTAINS(r.body, "\"not_found\"");
    test_response_free(&r);

    ASSERT_EQ(test_http(d, "GET", "/v1/attention", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 405);
    ASSERT_CONTAINS(r.headers, "Allow: POST");
    ASSERT_CONTAINS(r.body, "\"method_not_allowed\"");
    test_response_free(&r);

    ASSERT_EQ(test_http(d, "DELETE", "/healthz", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 405);
    ASSERT_CONTAINS(r.headers, "Allow: GET, HEAD");
    test_response_free(&r);

    const char *body = "{\"query\": [[1]]}";
    ASSERT_EQ(test_http(d, "POST", "/v1/attention", "text/plain", body, strlen(body), &r), 0);
    ASSERT_EQ(r.status, 415);
    ASSERT_CONTAINS(r.body, "\"unsupported_media_type\"");
    test_response_free(&r);

    ASSERT_EQ(test_http(d, "POST", "/v1/attention", "application/x-www-form-urlencoded", body,
                        strlen(body), &r),
              0);
    ASSERT_EQ(r.status, 415);
    test_response_free(&r);

    ASSERT_EQ(test_http(d, "POST", "/v1/attention", "application/json; charset=utf-8", body,
                        strlen(body), &r),
              0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
}

/* Builds a self-attention request of H heads, L rows, width dm, values from a simple formula. */
static char *make_request(int heads, int rows, int dm, int seed, const char *extra)
{
    size_t cap = (size_t)heads * rows * dm * 16 + 256;
    char *s = malloc(cap);
    size_t n = (size_t)snprintf(s, cap, "{\"query\": [");
    for (int h = 0; h < heads; h++) {
        n += (size_t)snprintf(s + n, cap - n, "%s[", h ? "," : "");
        for (int i = 0; i < rows; i++) {
            n += (size_t)snprintf(s + n, cap - n, "%s[", i ? "," : "");
            for (int k = 0; k < dm; k++)
                n += (size_t)snprintf(s + n, cap - n, "%s%.4f", k ? "," : "",
                                      sin(0.37 * (h + 1) + 0.11 * i * (k + 1) + seed));
            n += (size_t)snprintf(s + n, cap - n, "]");
        }
        n += (size_t)snprintf(s + n, cap - n, "]");
    }
    snprintf(s + n, cap - n, "]%s}", extra ? extra : "");
    return s;
}

TEST(http_errors_413)
{
    const char *args[] = {"--max-body-bytes", "4096", "--max-elements", "5000", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    test_response r;
    /* over the body limit, announced by Content-Length */
    char *big = make_request(1, 64, 16, 0, NULL);
    ASSERT(strlen(big) > 4096);
    ASSERT_EQ(test_post_json(&d, "/v1/attention", big, &r), 0);
    ASSERT_EQ(r.status, 413);
    ASSERT_CONTAINS(r.body, "\"payload_too_large\"");
    test_response_free(&r);
    free(big);
    /* under the body limit but over the element limit (80*80 weights alone > 5000) */
    char *wide = make_request(1, 80, 1, 0, NULL);
    ASSERT(strlen(wide) < 4096);
    ASSERT_EQ(test_post_json(&d, "/v1/attention", wide, &r), 0);
    ASSERT_EQ(r.status, 413);
    ASSERT_CONTAINS(r.body, "\"limit_exceeded\"");
    test_response_free(&r);
    free(wide);
    /* still serving */
    ASSERT_EQ(test_post_json(&d, "/v1/attention", "{\"query\": [[1]]}", &r), 0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* A double-precision softmax attention of one head, to check responses independently. */
static void expected_self_attention(const double *x, int rows, int dm, double *ctx)
{
    for (int i = 0; i < rows; i++) {
        double s[64], mx = -INFINITY, sum = 0;
        for (int j = 0; j < rows; j++) {
            s[j] = 0;
            for (int k = 0; k < dm; k++)
                s[j] += x[i * dm + k] * x[j * dm + k];
            s[j] /= sqrt((double)dm);
            if (s[j] > mx) mx = s[j];
        }
        for (int j = 0; j < rows; j++)
            sum += (s[j] = exp(s[j] - mx));
        for (int k = 0; k < dm; k++) {
            double acc = 0;
            for (int j = 0; j < rows; j++)
                acc += s[j] / sum * x[j * dm + k];
            ctx[i * dm + k] = acc;
        }
    }
}

typedef struct client_arg {
    test_daemon *d;
    int id, ok;
    char why[256]; /* the first failure */
} client_arg;

static void *client(void *p)
{
    client_arg *a = p;
    enum { ROWS = 12, DM = 8 };
    for (int it = 0; it < 15; it++) {
        int seed = a->id * 100 + it;
        char *req = make_request(1, ROWS, DM, seed, NULL);
        double x[ROWS * DM], want[ROWS * DM];
        for (int i = 0; i < ROWS; i++)
            for (int k = 0; k < DM; k++) {
                char tmp[32];
                snprintf(tmp, sizeof tmp, "%.4f", sin(0.37 + 0.11 * i * (k + 1) + seed));
                x[i * DM + k] = strtod(tmp, NULL);
            }
        expected_self_attention(x, ROWS, DM, want);
        test_response r;
        int rc = test_post_json(a->d, "/v1/attention", req, &r);
        free(req);
        cJSON *j = rc == 0 && r.status == 200 ? cJSON_Parse(r.body) : NULL;
        cJSON *ctx = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "context"), 0); /* [1, ROWS, DM] */
        int good = cJSON_GetArraySize(ctx) == ROWS;
        if (!good && !a->why[0])
            snprintf(a->why, sizeof a->why, "curl %d status %ld body %.150s", rc, r.status, r.body);
        for (int i = 0; good && i < ROWS; i++)
            for (int k = 0; good && k < DM; k++) {
                double got = cJSON_GetArrayItem(cJSON_GetArrayItem(ctx, i), k)->valuedouble;
                if (fabs(got - want[i * DM + k]) > 1e-5) {
                    good = 0;
                    if (!a->why[0])
                        snprintf(a->why, sizeof a->why, "context[%d][%d] = %.9g, want %.9g", i, k,
                                 got, want[i * DM + k]);
                }
            }
        a->ok += good;
        cJSON_Delete(j);
        test_response_free(&r);
    }
    return NULL;
}

TEST(http_concurrent_clients)
{
    test_daemon *d = daemon_shared();
    enum { N = 8 };
    pthread_t t[N];
    client_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (client_arg){d, i, 0, ""};
        pthread_create(&t[i], NULL, client, &args[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++)
        if (args[i].ok != 15)
            harness_fail(__FILE__, __LINE__, "client %d: %d/15 correct; first failure: %s", i,
                         args[i].ok, args[i].why);
}

/* A request that keeps one worker busy for a while but is small on the wire: self-attention
 * with many rows and a narrow width costs L*L work for L*d input. */
static char *heavy_request(void)
{
    return make_request(1, 4096, 4, 7, ", \"return_weights\": false");
}

typedef struct heavy_arg {
    test_daemon *d;
    const char *body;
    long status;
    char headers[512];
} heavy_arg;

static void *heavy_client(void *p)
{
    heavy_arg *a = p;
    test_response r;
    int rc = test_post_json(a->d, "/v1/attention", a->body, &r);
    if (rc == 0) {
        a->status = r.status;
        snprintf(a->headers, sizeof a->headers, "%s", r.headers);
    } else {
        a->status = -rc; /* the curl error, for the failure message */
    }
    test_response_free(&r);
    return NULL;
}

TEST(http_queue_full_503)
{
    const char *args[] = {"--threads", "1", "--queue-depth", "1", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    char *body = heavy_request();
    enum { N = 8 };
    pthread_t t[N];
    heavy_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (heavy_arg){&d, body, 0, ""};
        pthread_create(&t[i], NULL, heavy_client, &a[i]);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (a[i].status == 200) ok++;
        if (a[i].status == 503) {
            busy++;
            ASSERT_CONTAINS(a[i].headers, "Retry-After: 1");
            /* once: the protocol's error response carries it, the server adds none */
            ASSERT(strstr(strstr(a[i].headers, "Retry-After") + 1, "Retry-After") == NULL);
        }
    }
    free(body);
    if (ok + busy != N) { /* nothing else: no 500, no dropped connection */
        char seen[256] = "";
        for (int i = 0; i < N; i++)
            snprintf(seen + strlen(seen), sizeof seen - strlen(seen), " %ld", a[i].status);
        harness_fail(__FILE__, __LINE__, "statuses (0: no answer):%s", seen);
    }
    ASSERT(ok >= 2); /* the running job and the queued one */
    ASSERT(busy >= 1);
    test_response r;
    ASSERT_EQ(test_http(&d, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    ASSERT_CONTAINS(r.body, "attnd_http_requests_total{route=\"/v1/attention\",code=\"503\"}");
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(http_sigterm_finishes_in_flight)
{
    const char *args[] = {"--threads", "1", "--queue-depth", "8", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    char *body = heavy_request();
    enum { N = 3 };
    pthread_t t[N];
    heavy_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (heavy_arg){&d, body, 0, ""};
        pthread_create(&t[i], NULL, heavy_client, &a[i]);
    }
    /* Wait until all three are inside the daemon (the metrics request itself is the fourth). */
    int seen = 0;
    for (int tries = 0; tries < 2000 && !seen; tries++) {
        test_response r;
        if (test_http(&d, "GET", "/metrics", NULL, NULL, 0, &r) == 0) {
            const char *p = strstr(r.body, "\nattnd_http_requests_in_flight ");
            if (p && atoi(p + strlen("\nattnd_http_requests_in_flight ")) >= N + 1) seen = 1;
        }
        test_response_free(&r);
        if (!seen) usleep(2000);
    }
    ASSERT(seen);
    kill(d.pid, SIGTERM);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ(a[i].status, 200);
    }
    free(body);
    ASSERT_EQ(test_daemon_stop(&d, 0), 0); /* wait for the exit the first SIGTERM began */
    char *log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "msg=draining");
    ASSERT_CONTAINS(log, "msg=stopped");
    free(log);
}

TEST(http_metrics_promtool)
{
    test_daemon *d = daemon_shared();
    test_response r;
    ASSERT_EQ(test_http(d, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    test_response_free(&r);
    ASSERT_EQ(test_http(d, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.headers, "Content-Type: text/plain; version=0.0.4");
    const char *names[] = {
        "attnd_http_requests_total{route=\"/healthz\",code=\"200\"}",
        "attnd_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"}",
        "attnd_http_requests_in_flight ",
        "attnd_queue_depth ",
        "attnd_workers 2",
        "attnd_build_info{version=",
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_start_time_seconds ",
        "process_open_fds "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ASSERT_CONTAINS(r.body, names[i]);

    char path[] = "/tmp/attnd-metrics-XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, r.body, r.len), (long long)r.len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    ASSERT(p);
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    unlink(path);
    if (st != 0)
        harness_fail(__FILE__, __LINE__, "promtool check metrics failed (%d): %s", st, out);
    test_response_free(&r);
}

TEST(http_access_log)
{
    test_daemon *d = daemon_shared();
    test_response r;
    ASSERT_EQ(test_http(d, "GET", "/readyz", NULL, NULL, 0, &r), 0);
    test_response_free(&r);
    char *log = test_daemon_log(d);
    ASSERT_CONTAINS(log, "msg=access method=GET path=\"/readyz\" status=200 bytes=16 duration_ms=");
    free(log);
}

TEST(http_zz_shared_daemon_exits_cleanly)
{
    test_daemon *d = daemon_shared();
    ASSERT_EQ(test_daemon_stop(d, SIGINT), 0);
    shared_started = 0;
}
