/* Vector math for the kernels of core/: 16-lane float vectors written with GCC/Clang vector
 * extensions (one AVX-512 register, two AVX2 or four SSE2 ones) and the elementary functions
 * the kernels need (exp, log, tanh) as branch-free polynomials with no library call.
 * Internal to core/. Including it turns on FMA contraction for the rest of the including file. */
#ifndef AT_SIMD_INT_H
#define AT_SIMD_INT_H

#include <stdint.h>
#include <string.h>

/* The helpers return vectors by value but are always inlined, so no call ABI is involved; GCC
 * would otherwise warn that 64-byte vectors are returned differently without AVX-512. They take
 * vectors by pointer because GCC's note about the argument ABI cannot be silenced. */
#if defined(__GNUC__) /* GCC and Clang */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* -std=c11 turns off fusing a * b + c into one FMA; the polynomials below are chains of them,
 * and fusing makes them about 25% faster. The clones with FMA then round the last bit of some
 * results differently from the SSE2 one: results still never depend on the run or the thread
 * count, only on the CPU's instruction set. */
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast")
#endif

/* Without -march flags the build targets baseline x86-64 (SSE2); cloning lets a machine with
 * AVX2+FMA (x86-64-v3) or AVX-512 (x86-64-v4) run wider code from the same binary. Put it on
 * the public function of a kernel; the helpers below are inlined into each clone. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
/* (Not under gcc's ThreadSanitizer: its ifunc resolvers run before TSan is set up and crash.) */
#define AT_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AT_SIMD_CLONES
#endif

#define AT_INLINE static inline __attribute__((always_inline))

#define VL 16 /* lanes per vector */

typedef float vfloat __attribute__((vector_size(VL * sizeof(float))));
typedef int32_t vint __attribute__((vector_size(VL * sizeof(int32_t))));
typedef uint32_t vuint __attribute__((vector_size(VL * sizeof(uint32_t)))); /* wraps, never UB */
typedef uint8_t vbyte __attribute__((vector_size(VL)));

/* Lane-wise m ? a : b, where m is all-ones or all-zeros per lane (a vector comparison). */
#define VSELECT(m, a, b) ((vfloat)(((m) & (vint)(a)) | (~(m) & (vint)(b))))

AT_INLINE vfloat vsplat(float s)
{
    return (vfloat){0} + s;
}

AT_INLINE vfloat vmax(vfloat a, vfloat b)
{
    vint greater = a > b;
    return VSELECT(greater, a, b);
}

/* Lanes of v in another order, and lanes of a and b (indices 0-15 are a's, 16-31 b's), the same
 * on GCC and clang (each has its own builtin). */
#if defined(__clang__)
#define VSHUFFLE(v, ...)     __builtin_shufflevector((v), (v), __VA_ARGS__)
#define VSHUFFLE2(a, b, ...) __builtin_shufflevector((a), (b), __VA_ARGS__)
#else
#define VSHUFFLE(v, ...)     __builtin_shuffle((v), (vint){__VA_ARGS__})
#define VSHUFFLE2(a, b, ...) __builtin_shuffle((a), (b), (vint){__VA_ARGS__})
#endif
#define AT_LANES_HALF    8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7
#define AT_LANES_QUARTER 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11
#define AT_LANES_PAIR    2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13
#define AT_LANES_ONE     1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14

/* Lane-wise reductions to one float, in log2(16) shuffle steps (a loop over the lanes was a
 * chain of 15 dependent operations per row, which showed at 128 keys). */
AT_INLINE float hmax(vfloat v)
{
    v = vmax(v, VSHUFFLE(v, AT_LANES_HALF));
    v = vmax(v, VSHUFFLE(v, AT_LANES_QUARTER));
    v = vmax(v, VSHUFFLE(v, AT_LANES_PAIR));
    v = vmax(v, VSHUFFLE(v, AT_LANES_ONE));
    return v[0];
}

AT_INLINE float hsum(vfloat v)
{
    v += VSHUFFLE(v, AT_LANES_HALF);
    v += VSHUFFLE(v, AT_LANES_QUARTER);
    v += VSHUFFLE(v, AT_LANES_PAIR);
    v += VSHUFFLE(v, AT_LANES_ONE);
    return v[0];
}

AT_INLINE vfloat vload(const float *p)
{
    vfloat v;
    memcpy(&v, p, sizeof v);
    return v;
}

AT_INLINE void vstore(float *p, const vfloat *v)
{
    memcpy(p, v, sizeof *v);
}

/* Below this, expf underflows to a denormal: such results are flushed to exactly 0. */
#define AT_EXP_LO -87.3f

/* exp(x) for x <= 0, accurate to about 2 ulp; x below AT_EXP_LO (including -inf) gives 0.
 * Cephes' expf: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by a degree-7 polynomial. */
AT_INLINE vfloat vexp_nonpositive(const vfloat *x)
{
    const float log2e = 1.44269504088896341f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float round = 12582912.0f; /* 1.5 * 2^23: adding and subtracting it rounds */
    vint under = *x < AT_EXP_LO;
    vfloat xc = VSELECT(under, vsplat(AT_EXP_LO), *x);
    vfloat n = (xc * log2e + round) - round;
    vfloat r = xc - n * ln2_hi - n * ln2_lo;
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

/* Natural log of positive normal floats, accurate to about 2 ulp relative, also next to 1:
 * Cephes' logf. x = 2^e m with m in [sqrt(1/2), sqrt(2)), and log(m) = log1p(m - 1) where
 * m - 1 is exact, so log(1 - 2^-24) keeps its full precision. Zero, denormals, negatives,
 * infinities and NaN give meaningless results: callers never pass them. */
AT_INLINE vfloat vlog_positive(const vfloat *x)
{
    const float sqrt_half = 0.707106781186547524f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    vint bits = (vint)*x;
    vint e = ((bits >> 23) & 0xff) - 126; /* x = 2^e * m, m in [0.5, 1) */
    vfloat m = (vfloat)((bits & 0x807fffff) | 0x3f000000);
    vint small = m < sqrt_half; /* then use 2m in [sqrt(1/2), 1) */
    e -= small & 1;
    m = VSELECT(small, m + m, m) - 1.0f;
    vfloat fe = __builtin_convertvector(e, vfloat);
    vfloat z = m * m;
    vfloat p = vsplat(7.0376836292e-2f);
    p = p * m - 1.1514610310e-1f;
    p = p * m + 1.1676998740e-1f;
    p = p * m - 1.2420140846e-1f;
    p = p * m + 1.4249322787e-1f;
    p = p * m - 1.6668057665e-1f;
    p = p * m + 2.0000714765e-1f;
    p = p * m - 2.4999993993e-1f;
    p = p * m + 3.3333331174e-1f;
    vfloat y = p * m * z + fe * ln2_lo - 0.5f * z;
    return m + y + fe * ln2_hi;
}

/* tanh(x), accurate to about 2e-7 relative over the whole line (Cephes' tanhf split): an odd
 * polynomial below |x| = 0.625, where 1 - 2/(e^2x + 1) would cancel, and (1 - e)/(1 + e) with
 * e = exp(-2|x|) <= 0.29 above, where nothing cancels. |x| > 43.6 gives exactly +-1. */
AT_INLINE vfloat vtanh(const vfloat *x)
{
    const vint sign_bit = (vint){0} + INT32_MIN;
    vfloat ax = (vfloat)((vint)*x & ~sign_bit);
    vfloat z = *x * *x;
    vfloat p = vsplat(-5.70498872745e-3f);
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    vfloat near0 = p * z * *x + *x;
    vfloat m2ax = -2.0f * ax;
    vfloat e = vexp_nonpositive(&m2ax);
    vfloat far = (1.0f - e) / (1.0f + e); /* tanh(|x|) */
    far = (vfloat)((vint)far | ((vint)*x & sign_bit));
    vint small = ax < 0.625f;
    return VSELECT(small, near0, far);
}

#endif
