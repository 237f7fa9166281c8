/* Requests computed on the HTTP thread that decoded them (--inline-max-flops): against the real
 * daemon, a tiny request is answered without the worker queue and counted in
 * attnd_inline_jobs_total, a larger one still goes to a worker, both give the same bytes as the
 * queued path, and the inline path keeps what the queued one does: its deadline (504), the
 * compute histogram, the request id and the access log line. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "harness.h"

/* L4 d8: 832 FLOPs by core/cost.h, far below the default threshold. */
#define TINY                                                                                       \
    "{\"query\": [[0.1,-0.2,0.3,0.4,-0.5,0.6,0.7,-0.8],[0.2,0.1,-0.3,0.5,0.4,-0.6,0.8,0.7],"       \
    "[-0.1,0.2,0.3,-0.4,0.5,0.6,-0.7,0.8],[0.3,0.3,-0.3,0.3,0.3,-0.3,0.3,0.3]]"

/* {"query": [L][d]} with deterministic values. */
static char *square_request(int L, int d)
{
    size_t cap = (size_t)L * (size_t)d * 12 + 64;
    char *s = malloc(cap);
    size_t n = (size_t)snprintf(s, cap, "{\"query\": [");
    for (int i = 0; i < L; i++) {
        n += (size_t)snprintf(s + n, cap - n, "%s[", i ? "," : "");
        for (int j = 0; j < d; j++)
            n += (size_t)snprintf(s + n, cap - n, "%s%.3f", j ? "," : "",
                                  (double)((i * 7 + j * 3) % 11) / 10.0 - 0.5);
        n += (size_t)snprintf(s + n, cap - n, "]");
    }
    snprintf(s + n, cap - n, "]}");
    return s;
}

/* The answer's "context" and "weights" arrays (what does not depend on timing): from
 * "\"context\"" up to the "meta" object, or the whole body when there is none. */
static char *tensors_of(const char *body)
{
    const char *p = strstr(body, "\"context\"");
    if (!p) return NULL;
    const char *end = strstr(p, "\"meta\"");
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

#define INLINE_SERIES  "attnd_inline_jobs_total{route=\"/v1/attention\"}"
#define COMPUTE_SERIES "attnd_compute_duration_seconds_count{route=\"/v1/attention\"}"

TEST(http_inline_tiny_skips_the_queue)
{
    const char *args[] = {"--threads", "1", "--log-level", "info", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    test_response r;
    ASSERT_EQ(test_post_json(&d, "/v1/attention", TINY "}", &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "\"weights\"");
    ASSERT_CONTAINS(r.headers, "X-Request-Id: ");
    char id[64] = "";
    sscanf(strstr(r.headers, "X-Request-Id: ") + strlen("X-Request-Id: "), "%63[^\r\n]", id);
    test_response_free(&r);
    ASSERT_EQ(test_metric(&d, INLINE_SERIES), 1);
    ASSERT_EQ(test_metric(&d, COMPUTE_SERIES), 1);

    /* L32 d8 (53,248 FLOPs) is above the default: a worker computes it. */
    char *body = square_request(32, 8);
    ASSERT_EQ(test_post_json(&d, "/v1/attention", body, &r), 0);
    free(body);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    ASSERT_EQ(test_metric(&d, INLINE_SERIES), 1);
    ASSERT_EQ(test_metric(&d, COMPUTE_SERIES), 2);
    ASSERT_EQ(test_metric(&d, "attnd_http_requests_total{route=\"/v1/attention\",code=\"200\"}"),
              2);

    /* A bad tiny body is still a 400 from the decoder, never computed. */
    ASSERT_EQ(test_post_json(&d, "/v1/attention", "{\"query\": [[1, \"x\"]]}", &r), 0);
    ASSERT_EQ(r.status, 400);
    test_response_free(&r);
    ASSERT_EQ(test_metric(&d, INLINE_SERIES), 1);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);

    /* The inline request's access line, with the id its response carried. */
    char *log = test_daemon_log(&d);
    char want[160];
    snprintf(want, sizeof want, "path=\"/v1/attention\" status=200");
    ASSERT_CONTAINS(log, want);
    snprintf(want, sizeof want, "request_id=%s", id);
    ASSERT(*id);
    ASSERT_CONTAINS(log, want);
    free(log);
}

TEST(http_inline_same_answer_as_queued)
{
    const char *inl[] = {"--threads", "1", NULL};
    const char *queued[] = {"--threads", "1", "--inline-max-flops", "0", NULL};
    const char *big[] = {"--threads", "1", "--inline-max-flops", "1000000", NULL};
    char *body = square_request(16, 8);
    char *want = NULL;
    const char *const *configs[] = {queued, inl, big};
    for (int c = 0; c < 3; c++) {
        test_daemon d;
        ASSERT_EQ(test_daemon_start(&d, configs[c]), 0);
        test_response r;
        ASSERT_EQ(test_post_json(&d, "/v1/attention", body, &r), 0);
        ASSERT_EQ(r.status, 200);
        char *got = tensors_of(r.body);
        ASSERT(got != NULL);
        test_response_free(&r);
        if (!want)
            want = got;
        else {
            ASSERT_STREQ(got, want);
            free(got);
        }
        /* 16 x 16, d 8: 13,312 FLOPs; inline only with the raised threshold. */
        ASSERT_EQ(test_metric(&d, INLINE_SERIES), c == 2 ? 1 : -1);
        ASSERT_EQ(test_metric(&d, COMPUTE_SERIES), 1);
        ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
    }
    free(want);
    free(body);
}

/* A deadline that passed before the body was decoded is a 504 on the inline path too: the
 * request's own "timeout" of a nanosecond is over by then. */
TEST(http_inline_deadline_504)
{
    const char *args[] = {"--threads", "1", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    test_response r;
    ASSERT_EQ(test_post_json(&d, "/v1/attention", TINY ", \"timeout\": 1e-9}", &r), 0);
    ASSERT_EQ(r.status, 504);
    ASSERT_CONTAINS(r.body, "\"code\":\"timeout\"");
    test_response_free(&r);
    ASSERT_EQ(test_metric(&d, INLINE_SERIES), 1);
    ASSERT_EQ(test_metric(&d, "attnd_http_rejections_total{reason=\"timeout\"}"), 1);
    /* The daemon serves on. */
    ASSERT_EQ(test_post_json(&d, "/v1/attention", TINY "}", &r), 0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* A model request below the threshold (raised here: the built-in model's projections alone
 * are about 50,000 FLOPs for two tokens) is computed inline too, with the same answer. */
TEST(http_inline_model_request)
{
    const char *queued[] = {"--threads", "1", "--inline-max-flops", "0", NULL};
    const char *inl[] = {"--threads", "1", "--inline-max-flops", "10000000", NULL};
    const char *body = "{\"ids\": [1, 2, 3], \"return_weights\": true}";
    char *want = NULL;
    for (int c = 0; c < 2; c++) {
        test_daemon d;
        ASSERT_EQ(test_daemon_start(&d, c ? inl : queued), 0);
        test_response r;
        ASSERT_EQ(test_post_json(&d, "/v1/models/default/attention", body, &r), 0);
        ASSERT_EQ(r.status, 200);
        char *got = tensors_of(r.body);
        ASSERT(got != NULL);
        test_response_free(&r);
        if (!want) {
            want = got;
        } else {
            ASSERT_STREQ(got, want);
            free(got);
        }
        ASSERT_EQ(test_metric(&d, "attnd_inline_jobs_total{route=\"/v1/models/{name}/attention\"}"),
                  c ? 1 : -1);
        ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
    }
    free(want);
}
