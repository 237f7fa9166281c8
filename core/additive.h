/* The additive (Bahdanau) score s_ij = scale * sum_a v[a] tanh((W_q q_i)[a] + (W_k k_j)[a] +
 * bias[a]), split in three: both projections are matrix products done once per row with BLAS,
 * leaving only the da-wide tanh-and-sum per (query, key) pair, which is vectorised over keys.
 * Internal to core/. */
#ifndef AT_ADDITIVE_H
#define AT_ADDITIVE_H

#include <stdint.h>

#include "attention.h"

/* Row stride, in floats, of the key projections of `lk` keys: lk rounded up to whole vectors,
 * so that at_additive_row may read a full vector past the last key. */
int64_t at_additive_key_stride(int64_t lk);

/* The key side, stored transposed: rt[a * ldr + j] = (W_k k_j)[a] for a < da and j < lk, where
 * W_k is add->weight[:, dq:] and key row j is at key + j * key_stride; columns lk..ldr-1 are
 * set to 0. `ldr` is at_additive_key_stride(lk). Pure and reentrant. */
void at_additive_keys(const at_additive *add, int64_t dq, const float *key, int64_t key_stride,
                      int64_t lk, float *rt, int64_t ldr);

/* The query side: pq[r * da + a] = (W_q q_r)[a] + bias[a] for r < rows, where W_q is
 * add->weight[:, :dq] and query row r is at query + r * query_stride. Pure and reentrant. */
void at_additive_queries(const at_additive *add, int64_t dq, const float *query,
                         int64_t query_stride, int64_t rows, float *pq);

/* One query row's scores: s[j] = scale * sum over a < da of v[a] tanh(pq[a] + rt[a * ldr + j])
 * for j < n (v NULL: all ones). Requires n <= ldr and rt as at_additive_keys leaves it. tanh is
 * accurate to about 2e-7 relative. Pure and reentrant. */
void at_additive_row(float *s, int64_t n, const float *pq, const float *rt, int64_t ldr,
                     const float *v, int64_t da, float scale);

#endif
