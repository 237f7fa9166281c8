/* The test oracle for attention: the textbook definition in double precision, one query row at
 * a time, with plain loops. It shares no code with attention.c or softmax.c on purpose, so a bug
 * in the fast path cannot hide by being copied here. */
#include "reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

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

int at_ref_attention(const at_attention_desc *d, double *context, double *weights)
{
    const at_tensor *q = &d->query, *k = &d->key, *v = &d->value;
    const int64_t nbatch = q->ne[0], nheads = q->ne[1], lq = q->ne[2], lk = k->ne[2];
    const int64_t dk = q->ne[3], dv = v->ne[3];
    const float *qd = q->data, *kd = k->data, *vd = v->data;
    const double scale = ref_scale(d);

    double *w = malloc((size_t)lk * sizeof(double));
    bool *allowed = malloc((size_t)lk * sizeof(bool));
    if (!w || !allowed) {
        free(w);
        free(allowed);
        return AT_ENOMEM;
    }
    if (weights && d->average_heads)
        memset(weights, 0, (size_t)(nbatch * lq * lk) * sizeof(double));

    for (int64_t b = 0; b < nbatch; b++)
        for (int64_t h = 0; h < nheads; h++)
            for (int64_t i = 0; i < lq; i++) {
                /* Scores of the keys row i may attend; the rest are -inf (masked_fill). */
                double max = -INFINITY;
                for (int64_t j = 0; j < lk; j++) {
                    allowed[j] = !(d->causal && j > i);
                    if (d->mask) {
                        const uint8_t *m = d->mask->data;
                        if (m[ref_offset(d->mask, b, h, i, j)] == 0) allowed[j] = false;
                    }
                    if (!allowed[j]) continue;
                    double dot = 0.0;
                    for (int64_t e = 0; e < dk; e++)
                        dot += (double)qd[ref_offset(q, b, h, i, e)] *
                               (double)kd[ref_offset(k, b, h, j, e)];
                    w[j] = dot * scale;
                    if (w[j] > max) max = w[j];
                }
                /* Softmax over the allowed keys; none allowed gives all zeros, not NaN. */
                double sum = 0.0;
                for (int64_t j = 0; j < lk; j++) {
                    w[j] = allowed[j] && max > -INFINITY ? exp(w[j] - max) : 0.0;
                    sum += w[j];
                }
                for (int64_t j = 0; j < lk; j++)
                    if (sum > 0.0) w[j] /= sum;

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
    return AT_OK;
}
