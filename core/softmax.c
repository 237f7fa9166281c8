/* Masked row softmax with GCC/Clang vector extensions: 16 floats per step, so one AVX-512
 * register, two AVX2 or four SSE2 ones. The exponential is a Cephes-style polynomial that needs
 * no library call; on x86-64 with GCC, the function is cloned per ISA and chosen at load time. */
#include "softmax.h"

#include <math.h>
#include <string.h>

#include "simd_int.h"

/* One step of the masking max pass over 16 entries at p: entries whose flag in `allow` (if
 * any) is 0 become -inf, and *acc takes the lane-wise maximum. */
AT_INLINE void mask_max_step(float *p, const uint8_t *allow, vfloat *acc)
{
    vfloat v = vload(p);
    if (allow) {
        vbyte b;
        memcpy(&b, allow, sizeof b);
        vint keep = __builtin_convertvector(b, vint) != 0;
        v = VSELECT(keep, v, vsplat(-INFINITY));
        memcpy(p, &v, sizeof v);
    }
    vint greater = v > *acc;
    *acc = VSELECT(greater, v, *acc);
}

/* Masks row[0..n) with the contiguous flags `allow` (or none) and returns the maximum. */
AT_INLINE float mask_and_max(float *row, int64_t n, const uint8_t *allow)
{
    vfloat acc = vsplat(-INFINITY);
    int64_t j = 0;
    for (; j + VL <= n; j += VL)
        mask_max_step(row + j, allow ? allow + j : NULL, &acc);
    if (j < n) {
        /* The tail goes through the same code, padded with entries that cannot win. */
        float tail[VL];
        uint8_t tail_allow[VL] = {0};
        size_t rest = (size_t)(n - j);
        for (int k = 0; k < VL; k++)
            tail[k] = -INFINITY;
        memcpy(tail, row + j, rest * sizeof(float));
        if (allow) memcpy(tail_allow, allow + j, rest);
        mask_max_step(tail, allow ? tail_allow : NULL, &acc);
        memcpy(row + j, tail, rest * sizeof(float));
    }
    float max = acc[0];
    for (int k = 1; k < VL; k++)
        max = acc[k] > max ? acc[k] : max;
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
    float sum = 0.0f;
    for (int k = 0; k < VL; k++)
        sum += acc[k];
    return sum;
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
