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

#endif
