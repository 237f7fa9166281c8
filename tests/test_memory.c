/* The README's memory per request ("Memory per request" under Performance), checked against
 * the code: the formula of a request's arena, as the README writes it, against the arena the
 * decoder actually made (arena_bytes) for several shapes, and the compute workspace against
 * the bounds the README states (nothing beside the weights; the per-head weights when heads are
 * averaged; a few tiles per worker on the path without weights, whatever the lengths). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/api.h"
#include "../api/model_request.h"
#include "../api/request.h"
#include "../api/v1/json_model.h"
#include "../core/attention.h"
#include "api_support.h"
#include "harness.h"
#include "model_support.h"

/* ⌈n⌉: n rounded up to the arena's 64-byte alignment. */
static int64_t up(int64_t n)
{
    return (n + 63) / 64 * 64;
}

typedef struct shape {
    int64_t B, H, Lq, Lk, d, dv;
    int rank;           /* of the query: 2 ([Lq, d]), 3 ([H, Lq, d]) or 4 */
    bool key, value;    /* sent (else the query is the key, the key the value) */
    bool weights, avg;  /* return_weights, average_heads */
    bool mask, lengths; /* a [Lq, Lk] mask, key_lengths */
} shape;

/* The README's formula for /v1/attention. */
static int64_t readme_arena(const shape *s)
{
    int64_t bh = s->B * s->H, hw = s->avg ? 1 : s->H;
    return up((int64_t)sizeof(api_attention_request)) + up(4 * bh * s->Lq * s->d) +
           (s->key ? up(4 * bh * s->Lk * s->d) : 0) + (s->value ? up(4 * bh * s->Lk * s->dv) : 0) +
           up(4 * bh * s->Lq * s->dv) + (s->weights ? up(4 * s->B * hw * s->Lq * s->Lk) : 0) +
           (s->lengths ? up(8 * s->B) : 0) + (s->mask ? up(s->Lq * s->Lk) : 0);
}

/* A nested JSON array of `rank` levels of sizes ne, filled with small numbers (or booleans). */
static void put_tensor(char **w, int rank, const int64_t *ne, bool boolean)
{
    *(*w)++ = '[';
    for (int64_t i = 0; i < ne[0]; i++) {
        if (i) *(*w)++ = ',';
        if (rank > 1)
            put_tensor(w, rank - 1, ne + 1, boolean);
        else
            *w += sprintf(*w, boolean ? (i % 3 ? "true" : "false") : "0.%lld", (long long)(i % 9));
    }
    *(*w)++ = ']';
}

/* The /v1/attention body of shape s. */
static char *body_of(const shape *s)
{
    size_t cap =
        (size_t)(s->B * s->H * (s->Lq + 2 * s->Lk) * (s->d + s->dv) + s->Lq * s->Lk) * 8 + 4096;
    char *body = malloc(cap), *w = body;
    int64_t q[4] = {s->B, s->H, s->Lq, s->d}, k[4] = {s->B, s->H, s->Lk, s->d},
            v[4] = {s->B, s->H, s->Lk, s->dv}, m[2] = {s->Lq, s->Lk};
    int skip = 4 - s->rank;
    w += sprintf(w, "{\"query\": ");
    put_tensor(&w, s->rank, q + skip, false);
    if (s->key) {
        w += sprintf(w, ", \"key\": ");
        put_tensor(&w, s->rank, k + skip, false);
    }
    if (s->value) {
        w += sprintf(w, ", \"value\": ");
        put_tensor(&w, s->rank, v + skip, false);
    }
    if (s->mask) {
        w += sprintf(w, ", \"mask\": ");
        put_tensor(&w, 2, m, true);
    }
    if (s->lengths) {
        w += sprintf(w, ", \"key_lengths\": [");
        for (int64_t b = 0; b < s->B; b++)
            w += sprintf(w, "%s%lld", b ? "," : "", (long long)s->Lk);
        w += sprintf(w, "]");
    }
    w += sprintf(w, ", \"return_weights\": %s, \"average_heads\": %s}",
                 s->weights ? "true" : "false", s->avg ? "true" : "false");
    return body;
}

static api_attention_request *decode(const shape *s)
{
    char *body = body_of(s);
    api_attention_request *req = NULL;
    api_error err;
    int rc = api_test_decode(body, NULL, &req, &err);
    if (rc != 0) harness_fail(__FILE__, __LINE__, "decode: %d %s", rc, err.message);
    free(body);
    return req;
}

TEST(memory_attention_arena_matches_the_readme)
{
    const shape shapes[] = {
        {1, 1, 4, 4, 8, 8, 2, false, false, true, false, false, false},          /* tiny */
        {1, 8, 128, 128, 64, 64, 3, false, false, true, false, false, false},    /* medium */
        {1, 8, 128, 128, 64, 64, 3, false, false, false, false, false, false},   /* no weights */
        {2, 4, 32, 48, 16, 24, 4, true, true, true, true, false, true},          /* averaged */
        {1, 1, 16384, 16384, 64, 64, 2, true, true, false, false, false, false}, /* long */
        {1, 2, 20, 36, 8, 8, 3, true, false, true, false, true, false},          /* masked */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        api_attention_request *req = decode(&shapes[i]);
        if ((int64_t)req->arena_bytes != readme_arena(&shapes[i]))
            harness_fail(__FILE__, __LINE__, "shape %zu: arena %zu bytes, README formula %lld", i,
                         req->arena_bytes, (long long)readme_arena(&shapes[i]));
        api_attention_request_free(req);
    }
    /* The fixed part, which the README quotes as about 1.4 KB. */
    ASSERT(up((int64_t)sizeof(api_attention_request)) <= 2048);
}

/* The flash path's per-worker bound of the README: 4 (256 x 512 + 2 x 256) bytes. */
#define FLASH_WORKER_MAX (4 * (256 * 512 + 2 * 256))

TEST(memory_workspace_within_the_readme_bounds)
{
    /* Weights returned, soft, not averaged: the scores go straight into the weights; small
     * blocks (rows·Lk·d <= 10^6) add the head's keys transposed, ⌈4·d·Lk⌉ per worker. */
    shape med = {1, 8, 128, 128, 64, 64, 3, false, false, true, false, false, false};
    api_attention_request *req = decode(&med);
    ASSERT_EQ(at_attention_workspace_size(&req->desc, 1), up(4 * 64 * 128));
    ASSERT_EQ(at_attention_workspace_size(&req->desc, 2), 2 * up(4 * 64 * 128));
    api_attention_request_free(req);
    /* No weights over at most 512 keys and more than 64 query rows: a block of scores too. */
    shape med_nw = {1, 8, 128, 128, 64, 64, 3, false, false, false, false, false, false};
    req = decode(&med_nw);
    ASSERT_EQ(at_attention_workspace_size(&req->desc, 2),
              2 * (up(4 * 64 * 128) + up(4 * 64 * 128)));
    api_attention_request_free(req);
    shape big = {1, 8, 512, 512, 64, 64, 3, false, false, true, false, false, false};
    req = decode(&big);
    ASSERT_EQ(at_attention_workspace_size(&req->desc, 2), 0);
    api_attention_request_free(req);

    /* Averaged heads: every head's weights first, B·H·Lq·Lk floats, shared by the workers (and
     * the small blocks' transposed keys per worker). */
    shape avg = {2, 4, 32, 48, 16, 24, 4, true, true, true, true, false, false};
    req = decode(&avg);
    ASSERT_EQ(at_attention_workspace_size(&req->desc, 1),
              up(4 * 2 * 4 * 32 * 48) + up(4 * 16 * 48));
    ASSERT_EQ(at_attention_workspace_size(&req->desc, 2),
              up(4 * 2 * 4 * 32 * 48) + 2 * up(4 * 16 * 48));
    api_attention_request_free(req);

    /* Without weights (the tiled path): at most FLASH_WORKER_MAX per worker, however long. */
    const int64_t lengths[] = {64, 2048, 16384};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        shape s = {1, 1, lengths[i], lengths[i], 64, 64, 2, true, true, false, false, false, false};
        req = decode(&s);
        for (int threads = 1; threads <= 4; threads++) {
            size_t ws = at_attention_workspace_size(&req->desc, threads);
            if (ws == 0 || ws > (size_t)threads * FLASH_WORKER_MAX)
                harness_fail(__FILE__, __LINE__, "L %lld, %d threads: workspace %zu bytes",
                             (long long)lengths[i], threads, ws);
        }
        api_attention_request_free(req);
    }
}

/* /v1/models/default/attention with "ids": the README's formula for a one-layer model. */
TEST(memory_model_arena_matches_the_readme)
{
    api_model_registry *reg = mt_fixture_registry();
    const api_model *model = api_model_registry_find(reg, "default");
    ASSERT(model != NULL);
    const at_model *m = api_model_core(model);
    const int64_t E = m->mha.embed_dim, H = m->mha.num_heads;
    const int64_t lens[] = {1, 7, 64};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int weights = 0; weights <= 1; weights++) {
            int64_t L = lens[i];
            char body[2048];
            int n = snprintf(body, sizeof body, "{\"ids\": [");
            for (int64_t t = 0; t < L; t++)
                n += snprintf(body + n, sizeof body - (size_t)n, "%s%lld", t ? "," : "",
                              (long long)(t % 4));
            snprintf(body + n, sizeof body - (size_t)n, "], \"return_weights\": %s}",
                     weights ? "true" : "false");
            api_model_request *req = NULL;
            api_error err;
            int rc = api_v1_decode_model_attention(body, strlen(body), model, NULL, &req, &err);
            if (rc != 0) harness_fail(__FILE__, __LINE__, "decode: %d %s", rc, err.message);
            int64_t want = up((int64_t)sizeof(api_model_request)) + up(8 * L) + up(4 * L * E) +
                           up(4 * L * E) + (weights ? up(4 * H * L * L) : 0);
            if ((int64_t)req->arena_bytes != want)
                harness_fail(__FILE__, __LINE__, "L %lld weights %d: arena %zu, README %lld",
                             (long long)L, weights, req->arena_bytes, (long long)want);
            api_model_request_free(req);
        }
    }
    api_model_registry_free(reg);
}
