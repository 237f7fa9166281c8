/* The row softmax at the heart of attention: masked, numerically stable (the row's maximum is
 * subtracted before exponentiating), and written with explicit SIMD vectors because it runs once
 * per score on the hot path. */
#ifndef AT_SOFTMAX_H
#define AT_SOFTMAX_H

#include <stdint.h>

/* Replaces row[0..n) by the softmax of its allowed entries, in place. Entry j is allowed when
 * j < n_allowed, `allow` is NULL or allow[j * allow_stride] is non-zero, and row[j] is not
 * -INFINITY. Allowed entries become exp(row[j] - max) / sum over allowed entries; every other
 * entry becomes exactly 0, and a row with no allowed entry becomes all zeros, never NaN.
 * Entries at j >= n_allowed are only written, never read. Requires 0 <= n_allowed <= n and
 * allow_stride >= 0 (0: a single flag for the whole row). Pure and reentrant: reads `allow`,
 * writes only `row`. */
void at_softmax_row(float *row, int64_t n, int64_t n_allowed, const uint8_t *allow,
                    int64_t allow_stride);

/* at_softmax_row over `count` rows of a block, row r at rows + r * ld, when every row has the
 * same n_allowed and no flags (no mask tensor, no causal cut): the weights path calls it once
 * per score block, right after the sgemm that wrote the block, so that the block is still in
 * cache and the per-call costs (the ISA dispatch, the constants of the exponential) are paid
 * once per block instead of once per row. Each row gets exactly what at_softmax_row gives it.
 * Requires count >= 0, ld >= n and 0 <= n_allowed <= n. Pure and reentrant. */
void at_softmax_rows(float *rows, int64_t count, int64_t ld, int64_t n, int64_t n_allowed);

/* One key tile of an online softmax (the tiled attention's inner step): the row continues over
 * several tiles, and *max and *sum carry its running maximum and sum of exponentials between
 * them (-INFINITY and 0 before the first tile). Entries are allowed as in at_softmax_row; allowed
 * entries become exp(row[j] - new max), every other entry exactly 0, and *max, *sum are updated.
 * Returns the factor exp(old max - new max) by which anything accumulated under the old maximum
 * must be multiplied: 1 when the tile has no allowed entry (then nothing changes), 0 when the
 * tile is the row's first with one. Never produces NaN from masked entries. Same requirements
 * as at_softmax_row; pure and reentrant. */
float at_softmax_online_row(float *row, int64_t n, int64_t n_allowed, const uint8_t *allow,
                            int64_t allow_stride, float *max, float *sum);

#endif
