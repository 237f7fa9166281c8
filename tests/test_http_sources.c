/* Stored sources against the real daemon through libcurl: PUT / GET / DELETE /v1/sources/{id},
 * POST /v1/attention with "source_id" giving exactly what the same key and value sent inline
 * give (small, and over enough keys that the core splits them), every error a client can cause,
 * eviction by --source-memory and expiry by --source-ttl seen through 404s and /metrics. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "daemon.h"
#include "harness.h"

/* ---- building bodies ---- */

typedef struct text {
    char *p;
    size_t n, cap;
} text;

static void put_text(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->n + (size_t)need + 1 > t->cap) {
        t->cap = (t->n + (size_t)need + 1) * 2;
        t->p = realloc(t->p, t->cap);
        ASSERT(t->p != NULL);
    }
    va_start(ap, fmt);
    vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    t->n += (size_t)need;
}

/* A deterministic tensor of shape ne[0..rank) as nested arrays; values from `seed`. */
static void put_tensor(text *t, int rank, const int64_t *ne, unsigned seed)
{
    int64_t total = 1;
    for (int i = 0; i < rank; i++)
        total *= ne[i];
    for (int64_t e = 0; e < total; e++) {
        int64_t rest = e, open = 0;
        for (int i = rank - 1; i >= 0; i--) { /* how many dims start at e */
            if (rest % ne[i] != 0) break;
            rest /= ne[i];
            open++;
        }
        if (e > 0) put_text(t, ",");
        for (int64_t i = 0; i < open; i++)
            put_text(t, "[");
        unsigned v = (unsigned)(e * 2654435761u) ^ (seed * 40503u);
        put_text(t, "%.3f", (double)(int)(v % 2001u) / 1000.0 - 1.0);
        int64_t close = 0;
        rest = e + 1;
        for (int i = rank - 1; i >= 0; i--) {
            if (rest % ne[i] != 0) break;
            rest /= ne[i];
            close++;
        }
        for (int64_t i = 0; i < close; i++)
            put_text(t, "]");
    }
}

/* {"key": K, "value": V[, "key_lengths": L]} for [B, H, Lk, d] and [B, H, Lk, dv]. */
static char *source_body(const int64_t k[4], int64_t dv, const char *lengths)
{
    text t = {0};
    int64_t v[4] = {k[0], k[1], k[2], dv};
    put_text(&t, "{\"key\": ");
    put_tensor(&t, 4, k, 1);
    put_text(&t, ", \"value\": ");
    put_tensor(&t, 4, v, 2);
    if (lengths) put_text(&t, ", \"key_lengths\": %s", lengths);
    put_text(&t, "}");
    return t.p;
}

/* An attention body for query [B, H, Lq, d] and either the source `id` or the key and value
 * (and lengths) inline, with `options` (",..." or ""). */
static char *attention_body(const int64_t q[4], const char *id, const int64_t k[4], int64_t dv,
                            const char *lengths, const char *options)
{
    text t = {0};
    put_text(&t, "{\"query\": ");
    put_tensor(&t, 4, q, 3);
    if (id) {
        put_text(&t, ", \"source_id\": \"%s\"", id);
    } else {
        int64_t v[4] = {k[0], k[1], k[2], dv};
        put_text(&t, ", \"key\": ");
        put_tensor(&t, 4, k, 1);
        put_text(&t, ", \"value\": ");
        put_tensor(&t, 4, v, 2);
        if (lengths) put_text(&t, ", \"key_lengths\": %s", lengths);
    }
    put_text(&t, "%s}", options);
    return t.p;
}

/* ---- talking to the daemon ---- */

/* The response's member `name` printed without spaces (malloc'd), for exact comparison. */
static char *member_text(const test_response *r, const char *name)
{
    cJSON *root = cJSON_Parse(r->body);
    ASSERT(root != NULL);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!m) harness_fail(__FILE__, __LINE__, "no '%s' in %.300s", name, r->body);
    char *s = cJSON_PrintUnformatted(m);
    cJSON_Delete(root);
    return s;
}

/* POSTs the query against source `id` and against the same tensors inline; the context (and
 * the weights when returned) must be the same text. */
static void same_as_inline(const test_daemon *d, const int64_t q[4], const char *id,
                           const int64_t k[4], int64_t dv, const char *lengths, const char *options,
                           bool weights)
{
    char *by_id = attention_body(q, id, k, dv, NULL, options);
    char *inline_body = attention_body(q, NULL, k, dv, lengths, options);
    test_response a, b;
    ASSERT_EQ(test_request(d, "POST", "/v1/attention", by_id, &a), 200);
    ASSERT_EQ(test_request(d, "POST", "/v1/attention", inline_body, &b), 200);
    const char *names[2] = {"context", "weights"};
    for (int i = 0; i < (weights ? 2 : 1); i++) {
        char *x = member_text(&a, names[i]), *y = member_text(&b, names[i]);
        if (strcmp(x, y) != 0)
            harness_fail(__FILE__, __LINE__, "%s differs: by id %.200s, inline %.200s", names[i], x,
                         y);
        free(x);
        free(y);
    }
    ASSERT(strstr(a.body, "\"key_shape\"") != NULL);
    test_response_free(&a);
    test_response_free(&b);
    free(by_id);
    free(inline_body);
}

/* ---- tests ---- */

TEST(http_sources_put_get_use_delete)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    const int64_t k[4] = {2, 3, 40, 8}, q[4] = {2, 3, 5, 8};
    char *body = source_body(k, 6, "[40, 17]");
    test_response r;
    ASSERT_EQ(test_request(&d, "PUT", "/v1/sources/enc-1", body, &r), 201);
    ASSERT(strstr(r.body, "\"id\":\"enc-1\"") != NULL);
    ASSERT(strstr(r.body, "\"key_shape\":[2,3,40,8]") != NULL);
    ASSERT(strstr(r.body, "\"value_shape\":[2,3,40,6]") != NULL);
    ASSERT(strstr(r.body, "\"key_lengths\":true") != NULL);
    ASSERT(strstr(r.body, "\"expires_in\":3600") != NULL);
    test_response_free(&r);
    test_expect(&d, "PUT", "/v1/sources/enc-1", body, 200, "\"id\":\"enc-1\""); /* replaced */
    test_expect(&d, "GET", "/v1/sources/enc-1", NULL, 200, "\"key_shape\":[2,3,40,8]");
    ASSERT_EQ(test_metric(&d, "attnd_sources"), 1);
    ASSERT(test_metric(&d, "attnd_sources_bytes") >= 2 * 3 * 40 * (8 + 6) * 4);

    /* The stored key_lengths apply, with weights and without (the tiled path), causal too. */
    same_as_inline(&d, q, "enc-1", k, 6, "[40, 17]", "", true);
    same_as_inline(&d, q, "enc-1", k, 6, "[40, 17]", ", \"return_weights\": false", false);
    same_as_inline(&d, q, "enc-1", k, 6, "[40, 17]", ", \"causal\": true, \"score\": \"dot\"",
                   true);
    ASSERT_EQ(test_metric(&d, "attnd_sources_hits_total"), 3);

    test_expect(&d, "DELETE", "/v1/sources/enc-1", NULL, 204, NULL);
    test_expect(&d, "GET", "/v1/sources/enc-1", NULL, 404, "source 'enc-1' not found");
    test_expect(&d, "DELETE", "/v1/sources/enc-1", NULL, 404, "source 'enc-1' not found");
    char *use = attention_body(q, "enc-1", k, 6, NULL, "");
    test_expect(&d, "POST", "/v1/attention", use, 404, "PUT /v1/sources/enc-1 first");
    ASSERT_EQ(test_metric(&d, "attnd_sources_misses_total"), 1);
    ASSERT_EQ(test_metric(&d, "attnd_sources"), 0);
    ASSERT_EQ(test_metric(&d, "attnd_sources_bytes"), 0);
    free(use);
    free(body);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}

/* One query over 20,000 stored keys: the core splits the keys over the workers, and the answer
 * is the one the same keys sent inline get, to the digit. Rank 2 and 3 sources too. */
TEST(http_sources_many_keys_and_ranks_same_as_inline)
{
    test_daemon d;
    const char *args[] = {"--threads", "2", NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    const int64_t k[4] = {1, 1, 20000, 8}, q[4] = {1, 1, 1, 8};
    char *body = source_body(k, 4, NULL);
    test_expect(&d, "PUT", "/v1/sources/long", body, 201, "\"key_shape\":[1,1,20000,8]");
    same_as_inline(&d, q, "long", k, 4, NULL, ", \"return_weights\": false", false);
    free(body);

    /* [H, Lk, d] and [Lk, d] sources with queries of the same rank. */
    test_expect(&d, "PUT", "/v1/sources/r3",
                "{\"key\": [[[1, 0], [0, 1]]], \"value\": [[[1], [3]]]}", 201,
                "\"key_shape\":[1,2,2]");
    test_expect(&d, "POST", "/v1/attention",
                "{\"query\": [[[0, 0]]], \"source_id\": \"r3\", \"return_weights\": false}", 200,
                "\"context\":[[[2]]]");
    test_expect(&d, "PUT", "/v1/sources/r2", "{\"key\": [[1, 0], [0, 1]], \"value\": [[1], [3]]}",
                201, "\"key_shape\":[2,2]");
    test_expect(&d, "POST", "/v1/attention", "{\"query\": [[0, 0]], \"source_id\": \"r2\"}", 200,
                "\"weights\":[[0.5,0.5]]");
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}

TEST(http_sources_errors)
{
    test_daemon d;
    const char *args[] = {"--source-memory", "4096", NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    const char *ok = "{\"key\": [[1, 0], [0, 1]], \"value\": [[1], [3]]}";
    test_expect(&d, "PUT", "/v1/sources/s", ok, 201, NULL);

    /* Ids. */
    test_expect(&d, "PUT", "/v1/sources/a%20b", ok, 400, "character 2 (0x20) is not allowed");
    char path[128];
    snprintf(path, sizeof path, "/v1/sources/%065d", 0);
    test_expect(&d, "PUT", path, ok, 400, "1 to 64 characters");
    test_expect(&d, "GET", "/v1/sources/a/b", NULL, 404, "no route");
    /* The route list names each route's methods (but HEAD), whole even after a long path. */
    test_expect(&d, "GET", "/v1/sources/a/b", NULL, 404,
                "POST /v1/attention, GET /v1/models, GET /v1/models/{name}, POST "
                "/v1/models/{name}/attention, PUT/GET/DELETE /v1/sources/{id}, GET /v2,");
    snprintf(path, sizeof path, "/v1/sources/a/%0100d", 0);
    test_expect(&d, "GET", path, NULL, 404, "/openapi.json\"}}");
    test_expect(&d, "POST", "/v1/sources/s", ok, 405, "allowed: PUT, GET, DELETE");

    /* PUT bodies: the rules of /v1/attention's key and value. */
    test_expect(&d, "PUT", "/v1/sources/t", "{\"key\": [[1, 0]]}", 400, "missing field 'value'");
    test_expect(&d, "PUT", "/v1/sources/t", "{\"value\": [[1, 0]]}", 400, "missing field 'key'");
    test_expect(&d, "PUT", "/v1/sources/t", "{\"key\": [1, 0], \"value\": [1, 0]}", 400,
                "key: expected rank 2 [Lk, d]");
    test_expect(&d, "PUT", "/v1/sources/t", "{\"key\": [[1, 0]], \"value\": [[1], [2]]}", 400,
                "value: expected shape [1, *]");
    test_expect(&d, "PUT", "/v1/sources/t", "{\"key\": [[1, 0]], \"value\": [[1, \"x\"]]}", 400,
                "value[0][1]");
    test_expect(&d, "PUT", "/v1/sources/t", "{\"key\": [[1, 0]], \"value\": [[1]], \"keys\": 1}",
                400, "unknown field 'keys'");
    test_expect(&d, "PUT", "/v1/sources/t",
                "{\"key\": [[1, 0]], \"value\": [[1]], \"key_lengths\": [2]}", 400,
                "key_lengths[0]");
    test_expect(&d, "PUT", "/v1/sources/t",
                "{\"key\": [[1, 0]], \"value\": [[1]], \"key_lengths\": [1, 1]}", 400,
                "expected 1 entries");
    test_expect(&d, "PUT", "/v1/sources/t", "{\"key\": [[1, 0]],", 400, NULL);
    test_response r;
    ASSERT_EQ(test_http(&d, "PUT", "/v1/sources/t", "text/plain", ok, strlen(ok), &r), 0);
    ASSERT_EQ(r.status, 415);
    test_response_free(&r);
    /* Larger than the whole budget: 413, and what is stored stays. */
    const int64_t big[4] = {1, 1, 100, 8};
    char *body = source_body(big, 8, NULL);
    test_expect(&d, "PUT", "/v1/sources/big", body, 413, "--source-memory");
    free(body);
    test_expect(&d, "GET", "/v1/sources/s", NULL, 200, NULL);
    test_expect(&d, "GET", "/v1/sources/t", NULL, 404, "not found");

    /* Attention with source_id. */
    test_expect(&d, "POST", "/v1/attention", "{\"query\": [[1, 0]], \"source_id\": 7}", 400,
                "source_id: expected a string");
    test_expect(&d, "POST", "/v1/attention",
                "{\"query\": [[1, 0]], \"source_id\": \"s\", \"key\": [[1, 0]]}", 400, "not both");
    test_expect(&d, "POST", "/v1/attention",
                "{\"query\": [[1, 0]], \"source_id\": \"s\", \"value\": [[1]]}", 400, "not both");
    test_expect(&d, "POST", "/v1/attention", "{\"query\": [[1, 0, 0]], \"source_id\": \"s\"}", 400,
                "source 's' holds key [2, 2]");
    test_expect(&d, "POST", "/v1/attention", "{\"query\": [[[1, 0]]], \"source_id\": \"s\"}", 400,
                "does not fit");
    test_expect(&d, "POST", "/v1/attention", "{\"query\": [[1, 0]], \"source_id\": \"no/such\"}",
                400, "is not allowed");
    test_expect(&d, "POST", "/v1/attention", "{\"query\": [[1, 0]], \"source_id\": \"nope\"}", 404,
                "source 'nope' not found");
    test_expect(&d, "PUT", "/v1/sources/kl",
                "{\"key\": [[1, 0]], \"value\": [[1]], \"key_lengths\": [1]}", 201,
                "\"key_lengths\":true");
    test_expect(&d, "POST", "/v1/attention",
                "{\"query\": [[1, 0]], \"source_id\": \"kl\", \"key_lengths\": [1]}", 400,
                "has its own key_lengths");
    /* And the daemon still serves. */
    test_expect(&d, "POST", "/v1/attention", "{\"query\": [[0, 0]], \"source_id\": \"s\"}", 200,
                "\"context\":[[2]]");
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}

/* A budget of about two sources: the least recently used goes when a third comes, which a 404
 * and the eviction counter show; the one used in between stays. */
TEST(http_sources_eviction_visible)
{
    test_daemon d;
    /* Each source below is [1, 1, 64, 8] twice: 4 KiB of floats plus a header. */
    const char *args[] = {"--source-memory", "9000", NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    const int64_t k[4] = {1, 1, 64, 8}, q[4] = {1, 1, 2, 8};
    char *body = source_body(k, 8, NULL);
    char *use_a = attention_body(q, "a", k, 8, NULL, "");
    test_expect(&d, "PUT", "/v1/sources/a", body, 201, NULL);
    test_expect(&d, "PUT", "/v1/sources/b", body, 201, NULL);
    test_expect(&d, "POST", "/v1/attention", use_a, 200, "\"context\"");
    ASSERT_EQ(test_metric(&d, "attnd_sources_evictions_total"), 0);
    test_expect(&d, "PUT", "/v1/sources/c", body, 201, NULL);
    test_expect(&d, "GET", "/v1/sources/b", NULL, 404, "evicted to stay within --source-memory");
    test_expect(&d, "GET", "/v1/sources/a", NULL, 200, NULL);
    test_expect(&d, "GET", "/v1/sources/c", NULL, 200, NULL);
    ASSERT_EQ(test_metric(&d, "attnd_sources_evictions_total"), 1);
    ASSERT_EQ(test_metric(&d, "attnd_sources"), 2);
    ASSERT(test_metric(&d, "attnd_sources_bytes") <= 9000);
    ASSERT_EQ(test_metric(&d, "attnd_sources_budget_bytes"), 9000);
    free(body);
    free(use_a);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}

/* --source-ttl 1: a source left unused is gone within a few seconds (polled, not slept on), and
 * the expiry counter says why. (That it is kept until then is the unit tests' to show, on a
 * clock of their own: here a loaded machine may take a second between two requests.) */
TEST(http_sources_expire_after_ttl)
{
    test_daemon d;
    const char *args[] = {"--source-ttl", "1", NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    test_expect(&d, "PUT", "/v1/sources/brief", "{\"key\": [[1, 0]], \"value\": [[1]]}", 201,
                "\"expires_in\":1");
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double waited = 0;
    while (test_metric(&d, "attnd_sources_expirations_total") < 1 && waited < 30) {
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
        waited = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9;
    }
    ASSERT_EQ(test_metric(&d, "attnd_sources_expirations_total"), 1);
    test_expect(&d, "GET", "/v1/sources/brief", NULL, 404, "unused for --source-ttl seconds");
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}
