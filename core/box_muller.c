/* Box-Muller normal draws rounded to float, bit-identical to the plain double formula with
 * libm's log and cos, at a fraction of its cost: vector polynomials give the double result to
 * about 2^-46, and a lane whose float rounding that error could change is recomputed with libm. */
#include "box_muller_int.h"

#include <math.h>
#include <string.h>

/* simd_int.h for the vector pragmas (fused multiply-adds speed the polynomials up; the exact
 * path has no a * b + c to fuse) and the per-ISA clones. */
#include "simd_int.h"

#define TWO_PI 6.283185307179586476925286766559

#define LANES 8
typedef double vdouble __attribute__((vector_size(LANES * sizeof(double))));
typedef int64_t vlong __attribute__((vector_size(LANES * sizeof(int64_t))));
typedef uint64_t vulong __attribute__((vector_size(LANES * sizeof(uint64_t))));
typedef float vfloat8 __attribute__((vector_size(LANES * sizeof(float))));

#define SELECT(m, a, b) ((vdouble)(((m) & (vlong)(a)) | (~(m) & (vlong)(b))))

/* Relative distance within which the fast result and libm's are sure to lie: the polynomials
 * below are good to about 2^-46 (measured and bounded in the comments), libm to 1 ulp. */
#define BRACKET 0x1p-40
/* |cos| below this is recomputed: near a zero of cos the argument reduction's absolute error
 * becomes a large relative one. About 1 % of the lanes. */
#define COS_FLOOR 0x1p-6

float at_box_muller_ref(uint64_t bits)
{
    /* Each half to (k + 1/2) / 2^32, in (0, 1): log never sees 0. */
    double u1 = ((double)(uint32_t)(bits >> 32) + 0.5) * 0x1p-32;
    double u2 = ((double)(uint32_t)bits + 0.5) * 0x1p-32;
    return (float)(sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2));
}

AT_INLINE vdouble splat(double s)
{
    return (vdouble){0} + s;
}

/* ln(u) for u in (0, 1), u normal: u = 2^k m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s)
 * with s = (m - 1) / (m + 1), |s| <= 0.1716, by its series to s^19 (truncation < 1e-17); m - 1
 * is exact, the division and the sum add a few ulp. */
AT_INLINE vdouble vlog(const vdouble *u)
{
    vlong ix = (vlong)*u;
    vlong k = ((ix >> 52) & 0x7ff) - 1023;
    vdouble m = (vdouble)((ix & 0x000fffffffffffffLL) | 0x3ff0000000000000LL); /* [1, 2) */
    vlong big = m > splat(1.4142135623730951);
    m = SELECT(big, m * 0.5, m);
    k = k + (big & 1);
    vdouble f = m - 1.0;
    vdouble s = f / (f + 2.0), w = s * s;
    vdouble p = splat(1.0 / 19);
    p = p * w + 1.0 / 17;
    p = p * w + 1.0 / 15;
    p = p * w + 1.0 / 13;
    p = p * w + 1.0 / 11;
    p = p * w + 1.0 / 9;
    p = p * w + 1.0 / 7;
    p = p * w + 1.0 / 5;
    p = p * w + 1.0 / 3;
    vdouble kd = __builtin_convertvector(k, vdouble);
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    return kd * ln2_hi + (kd * ln2_lo + (2.0 * s + 2.0 * s * (w * p)));
}

/* cos(x) for x in [0, 2 pi]: x = q pi/2 + r, |r| <= pi/4 (+ rounding), with pi/2 in two parts
 * (fdlibm's pio2_1, 33 bits, so q * pio2_1 and x - q * pio2_1 are exact), then the Taylor series
 * of sin r or cos r (truncation < 1e-17). Absolute error about 2e-16. */
AT_INLINE vdouble vcos(const vdouble *x)
{
    const double pio2_1 = 1.57079632673412561417e+00, pio2_1t = 6.07710050650619224932e-11;
    const double round = 6755399441055744.0; /* 1.5 * 2^52 */
    vdouble qd = (*x * 0.63661977236758134308 + round) - round;
    vdouble r = (*x - qd * pio2_1) - qd * pio2_1t;
    vdouble r2 = r * r;
    vdouble s = splat(1.0 / 355687428096000.0); /* 1/17! */
    s = s * r2 - 1.0 / 1307674368000.0;
    s = s * r2 + 1.0 / 6227020800.0;
    s = s * r2 - 1.0 / 39916800.0;
    s = s * r2 + 1.0 / 362880.0;
    s = s * r2 - 1.0 / 5040.0;
    s = s * r2 + 1.0 / 120.0;
    s = s * r2 - 1.0 / 6.0;
    s = r + r * (r2 * s);
    vdouble c = splat(1.0 / 6402373705728000.0); /* 1/18! */
    c = c * r2 - 1.0 / 20922789888000.0;
    c = c * r2 + 1.0 / 87178291200.0;
    c = c * r2 - 1.0 / 479001600.0;
    c = c * r2 + 1.0 / 3628800.0;
    c = c * r2 - 1.0 / 40320.0;
    c = c * r2 + 1.0 / 720.0;
    c = c * r2 - 1.0 / 24.0;
    c = c * r2 + 0.5;
    c = 1.0 - r2 * c;
    vlong q = __builtin_convertvector(qd, vlong) & 3;
    /* cos(r), -sin(r), -cos(r), sin(r) for q = 0, 1, 2, 3 */
    vdouble v = SELECT((q & 1) != 0, s, c);
    return SELECT((q == 1) | (q == 2), -v, v);
}

/* sqrt(t) for normal t > 0 to a few ulp: 1/sqrt(t) from the exponent-halving guess (within
 * 3.5 %) by four Newton steps (3.5e-2, 1.8e-3, 5e-6, 4e-11, then rounding), times t. Generic
 * vector code has no square root, and a scalar one per lane is slower than all of this. */
AT_INLINE vdouble vsqrt(const vdouble *t)
{
    vdouble y = (vdouble)(0x5fe6eb50c7b537a9LL - ((vlong)*t >> 1));
    vdouble h = *t * 0.5;
    for (int i = 0; i < 4; i++)
        y = y * (1.5 - h * y * y);
    return *t * y;
}

/* LANES draws; lanes whose rounding is in doubt get libm's. */
AT_INLINE void block(const uint64_t *bits, float *out)
{
    vulong b;
    memcpy(&b, bits, sizeof b);
    vdouble u1 = (__builtin_convertvector(b >> 32, vdouble) + 0.5) * 0x1p-32;
    vdouble u2 = (__builtin_convertvector(b & 0xffffffffu, vdouble) + 0.5) * 0x1p-32;
    vdouble t = -2.0 * vlog(&u1);
    vdouble a = TWO_PI * u2; /* the same argument libm's cos gets */
    vdouble c = vcos(&a);
    vdouble z = vsqrt(&t) * c;
    vfloat8 lo = __builtin_convertvector(z * (1.0 - BRACKET), vfloat8);
    vfloat8 hi = __builtin_convertvector(z * (1.0 + BRACKET), vfloat8);
    vlong small = (c < COS_FLOOR) & (c > -COS_FLOOR);
    memcpy(out, &lo, sizeof lo);
    for (int i = 0; i < LANES; i++)
        if (lo[i] != hi[i] || small[i]) out[i] = at_box_muller_ref(bits[i]);
}

AT_SIMD_CLONES void at_box_muller(const uint64_t *bits, int64_t n, float *out)
{
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        block(bits + i, out + i);
    for (; i < n; i++)
        out[i] = at_box_muller_ref(bits[i]);
}
