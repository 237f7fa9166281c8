/* The attention forward pass. Work is split into items of (batch*head, block of query rows);
 * per item, one sgemm (or the additive kernel) makes the block's scores, each row is masked and
 * turned into weights in place (softmax, top-k or sampling), and a second sgemm multiplies the
 * weights with the values. The split depends only on the shapes, never on the thread count, and
 * sampling draws from counter-based streams, so every pool size gives bit-identical results. */
#include "attention.h"

#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "additive.h"
#include "blas.h"
#include "flash.h"
#include "mask_int.h"
#include "overflow_int.h"
#include "rng.h"
#include "select.h"
#include "softmax.h"
#include "status.h"

/* A block of scores should stay in L2 while it is softmaxed and multiplied with V, yet be tall:
 * sgemm packs all of K again for every block, so thin blocks spend their time packing. 512 KiB
 * (256 rows of 512 keys) measured best on a 2 MiB-L2 core (170 vs 140 GFLOP/s at 128 KiB for
 * B1 H8 L512 d64) and still leaves half of a 1 MiB L2 for K and V. */
#define AT_SCORE_BLOCK_BYTES (512 * 1024)
/* Items a forward pass aims for when the blocks above would give fewer: about 4 per worker on
 * up to 4 workers. The split must not depend on the thread count (bit-identical results), so
 * this is a constant rather than 4 * threads... */
#define AT_TARGET_ITEMS 16
/* ...and blocks are never made thinner than this to reach it. */
#define AT_MIN_BLOCK_ROWS 16
/* Soft attention without weights over at most this many keys runs as blocks too, scores in
 * per-worker scratch: the tiled path's tile would hold every key anyway, so its running maximum
 * and sum only add work, and the blocks have the faster small-block products and the grouped
 * softmax (B1 H8 L128 d64: 130 against 107 GFLOP/s on one core, best of short rounds). */
#define AT_BLOCKED_MAX_KEYS 512
/* Alignment of every buffer carved out of the workspace. */
#define AT_WS_ALIGN 64
/* Largest element count of any tensor or output: keeps byte sizes and offsets far from
 * overflow. The api layer's configured limits are much smaller. */
#define AT_MAX_ELEMENTS (INT64_MAX / 64)

/* The validated shapes and the split of one forward pass. */
typedef struct attn_plan {
    int64_t batch, heads, lq, lk, dq, dk, dv;
    int64_t da;         /* additive: hidden width; 0 for the other scores */
    int64_t ldr;        /* additive: row stride of the transposed key projections */
    int64_t heap;       /* top-k and sampling: heap entries per row; 0 for the softmax */
    bool keys_t;        /* dot scores of small blocks: Q K^T multiplies a transposed copy of K */
    int64_t block_rows; /* query rows per item */
    int64_t nblocks;    /* blocks per (batch, head) */
} attn_plan;

/* Where the forward pass keeps its scratch: shared buffers first, then one slice per worker.
 * Sizes are in bytes, each a multiple of AT_WS_ALIGN; a part that is not needed is 0. */
typedef struct attn_layout {
    size_t per_head; /* average_heads: [B, H, Lq, Lk] weights before averaging */
    size_t keys;     /* additive: every head's transposed key projections [B, H, da, ldr] */
    size_t scores;   /* per worker, no weights wanted: one block of scores */
    size_t queries;  /* per worker, additive: one block's query projections [rows, da] */
    size_t heap;     /* per worker, top-k and sampling: one row's heap */
    size_t keys_t;   /* per worker, with plan.keys_t: the head's keys transposed [dk, Lk] */
    size_t worker;   /* scores + queries + heap + keys_t */
} attn_layout;

/* Everything a range of items needs; shared read-only by all workers but for `at_risk`. */
typedef struct attn_ctx {
    const at_attention_desc *d;
    const at_attention_out *out;
    attn_plan plan;
    attn_layout layout;
    float scale;
    float *per_head;       /* see attn_layout, or NULL */
    float *keys;           /* see attn_layout, or NULL */
    unsigned char *slices; /* the per-worker slices, or NULL when they are empty */
    atomic_bool at_risk;   /* some block may need at_attention_fix_overflow */
    /* The largest |q| and |k| of the request, as float bits (non-negative floats order as
     * their bits do), and whether they bound every score safely. */
    atomic_uint max_q, max_k;
    bool bound_safe;
} attn_ctx;

static size_t align_up(size_t n)
{
    return (n + AT_WS_ALIGN - 1) / AT_WS_ALIGN * AT_WS_ALIGN;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static attn_plan make_plan(const at_attention_desc *d)
{
    attn_plan p = {
        .batch = d->query.ne[0],
        .heads = d->query.ne[1],
        .lq = d->query.ne[2],
        .lk = d->key.ne[2],
        .dq = d->query.ne[3],
        .dk = d->key.ne[3],
        .dv = d->value.ne[3],
    };
    if (d->score == AT_SCORE_ADDITIVE) {
        p.da = d->additive->weight.ne[0];
        p.ldr = at_additive_key_stride(p.lk);
    }
    if (d->selection != AT_SELECT_SOFT) p.heap = at_select_heap_len(d->k, p.lk);
    int64_t rows = max64(1, AT_SCORE_BLOCK_BYTES / (p.lk * (int64_t)sizeof(float)));
    int64_t bh = p.batch * p.heads;
    if (bh * ceil_div(p.lq, rows) < AT_TARGET_ITEMS) {
        int64_t want_blocks = ceil_div(AT_TARGET_ITEMS, bh);
        rows = min64(rows, max64(AT_MIN_BLOCK_ROWS, ceil_div(p.lq, want_blocks)));
    }
    p.block_rows = min64(rows, p.lq);
    p.nblocks = ceil_div(p.lq, p.block_rows);
    /* A block's Q K^T small enough for the small-matrix kernels runs as Q (K^T) on a copy of K
     * transposed per item: at B1 H8 L128 d64, 0.6 us of transposing saves 2 us of packing per
     * 64-row block (the plain row-major product has no packing-free kernel at these shapes). */
    p.keys_t = !p.da && p.block_rows * p.lk * p.dq <= AT_SGEMM_SMALL_MNK;
    return p;
}

/* Averaged weights need every head's weights first, unless there is only one head. */
static bool needs_per_head(const at_attention_desc *d)
{
    return d->need_weights && d->average_heads && d->query.ne[1] > 1;
}

static attn_layout make_layout(const at_attention_desc *d, const attn_plan *p)
{
    attn_layout l = {0};
    if (needs_per_head(d))
        l.per_head = align_up((size_t)(p->batch * p->heads * p->lq * p->lk) * sizeof(float));
    if (p->da) {
        l.keys = align_up((size_t)(p->batch * p->heads * p->da * p->ldr) * sizeof(float));
        l.queries = align_up((size_t)(p->block_rows * p->da) * sizeof(float));
    }
    /* Without weights the scores go to scratch; otherwise straight into the output (or into
     * per_head when averaged). */
    if (!d->need_weights) l.scores = align_up((size_t)(p->block_rows * p->lk) * sizeof(float));
    if (p->heap) l.heap = align_up((size_t)p->heap * sizeof(int32_t));
    if (p->keys_t) l.keys_t = align_up((size_t)(p->dk * p->lk) * sizeof(float));
    l.worker = l.scores + l.queries + l.heap + l.keys_t;
    return l;
}

float at_attention_scale(const at_attention_desc *d)
{
    if (d->has_scale) return d->scale;
    if (d->score == AT_SCORE_SCALED_DOT) return (float)(1.0 / sqrt((double)d->query.ne[3]));
    return 1.0f;
}

/* ---- validation ---- */

/* Checks one rank-4 view on its own: dtype, sizes, strides and data. */
static int check_view(const at_tensor *t, const char *name, at_dtype dtype, char *err,
                      size_t errlen)
{
    char shape[96];
    if (t->rank != 4) {
        snprintf(err, errlen, "%s: expected a rank-4 view, got rank %d", name, t->rank);
        return AT_ESHAPE;
    }
    if (t->dtype != dtype) {
        snprintf(err, errlen, "%s: expected dtype %s", name, dtype == AT_F32 ? "float32" : "bool");
        return AT_EINVAL;
    }
    int64_t n;
    if (!at_shape_elements_checked(4, t->ne, AT_MAX_ELEMENTS, &n)) {
        for (int i = 0; i < 4; i++)
            if (t->ne[i] < 1) {
                snprintf(err, errlen, "%s: expected every size >= 1, got %s", name,
                         at_shape_str(4, t->ne, shape, sizeof shape));
                return AT_ESHAPE;
            }
        snprintf(err, errlen, "%s: shape %s has too many elements", name,
                 at_shape_str(4, t->ne, shape, sizeof shape));
        return AT_EINVAL;
    }
    /* Every size becomes a BLAS dimension or loop bound of type int. */
    for (int i = 0; i < 4; i++)
        if (t->ne[i] > INT_MAX) {
            snprintf(err, errlen, "%s: size %lld of dim %d exceeds the largest supported (%d)",
                     name, (long long)t->ne[i], i, INT_MAX);
            return AT_EINVAL;
        }
    int64_t extent = 0;
    for (int i = 0; i < 4; i++) {
        if (t->nb[i] < 0) {
            snprintf(err, errlen, "%s: strides must be >= 0, got %s", name,
                     at_shape_str(4, t->nb, shape, sizeof shape));
            return AT_EINVAL;
        }
        if (t->nb[i] > 0 && t->ne[i] - 1 > (AT_MAX_ELEMENTS - extent) / t->nb[i]) {
            snprintf(err, errlen, "%s: strides %s reach too far", name,
                     at_shape_str(4, t->nb, shape, sizeof shape));
            return AT_EINVAL;
        }
        extent += (t->ne[i] - 1) * t->nb[i];
    }
    if (!t->data) {
        snprintf(err, errlen, "%s: no data", name);
        return AT_EINVAL;
    }
    if (dtype == AT_F32) {
        /* BLAS reads rows: contiguous elements, rows at least a row apart. */
        if (t->nb[3] != 1) {
            snprintf(err, errlen, "%s: innermost stride must be 1, got %lld", name,
                     (long long)t->nb[3]);
            return AT_EINVAL;
        }
        if (t->nb[2] < t->ne[3] || t->nb[2] > INT_MAX) {
            snprintf(err, errlen, "%s: row stride %lld must be in [%lld, %d]", name,
                     (long long)t->nb[2], (long long)t->ne[3], INT_MAX);
            return AT_EINVAL;
        }
    }
    return AT_OK;
}

/* Checks that `t` has size `want` in dim `dim`, as `other` does. */
static int check_dim(const at_tensor *t, const char *name, int dim, int64_t want, const char *what,
                     const char *other, char *err, size_t errlen)
{
    if (t->ne[dim] == want) return AT_OK;
    snprintf(err, errlen, "%s: expected %s %lld to match %s's, got %lld", name, what,
             (long long)want, other, (long long)t->ne[dim]);
    return AT_ESHAPE;
}

/* The additive score's parameters: W is [da, dq + dk] for the query and key widths, and the
 * key projections of every head, [B, H, da, Lk], must stay within bounds. */
static int check_additive(const at_attention_desc *d, char *err, size_t errlen)
{
    const at_additive *add = d->additive;
    const int64_t dq = d->query.ne[3], dk = d->key.ne[3];
    char shape[96];
    if (!add) {
        snprintf(err, errlen, "additive: required by the additive score (weight, bias, v)");
        return AT_EINVAL;
    }
    const at_tensor *w = &add->weight;
    if (w->rank != 2 || w->dtype != AT_F32) {
        snprintf(
            err, errlen,
            "additive.weight: expected a float32 matrix [da, %lld], got a %s tensor of rank %d",
            (long long)(dq + dk), w->dtype == AT_F32 ? "float32" : "bool", w->rank);
        return AT_EINVAL;
    }
    if (w->ne[0] < 1 || w->ne[1] != dq + dk) {
        snprintf(err, errlen,
                 "additive.weight: expected [da, %lld] (query dim %lld + key dim %lld) with "
                 "da >= 1, got %s",
                 (long long)(dq + dk), (long long)dq, (long long)dk,
                 at_shape_str(2, w->ne, shape, sizeof shape));
        return AT_ESHAPE;
    }
    int64_t n, keys[4] = {d->query.ne[0], d->query.ne[1], w->ne[0], d->key.ne[2] + 16};
    if (w->ne[0] > INT_MAX || d->key.ne[2] > INT_MAX - 16 ||
        !at_shape_elements_checked(4, keys, AT_MAX_ELEMENTS, &n) ||
        !at_shape_elements_checked(2, w->ne, AT_MAX_ELEMENTS, &n)) {
        snprintf(err, errlen, "additive.weight: shape %s is too large",
                 at_shape_str(2, w->ne, shape, sizeof shape));
        return AT_EINVAL;
    }
    if (w->nb[0] != w->ne[1] || w->nb[1] != 1) {
        snprintf(err, errlen, "additive.weight: must be contiguous, got strides %s",
                 at_shape_str(2, w->nb, shape, sizeof shape));
        return AT_EINVAL;
    }
    if (!w->data) {
        snprintf(err, errlen, "additive.weight: no data");
        return AT_EINVAL;
    }
    return AT_OK;
}

int at_attention_check(const at_attention_desc *d, const char **field, char *err, size_t errlen)
{
    static const char *const names[] = {"query", "key", "value"};
    const at_tensor *views[] = {&d->query, &d->key, &d->value};
    const char *bad = NULL;
    char shape[96], want[96];
    int rc = AT_OK;

    if (errlen > 0) err[0] = '\0';
    for (int i = 0; i < 3 && rc == AT_OK; i++) {
        rc = check_view(views[i], names[i], AT_F32, err, errlen);
        bad = names[i];
    }
    if (rc != AT_OK) goto fail;

    const at_tensor *q = &d->query, *k = &d->key, *v = &d->value;
    bad = "key";
    if ((rc = check_dim(k, "key", 0, q->ne[0], "batch size", "query", err, errlen)) ||
        (rc = check_dim(k, "key", 1, q->ne[1], "head count", "query", err, errlen)))
        goto fail;
    /* The additive score projects queries and keys separately, so their widths may differ. */
    if (d->score != AT_SCORE_ADDITIVE &&
        (rc = check_dim(k, "key", 3, q->ne[3], "last dim", "query", err, errlen)))
        goto fail;
    bad = "value";
    if ((rc = check_dim(v, "value", 0, q->ne[0], "batch size", "query", err, errlen)) ||
        (rc = check_dim(v, "value", 1, q->ne[1], "head count", "query", err, errlen)) ||
        (rc = check_dim(v, "value", 2, k->ne[2], "key count (dim 2)", "key", err, errlen)))
        goto fail;

    /* The weights, [B, H, Lq, Lk], are the largest output; the context is [B, H, Lq, dv]. */
    int64_t scores[4] = {q->ne[0], q->ne[1], q->ne[2], k->ne[2]};
    int64_t context[4] = {q->ne[0], q->ne[1], q->ne[2], v->ne[3]};
    int64_t n;
    bad = "query";
    if (!at_shape_elements_checked(4, scores, AT_MAX_ELEMENTS, &n) ||
        !at_shape_elements_checked(4, context, AT_MAX_ELEMENTS, &n)) {
        snprintf(err, errlen, "query: the attention of shape %s is too large",
                 at_shape_str(4, scores, shape, sizeof shape));
        rc = AT_EINVAL;
        goto fail;
    }

    if (d->mask) {
        bad = "mask";
        if ((rc = check_view(d->mask, "mask", AT_BOOL, err, errlen))) goto fail;
        for (int i = 0; i < 4; i++)
            if (d->mask->ne[i] != 1 && d->mask->ne[i] != scores[i]) {
                snprintf(err, errlen, "mask: shape %s does not broadcast to the scores' shape %s",
                         at_shape_str(4, d->mask->ne, shape, sizeof shape),
                         at_shape_str(4, scores, want, sizeof want));
                rc = AT_ESHAPE;
                goto fail;
            }
    }
    if (d->key_lengths) {
        bad = "key_lengths";
        for (int64_t b = 0; b < q->ne[0]; b++)
            if (d->key_lengths[b] < 0 || d->key_lengths[b] > k->ne[2]) {
                snprintf(err, errlen,
                         "key_lengths: entry %lld is %lld, expected 0..%lld (the key count)",
                         (long long)b, (long long)d->key_lengths[b], (long long)k->ne[2]);
                rc = AT_EINVAL;
                goto fail;
            }
    }
    if (d->score != AT_SCORE_SCALED_DOT && d->score != AT_SCORE_DOT &&
        d->score != AT_SCORE_ADDITIVE) {
        bad = "score";
        snprintf(err, errlen, "score: unknown score function %d", (int)d->score);
        rc = AT_EINVAL;
        goto fail;
    }
    if (d->score == AT_SCORE_ADDITIVE) {
        bad = "additive";
        if ((rc = check_additive(d, err, errlen))) goto fail;
    }
    if (d->selection != AT_SELECT_SOFT && d->selection != AT_SELECT_TOPK &&
        d->selection != AT_SELECT_SAMPLE) {
        bad = "selection";
        snprintf(err, errlen, "selection: unknown selection %d", (int)d->selection);
        rc = AT_EINVAL;
        goto fail;
    }
    if (d->selection != AT_SELECT_SOFT && d->k < 1) {
        bad = "k";
        snprintf(err, errlen, "k: must be >= 1 for %s selection, got %lld",
                 d->selection == AT_SELECT_TOPK ? "top-k" : "sampled", (long long)d->k);
        rc = AT_EINVAL;
        goto fail;
    }
    if (d->has_scale && !isfinite(d->scale)) {
        bad = "scale";
        snprintf(err, errlen, "scale: must be a finite number, got %g", (double)d->scale);
        rc = AT_EINVAL;
        goto fail;
    }
    return AT_OK;

fail:
    if (field) *field = bad;
    return rc;
}

/* ---- workspace ---- */

/* Whether the tiled path (core/flash.c) computes `d`. Not when the keys fit one block (above),
 * unless the tiled path would check its scores for overflow itself (few query rows), which
 * at_attention_fix_overflow relies on for every request of that shape. */
static bool use_flash(const at_attention_desc *d)
{
    return at_flash_applies(d) && (d->key.ne[2] > AT_BLOCKED_MAX_KEYS || at_flash_checks_scores(d));
}

size_t at_attention_workspace_size(const at_attention_desc *d, int threads)
{
    if (use_flash(d)) return at_flash_workspace_size(d, threads);
    attn_plan p = make_plan(d);
    attn_layout l = make_layout(d, &p);
    if (threads < 1) threads = 1;
    return l.per_head + l.keys + (size_t)threads * l.worker;
}

/* ---- the forward pass ---- */

/* Items [begin, end) of the additive score's first pass: item = b * H + h projects that head's
 * keys once, for every query block to share. */
static void additive_keys(void *arg, int64_t begin, int64_t end, int worker)
{
    const attn_ctx *c = arg;
    const attn_plan *p = &c->plan;
    const at_tensor *k = &c->d->key;
    (void)worker;
    for (int64_t bh = begin; bh < end && !at_cancel_status(c->d->cancel); bh++) {
        int64_t b = bh / p->heads, h = bh % p->heads;
        const float *kb = (const float *)k->data + b * k->nb[0] + h * k->nb[1];
        at_additive_keys(c->d->additive, p->dq, kb, k->nb[2], p->lk, c->keys + bh * p->da * p->ldr,
                         p->ldr);
    }
}

/* Scores of query rows i0 .. i0 + rows - 1 of head (b, h) into s (row stride ld), each row up to
 * its own key limit (the rest is never read). */
static void additive_scores(const attn_ctx *c, float *pq, int64_t b, int64_t h, int64_t i0,
                            int64_t rows, float *s, int64_t ld)
{
    const at_attention_desc *d = c->d;
    const attn_plan *p = &c->plan;
    const at_tensor *q = &d->query;
    const float *qb = (const float *)q->data + b * q->nb[0] + h * q->nb[1] + i0 * q->nb[2];
    const float *rt = c->keys + (b * p->heads + h) * p->da * p->ldr;
    at_additive_queries(d->additive, p->dq, qb, q->nb[2], rows, pq);
    for (int64_t r = 0; r < rows; r++)
        at_additive_row(s + r * ld, at_row_key_limit(d, b, i0 + r), pq + r * p->da, rt, p->ldr,
                        d->additive->v, p->da, c->scale);
}

/* Turns row i of head (b, h), scores s[0..n), into weights by the descriptor's selection. */
static void select_row(const attn_ctx *c, int32_t *heap, int64_t b, int64_t h, int64_t i, float *s,
                       int64_t n)
{
    const at_attention_desc *d = c->d;
    int64_t stride = 0;
    int64_t limit = at_row_key_limit(d, b, i);
    const uint8_t *allow = at_mask_row(d, b, h, i, &stride);
    switch (d->selection) {
    case AT_SELECT_TOPK:
        at_select_topk_row(s, n, limit, allow, stride, d->k, d->normalize, heap);
        break;
    case AT_SELECT_SAMPLE:
        at_select_sample_row(s, n, limit, allow, stride, d->k, d->normalize,
                             at_rng_row_stream(d->seed, b, h, i), heap);
        break;
    default: at_softmax_row(s, n, limit, allow, stride); break;
    }
}

/* Checks the block just written for overflow while it is in cache (a serial pass over the whole
 * output afterwards cost 7-10 % of B1 H8 L128 d64); only a block at risk makes the forward pass
 * call at_attention_fix_overflow. */
static void note_risk(attn_ctx *c, int64_t b, int64_t h, int64_t i0, int64_t rows)
{
    if (at_attention_rows_at_risk(c->d, c->out, b, h, i0, rows, c->bound_safe))
        atomic_store_explicit(&c->at_risk, true, memory_order_relaxed);
}

static void atomic_max_float(atomic_uint *dst, float x)
{
    unsigned bits;
    memcpy(&bits, &x, sizeof bits);
    unsigned old = atomic_load_explicit(dst, memory_order_relaxed);
    while (bits > old && !atomic_compare_exchange_weak_explicit(
                             dst, &old, bits, memory_order_relaxed, memory_order_relaxed)) {
    }
}

/* Items [begin, end) of the pass before the blocks: item = b * H + h, the largest |q| and |k|
 * of that head. One pass over Q and K for the request, so that the blocks need not scan their
 * head's keys each (4 % of B1 H8 L2048 d64, 8 blocks per head) when the bound holds. */
static void max_heads(void *arg, int64_t begin, int64_t end, int worker)
{
    attn_ctx *c = arg;
    const int64_t heads = c->d->query.ne[1];
    (void)worker;
    for (int64_t bh = begin; bh < end; bh++) {
        float mq, mk;
        at_attention_head_maxabs(c->d, bh / heads, bh % heads, &mq, &mk);
        atomic_max_float(&c->max_q, mq);
        atomic_max_float(&c->max_k, mk);
    }
}

/* Items [begin, end) of the check after the tiled path: item = b * H + h, all its rows. */
static void risk_heads(void *arg, int64_t begin, int64_t end, int worker)
{
    attn_ctx *c = arg;
    const int64_t heads = c->d->query.ne[1];
    (void)worker;
    for (int64_t bh = begin; bh < end; bh++)
        note_risk(c, bh / heads, bh % heads, 0, c->d->query.ne[2]);
}

/* Items [begin, end): item = (b * H + h) * nblocks + block. */
static void attention_items(void *arg, int64_t begin, int64_t end, int worker)
{
    attn_ctx *c = arg;
    const at_attention_desc *d = c->d;
    const attn_plan *p = &c->plan;
    const attn_layout *l = &c->layout;
    const at_tensor *q = &d->query, *k = &d->key, *v = &d->value;
    unsigned char *slice = c->slices ? c->slices + (size_t)worker * l->worker : NULL;
    float *pq = l->queries ? (float *)(slice + l->scores) : NULL;
    int32_t *heap = l->heap ? (int32_t *)(slice + l->scores + l->queries) : NULL;
    float *kt = l->keys_t ? (float *)(slice + l->scores + l->queries + l->heap) : NULL;

    for (int64_t item = begin; item < end && !at_cancel_status(d->cancel); item++) {
        int64_t bh = item / p->nblocks, b = bh / p->heads, h = bh % p->heads;
        int64_t i0 = (item % p->nblocks) * p->block_rows;
        int64_t rows = min64(p->block_rows, p->lq - i0);
        /* No row of the block sees keys past its last row's limit (causal, key_lengths). */
        int64_t ncols = at_row_key_limit(d, b, i0 + rows - 1);

        const float *qb = (const float *)q->data + b * q->nb[0] + h * q->nb[1] + i0 * q->nb[2];
        const float *kb = (const float *)k->data + b * k->nb[0] + h * k->nb[1];
        const float *vb = (const float *)v->data + b * v->nb[0] + h * v->nb[1];
        float *ctx = c->out->context + (bh * p->lq + i0) * p->dv;

        float *s;      /* the block's scores, then its weights: rows x ld */
        int64_t ld, n; /* row stride, and how much of each row the selection writes */
        if (l->scores) {
            s = (float *)slice;
            ld = n = ncols;
        } else {
            float *base = c->per_head ? c->per_head : c->out->weights;
            s = base + (bh * p->lq + i0) * p->lk;
            ld = n = p->lk;
        }
        if (ncols == 0) {
            /* Every key of every row is masked (key_lengths[b] == 0): zero weights and context;
             * BLAS is not asked for an empty product. */
            memset(ctx, 0, (size_t)(rows * p->dv) * sizeof(float));
            if (!l->scores) memset(s, 0, (size_t)(rows * ld) * sizeof(float));
            note_risk(c, b, h, i0, rows);
            continue;
        }

        if (p->da) {
            additive_scores(c, pq, b, h, i0, rows, s, ld);
        } else if (kt) {
            at_transpose((int)ncols, (int)p->dk, kb, (int)k->nb[2], kt, (int)ncols);
            at_sgemm(false, false, (int)rows, (int)ncols, (int)p->dq, c->scale, qb, (int)q->nb[2],
                     kt, (int)ncols, 0.0f, s, (int)ld);
        } else {
            at_sgemm(false, true, (int)rows, (int)ncols, (int)p->dq, c->scale, qb, (int)q->nb[2],
                     kb, (int)k->nb[2], 0.0f, s, (int)ld);
        }
        /* The block is still in cache from the sgemm: softmax it in one call when its rows are
         * alike (no mask tensor, no causal cut: every row has ncols allowed keys). */
        if (d->selection == AT_SELECT_SOFT && !d->mask && !d->causal)
            at_softmax_rows(s, rows, ld, n, ncols);
        else
            for (int64_t r = 0; r < rows; r++)
                select_row(c, heap, b, h, i0 + r, s + r * ld, n);
        at_sgemm(false, false, (int)rows, (int)p->dv, (int)ncols, 1.0f, s, (int)ld, vb,
                 (int)v->nb[2], 0.0f, ctx, (int)p->dv);
        note_risk(c, b, h, i0, rows);
    }
}

/* dst[0..n) = (1/heads) * sum over h of src[h * head_stride + j]. Written 16 columns at a time
 * with a fixed-length inner loop, which the compiler vectorises even at -O2. */
static void average_heads_row(float *restrict dst, const float *restrict src, int64_t n,
                              int64_t heads, int64_t head_stride)
{
    enum { W = 16 };
    const float inv_heads = 1.0f / (float)heads;
    int64_t j = 0;
    for (; j + W <= n; j += W) {
        float acc[W] = {0};
        for (int64_t h = 0; h < heads; h++)
            for (int k = 0; k < W; k++)
                acc[k] += src[h * head_stride + j + k];
        for (int k = 0; k < W; k++)
            dst[j + k] = acc[k] * inv_heads;
    }
    for (; j < n; j++) {
        float acc = 0.0f;
        for (int64_t h = 0; h < heads; h++)
            acc += src[h * head_stride + j];
        dst[j] = acc * inv_heads;
    }
}

/* Rows [begin, end) of the [B * Lq] rows of averaged weights. */
static void average_rows(void *arg, int64_t begin, int64_t end, int worker)
{
    const attn_ctx *c = arg;
    const attn_plan *p = &c->plan;
    (void)worker;
    for (int64_t row = begin; row < end; row++) {
        int64_t b = row / p->lq, i = row % p->lq;
        average_heads_row(c->out->weights + row * p->lk,
                          c->per_head + (b * p->heads * p->lq + i) * p->lk, p->lk, p->heads,
                          p->lq * p->lk);
    }
}

int at_attention_forward(const at_attention_desc *d, const at_attention_out *out, void *workspace,
                         at_pool *pool, int worker)
{
    /* Soft attention without weights never needs the Lq x Lk matrix: the tiled online softmax
     * keeps one tile per worker, which is both smaller and faster for long sequences (for keys
     * that fit one block, see use_flash). */
    if (!pool) worker = 0;
    if (use_flash(d)) {
        int rc = at_flash_forward(d, out->context, workspace, pool, worker);
        if (rc != AT_OK) return rc;
        attn_ctx c = {.d = d, .out = out};
        at_pool_parallel_for(pool, worker, d->query.ne[0] * d->query.ne[1], 1, risk_heads, &c);
        return atomic_load(&c.at_risk) ? at_attention_fix_overflow(d, out) : AT_OK;
    }
    attn_ctx c = {.d = d, .out = out, .plan = make_plan(d), .scale = at_attention_scale(d)};
    const attn_plan *p = &c.plan;
    c.layout = make_layout(d, p);
    unsigned char *ws = workspace;
    if (c.layout.per_head) c.per_head = (float *)ws;
    if (c.layout.keys) c.keys = (float *)(ws + c.layout.per_head);
    if (c.layout.worker) c.slices = ws + c.layout.per_head + c.layout.keys;

    if (p->da) at_pool_parallel_for(pool, worker, p->batch * p->heads, 1, additive_keys, &c);

    at_pool_parallel_for(pool, worker, p->batch * p->heads, 1, max_heads, &c);
    unsigned max_q = atomic_load(&c.max_q), max_k = atomic_load(&c.max_k);
    float mq, mk;
    memcpy(&mq, &max_q, sizeof mq);
    memcpy(&mk, &max_k, sizeof mk);
    c.bound_safe = at_attention_bound_safe(d, mq, mk);

    int64_t items = p->batch * p->heads * p->nblocks;
    at_pool_parallel_for(pool, worker, items, 1, attention_items, &c);

    int rc = at_cancel_status(d->cancel);
    if (rc != AT_OK) return rc;
    if (c.per_head) {
        int64_t rows = p->batch * p->lq;
        int64_t grain = max64(1, rows / (4 * (int64_t)at_pool_threads(pool)));
        at_pool_parallel_for(pool, worker, rows, grain, average_rows, &c);
    }
    if ((rc = at_cancel_status(d->cancel)) != AT_OK) return rc;
    /* Rows whose float32 scores or context overflowed are redone in double. */
    return atomic_load(&c.at_risk) ? at_attention_fix_overflow(d, out) : AT_OK;
}
