/* Unit tests of the fast paths of the model's input: core/box_muller.c (the hashing embedding's
 * vector Box-Muller must give the plain libm formula's floats bit for bit), core/positions.c
 * (the cached position table must give at_positional_add_rows's floats bit for bit, growing,
 * capped and shared between threads) and at_model_embed_pool. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/box_muller_int.h"
#include "../core/embed.h"
#include "../core/model.h"
#include "../core/positions.h"
#include "../core/rng.h"
#include "core_support.h"
#include "harness.h"

/* The definition, written out again here: a draw as the header documents it. */
static float draw(uint64_t bits)
{
    double u1 = ((double)(uint32_t)(bits >> 32) + 0.5) * 0x1p-32;
    double u2 = ((double)(uint32_t)bits + 0.5) * 0x1p-32;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925286766559 * u2));
}

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

TEST(embed_box_muller_bit_identical)
{
    enum { N = 1 << 16, ROUNDS = 16 };
    uint64_t *bits = malloc(N * sizeof *bits);
    float *out = malloc(N * sizeof *out);
    ASSERT(bits && out);
    /* Words at the ends of both halves and where cos(2 pi u2) crosses zero (u2 near 1/4, 3/4),
     * where the fast path must hand over to libm. */
    static const uint32_t edges[] = {0,          1,          0x3fffffff, 0x40000000, 0x40000001,
                                     0x7fffffff, 0x80000000, 0xbfffffff, 0xc0000000, 0xc0000001,
                                     0xfffffffe, 0xffffffff, 0x20000000, 0x60000000};
    size_t ne = sizeof edges / sizeof edges[0];
    long mismatches = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int64_t i = 0; i < N; i++)
            bits[i] = at_rng_mix((uint64_t)(r * N + i) * AT_RNG_GOLDEN);
        if (r == 0)
            for (size_t a = 0; a < ne; a++)
                for (size_t b = 0; b < ne; b++)
                    bits[a * ne + b] = (uint64_t)edges[a] << 32 | edges[b];
        /* An odd count: the tail after the last full vector takes the exact path too. */
        int64_t n = N - r;
        at_box_muller(bits, n, out);
        for (int64_t i = 0; i < n; i++)
            if (!same_bits(out[i], draw(bits[i])) || !same_bits(out[i], at_box_muller_ref(bits[i])))
                mismatches++;
    }
    ASSERT_EQ(mismatches, 0);
    free(bits), free(out);
}

TEST(embed_hashed_matches_definition)
{
    static const int64_t dims[] = {1, 7, 8, 63, 64, 65, 130};
    float v[130];
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (uint64_t id = 0; id < 300; id++) {
            uint64_t tok = at_rng_mix(id);
            at_embed_hashed(AT_DEFAULT_SEED, tok, dims[d], v);
            uint64_t stream = at_rng_mix(AT_DEFAULT_SEED ^ tok);
            for (int64_t e = 0; e < dims[d]; e++)
                ASSERT(
                    same_bits(v[e], draw(at_rng_mix(stream + (uint64_t)(e + 1) * AT_RNG_GOLDEN))));
        }
}

/* x [n, dim] filled with a pattern that differs per row. */
static float *pattern(int64_t n, int64_t dim)
{
    float *x = malloc((size_t)(n * dim) * sizeof(float));
    ASSERT(x);
    for (int64_t i = 0; i < n * dim; i++)
        x[i] = (float)((i * 7919) % 101) * 0.03125f - 1.5f;
    return x;
}

TEST(embed_positions_table_bit_identical)
{
    static const int64_t dims[] = {1, 5, 64, 768};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        const int64_t dim = dims[d];
        at_positions *p = at_positions_new(dim, 50); /* cap 50 rows: beyond it, computed */
        ASSERT(p);
        static const int64_t ranges[][2] = {{0, 3},   {0, 1},   {2, 9},   {0, 40}, {10, 48},
                                            {0, 120}, {45, 60}, {55, 70}, {0, 7}};
        for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
            const int64_t p0 = ranges[r][0], p1 = ranges[r][1], n = p1 - p0;
            float *a = pattern(n, dim), *b = pattern(n, dim);
            at_positional_add_rows(a, p0, p1, dim);
            at_positions_add(p, b, p0, p1);
            ASSERT(memcmp(a, b, (size_t)(n * dim) * sizeof(float)) == 0);
            if (p0 == 0) { /* and both agree with the whole-sequence function */
                float *c = pattern(n, dim);
                at_positional_add_sinusoidal(c, n, dim);
                ASSERT(memcmp(a, c, (size_t)(n * dim) * sizeof(float)) == 0);
                free(c);
            }
            free(a), free(b);
        }
        /* Grown by doubling up to the cap of 50 rows: 3, 6, 12, 24, 48, 50 at most; the tables
         * it replaced stay until the end, so at most about twice the cap. */
        size_t cap = 50 * (size_t)dim * sizeof(double);
        ASSERT(at_positions_bytes(p) >= cap);
        ASSERT(at_positions_bytes(p) <= 2 * cap + 8 * 64);
        at_positions_free(p);
    }
    at_positions_free(NULL);
    /* Without a row limit, the byte limit caps the table. */
    at_positions *p = at_positions_new(768, 0);
    float *a = pattern(1000, 768), *b = pattern(1000, 768);
    at_positional_add_rows(a, 0, 1000, 768);
    at_positions_add(p, b, 0, 1000);
    ASSERT(memcmp(a, b, (size_t)1000 * 768 * sizeof(float)) == 0);
    ASSERT(at_positions_bytes(p) <= AT_POSITIONS_MAX_BYTES + 64);
    ASSERT(at_positions_bytes(p) >= AT_POSITIONS_MAX_BYTES - 768 * sizeof(double));
    at_positions_free(p);
    free(a), free(b);
}

typedef struct pos_thread {
    at_positions *p;
    int64_t dim, seed;
    int bad;
} pos_thread;

/* Many lengths in an order of its own, each compared with the direct computation. */
static void *positions_worker(void *arg)
{
    pos_thread *t = arg;
    for (int64_t k = 0; k < 40; k++) {
        int64_t n = 1 + (k * 37 + t->seed * 101) % 300;
        float *a = pattern(n, t->dim), *b = pattern(n, t->dim);
        at_positional_add_rows(a, 0, n, t->dim);
        at_positions_add(t->p, b, 0, n);
        if (memcmp(a, b, (size_t)(n * t->dim) * sizeof(float)) != 0) t->bad++;
        free(a), free(b);
    }
    return NULL;
}

TEST(embed_positions_shared_between_threads)
{
    enum { T = 4 };
    at_positions *p = at_positions_new(64, 0);
    pthread_t th[T];
    pos_thread arg[T];
    for (int i = 0; i < T; i++) {
        arg[i] = (pos_thread){p, 64, i, 0};
        ASSERT_EQ(pthread_create(&th[i], NULL, positions_worker, &arg[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ(arg[i].bad, 0);
    }
    at_positions_free(p);
}

typedef struct embed_call {
    const at_model *m;
    const uint64_t *ids;
    int64_t n;
    float *x;
} embed_call;

static int embed_job(void *ctx, at_pool *pool, int worker)
{
    embed_call *c = ctx;
    at_model_embed_pool(c->m, c->ids, c->n, c->x, pool, worker);
    return 0;
}

TEST(embed_model_pool_and_table_same_floats)
{
    at_model m;
    float *storage = malloc(at_model_default_floats() * sizeof(float));
    ASSERT(storage);
    at_model_init_default(&m, storage);
    enum { L = 300 };
    uint64_t ids[L];
    for (int i = 0; i < L; i++)
        ids[i] = at_rng_mix((uint64_t)i);
    float *a = malloc(L * 64 * sizeof(float)), *b = malloc(L * 64 * sizeof(float));
    ASSERT(a && b);
    for (int i = 0; i < L; i++)
        at_embed_hashed(AT_DEFAULT_SEED, ids[i], 64, a + i * 64);
    at_positional_add_sinusoidal(a, L, 64);
    at_pool *pool = at_pool_new(3, 4);
    ASSERT(m.positions == NULL);
    embed_call c = {&m, ids, L, b};
    ASSERT_EQ(ct_run_on_pool(pool, embed_job, &c), 0); /* rows split between workers */
    ASSERT(memcmp(a, b, L * 64 * sizeof(float)) == 0);
    m.positions = at_positions_new(64, 0);
    for (int r = 0; r < 2; r++) { /* once filling the table, once reading it */
        memset(b, 0, L * 64 * sizeof(float));
        ASSERT_EQ(ct_run_on_pool(pool, embed_job, &c), 0);
        ASSERT(memcmp(a, b, L * 64 * sizeof(float)) == 0);
        memset(b, 0, L * 64 * sizeof(float));
        at_model_embed(&m, ids, L, b);
        ASSERT(memcmp(a, b, L * 64 * sizeof(float)) == 0);
    }
    at_positions_free(m.positions);
    at_pool_free(pool);
    free(a), free(b), free(storage);
}
