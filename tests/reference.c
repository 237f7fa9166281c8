/* The test oracle for attention: the textbook definition in double precision, one query row at
 * a time, with plain loops. It shares no code with attention.c, softmax.c, select.c or
 * additive.c on purpose, so a bug in the fast path cannot hide by being copied here. The one
 * thing shared is the random generator of rng.h, which is part of the specification. */
#include "reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/status.h"

/* Element (i0, i1, i2, i3) of a rank-4 view; a dimension of size 1 broadcasts. */
static int64_t ref_offset(const at_tensor *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3)
{
    int64_t idx[4] = {i0, i1, i2, i3}, off = 0;
    for (int a = 0; a < 4; a++)
        if (t->ne[a] > 1) off += idx[a] * t->nb[a];
    return off;
}

static double ref_scale(const at_attention_desc *d)
{
    if (d->has_scale) return (double)d->scale;
    if (d->score == AT_SCORE_SCALED_DOT) return 1.0 / sqrt((double)d->query.ne[3]);
    return 1.0;
}

/* May query row i of head (b, h) attend key j? Causal (top-left), padding, then the mask. */
static bool ref_allowed(const at_attention_desc *d, int64_t b, int64_t h, int64_t i, int64_t j)
{
    if (d->causal && j > i) return false;
    if (d->key_lengths && j >= d->key_lengths[b]) return false;
    if (d->mask) {
        const uint8_t *m = d->mask->data;
        if (m[ref_offset(d->mask, b, h, i, j)] == 0) return false;
    }
    return true;
}

/* score(q_i, k_j) without the scale, for a dot or an additive score. */
static double ref_score(const at_attention_desc *d, int64_t b, int64_t h, int64_t i, int64_t j)
{
    const at_tensor *q = &d->query, *k = &d->key;
    const float *qd = q->data, *kd = k->data;
    const int64_t dq = q->ne[3], dk = k->ne[3];
    if (d->score != AT_SCORE_ADDITIVE) {
        double dot = 0.0;
        for (int64_t e = 0; e < dq; e++)
            dot += (double)qd[ref_offset(q, b, h, i, e)] * (double)kd[ref_offset(k, b, h, j, e)];
        return dot;
    }
    /* v . tanh(W [q; k] + bias), W = [da, dq + dk] row-major. */
    const at_additive *add = d->additive;
    const float *w = add->weight.data;
    const int64_t da = add->weight.ne[0];
    double sum = 0.0;
    for (int64_t a = 0; a < da; a++) {
        double pre = add->bias ? (double)add->bias[a] : 0.0;
        for (int64_t e = 0; e < dq; e++)
            pre += (double)w[a * (dq + dk) + e] * (double)qd[ref_offset(q, b, h, i, e)];
        for (int64_t e = 0; e < dk; e++)
            pre += (double)w[a * (dq + dk) + dq + e] * (double)kd[ref_offset(k, b, h, j, e)];
        sum += (add->v ? (double)add->v[a] : 1.0) * tanh(pre);
    }
    return sum;
}

/* Softmax over the allowed keys in place; none allowed gives all zeros, not NaN. */
static void ref_softmax(double *w, const bool *allowed, int64_t lk)
{
    double max = -INFINITY, sum = 0.0;
    for (int64_t j = 0; j < lk; j++)
        if (allowed[j] && w[j] > max) max = w[j];
    for (int64_t j = 0; j < lk; j++) {
        w[j] = allowed[j] && max > -INFINITY ? exp(w[j] - max) : 0.0;
        sum += w[j];
    }
    for (int64_t j = 0; j < lk; j++)
        if (sum > 0.0) w[j] /= sum;
}

/* Hard selection in place: the k allowed keys of highest w (the lower index first among equal
 * ones) get 1 (or 1/selected with normalize), every other key 0. Picks one key per pass. */
static void ref_select_top(double *w, const bool *allowed, int64_t lk, int64_t k, bool normalize,
                           bool *chosen)
{
    int64_t count = 0;
    for (int64_t j = 0; j < lk; j++)
        chosen[j] = false;
    for (int64_t pass = 0; pass < k; pass++) {
        int64_t best = -1;
        for (int64_t j = 0; j < lk; j++)
            if (allowed[j] && !chosen[j] && (best < 0 || w[j] > w[best])) best = j;
        if (best < 0) break;
        chosen[best] = true;
        count++;
    }
    for (int64_t j = 0; j < lk; j++)
        w[j] = chosen[j] ? (normalize ? 1.0 / (double)count : 1.0) : 0.0;
}

int at_ref_attention(const at_attention_desc *d, double *context, double *weights)
{
    const at_tensor *q = &d->query, *k = &d->key, *v = &d->value;
    const int64_t nbatch = q->ne[0], nheads = q->ne[1], lq = q->ne[2], lk = k->ne[2];
    const int64_t dv = v->ne[3];
    const float *vd = v->data;
    const double scale = ref_scale(d);

    double *w = malloc((size_t)lk * sizeof(double));
    bool *allowed = malloc((size_t)lk * sizeof(bool));
    bool *chosen = malloc((size_t)lk * sizeof(bool));
    if (!w || !allowed || !chosen) {
        free(w);
        free(allowed);
        free(chosen);
        return AT_ENOMEM;
    }
    if (weights && d->average_heads)
        memset(weights, 0, (size_t)(nbatch * lq * lk) * sizeof(double));

    for (int64_t b = 0; b < nbatch; b++)
        for (int64_t h = 0; h < nheads; h++)
            for (int64_t i = 0; i < lq; i++) {
                for (int64_t j = 0; j < lk; j++) {
                    allowed[j] = ref_allowed(d, b, h, i, j);
                    w[j] = allowed[j] ? ref_score(d, b, h, i, j) * scale : 0.0;
                }
                if (d->selection == AT_SELECT_TOPK) {
                    ref_select_top(w, allowed, lk, d->k, d->normalize, chosen);
                } else if (d->selection == AT_SELECT_SAMPLE) {
                    /* Gumbel-top-k: the top k of score + Gumbel noise are k draws without
                     * replacement from the softmax. */
                    uint64_t stream = at_rng_row_stream(d->seed, b, h, i);
                    for (int64_t j = 0; j < lk; j++) {
                        double u = (double)at_rng_uniform(at_rng_bits(stream, j));
                        w[j] += -log(-log(u));
                    }
                    ref_select_top(w, allowed, lk, d->k, d->normalize, chosen);
                } else {
                    ref_softmax(w, allowed, lk);
                }

                double *ctx = context + ((b * nheads + h) * lq + i) * dv;
                for (int64_t e = 0; e < dv; e++) {
                    double acc = 0.0;
                    for (int64_t j = 0; j < lk; j++)
                        acc += w[j] * (double)vd[ref_offset(v, b, h, j, e)];
                    ctx[e] = acc;
                }
                if (!weights) continue;
                if (d->average_heads) {
                    double *dst = weights + (b * lq + i) * lk;
                    for (int64_t j = 0; j < lk; j++)
                        dst[j] += w[j] / (double)nheads;
                } else {
                    memcpy(weights + ((b * nheads + h) * lq + i) * lk, w,
                           (size_t)lk * sizeof(double));
                }
            }
    free(w);
    free(allowed);
    free(chosen);
    return AT_OK;
}
