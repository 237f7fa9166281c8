/* Shortest round-trip formatting. Floats use Schubfach (Raffaello Giulietti, "The Schubfach way
 * to render doubles", 2020), binary32 variant: three 64x32-bit products against a table of
 * powers of ten find the shortest decimal in the interval that rounds to v. Doubles, printed
 * only in messages, still search with printf. */
#include "float_format.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Schubfach for binary32 ---- */

/* g(k) = ceil(10^k / 2^r) with r = floor(log2(10^k)) - 63, so 2^63 <= g < 2^64, for the k in
 * [-31, 45] that binary32 needs. Generated with exact rationals (Python):
 *   for k in range(-31, 46):
 *       e = floor(log2(10**k)); print(hex(ceil(Fraction(10)**k / Fraction(2)**(e - 63))))
 * An exhaustive run over all 2^32 floats (format, read back, nothing shorter reads back) checks
 * every entry. */
#define POW10_MIN (-31)
#define POW10_MAX 45
static const uint64_t pow10_g[POW10_MAX - POW10_MIN + 1] = {
    0x81ceb32c4b43fcf5, 0xa2425ff75e14fc32, 0xcad2f7f5359a3b3f, 0xfd87b5f28300ca0e,
    0x9e74d1b791e07e49, 0xc612062576589ddb, 0xf79687aed3eec552, 0x9abe14cd44753b53,
    0xc16d9a0095928a28, 0xf1c90080baf72cb2, 0x971da05074da7bef, 0xbce5086492111aeb,
    0xec1e4a7db69561a6, 0x9392ee8e921d5d08, 0xb877aa3236a4b44a, 0xe69594bec44de15c,
    0x901d7cf73ab0acda, 0xb424dc35095cd810, 0xe12e13424bb40e14, 0x8cbccc096f5088cc,
    0xafebff0bcb24aaff, 0xdbe6fecebdedd5bf, 0x89705f4136b4a598, 0xabcc77118461cefd,
    0xd6bf94d5e57a42bd, 0x8637bd05af6c69b6, 0xa7c5ac471b478424, 0xd1b71758e219652c,
    0x83126e978d4fdf3c, 0xa3d70a3d70a3d70b, 0xcccccccccccccccd, 0x8000000000000000,
    0xa000000000000000, 0xc800000000000000, 0xfa00000000000000, 0x9c40000000000000,
    0xc350000000000000, 0xf424000000000000, 0x9896800000000000, 0xbebc200000000000,
    0xee6b280000000000, 0x9502f90000000000, 0xba43b74000000000, 0xe8d4a51000000000,
    0x9184e72a00000000, 0xb5e620f480000000, 0xe35fa931a0000000, 0x8e1bc9bf04000000,
    0xb1a2bc2ec5000000, 0xde0b6b3a76400000, 0x8ac7230489e80000, 0xad78ebc5ac620000,
    0xd8d726b7177a8000, 0x878678326eac9000, 0xa968163f0a57b400, 0xd3c21bcecceda100,
    0x84595161401484a0, 0xa56fa5b99019a5c8, 0xcecb8f27f4200f3a, 0x813f3978f8940985,
    0xa18f07d736b90be6, 0xc9f2c9cd04674edf, 0xfc6f7c4045812297, 0x9dc5ada82b70b59e,
    0xc5371912364ce306, 0xf684df56c3e01bc7, 0x9a130b963a6c115d, 0xc097ce7bc90715b4,
    0xf0bdc21abb48db21, 0x96769950b50d88f5, 0xbc143fa4e250eb32, 0xeb194f8e1ae525fe,
    0x92efd1b8d0cf37bf, 0xb7abc627050305ae, 0xe596b7b0c643c71a, 0x8f7e32ce7bea5c70,
    0xb35dbf821ae4f38c,
};

/* floor(log10(2^q)), floor(log10(3/4 2^q)) and floor(log2(10^e)) by the fixed-point
 * multipliers of the paper, for the q in [-149, 104] and e in [-31, 45] of binary32. A bias
 * keeps the shifted values nonnegative (>> of a negative int is implementation-defined). */
static int32_t floor_log10_pow2(int32_t q, bool three_quarters)
{
    return (int32_t)((uint32_t)(q * 1262611 - (three_quarters ? 524031 : 0) + (64 << 22)) >> 22) -
           64;
}

static int32_t floor_log2_pow10(int32_t e)
{
    return (int32_t)((uint32_t)(e * 1741647 + (128 << 19)) >> 19) - 128;
}

/* The upper 64+32 bits of g * cp rounded to odd: floor(g cp / 2^64), with the lowest bit set
 * when the discarded part is not (nearly) zero. cp < 2^32. Two 32x32-bit products keep this
 * plain C11. */
static uint32_t round_to_odd(uint64_t g, uint32_t cp)
{
    uint64_t lo = (g & 0xffffffffu) * cp, hi = (g >> 32) * cp;
    uint64_t mid = hi + (lo >> 32); /* g cp / 2^32, < 2^63 since cp < 2^30 here */
    uint32_t y1 = (uint32_t)(mid >> 32), y0 = (uint32_t)mid;
    return y1 | (y0 > 1);
}

/* The shortest decimal d * 10^e in the rounding interval of the positive finite float with
 * the given fields, nearest to it when several have that length (ties to even d). d may end
 * in zeros. */
static void shortest(uint32_t ieee_mantissa, uint32_t ieee_exponent, uint32_t *d, int32_t *e)
{
    uint32_t c;
    int32_t q;
    if (ieee_exponent != 0) {
        c = (1u << 23) | ieee_mantissa;
        q = (int32_t)ieee_exponent - 150;
        /* Small integers are their own shortest text. */
        if (q <= 0 && q > -24 && (c & ((1u << -q) - 1)) == 0) {
            *d = c >> -q;
            *e = 0;
            return;
        }
    } else {
        c = ieee_mantissa;
        q = -149;
    }
    bool even = (c & 1) == 0;
    bool lower_closer = ieee_mantissa == 0 && ieee_exponent > 1; /* v a power of two */
    uint32_t cbl = 4 * c - 2 + lower_closer, cb = 4 * c, cbr = 4 * c + 2;
    /* k = floor(log10(2^q)), or floor(log10(3/4 2^q)) when the lower neighbour is closer. */
    int32_t k = floor_log10_pow2(q, lower_closer);
    int32_t h = q + floor_log2_pow10(-k) + 1; /* 1..4 */
    uint64_t g = pow10_g[-k - POW10_MIN];
    uint32_t vbl = round_to_odd(g, cbl << h), vb = round_to_odd(g, cb << h),
             vbr = round_to_odd(g, cbr << h);
    uint32_t lower = vbl + !even, upper = vbr - !even;

    /* Figure 6 of the paper, with both outcomes computed and one picked, as the choice is a coin
     * toss for random data: s is the candidate one digit longer than the shortest may be, sp
     * the one shorter. At most one of sp's two neighbours u' = 10 sp, w' = 10 sp + 10 is in
     * the interval; if exactly one is, it is the answer. Else the same for s's neighbours; if
     * both of those are in, the nearer to v, ties to even. */
    uint32_t s = vb / 4, sp = s / 10;
    bool up_in = lower <= 40 * sp, wp_in = 40 * sp + 40 <= upper;
    bool u_in = lower <= 4 * s, w_in = 4 * s + 4 <= upper;
    uint32_t mid = 4 * s + 2;
    bool round_up = (vb > mid) | ((vb == mid) & (s & 1));
    bool shorter = s >= 10 && up_in != wp_in;
    uint32_t longer = s + (u_in != w_in ? w_in : round_up);
    uint32_t pick = 0u - shorter; /* a mask, not a branch: compilers keep this one a select */
    *d = ((sp + wp_in) & pick) | (longer & ~pick);
    *e = k + shorter;
}

/* ---- laying out the digits ---- */

static const char two_digits[200] = {
    '0', '0', '0', '1', '0', '2', '0', '3', '0', '4', '0', '5', '0', '6', '0', '7', '0', '8', '0',
    '9', '1', '0', '1', '1', '1', '2', '1', '3', '1', '4', '1', '5', '1', '6', '1', '7', '1', '8',
    '1', '9', '2', '0', '2', '1', '2', '2', '2', '3', '2', '4', '2', '5', '2', '6', '2', '7', '2',
    '8', '2', '9', '3', '0', '3', '1', '3', '2', '3', '3', '3', '4', '3', '5', '3', '6', '3', '7',
    '3', '8', '3', '9', '4', '0', '4', '1', '4', '2', '4', '3', '4', '4', '4', '5', '4', '6', '4',
    '7', '4', '8', '4', '9', '5', '0', '5', '1', '5', '2', '5', '3', '5', '4', '5', '5', '5', '6',
    '5', '7', '5', '8', '5', '9', '6', '0', '6', '1', '6', '2', '6', '3', '6', '4', '6', '5', '6',
    '6', '6', '7', '6', '8', '6', '9', '7', '0', '7', '1', '7', '2', '7', '3', '7', '4', '7', '5',
    '7', '6', '7', '7', '7', '8', '7', '9', '8', '0', '8', '1', '8', '2', '8', '3', '8', '4', '8',
    '5', '8', '6', '8', '7', '8', '8', '8', '9', '9', '0', '9', '1', '9', '2', '9', '3', '9', '4',
    '9', '5', '9', '6', '9', '7', '9', '8', '9', '9',
};

/* The number of decimal digits of d >= 1, from its bit length, without a loop. */
static int digit_count(uint32_t d)
{
    static const uint32_t pow10[] = {1,      10,      100,      1000,      10000,
                                     100000, 1000000, 10000000, 100000000, 1000000000};
#if defined(__GNUC__) || defined(__clang__)
    int bits = 32 - __builtin_clz(d);
#else
    int bits = 0;
    for (uint32_t t = d; t; t >>= 1)
        bits++;
#endif
    int n = (bits * 1233) >> 12; /* floor(bits * log10(2)): the count is n or n + 1 */
    return n + (d >= pow10[n]);
}

/* d < 10^9 as nine digits with leading zeros, in a fixed number of steps. */
static void nine_digits(char *out, uint32_t d)
{
    uint32_t b = d % 100000000, hi = b / 10000, lo = b % 10000;
    out[0] = (char)('0' + d / 100000000);
    memcpy(out + 1, two_digits + 2 * (hi / 100), 2);
    memcpy(out + 3, two_digits + 2 * (hi % 100), 2);
    memcpy(out + 5, two_digits + 2 * (lo / 100), 2);
    memcpy(out + 7, two_digits + 2 * (lo % 100), 2);
}

size_t api_float_format(float v, char *buf)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint32_t mant = bits & 0x7fffffu, bexp = (bits >> 23) & 0xffu;
    char *w = buf;
    if (bexp == 0xff) { /* inf and NaN have no JSON text */
        buf[0] = '\0';
        return 0;
    }
    *w = '-'; /* kept only for negative values, without a branch on the sign */
    w += bits >> 31;
    if (bexp == 0 && mant == 0) {
        *w++ = '0';
        *w = '\0';
        return (size_t)(w - buf);
    }
    uint32_t d;
    int32_t e;
    shortest(mant, bexp, &d, &e);
    while (d % 10 == 0) { /* at most 9 digits, so this ends */
        d /= 10;
        e++;
    }
    int n = digit_count(d);
    int32_t x = e + n - 1; /* the exponent in d.ddd * 10^x */

    /* The n digits start at digits[0]. Pieces are copied 16 bytes at a time whatever their
     * length, so that no copy depends on it (buf has room: the longest write ends at byte 27);
     * what lands past the end is overwritten or left beyond the NUL. */
    char pad[32] = {0};
    nine_digits(pad, d);
    const char *digits = pad + 9 - n;
    if (x >= -4 && e <= 0) {
        /* Plain notation, as "%.{n}g" writes it: no trailing zeros are ever needed. */
        if (x < 0) { /* 0.000ddd */
            memcpy(w, "0.0000", 6);
            memcpy(w + 1 - x, digits, 16);
            w += 1 - x + n;
        } else { /* ddd.ddd or ddd */
            memcpy(w, digits, 16);
            w[x + 1] = '.';
            memcpy(w + x + 2, digits + x + 1, 16);
            w += n + (n > x + 1);
        }
    } else { /* d.ddde-X */
        w[0] = digits[0];
        w[1] = '.';
        memcpy(w + 2, digits + 1, 16);
        w += n > 1 ? n + 1 : 1;
        *w++ = 'e';
        uint32_t ax = (uint32_t)(x < 0 ? -x : x);
        if (x < 0) *w++ = '-';
        if (ax >= 10) {
            memcpy(w, two_digits + 2 * ax, 2);
            w += 2;
        } else {
            *w++ = (char)('0' + ax);
        }
    }
    *w = '\0';
    return (size_t)(w - buf);
}

/* ---- doubles, for messages ---- */

/* Rewrites printf's exponent "e+05" / "e-05" as "e5" / "e-5". Returns the new length. */
static size_t tidy_exponent(char *buf, size_t len)
{
    char *e = memchr(buf, 'e', len);
    if (!e) return len;
    char *src = e + 1, *dst = e + 1;
    if (*src == '+')
        src++;
    else if (*src == '-')
        *dst++ = *src++;
    while (*src == '0' && src[1] != '\0')
        src++;
    while (*src)
        *dst++ = *src++;
    *dst = '\0';
    return (size_t)(dst - buf);
}

size_t api_double_format(double v, char *buf)
{
    buf[0] = '\0';
    if (!isfinite(v)) return 0;
    for (int prec = 1; prec <= 17; prec++) {
        int n = snprintf(buf, API_FLOAT_FORMAT_MAX, "%.*g", prec, v);
        double back = strtod(buf, NULL);
        if (memcmp(&back, &v, sizeof v) == 0 || prec == 17) return tidy_exponent(buf, (size_t)n);
    }
    return 0;
}
