/* Keeping attention finite when its float32 arithmetic is not. The fast kernels (sgemm, the
 * vector softmax, the tiled online softmax, top-k) assume finite scores; finite inputs whose
 * dot products exceed FLT_MAX break that assumption silently (nulls, zeros, wrong keys). Rather
 * than a branch per element in those loops, the rows at risk are found from bounds afterwards
 * and recomputed in double, where no score of float32 inputs can overflow: plain loops, one
 * row at a time, as slow as they are rare (the tests hold them to tests' double reference). */
#include "overflow_int.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "flash.h"
#include "mask_int.h"
#include "rng.h"
#include "simd_int.h"
#include "status.h"

/* Scores (and every partial sum of them) below this in magnitude leave room for rounding and
 * for the softmax's differences of two scores. */
#define SAFE_BOUND ((double)FLT_MAX / 4)

/* The bound check runs on every request, so its scans are vector loops (cloned per ISA like
 * the kernels): a scalar max-abs over Q and K cost a quarter of B1 H8 L128 d64's forward pass. */

/* |v| lane-wise, and the lane-wise maximum of two non-negative vectors. */
AT_INLINE vfloat vabs(vfloat v)
{
    return (vfloat)((vint)v & ((vint){0} + INT32_MAX));
}

AT_INLINE vfloat vmax_abs(vfloat acc, vfloat a)
{
    vint greater = a > acc;
    return VSELECT(greater, a, acc);
}

/* Largest |x[r * ld + j]| for r < rows, j < n. Inputs are finite, so no NaN can be lost by the
 * comparisons. Four vector accumulators for the whole block: reducing per row of 64 floats cost
 * more than the row's loads, and one accumulator made the scan a chain of dependent
 * compare-and-blends (7 % of B1 H8 L128 d64). */
AT_INLINE float block_maxabs(const float *x, int64_t rows, int64_t ld, int64_t n)
{
    vfloat acc0 = vsplat(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    float m = 0.0f;
    for (int64_t r = 0; r < rows; r++, x += ld) {
        int64_t j = 0;
        for (; j + 4 * VL <= n; j += 4 * VL) {
            acc0 = vmax_abs(acc0, vabs(vload(x + j)));
            acc1 = vmax_abs(acc1, vabs(vload(x + j + VL)));
            acc2 = vmax_abs(acc2, vabs(vload(x + j + 2 * VL)));
            acc3 = vmax_abs(acc3, vabs(vload(x + j + 3 * VL)));
        }
        for (; j + VL <= n; j += VL)
            acc0 = vmax_abs(acc0, vabs(vload(x + j)));
        for (; j < n; j++) {
            float a = fabsf(x[j]);
            m = a > m ? a : m;
        }
    }
    vfloat acc = vmax_abs(vmax_abs(acc0, acc1), vmax_abs(acc2, acc3));
    for (int k = 0; k < VL; k++)
        m = acc[k] > m ? acc[k] : m;
    return m;
}

AT_INLINE float row_maxabs(const float *x, int64_t n)
{
    return block_maxabs(x, 1, 0, n);
}

/* True when x[0..n) holds no infinity or NaN: an OR of the exponent fields plus one, whose
 * top bit only an all-ones exponent sets (no branch per element). */
AT_INLINE bool row_finite(const float *x, int64_t n)
{
    vuint bad = {0};
    int64_t j = 0;
    for (; j + VL <= n; j += VL)
        bad |= ((vuint)vload(x + j) & 0x7f800000u) + 0x00800000u;
    uint32_t any = 0;
    for (int k = 0; k < VL; k++)
        any |= (uint32_t)bad[k];
    for (; j < n; j++) {
        uint32_t u;
        memcpy(&u, &x[j], sizeof u);
        any |= (u & 0x7f800000u) + 0x00800000u;
    }
    return !(any >> 31);
}

AT_INLINE float head_maxabs(const at_tensor *t, int64_t b, int64_t h)
{
    const float *base = (const float *)t->data + b * t->nb[0] + h * t->nb[1];
    return block_maxabs(base, t->ne[2], t->nb[2], t->ne[3]);
}

/* What bounds the scores besides the inputs: the scale and the additive score's parameters. */
typedef struct bounds {
    double scale;     /* max(1, |scale|): sgemm sums before it scales */
    double wq, wk;    /* additive: the largest L1 norm of a row of W_q, of W_k */
    double bias, sum; /* additive: the largest |bias|, and sum |v| (da without v) */
} bounds;

static bounds make_bounds(const at_attention_desc *d)
{
    bounds bd = {.scale = fabs((double)at_attention_scale(d))};
    if (bd.scale < 1.0) bd.scale = 1.0;
    if (d->score != AT_SCORE_ADDITIVE) return bd;
    const at_additive *a = d->additive;
    const int64_t da = a->weight.ne[0], dq = d->query.ne[3], dk = d->key.ne[3];
    const float *w = a->weight.data;
    for (int64_t r = 0; r < da; r++) {
        double nq = 0.0, nk = 0.0;
        for (int64_t e = 0; e < dq; e++)
            nq += fabs((double)w[r * (dq + dk) + e]);
        for (int64_t e = 0; e < dk; e++)
            nk += fabs((double)w[r * (dq + dk) + dq + e]);
        bd.wq = nq > bd.wq ? nq : bd.wq;
        bd.wk = nk > bd.wk ? nk : bd.wk;
        double b = a->bias ? fabs((double)a->bias[r]) : 0.0;
        bd.bias = b > bd.bias ? b : bd.bias;
        bd.sum += a->v ? fabs((double)a->v[r]) : 1.0;
    }
    return bd;
}

/* A bound of every partial sum the kernels form for a query row of largest |element| mq
 * against keys of largest |element| mk. */
static double score_bound(const at_attention_desc *d, const bounds *bd, double mq, double mk)
{
    if (d->score != AT_SCORE_ADDITIVE) return (double)d->query.ne[3] * mq * mk * bd->scale;
    double pre = bd->wq * mq + bd->wk * mk + bd->bias; /* W_q q + W_k k + bias */
    double score = bd->sum * bd->scale;                /* v . tanh(...), scaled */
    return pre > score ? pre : score;
}

/* Doubles to floats, or AT_ERANGE when one is beyond float32's range. */
static int put_row(float *dst, const double *src, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        if (!(fabs(src[j]) <= (double)FLT_MAX)) return AT_ERANGE;
        dst[j] = (float)src[j];
    }
    return AT_OK;
}

typedef struct ranked {
    double score;
    int64_t key;
} ranked;

typedef struct scratch {
    double *w, *ctx, *avg;
    ranked *rank;      /* the allowed keys of a row; for top-k and sampling, best first */
    uint8_t *redo_avg; /* average_heads over H > 1: (b, i) rows whose average is redone */
} scratch;

static void scratch_free(scratch *s)
{
    free(s->w);
    free(s->ctx);
    free(s->avg);
    free(s->rank);
    free(s->redo_avg);
}

static int scratch_alloc(const at_attention_desc *d, scratch *s)
{
    if (s->w) return AT_OK;
    const size_t lk = (size_t)d->key.ne[2], dv = (size_t)d->value.ne[3];
    s->w = malloc(lk * sizeof(double));
    s->ctx = malloc(dv * sizeof(double));
    s->avg = malloc(lk * sizeof(double));
    s->rank = malloc(lk * sizeof(ranked));
    s->redo_avg = calloc((size_t)(d->query.ne[0] * d->query.ne[2]), 1);
    if (s->w && s->ctx && s->avg && s->rank && s->redo_avg) return AT_OK;
    scratch_free(s);
    memset(s, 0, sizeof *s);
    return AT_ENOMEM;
}

/* ---- one row in double ---- */

static double scale_of(const at_attention_desc *d)
{
    if (d->has_scale) return (double)d->scale;
    if (d->score == AT_SCORE_SCALED_DOT) return 1.0 / sqrt((double)d->query.ne[3]);
    return 1.0;
}

/* The unscaled score of query row q against key row k. */
static double score_of(const at_attention_desc *d, const float *q, const float *k)
{
    const int64_t dq = d->query.ne[3], dk = d->key.ne[3];
    double sum = 0.0;
    if (d->score != AT_SCORE_ADDITIVE) {
        for (int64_t e = 0; e < dq; e++)
            sum += (double)q[e] * (double)k[e];
        return sum;
    }
    const at_additive *a = d->additive;
    const float *w = a->weight.data;
    for (int64_t r = 0; r < a->weight.ne[0]; r++, w += dq + dk) {
        double pre = a->bias ? (double)a->bias[r] : 0.0;
        for (int64_t e = 0; e < dq; e++)
            pre += (double)w[e] * (double)q[e];
        for (int64_t e = 0; e < dk; e++)
            pre += (double)w[dq + e] * (double)k[e];
        sum += (a->v ? (double)a->v[r] : 1.0) * tanh(pre);
    }
    return sum;
}

/* Best first; among equal scores the lower key first (the fast path's order). */
static int by_rank(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->key < b->key ? -1 : a->key > b->key;
}

/* Row i of head (b, h): weights into s->w[0..Lk) and context into s->ctx[0..dv), in double.
 * Masked keys weigh 0; a row with no key allowed is all zeros. */
static void double_row(const at_attention_desc *d, scratch *s, int64_t b, int64_t h, int64_t i)
{
    const at_tensor *q = &d->query, *k = &d->key, *v = &d->value;
    const int64_t lk = k->ne[2], dv = v->ne[3], limit = at_row_key_limit(d, b, i);
    const float *qi = (const float *)q->data + b * q->nb[0] + h * q->nb[1] + i * q->nb[2];
    const float *kb = (const float *)k->data + b * k->nb[0] + h * k->nb[1];
    const float *vb = (const float *)v->data + b * v->nb[0] + h * v->nb[1];
    int64_t stride = 0, n = 0;
    const uint8_t *allow = at_mask_row(d, b, h, i, &stride);
    const double scale = scale_of(d);
    const uint64_t stream = at_rng_row_stream(d->seed, b, h, i);
    double max = -INFINITY;
    for (int64_t j = 0; j < lk; j++) {
        s->w[j] = 0.0;
        if (j >= limit || (allow && !allow[j * stride])) continue;
        double x = score_of(d, qi, kb + j * k->nb[2]) * scale;
        if (d->selection == AT_SELECT_SAMPLE) /* Gumbel-top-k: k draws without replacement */
            x += -log(-log((double)at_rng_uniform(at_rng_bits(stream, j))));
        s->rank[n++] = (ranked){x, j};
        max = x > max ? x : max;
    }
    if (d->selection == AT_SELECT_SOFT) {
        double sum = 0.0;
        for (int64_t r = 0; r < n; r++)
            sum += s->w[s->rank[r].key] = exp(s->rank[r].score - max);
        for (int64_t r = 0; r < n; r++)
            s->w[s->rank[r].key] /= sum;
    } else {
        qsort(s->rank, (size_t)n, sizeof *s->rank, by_rank);
        int64_t chosen = n < d->k ? n : d->k;
        for (int64_t r = 0; r < chosen; r++)
            s->w[s->rank[r].key] = d->normalize ? 1.0 / (double)chosen : 1.0;
    }
    for (int64_t e = 0; e < dv; e++)
        s->ctx[e] = 0.0;
    for (int64_t j = 0; j < lk; j++)
        if (s->w[j] != 0.0)
            for (int64_t e = 0; e < dv; e++)
                s->ctx[e] += s->w[j] * (double)vb[j * v->nb[2] + e];
}

/* Row i of head (b, h) in double: its context and (weights_row, unless NULL) its weights. */
static int redo_row(const at_attention_desc *d, const at_attention_out *out, scratch *s, int64_t b,
                    int64_t h, int64_t i, float *weights_row)
{
    const int64_t H = d->query.ne[1], lq = d->query.ne[2], lk = d->key.ne[2];
    const int64_t dv = d->value.ne[3];
    double_row(d, s, b, h, i);
    int rc = put_row(out->context + ((b * H + h) * lq + i) * dv, s->ctx, dv);
    if (rc == AT_OK && weights_row) rc = put_row(weights_row, s->w, lk);
    return rc;
}

AT_SIMD_CLONES
void at_attention_head_maxabs(const at_attention_desc *d, int64_t b, int64_t h, float *mq,
                              float *mk)
{
    *mq = head_maxabs(&d->query, b, h);
    *mk = head_maxabs(&d->key, b, h);
}

bool at_attention_bound_safe(const at_attention_desc *d, float mq, float mk)
{
    const bounds bd = make_bounds(d);
    return score_bound(d, &bd, mq, mk) <= SAFE_BOUND;
}

AT_SIMD_CLONES
bool at_attention_rows_at_risk(const at_attention_desc *d, const at_attention_out *out, int64_t b,
                               int64_t h, int64_t i0, int64_t rows, bool bound_safe)
{
    const at_tensor *q = &d->query, *k = &d->key;
    const int64_t dv = d->value.ne[3];
    /* The block's context rows are contiguous: one pass. */
    if (!row_finite(out->context + ((b * q->ne[1] + h) * q->ne[2] + i0) * dv, rows * dv))
        return true;
    if (bound_safe || at_flash_checks_scores(d)) return false;
    /* One bound for the whole block: its largest |q| against the head's largest |k| bounds
     * every row's own bound, which at_attention_fix_overflow uses. */
    const float *qb = (const float *)q->data + b * q->nb[0] + h * q->nb[1] + i0 * q->nb[2];
    float mq = block_maxabs(qb, rows, q->nb[2], q->ne[3]);
    const bounds bd = make_bounds(d);
    return score_bound(d, &bd, mq, head_maxabs(k, b, h)) > SAFE_BOUND;
}

AT_SIMD_CLONES
int at_attention_fix_overflow(const at_attention_desc *d, const at_attention_out *out)
{
    const at_tensor *q = &d->query, *k = &d->key;
    const int64_t B = q->ne[0], H = q->ne[1], lq = q->ne[2], lk = k->ne[2];
    const int64_t dq = q->ne[3], dv = d->value.ne[3];
    const bool averaged = d->need_weights && d->average_heads && H > 1;
    const bounds bd = make_bounds(d);

    /* The tiled path may have checked every score itself (its rows at risk are not finite):
     * then the bound, a pass over all keys, is not needed. */
    bool safe = at_flash_checks_scores(d);
    if (!safe) {
        float mq = 0.0f, mk = 0.0f;
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < H; h++) {
                float a = head_maxabs(q, b, h), c = head_maxabs(k, b, h);
                mq = a > mq ? a : mq;
                mk = c > mk ? c : mk;
            }
        safe = score_bound(d, &bd, mq, mk) <= SAFE_BOUND;
    }

    scratch s = {0};
    int rc = AT_OK;
    bool any_avg = false;
    for (int64_t b = 0; b < B && rc == AT_OK; b++)
        for (int64_t h = 0; h < H && rc == AT_OK; h++) {
            const float mkh = safe ? 0.0f : head_maxabs(k, b, h);
            const float *qb = (const float *)q->data + b * q->nb[0] + h * q->nb[1];
            for (int64_t i = 0; i < lq && rc == AT_OK; i++) {
                bool redo = !row_finite(out->context + ((b * H + h) * lq + i) * dv, dv);
                if (!redo && !safe)
                    redo = score_bound(d, &bd, row_maxabs(qb + i * q->nb[2], dq), mkh) > SAFE_BOUND;
                if (!redo) continue;
                if ((rc = scratch_alloc(d, &s))) break;
                if (averaged) { /* every head of (b, i) is redone below */
                    s.redo_avg[b * lq + i] = 1;
                    any_avg = true;
                    continue;
                }
                float *wrow = d->need_weights ? out->weights + ((b * H + h) * lq + i) * lk : NULL;
                rc = redo_row(d, out, &s, b, h, i, wrow);
            }
        }
    for (int64_t r = 0; any_avg && rc == AT_OK && r < B * lq; r++) {
        if (!s.redo_avg[r]) continue;
        const int64_t b = r / lq, i = r % lq;
        for (int64_t j = 0; j < lk; j++)
            s.avg[j] = 0.0;
        for (int64_t h = 0; h < H && rc == AT_OK; h++) {
            rc = redo_row(d, out, &s, b, h, i, NULL);
            for (int64_t j = 0; j < lk; j++)
                s.avg[j] += s.w[j] / (double)H;
        }
        if (rc == AT_OK) rc = put_row(out->weights + r * lk, s.avg, lk);
    }
    scratch_free(&s);
    return rc;
}
