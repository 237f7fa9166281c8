/* Unit tests of core/: the attention forward pass against the double-precision reference over
 * many shapes, layouts, masks and pool sizes; a hand-checked case; the row softmax; descriptor
 * validation; and the small helpers (status names, shapes, BLAS). */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/attention.h"
#include "../core/blas.h"
#include "../core/reference.h"
#include "../core/softmax.h"
#include "../core/status.h"
#include "harness.h"

/* ---- inputs ---- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static int64_t rng_int(rng *r, int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

static float rng_float(rng *r) /* [-1, 1) */
{
    return (float)((double)(rng_next(r) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* How a [B, H, L, d] view lies in memory. */
typedef enum layout {
    LAYOUT_DENSE,       /* [B, H, L, d] */
    LAYOUT_PADDED_ROWS, /* [B, H, L, d + pad]: nb[2] > d */
    LAYOUT_BLHD,        /* [B, L, H, d + pad] viewed as [B, H, L, d], as a fused projection gives */
    LAYOUT_SHARED_HEAD, /* one [B, 1, L, d + pad] block seen by every head: nb[1] = 0 */
    LAYOUT_COUNT
} layout;

/* A float view with its own allocation. Padding is NaN so that reading it poisons the output. */
static at_tensor make_view(rng *r, int64_t b, int64_t h, int64_t l, int64_t d, layout lay)
{
    int64_t pad = lay == LAYOUT_DENSE ? 0 : 3;
    int64_t rs = d + pad, heads_stored = lay == LAYOUT_SHARED_HEAD ? 1 : h;
    int64_t total = b * heads_stored * l * rs;
    float *data = malloc((size_t)total * sizeof(float));
    ASSERT(data != NULL);
    for (int64_t i = 0; i < total; i++)
        data[i] = (i % rs) < d ? rng_float(r) : NAN;
    at_tensor t = {.dtype = AT_F32, .rank = 4, .ne = {b, h, l, d}, .data = data};
    switch (lay) {
    case LAYOUT_BLHD: memcpy(t.nb, (int64_t[]){l * h * rs, rs, h * rs, 1}, sizeof t.nb); break;
    case LAYOUT_SHARED_HEAD: memcpy(t.nb, (int64_t[]){l * rs, 0, rs, 1}, sizeof t.nb); break;
    default: memcpy(t.nb, (int64_t[]){h * l * rs, l * rs, rs, 1}, sizeof t.nb); break;
    }
    return t;
}

/* A random BOOL mask for scores [B, H, Lq, Lk]. Bit a of `bcast` broadcasts dim a; with
 * `unit_dims` a broadcast dim is given as size 1, otherwise as the full size with stride 0. */
static at_tensor make_mask(rng *r, const int64_t scores[4], unsigned bcast, bool unit_dims,
                           int percent_true)
{
    int64_t ne[4], total = 1;
    for (int a = 0; a < 4; a++) {
        ne[a] = (bcast >> a) & 1 ? 1 : scores[a];
        total *= ne[a];
    }
    uint8_t *data = malloc((size_t)total);
    ASSERT(data != NULL);
    for (int64_t i = 0; i < total; i++)
        data[i] = rng_int(r, 0, 99) < percent_true;
    at_tensor m = at_tensor_make(AT_BOOL, 4, ne, data);
    if (!unit_dims)
        for (int a = 0; a < 4; a++)
            if ((bcast >> a) & 1) {
                m.ne[a] = scores[a];
                m.nb[a] = 0;
            }
    return m;
}

/* ---- running ---- */

typedef struct forward_job {
    const at_attention_desc *d;
    const at_attention_out *out;
    void *ws;
    at_pool *pool;
    int rc;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} forward_job;

static void forward_job_run(void *arg, int worker)
{
    forward_job *j = arg;
    int rc = at_attention_forward(j->d, j->out, j->ws, j->pool, worker);
    pthread_mutex_lock(&j->mu);
    j->rc = rc;
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* Runs the forward pass as a job on `pool` (the way the server does), or inline for NULL. */
static int run_forward(at_pool *pool, const at_attention_desc *d, const at_attention_out *out)
{
    size_t ws_size = at_attention_workspace_size(d, at_pool_threads(pool));
    void *ws = ws_size ? aligned_alloc(64, (ws_size + 63) / 64 * 64) : NULL;
    if (ws_size) ASSERT(ws != NULL);
    int rc;
    if (!pool) {
        rc = at_attention_forward(d, out, ws, NULL, 0);
    } else {
        forward_job j = {.d = d, .out = out, .ws = ws, .pool = pool};
        pthread_mutex_init(&j.mu, NULL);
        pthread_cond_init(&j.cv, NULL);
        ASSERT_EQ(at_pool_submit(pool, forward_job_run, &j), AT_OK);
        pthread_mutex_lock(&j.mu);
        while (!j.done)
            pthread_cond_wait(&j.cv, &j.mu);
        pthread_mutex_unlock(&j.mu);
        pthread_cond_destroy(&j.cv);
        pthread_mutex_destroy(&j.mu);
        rc = j.rc;
    }
    free(ws);
    return rc;
}

typedef struct outputs {
    float *context, *weights;
    size_t context_n, weights_n;
} outputs;

static outputs alloc_outputs(const at_attention_desc *d)
{
    outputs o = {0};
    int64_t b = d->query.ne[0], h = d->query.ne[1], lq = d->query.ne[2], lk = d->key.ne[2];
    o.context_n = (size_t)(b * h * lq * d->value.ne[3]);
    o.context = malloc(o.context_n * sizeof(float));
    ASSERT(o.context != NULL);
    if (d->need_weights) {
        o.weights_n = (size_t)(b * (d->average_heads ? 1 : h) * lq * lk);
        o.weights = malloc(o.weights_n * sizeof(float));
        ASSERT(o.weights != NULL);
        /* Poison: every element must be written. */
        for (size_t i = 0; i < o.weights_n; i++)
            o.weights[i] = NAN;
    }
    for (size_t i = 0; i < o.context_n; i++)
        o.context[i] = NAN;
    return o;
}

static void free_outputs(outputs *o)
{
    free(o->context);
    free(o->weights);
}

static char *describe(const at_attention_desc *d, char *buf, size_t len)
{
    char q[64], k[64], v[64];
    snprintf(buf, len, "q%s k%s v%s score=%d scale=%s%g causal=%d mask=%d weights=%d avg=%d",
             at_shape_str(4, d->query.ne, q, sizeof q), at_shape_str(4, d->key.ne, k, sizeof k),
             at_shape_str(4, d->value.ne, v, sizeof v), (int)d->score, d->has_scale ? "" : "~",
             (double)at_attention_scale(d), d->causal, d->mask != NULL, d->need_weights,
             d->average_heads);
    return buf;
}

/* Runs `d` on `pool`, compares with the reference: weights to 1e-5 absolute, context to 1e-4
 * relative (1e-5 absolute floor); every output must be finite. */
static void check_forward(at_pool *pool, const at_attention_desc *d)
{
    char what[256], err[256];
    const char *field = NULL;
    if (at_attention_check(d, &field, err, sizeof err) != AT_OK)
        harness_fail(__FILE__, __LINE__, "check failed for %s: %s", describe(d, what, sizeof what),
                     err);
    outputs o = alloc_outputs(d);
    at_attention_out out = {.context = o.context, .weights = o.weights};
    ASSERT_EQ(run_forward(pool, d, &out), AT_OK);

    double *rc = malloc(o.context_n * sizeof(double));
    double *rw = d->need_weights ? malloc(o.weights_n * sizeof(double)) : NULL;
    ASSERT(rc != NULL && (!d->need_weights || rw != NULL));
    ASSERT_EQ(at_ref_attention(d, rc, rw), AT_OK);
    for (size_t i = 0; i < o.context_n; i++)
        if (!(fabs(o.context[i] - rc[i]) <= 1e-5 + 1e-4 * fabs(rc[i])))
            harness_fail(__FILE__, __LINE__, "%s: context[%zu] = %.9g, reference %.9g",
                         describe(d, what, sizeof what), i, (double)o.context[i], rc[i]);
    for (size_t i = 0; i < o.weights_n; i++)
        if (!(fabs(o.weights[i] - rw[i]) <= 1e-5))
            harness_fail(__FILE__, __LINE__, "%s: weights[%zu] = %.9g, reference %.9g",
                         describe(d, what, sizeof what), i, (double)o.weights[i], rw[i]);
    free(rc);
    free(rw);
    free_outputs(&o);
}

static void free_desc(at_attention_desc *d)
{
    free(d->query.data);
    free(d->key.data);
    free(d->value.data);
    if (d->mask) free(d->mask->data);
}

/* A random descriptor; `mask` receives the mask view when one is drawn. */
static at_attention_desc random_desc(rng *r, int64_t max_b, int64_t max_h, int64_t max_l,
                                     int64_t max_d, at_tensor *mask)
{
    at_attention_desc d = {0};
    int64_t b = rng_int(r, 1, max_b), h = rng_int(r, 1, max_h);
    int64_t lq = rng_int(r, 1, max_l), lk = rng_int(r, 1, max_l);
    int64_t dk = rng_int(r, 1, max_d), dv = rng_int(r, 1, max_d);
    d.query = make_view(r, b, h, lq, dk, (layout)rng_int(r, 0, LAYOUT_COUNT - 1));
    d.key = make_view(r, b, h, lk, dk, (layout)rng_int(r, 0, LAYOUT_COUNT - 1));
    d.value = make_view(r, b, h, lk, dv, (layout)rng_int(r, 0, LAYOUT_COUNT - 1));
    d.score = rng_int(r, 0, 1) ? AT_SCORE_DOT : AT_SCORE_SCALED_DOT;
    d.has_scale = rng_int(r, 0, 3) == 0;
    d.scale = d.has_scale ? (float)rng_int(r, 1, 40) / 16.0f : 0.0f;
    d.causal = rng_int(r, 0, 2) == 0;
    d.need_weights = rng_int(r, 0, 3) != 0;
    d.average_heads = d.need_weights && rng_int(r, 0, 2) == 0;
    if (rng_int(r, 0, 1)) {
        int64_t scores[4] = {b, h, lq, lk};
        *mask = make_mask(r, scores, (unsigned)rng_int(r, 0, 15), rng_int(r, 0, 1), 75);
        d.mask = mask;
    }
    return d;
}

/* ---- the hand-checked case ---- */

TEST(core_hand_checked_weights)
{
    /* One query, three keys with dot scores ln 5, ln 3, ln 2: softmax gives 5/10, 3/10, 2/10.
     * The values are one-hot vectors for the words 欢迎, 来 and 北京, so the context is the
     * weights: half of "welcome", 0.3 of "come", 0.2 of "Beijing". */
    static const char *const words[] = {"欢迎", "来", "北京"};
    float q[1] = {1.0f};
    float k[3] = {logf(5.0f), logf(3.0f), logf(2.0f)};
    float v[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    at_attention_desc d = {
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1, 1}, q),
        .key = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 3, 1}, k),
        .value = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 3, 3}, v),
        .score = AT_SCORE_DOT,
        .need_weights = true,
    };
    float context[3], weights[3];
    at_attention_out out = {.context = context, .weights = weights};
    ASSERT_EQ(at_attention_check(&d, NULL, NULL, 0), AT_OK);
    ASSERT_EQ(at_attention_forward(&d, &out, NULL, NULL, 0), AT_OK);
    const double want[3] = {0.5, 0.3, 0.2};
    for (int j = 0; j < 3; j++) {
        if (fabs(weights[j] - want[j]) > 1e-6 || fabs(context[j] - want[j]) > 1e-6)
            harness_fail(__FILE__, __LINE__, "%s: weight %.9g, context %.9g, want %.1f", words[j],
                         (double)weights[j], (double)context[j], want[j]);
    }
}

/* ---- the forward pass against the reference ---- */

TEST(core_random_shapes_vs_reference)
{
    rng r = {0x9E3779B97F4A7C15ull};
    for (int n = 0; n < 300; n++) {
        at_tensor mask;
        at_attention_desc d = random_desc(&r, 3, 4, 40, 33, &mask);
        check_forward(NULL, &d);
        free_desc(&d);
    }
}

TEST(core_tiny_1x1)
{
    float q = 0.5f, k = -2.0f, v = 3.0f;
    for (int causal = 0; causal <= 1; causal++) {
        at_attention_desc d = {
            .query = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1, 1}, &q),
            .key = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1, 1}, &k),
            .value = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1, 1}, &v),
            .causal = causal,
            .need_weights = true,
        };
        float c = 0, w = 0;
        at_attention_out out = {.context = &c, .weights = &w};
        ASSERT_EQ(at_attention_forward(&d, &out, NULL, NULL, 0), AT_OK);
        ASSERT_NEAR(w, 1.0, 0);
        ASSERT_NEAR(c, 3.0, 1e-6);
    }
}

TEST(core_dot_scaled_dot_and_scale_override)
{
    rng r = {12345};
    at_attention_desc d = {
        .query = make_view(&r, 2, 3, 7, 16, LAYOUT_DENSE),
        .key = make_view(&r, 2, 3, 9, 16, LAYOUT_DENSE),
        .value = make_view(&r, 2, 3, 9, 5, LAYOUT_DENSE),
        .need_weights = true,
    };
    ASSERT_NEAR(at_attention_scale(&d), 0.25, 0);
    check_forward(NULL, &d);
    outputs scaled = alloc_outputs(&d);
    at_attention_out so = {.context = scaled.context, .weights = scaled.weights};
    ASSERT_EQ(run_forward(NULL, &d, &so), AT_OK);

    d.score = AT_SCORE_DOT;
    ASSERT_NEAR(at_attention_scale(&d), 1.0, 0);
    check_forward(NULL, &d);

    /* "dot" with the scale 1/sqrt(d) given explicitly is exactly "scaled_dot". */
    d.has_scale = true;
    d.scale = 0.25f;
    outputs dot = alloc_outputs(&d);
    at_attention_out dout = {.context = dot.context, .weights = dot.weights};
    ASSERT_EQ(run_forward(NULL, &d, &dout), AT_OK);
    ASSERT(memcmp(dot.context, scaled.context, dot.context_n * sizeof(float)) == 0);
    ASSERT(memcmp(dot.weights, scaled.weights, dot.weights_n * sizeof(float)) == 0);

    /* An override replaces either score's default, including 0 (uniform weights) and < 0. */
    const float scales[] = {0.0f, -0.5f, 3.0f};
    for (int s = 0; s < 3; s++)
        for (int score = 0; score < 2; score++) {
            d.score = score ? AT_SCORE_DOT : AT_SCORE_SCALED_DOT;
            d.scale = scales[s];
            ASSERT_NEAR(at_attention_scale(&d), scales[s], 0);
            check_forward(NULL, &d);
        }
    free_outputs(&scaled);
    free_outputs(&dot);
    free_desc(&d);
}

/* Causal attention is top-left aligned: query i sees keys 0..i, whatever Lq and Lk are. */
TEST(core_causal_lq_lt_eq_gt_lk)
{
    rng r = {777};
    const int64_t shapes[][2] = {{5, 9}, {9, 9}, {9, 5}, {1, 7}, {7, 1}, {130, 70}, {70, 130}};
    for (size_t n = 0; n < sizeof shapes / sizeof shapes[0]; n++) {
        int64_t lq = shapes[n][0], lk = shapes[n][1];
        at_attention_desc d = {
            .query = make_view(&r, 2, 2, lq, 8, LAYOUT_DENSE),
            .key = make_view(&r, 2, 2, lk, 8, LAYOUT_PADDED_ROWS),
            .value = make_view(&r, 2, 2, lk, 3, LAYOUT_DENSE),
            .causal = true,
            .need_weights = true,
        };
        check_forward(NULL, &d);
        outputs o = alloc_outputs(&d);
        at_attention_out out = {.context = o.context, .weights = o.weights};
        ASSERT_EQ(run_forward(NULL, &d, &out), AT_OK);
        for (int64_t bh = 0; bh < 4; bh++)
            for (int64_t i = 0; i < lq; i++)
                for (int64_t j = i + 1; j < lk; j++)
                    ASSERT_EQ(o.weights[(bh * lq + i) * lk + j], 0);
        free_outputs(&o);
        free_desc(&d);
    }
}

/* Every broadcast pattern of a [B, H, Lq, Lk] mask, given with stride-0 dims or size-1 dims,
 * with and without a causal mask on top. */
TEST(core_mask_every_broadcast_pattern)
{
    rng r = {4242};
    int64_t scores[4] = {2, 3, 6, 11};
    for (unsigned bcast = 0; bcast < 16; bcast++)
        for (int unit = 0; unit <= 1; unit++)
            for (int causal = 0; causal <= 1; causal++) {
                at_tensor mask = make_mask(&r, scores, bcast, unit, 60);
                at_attention_desc d = {
                    .query = make_view(&r, 2, 3, 6, 5, LAYOUT_DENSE),
                    .key = make_view(&r, 2, 3, 11, 5, LAYOUT_BLHD),
                    .value = make_view(&r, 2, 3, 11, 4, LAYOUT_DENSE),
                    .mask = &mask,
                    .causal = causal,
                    .need_weights = true,
                    .average_heads = bcast & 1,
                };
                check_forward(NULL, &d);
                free_desc(&d);
            }
}

/* A mask with a strided innermost dim (every other byte) is read correctly too. */
TEST(core_mask_strided_keys)
{
    rng r = {99};
    uint8_t bytes[2 * 4 * 7 * 2];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (i % 2) ? 0 : (uint8_t)rng_int(&r, 0, 1);
    at_tensor mask = {.dtype = AT_BOOL,
                      .rank = 4,
                      .ne = {2, 1, 4, 7},
                      .nb = {4 * 7 * 2, 0, 7 * 2, 2},
                      .data = bytes};
    at_attention_desc d = {
        .query = make_view(&r, 2, 3, 4, 6, LAYOUT_DENSE),
        .key = make_view(&r, 2, 3, 7, 6, LAYOUT_DENSE),
        .value = make_view(&r, 2, 3, 7, 2, LAYOUT_DENSE),
        .mask = &mask,
        .need_weights = true,
    };
    check_forward(NULL, &d);
    mask.data = NULL; /* on the stack: keep free_desc away from it */
    free_desc(&d);
}

TEST(core_fully_masked_rows_are_zero)
{
    rng r = {5};
    int64_t scores[4] = {1, 2, 4, 6};
    at_tensor mask = make_mask(&r, scores, 0, false, 100);
    uint8_t *m = mask.data;
    memset(m + 1 * 6, 0, 6);       /* head 0, row 1: nothing allowed */
    memset(m + (4 + 3) * 6, 0, 6); /* head 1, row 3 */
    at_attention_desc d = {
        .query = make_view(&r, 1, 2, 4, 3, LAYOUT_DENSE),
        .key = make_view(&r, 1, 2, 6, 3, LAYOUT_DENSE),
        .value = make_view(&r, 1, 2, 6, 5, LAYOUT_DENSE),
        .mask = &mask,
        .need_weights = true,
    };
    for (int variant = 0; variant < 3; variant++) {
        d.need_weights = variant != 2;
        d.average_heads = variant == 1;
        check_forward(NULL, &d);
        outputs o = alloc_outputs(&d);
        at_attention_out out = {.context = o.context, .weights = o.weights};
        ASSERT_EQ(run_forward(NULL, &d, &out), AT_OK);
        for (int e = 0; e < 5; e++) {
            ASSERT_EQ(o.context[(0 * 4 + 1) * 5 + e], 0);
            ASSERT_EQ(o.context[(1 * 4 + 3) * 5 + e], 0);
        }
        if (variant == 0)
            for (int j = 0; j < 6; j++) {
                ASSERT_EQ(o.weights[(0 * 4 + 1) * 6 + j], 0);
                ASSERT_EQ(o.weights[(1 * 4 + 3) * 6 + j], 0);
            }
        free_outputs(&o);
    }

    /* The whole mask false, given as one broadcast flag: everything is zero, nothing NaN. */
    uint8_t no = 0;
    at_tensor none = {.dtype = AT_BOOL, .rank = 4, .ne = {1, 2, 4, 6}, .data = &no};
    d.mask = &none;
    d.need_weights = true;
    d.average_heads = false;
    outputs o = alloc_outputs(&d);
    at_attention_out out = {.context = o.context, .weights = o.weights};
    ASSERT_EQ(run_forward(NULL, &d, &out), AT_OK);
    for (size_t i = 0; i < o.context_n; i++)
        ASSERT_EQ(o.context[i], 0);
    for (size_t i = 0; i < o.weights_n; i++)
        ASSERT_EQ(o.weights[i], 0);
    free_outputs(&o);
    d.mask = &mask;
    free_desc(&d);
}

TEST(core_average_heads_and_no_weights)
{
    rng r = {31337};
    for (int n = 0; n < 6; n++) {
        int64_t h = 1 + n;
        at_attention_desc d = {
            .query = make_view(&r, 2, h, 9, 12, LAYOUT_BLHD),
            .key = make_view(&r, 2, h, 13, 12, LAYOUT_DENSE),
            .value = make_view(&r, 2, h, 13, 7, LAYOUT_SHARED_HEAD),
            .causal = n % 2,
            .need_weights = true,
            .average_heads = true,
        };
        check_forward(NULL, &d);
        d.need_weights = false;
        check_forward(NULL, &d);
        free_desc(&d);
    }
}

TEST(core_workspace_sizes)
{
    rng r = {1};
    at_attention_desc d = {
        .query = make_view(&r, 2, 4, 100, 8, LAYOUT_DENSE),
        .key = make_view(&r, 2, 4, 300, 8, LAYOUT_DENSE),
        .value = make_view(&r, 2, 4, 300, 8, LAYOUT_DENSE),
        .need_weights = true,
    };
    /* Weights returned per head: the scores are computed in place, no workspace at all. */
    ASSERT_EQ(at_attention_workspace_size(&d, 4), 0);
    /* Averaged: every head's weights, whatever the thread count. */
    d.average_heads = true;
    ASSERT(at_attention_workspace_size(&d, 1) >= 2 * 4 * 100 * 300 * sizeof(float));
    ASSERT_EQ(at_attention_workspace_size(&d, 1), at_attention_workspace_size(&d, 8));
    /* No weights: one block of scores per worker. */
    d.need_weights = false;
    size_t one = at_attention_workspace_size(&d, 1);
    ASSERT(one >= 300 * sizeof(float));
    ASSERT_EQ(at_attention_workspace_size(&d, 3), 3 * one);
    free_desc(&d);
}

/* The split depends only on the shapes, so any pool gives the same bits as no pool. */
TEST(core_pool_sizes_bit_identical)
{
    rng r = {2718};
    at_pool *pools[4] = {NULL, at_pool_new(2, 4), at_pool_new(3, 4), at_pool_new(4, 4)};
    for (int p = 1; p < 4; p++)
        ASSERT(pools[p] != NULL);
    for (int n = 0; n < 12; n++) {
        at_tensor mask;
        at_attention_desc d = random_desc(&r, 2, 4, 200, 40, &mask);
        if (n < 3) { /* the three modes at least once: per head, averaged, no weights */
            d.need_weights = n < 2;
            d.average_heads = n == 1;
        }
        outputs o[4];
        for (int p = 0; p < 4; p++) {
            o[p] = alloc_outputs(&d);
            at_attention_out out = {.context = o[p].context, .weights = o[p].weights};
            ASSERT_EQ(run_forward(pools[p], &d, &out), AT_OK);
        }
        for (int p = 1; p < 4; p++) {
            ASSERT(memcmp(o[p].context, o[0].context, o[0].context_n * sizeof(float)) == 0);
            if (d.need_weights)
                ASSERT(memcmp(o[p].weights, o[0].weights, o[0].weights_n * sizeof(float)) == 0);
        }
        check_forward(pools[3], &d);
        for (int p = 0; p < 4; p++)
            free_outputs(&o[p]);
        free_desc(&d);
    }
    for (int p = 1; p < 4; p++)
        at_pool_free(pools[p]);
}

/* Big enough to be split into many (head, row block) items over the workers. */
TEST(core_large_split_across_workers)
{
    rng r = {161803};
    at_pool *pool = at_pool_new(4, 4);
    ASSERT(pool != NULL);
    int64_t scores[4] = {1, 4, 300, 700};
    at_tensor mask = make_mask(&r, scores, 1 | 2, false, 90);
    at_attention_desc d = {
        .query = make_view(&r, 1, 4, 300, 32, LAYOUT_BLHD),
        .key = make_view(&r, 1, 4, 700, 32, LAYOUT_PADDED_ROWS),
        .value = make_view(&r, 1, 4, 700, 48, LAYOUT_DENSE),
        .mask = &mask,
        .need_weights = true,
    };
    check_forward(pool, &d);
    d.causal = true;
    d.average_heads = true;
    check_forward(pool, &d);
    d.need_weights = false;
    check_forward(pool, &d);
    free_desc(&d);
    at_pool_free(pool);
}

/* ---- the row softmax ---- */

static void softmax_vs_double(const float *in, int64_t n, int64_t allowed, const uint8_t *allow,
                              int64_t stride)
{
    float row[200];
    double want[200], max = -INFINITY, sum = 0;
    memcpy(row, in, (size_t)n * sizeof(float));
    for (int64_t j = 0; j < allowed; j++)
        if ((!allow || allow[j * stride]) && in[j] > max) max = in[j];
    for (int64_t j = 0; j < n; j++) {
        bool ok = j < allowed && (!allow || allow[j * stride]) && in[j] != -INFINITY;
        want[j] = ok ? exp((double)in[j] - max) : 0.0;
        sum += want[j];
    }
    at_softmax_row(row, n, allowed, allow, stride);
    for (int64_t j = 0; j < n; j++) {
        double w = sum > 0 ? want[j] / sum : 0.0;
        if (!(fabs(row[j] - w) <= 1e-6 * (w > 1 ? w : 1)))
            harness_fail(__FILE__, __LINE__, "n=%lld allowed=%lld stride=%lld: [%lld] %.9g vs %.9g",
                         (long long)n, (long long)allowed, (long long)stride, (long long)j,
                         (double)row[j], w);
    }
}

TEST(core_softmax_row)
{
    rng r = {8};
    float in[200];
    uint8_t allow[600];
    for (int64_t n = 1; n <= 70; n++) {
        for (int64_t j = 0; j < n; j++)
            in[j] = rng_float(&r) * 30.0f;
        for (size_t j = 0; j < sizeof allow; j++)
            allow[j] = rng_int(&r, 0, 3) != 0;
        int64_t allowed = rng_int(&r, 0, n);
        softmax_vs_double(in, n, n, NULL, 0);
        softmax_vs_double(in, n, allowed, NULL, 0);
        softmax_vs_double(in, n, n, allow, 1);
        softmax_vs_double(in, n, allowed, allow, 1);
        softmax_vs_double(in, n, n, allow, 3);
        softmax_vs_double(in, n, n, allow, 0);
    }
    /* -inf entries get 0; huge differences underflow to exactly 0, not to NaN. */
    float row[5] = {-INFINITY, 0.0f, -200.0f, 1e4f, -INFINITY};
    at_softmax_row(row, 5, 5, NULL, 0);
    ASSERT_EQ(row[0], 0);
    ASSERT_EQ(row[1], 0);
    ASSERT_EQ(row[2], 0);
    ASSERT_NEAR(row[3], 1.0, 0);
    ASSERT_EQ(row[4], 0);
    /* Nothing allowed: zeros. */
    float all_inf[3] = {-INFINITY, -INFINITY, -INFINITY};
    at_softmax_row(all_inf, 3, 3, NULL, 0);
    for (int j = 0; j < 3; j++)
        ASSERT_EQ(all_inf[j], 0);
    uint8_t zero = 0;
    float some[4] = {1, 2, 3, 4};
    at_softmax_row(some, 4, 4, &zero, 0);
    for (int j = 0; j < 4; j++)
        ASSERT_EQ(some[j], 0);
    /* Entries from n_allowed on are written, never read. */
    float tail[4] = {1.0f, NAN, NAN, NAN};
    at_softmax_row(tail, 4, 1, NULL, 0);
    ASSERT_NEAR(tail[0], 1.0, 0);
    for (int j = 1; j < 4; j++)
        ASSERT_EQ(tail[j], 0);
}

/* ---- validation ---- */

typedef struct bad_case {
    const char *field, *needle;
    int status;
} bad_case;

static void expect_bad(const at_attention_desc *d, bad_case want)
{
    char err[256] = "untouched";
    const char *field = NULL;
    int rc = at_attention_check(d, &field, err, sizeof err);
    if (rc != want.status || !field || strcmp(field, want.field) != 0 ||
        strncmp(err, want.field, strlen(want.field)) != 0 || !strstr(err, want.needle))
        harness_fail(__FILE__, __LINE__, "want %s/%s/\"%s\", got %s/%s/\"%s\"",
                     at_status_name(want.status), want.field, want.needle, at_status_name(rc),
                     field ? field : "(null)", err);
}

TEST(core_check_errors_name_the_tensor)
{
    float buf[4096];
    uint8_t mbuf[256];
    at_tensor mask = at_tensor_make(AT_BOOL, 4, (int64_t[]){2, 1, 5, 7}, mbuf);
    const at_attention_desc good = {
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){2, 3, 5, 64}, buf),
        .key = at_tensor_make(AT_F32, 4, (int64_t[]){2, 3, 7, 64}, buf),
        .value = at_tensor_make(AT_F32, 4, (int64_t[]){2, 3, 7, 16}, buf),
        .mask = &mask,
    };
    char err[256];
    const char *field = "unchanged";
    ASSERT_EQ(at_attention_check(&good, &field, err, sizeof err), AT_OK);
    ASSERT_STREQ(field, "unchanged");

    at_attention_desc d = good;
    d.key.ne[3] = 32;
    expect_bad(&d,
               (bad_case){"key", "key: expected last dim 64 to match query's, got 32", AT_ESHAPE});
    d = good;
    d.key.ne[0] = 1;
    expect_bad(&d, (bad_case){"key", "batch size 2", AT_ESHAPE});
    d = good;
    d.key.ne[1] = 4;
    expect_bad(&d, (bad_case){"key", "head count 3", AT_ESHAPE});
    d = good;
    d.value.ne[2] = 6;
    expect_bad(&d, (bad_case){"value", "got 6", AT_ESHAPE});
    d = good;
    d.value.ne[1] = 1;
    expect_bad(&d, (bad_case){"value", "head count 3", AT_ESHAPE});
    d = good;
    d.query.rank = 3;
    expect_bad(&d, (bad_case){"query", "rank 3", AT_ESHAPE});
    d = good;
    d.value.dtype = AT_BOOL;
    expect_bad(&d, (bad_case){"value", "float32", AT_EINVAL});
    d = good;
    d.query.ne[2] = 0;
    expect_bad(&d, (bad_case){"query", "[2, 3, 0, 64]", AT_ESHAPE});
    d = good;
    d.key.nb[3] = 2;
    expect_bad(&d, (bad_case){"key", "innermost stride", AT_EINVAL});
    d = good;
    d.query.nb[2] = 63;
    expect_bad(&d, (bad_case){"query", "row stride 63", AT_EINVAL});
    d = good;
    d.value.nb[0] = -1;
    expect_bad(&d, (bad_case){"value", "strides", AT_EINVAL});
    d = good;
    d.key.data = NULL;
    expect_bad(&d, (bad_case){"key", "no data", AT_EINVAL});
    d = good;
    d.query.ne[3] = (int64_t)1 << 33;
    d.key.ne[3] = d.query.ne[3];
    d.query.nb[2] = d.query.ne[3];
    expect_bad(&d, (bad_case){"query", "exceeds", AT_EINVAL});
    d = good;
    d.query.ne[0] = (int64_t)1 << 58;
    expect_bad(&d, (bad_case){"query", "too many", AT_EINVAL});

    at_tensor m2 = mask;
    d = good;
    d.mask = &m2;
    m2.ne[1] = 2;
    expect_bad(&d, (bad_case){"mask",
                              "[2, 2, 5, 7] does not broadcast to the scores' shape "
                              "[2, 3, 5, 7]",
                              AT_ESHAPE});
    m2 = mask;
    m2.dtype = AT_F32;
    expect_bad(&d, (bad_case){"mask", "bool", AT_EINVAL});
    m2 = mask;
    m2.rank = 2;
    expect_bad(&d, (bad_case){"mask", "rank 2", AT_ESHAPE});

    d = good;
    d.has_scale = true;
    d.scale = INFINITY;
    expect_bad(&d, (bad_case){"scale", "finite", AT_EINVAL});
    d.scale = NAN;
    expect_bad(&d, (bad_case){"scale", "finite", AT_EINVAL});
    d = good;
    d.score = (at_score)7;
    expect_bad(&d, (bad_case){"score", "unknown", AT_EINVAL});

    /* field may be NULL; a short buffer is truncated, never overrun. */
    char tiny[8];
    d = good;
    d.key.ne[3] = 32;
    ASSERT_EQ(at_attention_check(&d, NULL, tiny, sizeof tiny), AT_ESHAPE);
    ASSERT_STREQ(tiny, "key: ex");
}

/* ---- small helpers ---- */

TEST(core_status_names_and_messages)
{
    ASSERT_STREQ(at_status_name(AT_OK), "AT_OK");
    ASSERT_STREQ(at_status_name(AT_EINVAL), "AT_EINVAL");
    ASSERT_STREQ(at_status_name(AT_EBUSY), "AT_EBUSY");
    ASSERT_STREQ(at_status_name(AT_EIO), "AT_EIO");
    ASSERT_STREQ(at_status_name(12345), "AT_UNKNOWN");
    ASSERT_STREQ(at_strerror(AT_OK), "success");
    ASSERT_STREQ(at_strerror(AT_ESHUTDOWN), "shutting down");
    ASSERT_STREQ(at_strerror(AT_ENOMEM), "out of memory");
    ASSERT_STREQ(at_strerror(-999), "unknown status");
}

TEST(core_tensor_helpers)
{
    char buf[64];
    ASSERT_STREQ(at_shape_str(3, (int64_t[]){2, 3, 4}, buf, sizeof buf), "[2, 3, 4]");
    ASSERT_STREQ(at_shape_str(0, NULL, buf, sizeof buf), "[]");
    ASSERT_STREQ(at_shape_str(1, (int64_t[]){-7}, buf, sizeof buf), "[-7]");
    ASSERT_STREQ(at_shape_str(3, (int64_t[]){123, 456, 789}, buf, 8), "[123, 4");
    ASSERT_STREQ(at_shape_str(2, (int64_t[]){1, 2}, buf, 1), "");

    float data[24];
    at_tensor t = at_tensor_make(AT_F32, 3, (int64_t[]){2, 3, 4}, data);
    ASSERT_EQ(t.rank, 3);
    ASSERT_EQ(t.nb[0], 12);
    ASSERT_EQ(t.nb[1], 4);
    ASSERT_EQ(t.nb[2], 1);
    ASSERT_EQ(t.ne[3], 1);
    ASSERT_EQ(at_tensor_elements(&t), 24);
    at_tensor s = at_tensor_make(AT_F32, 0, NULL, data);
    ASSERT_EQ(at_tensor_elements(&s), 1);

    int64_t n = -1;
    ASSERT(at_shape_elements_checked(3, (int64_t[]){2, 3, 4}, 24, &n));
    ASSERT_EQ(n, 24);
    ASSERT(!at_shape_elements_checked(3, (int64_t[]){2, 3, 4}, 23, &n));
    ASSERT(!at_shape_elements_checked(2, (int64_t[]){2, 0}, 100, &n));
    ASSERT(!at_shape_elements_checked(2, (int64_t[]){-2, -3}, 100, &n));
    ASSERT(!at_shape_elements_checked(3, (int64_t[]){INT64_MAX / 2, 4, 4}, INT64_MAX, &n));
    ASSERT(at_shape_elements_checked(0, NULL, 1, &n));
    ASSERT_EQ(n, 1);
}

TEST(core_blas)
{
    at_blas_init();
    at_blas_init(); /* idempotent */
    ASSERT_CONTAINS(at_blas_version(), "OpenBLAS");
    /* [2x3] * [3x2]^T with strided rows. */
    float a[2 * 4] = {1, 2, 3, 99, 4, 5, 6, 99};
    float b[2 * 3] = {1, 0, 1, 0, 1, 0};
    float c[2 * 2];
    at_sgemm(false, true, 2, 2, 3, 2.0f, a, 4, b, 3, 0.0f, c, 2);
    ASSERT_NEAR(c[0], 8, 0);
    ASSERT_NEAR(c[1], 4, 0);
    ASSERT_NEAR(c[2], 20, 0);
    ASSERT_NEAR(c[3], 10, 0);
}
