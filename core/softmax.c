/* Masked row softmax with GCC/Clang vector extensions: 16 floats per step, so one AVX-512
 * register, two AVX2 or four SSE2 ones. The exponential is a Cephes-style polynomial that needs
 * no library call; on x86-64 with GCC, the function is cloned per ISA and chosen at load time. */
#include "softmax.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "simd_int.h"

/* Flags of 16 entries widened to a lane mask (all ones where the flag is non-zero). Compared
 * as bytes, then sign-extended: one vpmovsxbd. Widening the flags first (GCC 12) assembled the
 * lanes from general registers one byte at a time. */
typedef uint8_t vbyte_unaligned __attribute__((vector_size(VL), aligned(1), may_alias));
typedef int8_t vsbyte __attribute__((vector_size(VL)));

AT_INLINE vint allow_lanes(const uint8_t *allow)
{
    vbyte b = *(const vbyte_unaligned *)allow;
    return __builtin_convertvector((vsbyte)(b != 0), vint);
}

/* Masks row[0..n) with the contiguous flags `allow` (or none) and returns the maximum. Four
 * accumulators, because one made the pass a chain of dependent compare-and-blends that took a
 * quarter of the softmax's time for rows of 512 keys. */
AT_INLINE float mask_and_max(float *row, int64_t n, const uint8_t *allow)
{
    const vfloat ninf = vsplat(-INFINITY);
    vfloat acc0 = ninf, acc1 = ninf, acc2 = ninf, acc3 = ninf;
    int64_t j = 0;
    if (allow) {
        for (; j + VL <= n; j += VL) {
            vfloat v = VSELECT(allow_lanes(allow + j), vload(row + j), ninf);
            vstore(row + j, &v);
            acc0 = vmax(v, acc0);
        }
    } else {
        for (; j + 4 * VL <= n; j += 4 * VL) {
            acc0 = vmax(vload(row + j), acc0);
            acc1 = vmax(vload(row + j + VL), acc1);
            acc2 = vmax(vload(row + j + 2 * VL), acc2);
            acc3 = vmax(vload(row + j + 3 * VL), acc3);
        }
        for (; j + VL <= n; j += VL)
            acc0 = vmax(vload(row + j), acc0);
    }
    float max = hmax(vmax(vmax(acc0, acc1), vmax(acc2, acc3)));
    /* The tail, one entry at a time: masked entries become -inf as in the vector loop. */
    for (; j < n; j++) {
        if (allow && !allow[j]) row[j] = -INFINITY;
        max = row[j] > max ? row[j] : max;
    }
    return max;
}

/* row[j] = exp(row[j] - max) for j < n; returns the sum. */
AT_INLINE float exp_and_sum(float *row, int64_t n, float max)
{
    vfloat acc = vsplat(0.0f);
    int64_t j = 0;
    for (; j + VL <= n; j += VL) {
        vfloat x = vload(row + j) - max;
        vfloat e = vexp_nonpositive(&x);
        memcpy(row + j, &e, sizeof e);
        acc += e;
    }
    if (j < n) {
        float tail[VL];
        size_t rest = (size_t)(n - j);
        for (int k = 0; k < VL; k++)
            tail[k] = -INFINITY; /* exp gives 0: adds nothing to the sum */
        memcpy(tail, row + j, rest * sizeof(float));
        vfloat x = vload(tail) - max;
        vfloat e = vexp_nonpositive(&x);
        memcpy(row + j, &e, rest * sizeof(float));
        acc += e;
    }
    return hsum(acc);
}

AT_INLINE void scale_row(float *row, int64_t n, float factor)
{
    int64_t j = 0;
    for (; j + VL <= n; j += VL) {
        vfloat v = vload(row + j) * factor;
        memcpy(row + j, &v, sizeof v);
    }
    for (; j < n; j++)
        row[j] *= factor;
}

/* at_softmax_row with contiguous flags or none; inlined into each entry point (and clone). */
AT_INLINE void softmax_row(float *row, int64_t n, int64_t m, const uint8_t *allow)
{
    float max = m > 0 ? mask_and_max(row, m, allow) : -INFINITY;
    if (max == -INFINITY) {
        memset(row, 0, (size_t)n * sizeof(float));
        return;
    }
    /* The maximum contributes exp(0) = 1, so sum >= 1. */
    float sum = exp_and_sum(row, m, max);
    scale_row(row, m, 1.0f / sum);
    memset(row + m, 0, (size_t)(n - m) * sizeof(float));
}

AT_SIMD_CLONES
void at_softmax_row(float *row, int64_t n, int64_t n_allowed, const uint8_t *allow,
                    int64_t allow_stride)
{
    int64_t m = n_allowed;
    if (allow && m > 0 && allow_stride != 1) {
        /* A single flag for the row, or strided flags (rare): resolve them here so that the
         * vector passes only ever see contiguous flags or none. */
        if (allow_stride == 0) {
            if (!allow[0]) m = 0;
        } else {
            for (int64_t j = 0; j < m; j++)
                if (!allow[j * allow_stride]) row[j] = -INFINITY;
        }
        allow = NULL;
    }
    softmax_row(row, n, m, allow);
}

/* Rows softmaxed together by at_softmax_rows. One row of 128 keys is a short chain of
 * dependent steps (maximum, reduction, exponentials, sum, reduction, division, scaling) that
 * left the core mostly idle at L128; four rows side by side give it independent work. */
#define GROUP 4
/* ...for rows of up to this many keys: four rows of 512 were no faster than one at a time, and
 * four of 1024 or more (32 KiB, most of L1) 10-15 % slower (64-row blocks, best of 3000). */
#define GROUP_MAX_KEYS 256

/* softmax_row on rows[0..GROUP) (no flags, every row's m allowed entries of n), with the
 * arithmetic of softmax_row in the same order for each row, so each gets the same bits. */
AT_INLINE void softmax_group(float *const rows[GROUP], int64_t n, int64_t m)
{
    const vfloat ninf = vsplat(-INFINITY);
    float max[GROUP], sum[GROUP];
    /* The maximum: softmax_row's four accumulators per row, then its tail. */
    vfloat acc[GROUP][4];
    for (int g = 0; g < GROUP; g++)
        acc[g][0] = acc[g][1] = acc[g][2] = acc[g][3] = ninf;
    int64_t j = 0;
    for (; j + 4 * VL <= m; j += 4 * VL)
        for (int g = 0; g < GROUP; g++)
            for (int a = 0; a < 4; a++)
                acc[g][a] = vmax(vload(rows[g] + j + a * VL), acc[g][a]);
    for (; j + VL <= m; j += VL)
        for (int g = 0; g < GROUP; g++)
            acc[g][0] = vmax(vload(rows[g] + j), acc[g][0]);
    for (int g = 0; g < GROUP; g++) {
        max[g] = hmax(vmax(vmax(acc[g][0], acc[g][1]), vmax(acc[g][2], acc[g][3])));
        for (int64_t t = j; t < m; t++)
            max[g] = rows[g][t] > max[g] ? rows[g][t] : max[g];
    }
    bool empty = m == 0;
    for (int g = 0; g < GROUP; g++)
        empty |= max[g] == -INFINITY;
    if (empty) { /* a row of -inf scores (overflow), nothing written yet: one at a time */
        for (int g = 0; g < GROUP; g++)
            softmax_row(rows[g], n, m, NULL);
        return;
    }
    /* The exponentials and their sum, as exp_and_sum. */
    vfloat vsum[GROUP];
    for (int g = 0; g < GROUP; g++)
        vsum[g] = vsplat(0.0f);
    for (j = 0; j + VL <= m; j += VL)
        for (int g = 0; g < GROUP; g++) {
            vfloat x = vload(rows[g] + j) - max[g];
            vfloat e = vexp_nonpositive(&x);
            vstore(rows[g] + j, &e);
            vsum[g] += e;
        }
    for (int g = 0; g < GROUP; g++) {
        if (j < m) {
            float tail[VL];
            size_t rest = (size_t)(m - j);
            for (int k = 0; k < VL; k++)
                tail[k] = -INFINITY;
            memcpy(tail, rows[g] + j, rest * sizeof(float));
            vfloat x = vload(tail) - max[g];
            vfloat e = vexp_nonpositive(&x);
            memcpy(rows[g] + j, &e, rest * sizeof(float));
            vsum[g] += e;
        }
        sum[g] = 1.0f / hsum(vsum[g]);
    }
    for (int g = 0; g < GROUP; g++) {
        scale_row(rows[g], m, sum[g]);
        if (n > m) memset(rows[g] + m, 0, (size_t)(n - m) * sizeof(float));
    }
}

AT_SIMD_CLONES
void at_softmax_rows(float *rows, int64_t count, int64_t ld, int64_t n, int64_t n_allowed)
{
    int64_t r = 0;
    for (; n_allowed <= GROUP_MAX_KEYS && r + GROUP <= count; r += GROUP) {
        float *group[GROUP];
        for (int g = 0; g < GROUP; g++)
            group[g] = rows + (r + g) * ld;
        softmax_group(group, n, n_allowed);
    }
    for (; r < count; r++)
        softmax_row(rows + r * ld, n, n_allowed, NULL);
}

AT_SIMD_CLONES
float at_softmax_online_row(float *row, int64_t n, int64_t n_allowed, const uint8_t *allow,
                            int64_t allow_stride, float *max, float *sum)
{
    int64_t m = n_allowed;
    if (allow && m > 0 && allow_stride != 1) {
        /* As in at_softmax_row: the vector passes see contiguous flags or none. */
        if (allow_stride == 0) {
            if (!allow[0]) m = 0;
        } else {
            for (int64_t j = 0; j < m; j++)
                if (!allow[j * allow_stride]) row[j] = -INFINITY;
        }
        allow = NULL;
    }
    float tile_max = m > 0 ? mask_and_max(row, m, allow) : -INFINITY;
    if (tile_max == -INFINITY) {
        /* Nothing allowed here: the running state stays, so (-inf) - (-inf) never happens. */
        memset(row, 0, (size_t)n * sizeof(float));
        return 1.0f;
    }
    float new_max = tile_max > *max ? tile_max : *max;
    /* The old maximum may be -inf (first tile with an allowed entry): exp gives exactly 0. A
     * maximum that did not move gives exactly 1, which lets the caller skip rescaling. */
    vfloat x = vsplat(*max - new_max);
    float correction = vexp_nonpositive(&x)[0];
    *sum = *sum * correction + exp_and_sum(row, m, new_max);
    *max = new_max;
    memset(row + m, 0, (size_t)(n - m) * sizeof(float));
    return correction;
}
