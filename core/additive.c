/* The additive score: two projections with BLAS, then per query row a loop over vectors of 16
 * keys that accumulates v[a] tanh(pq[a] + rt[a][keys]) over the hidden width a. Keys are the
 * vector lanes (the key projections are stored transposed) so every lane does useful work
 * whatever da is, and nothing is reduced across lanes. */
#include "additive.h"

#include <string.h>

#include "blas.h"
#include "simd_int.h"

int64_t at_additive_key_stride(int64_t lk)
{
    return (lk + VL - 1) / VL * VL;
}

void at_additive_keys(const at_additive *add, int64_t dq, const float *key, int64_t key_stride,
                      int64_t lk, float *rt, int64_t ldr)
{
    const int64_t da = add->weight.ne[0], width = add->weight.ne[1];
    const float *w_k = (const float *)add->weight.data + dq;
    /* rt = W_k K^T: [da, dk] times [dk, lk]. */
    at_sgemm(false, true, (int)da, (int)lk, (int)(width - dq), 1.0f, w_k, (int)width, key,
             (int)key_stride, 0.0f, rt, (int)ldr);
    if (ldr > lk)
        for (int64_t a = 0; a < da; a++)
            memset(rt + a * ldr + lk, 0, (size_t)(ldr - lk) * sizeof(float));
}

void at_additive_queries(const at_additive *add, int64_t dq, const float *query,
                         int64_t query_stride, int64_t rows, float *pq)
{
    const int64_t da = add->weight.ne[0], width = add->weight.ne[1];
    /* The bias is folded in as the product's starting value (beta = 1). */
    for (int64_t r = 0; r < rows; r++)
        if (add->bias)
            memcpy(pq + r * da, add->bias, (size_t)da * sizeof(float));
        else
            memset(pq + r * da, 0, (size_t)da * sizeof(float));
    /* pq += Q W_q^T: [rows, dq] times [dq, da]. */
    at_sgemm(false, true, (int)rows, (int)da, (int)dq, 1.0f, query, (int)query_stride,
             add->weight.data, (int)width, 1.0f, pq, (int)da);
}

/* s[0..VL) = scale * sum_a v[a] tanh(pq[a] + rt[a * ldr + 0..VL)). */
AT_INLINE void score_keys(float *s, const float *pq, const float *rt, int64_t ldr, const float *v,
                          int64_t da, float scale)
{
    vfloat acc = vsplat(0.0f);
    if (v) {
        for (int64_t a = 0; a < da; a++) {
            vfloat x = vload(rt + a * ldr) + pq[a];
            acc += vtanh(&x) * v[a];
        }
    } else {
        for (int64_t a = 0; a < da; a++) {
            vfloat x = vload(rt + a * ldr) + pq[a];
            acc += vtanh(&x);
        }
    }
    acc *= scale;
    vstore(s, &acc);
}

AT_SIMD_CLONES
void at_additive_row(float *s, int64_t n, const float *pq, const float *rt, int64_t ldr,
                     const float *v, int64_t da, float scale)
{
    int64_t j = 0;
    for (; j + VL <= n; j += VL)
        score_keys(s + j, pq, rt + j, ldr, v, da, scale);
    if (j < n) {
        /* The last vector of keys reads the zero padding of rt and keeps only what is asked. */
        float tail[VL];
        score_keys(tail, pq, rt + j, ldr, v, da, scale);
        memcpy(s + j, tail, (size_t)(n - j) * sizeof(float));
    }
}
