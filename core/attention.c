/* The attention forward pass. Work is split into items of (batch*head, block of query rows);
 * per item, one sgemm makes the block's scores, each row is masked and softmaxed in place, and
 * a second sgemm multiplies the weights with the values. The split depends only on the shapes,
 * never on the thread count, so every pool size gives bit-identical results. */
#include "attention.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "blas.h"
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
/* Alignment of every buffer carved out of the workspace. */
#define AT_WS_ALIGN 64
/* Largest element count of any tensor or output: keeps byte sizes and offsets far from
 * overflow. The api layer's configured limits are much smaller. */
#define AT_MAX_ELEMENTS (INT64_MAX / 64)

/* The validated shapes and the split of one forward pass. */
typedef struct attn_plan {
    int64_t batch, heads, lq, lk, dk, dv;
    int64_t block_rows; /* query rows per item */
    int64_t nblocks;    /* blocks per (batch, head) */
} attn_plan;

/* Everything a range of items needs; shared read-only by all workers. */
typedef struct attn_ctx {
    const at_attention_desc *d;
    const at_attention_out *out;
    attn_plan plan;
    float scale;
    const uint8_t *mask; /* NULL when there is none */
    int64_t mask_nb[4];  /* mask strides, 0 on every broadcast dimension */
    float *per_head;     /* average_heads: [B, H, Lq, Lk] weights before averaging */
    float *scratch;      /* !need_weights: one block of scores per worker */
    size_t scratch_floats;
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
        .dk = d->query.ne[3],
        .dv = d->value.ne[3],
    };
    int64_t rows = max64(1, AT_SCORE_BLOCK_BYTES / (p.lk * (int64_t)sizeof(float)));
    int64_t bh = p.batch * p.heads;
    if (bh * ceil_div(p.lq, rows) < AT_TARGET_ITEMS) {
        int64_t want_blocks = ceil_div(AT_TARGET_ITEMS, bh);
        rows = min64(rows, max64(AT_MIN_BLOCK_ROWS, ceil_div(p.lq, want_blocks)));
    }
    p.block_rows = min64(rows, p.lq);
    p.nblocks = ceil_div(p.lq, p.block_rows);
    return p;
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
        (rc = check_dim(k, "key", 1, q->ne[1], "head count", "query", err, errlen)) ||
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
    if (d->score != AT_SCORE_SCALED_DOT && d->score != AT_SCORE_DOT) {
        bad = "score";
        snprintf(err, errlen, "score: unknown score function %d", (int)d->score);
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

/* Averaged weights need every head's weights first, unless there is only one head. */
static bool needs_per_head(const at_attention_desc *d)
{
    return d->need_weights && d->average_heads && d->query.ne[1] > 1;
}

/* Floats of one worker's score block (only used when the weights are not returned). */
static size_t scratch_floats(const attn_plan *p)
{
    return align_up((size_t)(p->block_rows * p->lk) * sizeof(float)) / sizeof(float);
}

size_t at_attention_workspace_size(const at_attention_desc *d, int threads)
{
    attn_plan p = make_plan(d);
    if (threads < 1) threads = 1;
    if (needs_per_head(d))
        return align_up((size_t)(p.batch * p.heads * p.lq * p.lk) * sizeof(float));
    if (d->need_weights) return 0; /* the scores go straight into out->weights */
    return (size_t)threads * scratch_floats(&p) * sizeof(float);
}

/* ---- the forward pass ---- */

/* Items [begin, end): item = (b * H + h) * nblocks + block. */
static void attention_items(void *arg, int64_t begin, int64_t end, int worker)
{
    const attn_ctx *c = arg;
    const at_attention_desc *d = c->d;
    const attn_plan *p = &c->plan;
    const at_tensor *q = &d->query, *k = &d->key, *v = &d->value;

    for (int64_t item = begin; item < end; item++) {
        int64_t bh = item / p->nblocks, b = bh / p->heads, h = bh % p->heads;
        int64_t i0 = (item % p->nblocks) * p->block_rows;
        int64_t rows = min64(p->block_rows, p->lq - i0);
        /* With a causal mask no row of the block sees keys at or after i0 + rows. */
        int64_t ncols = d->causal ? min64(p->lk, i0 + rows) : p->lk;

        const float *qb = (const float *)q->data + b * q->nb[0] + h * q->nb[1] + i0 * q->nb[2];
        const float *kb = (const float *)k->data + b * k->nb[0] + h * k->nb[1];
        const float *vb = (const float *)v->data + b * v->nb[0] + h * v->nb[1];
        float *ctx = c->out->context + (bh * p->lq + i0) * p->dv;

        float *s;      /* the block's scores, then its weights: rows x ld */
        int64_t ld, n; /* row stride, and how much of each row the softmax writes */
        if (c->scratch) {
            s = c->scratch + (size_t)worker * c->scratch_floats;
            ld = n = ncols;
        } else {
            float *base = c->per_head ? c->per_head : c->out->weights;
            s = base + (bh * p->lq + i0) * p->lk;
            ld = n = p->lk;
        }

        at_sgemm(false, true, (int)rows, (int)ncols, (int)p->dk, c->scale, qb, (int)q->nb[2], kb,
                 (int)k->nb[2], 0.0f, s, (int)ld);
        for (int64_t r = 0; r < rows; r++) {
            int64_t i = i0 + r;
            int64_t allowed = d->causal ? min64(p->lk, i + 1) : p->lk;
            const uint8_t *allow = NULL;
            if (c->mask)
                allow = c->mask + b * c->mask_nb[0] + h * c->mask_nb[1] + i * c->mask_nb[2];
            at_softmax_row(s + r * ld, n, allowed, allow, c->mask_nb[3]);
        }
        at_sgemm(false, false, (int)rows, (int)p->dv, (int)ncols, 1.0f, s, (int)ld, vb,
                 (int)v->nb[2], 0.0f, ctx, (int)p->dv);
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
    attn_ctx c = {.d = d, .out = out, .plan = make_plan(d), .scale = at_attention_scale(d)};
    const attn_plan *p = &c.plan;

    if (d->mask) {
        c.mask = d->mask->data;
        for (int i = 0; i < 4; i++)
            c.mask_nb[i] = d->mask->ne[i] == 1 ? 0 : d->mask->nb[i];
    }
    if (needs_per_head(d))
        c.per_head = workspace;
    else if (!d->need_weights) {
        c.scratch = workspace;
        c.scratch_floats = scratch_floats(p);
    }
    if (!pool) worker = 0;

    int64_t items = p->batch * p->heads * p->nblocks;
    at_pool_parallel_for(pool, worker, items, 1, attention_items, &c);

    if (c.per_head) {
        int64_t rows = p->batch * p->lq;
        int64_t grain = max64(1, rows / (4 * (int64_t)at_pool_threads(pool)));
        at_pool_parallel_for(pool, worker, rows, grain, average_rows, &c);
    }
    return AT_OK;
}
