/* Weight matrices packed once for the products of dense layers (y = x W^T + b), so that a
 * request reads each weight once, in order, with no per-call repacking. */
#ifndef AT_PACKED_H
#define AT_PACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Output columns per panel of a packed matrix; column ranges given to at_packed_gemm start at a
 * multiple of it. */
#define PACK_NR 32

/* Floats a packed [n, k] matrix takes: n rounded up to PACK_NR, times k. */
size_t at_packed_floats(int64_t n, int64_t k);

/* Packs the weights of a dense layer with n outputs and k inputs into out (at_packed_floats(n,
 * k) floats, caller-owned): w is [n, k] (nn.Linear), or [k, n] with input_major (GPT-2's
 * Conv1D). Pure. */
void at_pack_weights(const float *w, int64_t n, int64_t k, bool input_major, float *out);

/* Columns [c0, c1) of out [rows, ldo] (c0 a multiple of PACK_NR, c1 <= n):
 * out[r, c] = (accumulate ? out[r, c] : 0) + bias[c] + sum over i of x[r, i] W[c, i], with x
 * [rows, k] of row stride ldx, W packed by at_pack_weights and bias [n] or NULL. The sum runs
 * in a fixed order whatever the range, so results do not depend on how columns are split.
 * Pure; disjoint column ranges may run at once. */
void at_packed_gemm(const float *packed, int64_t n, int64_t k, const float *x, int64_t ldx,
                    int64_t rows, int64_t c0, int64_t c1, const float *bias, bool accumulate,
                    float *out, int64_t ldo);

#endif
