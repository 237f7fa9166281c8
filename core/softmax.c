/* Masked row softmax with GCC/Clang vector extensions: 16 floats per step, so one AVX-512
 * register, two AVX2 or four SSE2 ones. The exponential is a Cephes-style polynomial that needs
 * no library call; on x86-64 with GCC, the function is cloned per ISA and chosen at load time. */
#include "softmax.h"

#include <math.h>
#include <string.h>

/* The helpers below return vectors by value but are always inlined, so no call ABI is involved;
 * GCC would otherwise warn that 64-byte vectors are returned differently without AVX-512. They
 * take vectors by pointer because GCC's note about the argument ABI cannot be silenced. */
#if defined(__GNUC__) /* GCC and Clang */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define VL 16 /* lanes per vector */

typedef float vfloat __attribute__((vector_size(VL * sizeof(float))));
typedef int32_t vint __attribute__((vector_size(VL * sizeof(int32_t))));
typedef uint8_t vbyte __attribute__((vector_size(VL)));

/* Without -march flags the build targets baseline x86-64 (SSE2); cloning lets a machine with
 * AVX2+FMA (x86-64-v3) or AVX-512 (x86-64-v4) run wider code from the same binary. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define AT_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AT_SIMD_CLONES
#endif

/* -std=c11 turns off fusing a * b + c into one FMA; the exponential's polynomial is a chain of
 * them, and fusing makes the whole softmax about 25% faster. The clones with FMA then round
 * the last bit of some weights differently from the SSE2 one: results still never depend on
 * the run or the thread count, only on the CPU's instruction set. */
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast")
#endif

#define AT_INLINE static inline __attribute__((always_inline))

/* Below this, expf underflows to a denormal: such weights are flushed to exactly 0. */
#define EXP_LO   -87.3f
#define LOG2E    1.44269504088896341f
#define LN2_HI   0.693359375f
#define LN2_LO   -2.12194440e-4f
#define ROUND_FP 12582912.0f /* 1.5 * 2^23: adding and subtracting it rounds to an integer */

/* Lane-wise m ? a : b, where m is all-ones or all-zeros per lane (a vector comparison). */
#define VSELECT(m, a, b) ((vfloat)(((m) & (vint)(a)) | (~(m) & (vint)(b))))

AT_INLINE vfloat vsplat(float s)
{
    return (vfloat){0} + s;
}

AT_INLINE vfloat vload(const float *p)
{
    vfloat v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* exp(x) for x <= 0, accurate to about 2 ulp; x below EXP_LO (including -inf) gives 0. */
AT_INLINE vfloat vexp_nonpositive(const vfloat *x)
{
    vint under = *x < EXP_LO;
    vfloat xc = VSELECT(under, vsplat(EXP_LO), *x);
    vfloat n = (xc * LOG2E + ROUND_FP) - ROUND_FP;
    vfloat r = xc - n * LN2_HI - n * LN2_LO;
    vfloat p = vsplat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    vint pow2n = (__builtin_convertvector(n, vint) + 127) << 23;
    vfloat e = p * (vfloat)pow2n;
    return VSELECT(under, vsplat(0.0f), e);
}

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
