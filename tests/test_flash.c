/* Unit tests of the tiled attention path (core/flash.c): its context against the double-precision
 * reference and against the weights path over shapes that cross tile boundaries, causal and
 * padded prefixes, every mask broadcast pattern, fully masked rows; bit-identical results on any
 * pool; and a workspace that does not grow with the sequence lengths. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/attention.h"
#include "../core/flash.h"
#include "../core/reference.h"
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
    LAYOUT_BLHD,        /* [B, L, H, d + pad] viewed as [B, H, L, d] */
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

static void free_desc(at_attention_desc *d)
{
    free(d->query.data);
    free(d->key.data);
    free(d->value.data);
    if (d->mask) free(d->mask->data);
}

/* A random descriptor the tiled path applies to; `mask` receives the mask view when one is
 * drawn and `lengths` (room for max_b entries) the key lengths when they are. */
static at_attention_desc random_desc(rng *r, int64_t max_b, int64_t max_h, int64_t max_l,
                                     int64_t max_d, at_tensor *mask, int64_t *lengths)
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
    if (rng_int(r, 0, 1)) {
        int64_t scores[4] = {b, h, lq, lk};
        *mask = make_mask(r, scores, (unsigned)rng_int(r, 0, 15), rng_int(r, 0, 1), 75);
        d.mask = mask;
    }
    if (rng_int(r, 0, 2) == 0) {
        for (int64_t i = 0; i < b; i++)
            lengths[i] = rng_int(r, 0, lk);
        d.key_lengths = lengths;
    }
    return d;
}

/* ---- running ---- */

typedef struct flash_job {
    const at_attention_desc *d;
    float *context;
    void *ws;
    at_pool *pool;
    int rc;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} flash_job;

static void flash_job_run(void *arg, int worker)
{
    flash_job *j = arg;
    int rc = at_flash_forward(j->d, j->context, j->ws, j->pool, worker);
    pthread_mutex_lock(&j->mu);
    j->rc = rc;
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static size_t context_elements(const at_attention_desc *d)
{
    return (size_t)(d->query.ne[0] * d->query.ne[1] * d->query.ne[2] * d->value.ne[3]);
}

/* A context buffer poisoned with NaN: every element must be written. */
static float *alloc_context(const at_attention_desc *d)
{
    size_t n = context_elements(d);
    float *c = malloc(n * sizeof(float));
    ASSERT(c != NULL);
    for (size_t i = 0; i < n; i++)
        c[i] = NAN;
    return c;
}

/* Runs the tiled path as a job on `pool` (the way the server does), or inline for NULL. */
static float *run_flash(at_pool *pool, const at_attention_desc *d)
{
    char err[256];
    if (at_attention_check(d, NULL, err, sizeof err) != AT_OK)
        harness_fail(__FILE__, __LINE__, "check failed: %s", err);
    ASSERT(at_flash_applies(d));
    float *context = alloc_context(d);
    size_t ws_size = at_flash_workspace_size(d, at_pool_threads(pool));
    void *ws = aligned_alloc(64, (ws_size + 63) / 64 * 64);
    ASSERT(ws != NULL);
    int rc;
    if (!pool) {
        rc = at_flash_forward(d, context, ws, NULL, 0);
    } else {
        flash_job j = {.d = d, .context = context, .ws = ws, .pool = pool};
        pthread_mutex_init(&j.mu, NULL);
        pthread_cond_init(&j.cv, NULL);
        ASSERT_EQ(at_pool_submit(pool, flash_job_run, &j), AT_OK);
        pthread_mutex_lock(&j.mu);
        while (!j.done)
            pthread_cond_wait(&j.cv, &j.mu);
        pthread_mutex_unlock(&j.mu);
        pthread_cond_destroy(&j.cv);
        pthread_mutex_destroy(&j.mu);
        rc = j.rc;
    }
    ASSERT_EQ(rc, AT_OK);
    free(ws);
    return context;
}

/* Element (i0, i1, i2, i3) of a BOOL view; a dimension of size 1 broadcasts. */
static uint8_t mask_at(const at_tensor *m, int64_t i0, int64_t i1, int64_t i2, int64_t i3)
{
    int64_t idx[4] = {i0, i1, i2, i3}, off = 0;
    for (int a = 0; a < 4; a++)
        if (m->ne[a] > 1) off += idx[a] * m->nb[a];
    return ((const uint8_t *)m->data)[off];
}

/* `d` with its key lengths folded into a full [B, H, Lq, Lk] mask in *full (whose data the
 * caller frees), so that any implementation, with or without key_lengths, computes the same. */
static at_attention_desc expand_lengths(const at_attention_desc *d, at_tensor *full)
{
    at_attention_desc e = *d;
    if (!d->key_lengths) return e;
    int64_t ne[4] = {d->query.ne[0], d->query.ne[1], d->query.ne[2], d->key.ne[2]};
    uint8_t *data = malloc((size_t)(ne[0] * ne[1] * ne[2] * ne[3]));
    ASSERT(data != NULL);
    *full = at_tensor_make(AT_BOOL, 4, ne, data);
    for (int64_t b = 0; b < ne[0]; b++)
        for (int64_t h = 0; h < ne[1]; h++)
            for (int64_t i = 0; i < ne[2]; i++)
                for (int64_t j = 0; j < ne[3]; j++)
                    *data++ = j < d->key_lengths[b] && (!d->mask || mask_at(d->mask, b, h, i, j));
    e.mask = full;
    e.key_lengths = NULL;
    return e;
}

static char *describe(const at_attention_desc *d, char *buf, size_t len)
{
    char q[64], k[64], v[64];
    snprintf(buf, len, "q%s k%s v%s score=%d scale=%s%g causal=%d mask=%d lengths=%d",
             at_shape_str(4, d->query.ne, q, sizeof q), at_shape_str(4, d->key.ne, k, sizeof k),
             at_shape_str(4, d->value.ne, v, sizeof v), (int)d->score, d->has_scale ? "" : "~",
             (double)at_attention_scale(d), d->causal, d->mask != NULL, d->key_lengths != NULL);
    return buf;
}

/* Runs the tiled path on `pool` and compares its context with the reference: 1e-5 absolute
 * plus 1e-4 relative. Key lengths are checked twice: by the reference's own and folded into
 * its mask. Returns the context (the caller frees it). */
static float *check_flash(at_pool *pool, const at_attention_desc *d)
{
    char what[256];
    float *context = run_flash(pool, d);
    size_t n = context_elements(d);
    double *want = malloc(n * sizeof(double));
    ASSERT(want != NULL);
    at_tensor full = {0};
    at_attention_desc e = expand_lengths(d, &full);
    for (int pass = 0; pass < (d->key_lengths ? 2 : 1); pass++) {
        ASSERT_EQ(at_ref_attention(pass ? &e : d, want, NULL), AT_OK);
        for (size_t i = 0; i < n; i++)
            if (!(fabs(context[i] - want[i]) <= 1e-5 + 1e-4 * fabs(want[i])))
                harness_fail(__FILE__, __LINE__, "%s: context[%zu] = %.9g, reference%s %.9g",
                             describe(d, what, sizeof what), i, (double)context[i],
                             pass ? " (lengths as a mask)" : "", want[i]);
    }
    free(full.data);
    free(want);
    return context;
}

/* Compares the tiled path with at_attention_forward asked for the weights (which takes the
 * path that holds every score): 1e-5 absolute on every context element. */
static void check_vs_weights_path(at_pool *pool, const at_attention_desc *d)
{
    char what[256], err[256];
    float *context = run_flash(pool, d);
    at_attention_desc e = *d;
    e.need_weights = true;
    e.average_heads = false;
    ASSERT(!at_flash_applies(&e));
    if (at_attention_check(&e, NULL, err, sizeof err) != AT_OK)
        harness_fail(__FILE__, __LINE__, "check failed: %s", err);
    size_t n = context_elements(d);
    float *want = alloc_context(d);
    float *weights = malloc(
        (size_t)(d->query.ne[0] * d->query.ne[1] * d->query.ne[2] * d->key.ne[2]) * sizeof(float));
    ASSERT(weights != NULL);
    size_t ws_size = at_attention_workspace_size(&e, 1);
    void *ws = ws_size ? aligned_alloc(64, (ws_size + 63) / 64 * 64) : NULL;
    at_attention_out out = {.context = want, .weights = weights};
    ASSERT_EQ(at_attention_forward(&e, &out, ws, NULL, 0), AT_OK);
    for (size_t i = 0; i < n; i++)
        if (!(fabs(context[i] - want[i]) <= 1e-5))
            harness_fail(__FILE__, __LINE__, "%s: context[%zu] = %.9g, weights path %.9g",
                         describe(d, what, sizeof what), i, (double)context[i], (double)want[i]);
    free(ws);
    free(weights);
    free(want);
    free(context);
}

/* ---- against the reference ---- */

TEST(flash_random_shapes_vs_reference)
{
    rng r = {0x9E3779B97F4A7C15ull};
    for (int n = 0; n < 200; n++) {
        at_tensor mask;
        int64_t lengths[3];
        at_attention_desc d = random_desc(&r, 3, 4, n % 4 ? 40 : 300, 33, &mask, lengths);
        free(check_flash(NULL, &d));
        free_desc(&d);
    }
}

TEST(flash_tiny_1x1)
{
    float q = 0.5f, k = -2.0f, v = 3.0f;
    for (int causal = 0; causal <= 1; causal++) {
        at_attention_desc d = {
            .query = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1, 1}, &q),
            .key = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1, 1}, &k),
            .value = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1, 1}, &v),
            .causal = causal,
        };
        float c = NAN;
        _Alignas(64) float ws[64];
        ASSERT(at_flash_workspace_size(&d, 1) <= sizeof ws);
        ASSERT_EQ(at_flash_forward(&d, &c, ws, NULL, 0), AT_OK);
        ASSERT_NEAR(c, 3.0, 0);
    }
}

/* Lengths on either side of the query tile (up to 256 rows) and the key tile (up to 512 keys), so
 * that the last tiles are partial, with and without a causal mask. */
TEST(flash_tile_boundaries)
{
    rng r = {4711};
    const int64_t lqs[] = {1, 15, 255, 256, 257, 600};
    const int64_t lks[] = {1, 17, 511, 512, 513, 1100};
    for (size_t a = 0; a < sizeof lqs / sizeof lqs[0]; a++)
        for (size_t c = 0; c < sizeof lks / sizeof lks[0]; c++)
            for (int causal = 0; causal <= 1; causal++) {
                at_attention_desc d = {
                    .query = make_view(&r, 1, 2, lqs[a], 8, LAYOUT_DENSE),
                    .key = make_view(&r, 1, 2, lks[c], 8, LAYOUT_PADDED_ROWS),
                    .value = make_view(&r, 1, 2, lks[c], 5, LAYOUT_BLHD),
                    .causal = causal,
                };
                free(check_flash(NULL, &d));
                free_desc(&d);
            }
}

/* Head dims that differ, and large ones, which shrink the key tile (several per row). */
TEST(flash_head_dims)
{
    rng r = {8080};
    const int64_t dims[][2] = {{1, 1}, {1, 7}, {7, 1}, {64, 32}, {32, 64}, {200, 300}, {513, 3}};
    for (size_t n = 0; n < sizeof dims / sizeof dims[0]; n++) {
        at_attention_desc d = {
            .query = make_view(&r, 2, 1, 70, dims[n][0], LAYOUT_PADDED_ROWS),
            .key = make_view(&r, 2, 1, 600, dims[n][0], LAYOUT_DENSE),
            .value = make_view(&r, 2, 1, 600, dims[n][1], LAYOUT_PADDED_ROWS),
            .causal = n % 2,
        };
        free(check_flash(NULL, &d));
        free_desc(&d);
    }
}

/* Causal attention is top-left aligned whatever Lq and Lk are; key tiles past a query tile's
 * last row are skipped. */
TEST(flash_causal_lq_vs_lk)
{
    rng r = {777};
    const int64_t shapes[][2] = {{5, 9},     {9, 5},     {1, 7},    {7, 1},
                                 {130, 700}, {700, 130}, {600, 600}};
    for (size_t n = 0; n < sizeof shapes / sizeof shapes[0]; n++) {
        int64_t lq = shapes[n][0], lk = shapes[n][1];
        at_attention_desc d = {
            .query = make_view(&r, 2, 2, lq, 8, LAYOUT_DENSE),
            .key = make_view(&r, 2, 2, lk, 8, LAYOUT_PADDED_ROWS),
            .value = make_view(&r, 2, 2, lk, 3, LAYOUT_SHARED_HEAD),
            .causal = true,
        };
        free(check_flash(NULL, &d));
        free_desc(&d);
    }
}

/* Every broadcast pattern of the mask, with stride-0 or size-1 dims, with and without causal,
 * over more keys than one tile holds. */
TEST(flash_mask_every_broadcast_pattern)
{
    rng r = {4242};
    int64_t scores[4] = {2, 3, 40, 600};
    for (unsigned bcast = 0; bcast < 16; bcast++)
        for (int unit = 0; unit <= 1; unit++)
            for (int causal = 0; causal <= 1; causal++) {
                at_tensor mask = make_mask(&r, scores, bcast, unit, 60);
                at_attention_desc d = {
                    .query = make_view(&r, 2, 3, 40, 5, LAYOUT_DENSE),
                    .key = make_view(&r, 2, 3, 600, 5, LAYOUT_BLHD),
                    .value = make_view(&r, 2, 3, 600, 4, LAYOUT_DENSE),
                    .mask = &mask,
                    .causal = causal,
                };
                free(check_flash(NULL, &d));
                free_desc(&d);
            }
}

/* A mask with a strided innermost dim (every other byte). */
TEST(flash_mask_strided_keys)
{
    rng r = {99};
    enum { LQ = 4, LK = 530 };
    uint8_t *bytes = malloc(2 * LQ * LK * 2);
    ASSERT(bytes != NULL);
    for (size_t i = 0; i < 2 * LQ * LK * 2; i++)
        bytes[i] = (i % 2) ? 0 : (uint8_t)rng_int(&r, 0, 1);
    at_tensor mask = {.dtype = AT_BOOL,
                      .rank = 4,
                      .ne = {2, 1, LQ, LK},
                      .nb = {LQ * LK * 2, 0, LK * 2, 2},
                      .data = bytes};
    at_attention_desc d = {
        .query = make_view(&r, 2, 3, LQ, 6, LAYOUT_DENSE),
        .key = make_view(&r, 2, 3, LK, 6, LAYOUT_DENSE),
        .value = make_view(&r, 2, 3, LK, 2, LAYOUT_DENSE),
        .mask = &mask,
    };
    free(check_flash(NULL, &d));
    free_desc(&d);
}

/* Padding by key_lengths, alone and with a mask and causal: lengths 0, inside the first key
 * tile, inside a later one and the whole row. */
TEST(flash_key_lengths)
{
    rng r = {1234};
    int64_t lengths[4] = {0, 3, 600, 1100};
    int64_t scores[4] = {4, 2, 150, 1100};
    for (int variant = 0; variant < 4; variant++) {
        at_tensor mask = make_mask(&r, scores, 2, true, 70);
        at_attention_desc d = {
            .query = make_view(&r, 4, 2, 150, 8, LAYOUT_BLHD),
            .key = make_view(&r, 4, 2, 1100, 8, LAYOUT_DENSE),
            .value = make_view(&r, 4, 2, 1100, 6, LAYOUT_DENSE),
            .key_lengths = lengths,
            .causal = variant & 1,
            .mask = variant & 2 ? &mask : NULL,
        };
        float *context = check_flash(NULL, &d);
        for (int64_t i = 0; i < 2 * 150 * 6; i++) /* batch entry 0 has no key */
            ASSERT_EQ(context[i], 0);
        free(context);
        if (!d.mask) free(mask.data);
        free_desc(&d);
    }
}

/* Rows with no allowed key get exactly 0, never NaN: by the mask, by a single broadcast false
 * flag, by a zero length, and by a causal prefix whose only key the mask hides. */
TEST(flash_fully_masked_rows_are_zero)
{
    rng r = {5};
    int64_t scores[4] = {1, 2, 4, 700};
    at_tensor mask = make_mask(&r, scores, 0, false, 100);
    uint8_t *m = mask.data;
    memset(m + 1 * 700, 0, 700);       /* head 0, row 1: nothing allowed */
    memset(m + (4 + 3) * 700, 0, 700); /* head 1, row 3 */
    at_attention_desc d = {
        .query = make_view(&r, 1, 2, 4, 3, LAYOUT_DENSE),
        .key = make_view(&r, 1, 2, 700, 3, LAYOUT_DENSE),
        .value = make_view(&r, 1, 2, 700, 5, LAYOUT_DENSE),
        .mask = &mask,
    };
    float *context = check_flash(NULL, &d);
    for (int e = 0; e < 5; e++) {
        ASSERT_EQ(context[(0 * 4 + 1) * 5 + e], 0);
        ASSERT_EQ(context[(1 * 4 + 3) * 5 + e], 0);
    }
    free(context);

    /* Row 0 under causal sees key 0 only; hide it. Row 1 keeps key 1. */
    m[0] = 0;
    d.causal = true;
    context = check_flash(NULL, &d);
    for (int e = 0; e < 5; e++)
        ASSERT_EQ(context[e], 0);
    free(context);

    /* The whole mask false as one broadcast flag, and a zero key length. */
    uint8_t no = 0;
    at_tensor none = {.dtype = AT_BOOL, .rank = 4, .ne = {1, 2, 4, 700}, .data = &no};
    int64_t zero = 0;
    const at_tensor *masks[2] = {&none, NULL};
    const int64_t *lengths[2] = {NULL, &zero};
    for (int c = 0; c < 2; c++) {
        d.mask = masks[c];
        d.key_lengths = lengths[c];
        context = run_flash(NULL, &d);
        for (size_t i = 0; i < context_elements(&d); i++)
            ASSERT_EQ(context[i], 0);
        free(context);
    }
    d.mask = &mask;
    free_desc(&d);
}

TEST(flash_dot_scaled_dot_and_scale_override)
{
    rng r = {12345};
    at_attention_desc d = {
        .query = make_view(&r, 2, 3, 70, 16, LAYOUT_DENSE),
        .key = make_view(&r, 2, 3, 900, 16, LAYOUT_DENSE),
        .value = make_view(&r, 2, 3, 900, 5, LAYOUT_DENSE),
    };
    float *scaled = check_flash(NULL, &d);
    d.score = AT_SCORE_DOT;
    free(check_flash(NULL, &d));

    /* "dot" with the scale 1/sqrt(d) given explicitly is exactly "scaled_dot". */
    d.has_scale = true;
    d.scale = 0.25f;
    float *dot = run_flash(NULL, &d);
    ASSERT(memcmp(dot, scaled, context_elements(&d) * sizeof(float)) == 0);

    /* An override replaces either default, including 0 (uniform weights), < 0 and a sharp one
     * whose running maximum jumps between tiles and whose small weights underflow. */
    const float scales[] = {0.0f, -0.5f, 3.0f, 40.0f};
    for (int s = 0; s < 4; s++)
        for (int score = 0; score < 2; score++) {
            d.score = score ? AT_SCORE_DOT : AT_SCORE_SCALED_DOT;
            d.scale = scales[s];
            free(check_flash(NULL, &d));
        }
    free(scaled);
    free(dot);
    free_desc(&d);
}

/* ---- against the weights path ---- */

TEST(flash_vs_weights_path)
{
    rng r = {0xC0FFEEull};
    for (int n = 0; n < 60; n++) {
        at_tensor mask;
        int64_t lengths[3];
        at_attention_desc d = random_desc(&r, 3, 4, n % 3 ? 60 : 1200, 70, &mask, lengths);
        check_vs_weights_path(NULL, &d);
        free_desc(&d);
    }
}

TEST(flash_large_vs_weights_path)
{
    rng r = {4096};
    at_attention_desc d = {
        .query = make_view(&r, 1, 1, 4096, 64, LAYOUT_DENSE),
        .key = make_view(&r, 1, 1, 4096, 64, LAYOUT_DENSE),
        .value = make_view(&r, 1, 1, 4096, 64, LAYOUT_DENSE),
    };
    at_pool *pool = at_pool_new(2, 4);
    ASSERT(pool != NULL);
    check_vs_weights_path(pool, &d);
    d.causal = true;
    check_vs_weights_path(pool, &d);
    at_pool_free(pool);
    free_desc(&d);
}

/* ---- threads, workspace, applicability ---- */

/* The split depends only on the shapes, so any pool gives the same bits as no pool. */
TEST(flash_pool_sizes_bit_identical)
{
    rng r = {2718};
    at_pool *pools[3] = {NULL, at_pool_new(2, 4), at_pool_new(4, 4)};
    ASSERT(pools[1] != NULL && pools[2] != NULL);
    for (int n = 0; n < 12; n++) {
        at_tensor mask;
        int64_t lengths[2];
        at_attention_desc d = random_desc(&r, 2, 4, n % 2 ? 100 : 1000, 40, &mask, lengths);
        float *c[3];
        for (int p = 0; p < 3; p++)
            c[p] = run_flash(pools[p], &d);
        for (int p = 1; p < 3; p++)
            ASSERT(memcmp(c[p], c[0], context_elements(&d) * sizeof(float)) == 0);
        for (int p = 0; p < 3; p++)
            free(c[p]);
        free_desc(&d);
    }
    at_pool_free(pools[1]);
    at_pool_free(pools[2]);
}

TEST(flash_applies)
{
    at_attention_desc d = {.score = AT_SCORE_SCALED_DOT, .selection = AT_SELECT_SOFT};
    ASSERT(at_flash_applies(&d));
    d.score = AT_SCORE_DOT;
    d.causal = true;
    d.key_lengths = (const int64_t[]){1};
    ASSERT(at_flash_applies(&d));
    d.need_weights = true;
    ASSERT(!at_flash_applies(&d));
    d.average_heads = true;
    ASSERT(!at_flash_applies(&d));
    d.need_weights = d.average_heads = false;
    d.score = AT_SCORE_ADDITIVE;
    ASSERT(!at_flash_applies(&d));
    d.score = AT_SCORE_DOT;
    d.selection = AT_SELECT_TOPK;
    ASSERT(!at_flash_applies(&d));
    d.selection = AT_SELECT_SAMPLE;
    ASSERT(!at_flash_applies(&d));
}

/* Shapes only: the sizes never read the data. */
static at_attention_desc shape_desc(int64_t b, int64_t h, int64_t lq, int64_t lk, int64_t d)
{
    at_attention_desc desc = {
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){b, h, lq, d}, NULL),
        .key = at_tensor_make(AT_F32, 4, (int64_t[]){b, h, lk, d}, NULL),
        .value = at_tensor_make(AT_F32, 4, (int64_t[]){b, h, lk, d}, NULL),
    };
    return desc;
}

TEST(flash_workspace_does_not_grow_with_lengths)
{
    at_attention_desc a = shape_desc(1, 8, 1024, 1024, 64);
    at_attention_desc b = shape_desc(1, 8, 1024, 16384, 64);
    at_attention_desc c = shape_desc(1, 8, 16384, 16384, 64);
    at_attention_desc e = shape_desc(4, 16, 16384, 16384, 64);
    size_t one = at_flash_workspace_size(&a, 1);
    ASSERT(one > 0);
    ASSERT_EQ(at_flash_workspace_size(&b, 1), one);
    ASSERT_EQ(at_flash_workspace_size(&c, 1), one);
    ASSERT_EQ(at_flash_workspace_size(&e, 1), one);
    ASSERT(one <= 1024 * 1024); /* a few tiles, not a row of scores per query */
    ASSERT_EQ(at_flash_workspace_size(&c, 4), 4 * one);
    ASSERT_EQ(at_flash_workspace_size(&c, 0), one);
    /* Small problems need smaller tiles. */
    at_attention_desc s = shape_desc(1, 1, 3, 5, 64);
    ASSERT(at_flash_workspace_size(&s, 1) < one);
}
