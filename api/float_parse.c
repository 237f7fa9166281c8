/* Decimal text to float32. The token's first 19 significant digits become an integer w and an
 * exponent e (value ~ w * 10^e); w * 10^e is then computed in double with at most three
 * roundings, an error of at most ~3 double ulps. A float32 rounds differently from that double
 * only if a float32 rounding boundary (the midpoint between two floats) lies within the error,
 * and that is easy to see in the double's low bits: then, about once in 2^25 random inputs,
 * strtof decides on an exact rewrite of the token. */
#include "float_parse.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "float_format.h"

/* Significant digits kept in w: 10^19 < 2^64. */
#define MAX_DIGITS 19

/* Significant digits the slow path hands to strtof / strtod: at least the 767 a double's
 * rounding boundary may need (a float32's need at most 113), plus room for the exponent. */
#define EXACT_DIGITS 800

/* Distance in double ulps from a float32 midpoint below which the double may be on the wrong
 * side of it. The error is below 3.1 ulps; the margin leaves room. */
#define MIDPOINT_MARGIN 8

/* 10^e as the nearest double, e in [-65, 38]: below 10^-65 every 19-digit w rounds to 0, from
 * 10^39 up to infinity. */
#define POW10_MIN (-65)
#define POW10_MAX 38
static const double pow10_d[POW10_MAX - POW10_MIN + 1] = {
    1e-65, 1e-64, 1e-63, 1e-62, 1e-61, 1e-60, 1e-59, 1e-58, 1e-57, 1e-56, 1e-55, 1e-54, 1e-53,
    1e-52, 1e-51, 1e-50, 1e-49, 1e-48, 1e-47, 1e-46, 1e-45, 1e-44, 1e-43, 1e-42, 1e-41, 1e-40,
    1e-39, 1e-38, 1e-37, 1e-36, 1e-35, 1e-34, 1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27,
    1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14,
    1e-13, 1e-12, 1e-11, 1e-10, 1e-9,  1e-8,  1e-7,  1e-6,  1e-5,  1e-4,  1e-3,  1e-2,  1e-1,
    1e0,   1e1,   1e2,   1e3,   1e4,   1e5,   1e6,   1e7,   1e8,   1e9,   1e10,  1e11,  1e12,
    1e13,  1e14,  1e15,  1e16,  1e17,  1e18,  1e19,  1e20,  1e21,  1e22,  1e23,  1e24,  1e25,
    1e26,  1e27,  1e28,  1e29,  1e30,  1e31,  1e32,  1e33,  1e34,  1e35,  1e36,  1e37,  1e38,
};

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* ---- eight digits at a time (the SWAR tricks of simdjson / fast_float) ---- */

/* Eight bytes, the first in the low byte on any host (compilers make this one load). */
static inline uint64_t load8(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    return (uint64_t)u[0] | (uint64_t)u[1] << 8 | (uint64_t)u[2] << 16 | (uint64_t)u[3] << 24 |
           (uint64_t)u[4] << 32 | (uint64_t)u[5] << 40 | (uint64_t)u[6] << 48 |
           (uint64_t)u[7] << 56;
}

static inline bool eight_digits(uint64_t v)
{
    return !(((v + 0x4646464646464646u) | (v - 0x3030303030303030u)) & 0x8080808080808080u);
}

/* The value of eight ASCII digits, the first the most significant. */
static inline uint32_t eight_digits_value(uint64_t v)
{
    const uint64_t mask = 0x000000ff000000ffu;
    const uint64_t mul1 = 100 + (1000000ull << 32), mul2 = 1 + (10000ull << 32);
    v -= 0x3030303030303030u;
    v = v * 10 + (v >> 8);
    return (uint32_t)(((v & mask) * mul1 + ((v >> 16) & mask) * mul2) >> 32);
}

static const char *skip_digits(const char *s, const char *end)
{
    while (end - s >= 8 && eight_digits(load8(s)))
        s += 8;
    while (s < end && is_digit(*s))
        s++;
    return s;
}

/* An exponent "e-12" at s, if there is one: its end (s when there is none) and value,
 * saturated far beyond any that matters. NULL for an 'e' without digits. */
static const char *exponent(const char *s, const char *end, int64_t *value)
{
    *value = 0;
    if (s == end || (*s != 'e' && *s != 'E')) return s;
    const char *t = s + 1;
    bool neg = false;
    if (t < end && (*t == '+' || *t == '-')) neg = *t++ == '-';
    if (t == end || !is_digit(*t)) return NULL;
    int64_t v = 0;
    for (; t < end && is_digit(*t); t++)
        if (v < 100000000) v = v * 10 + (*t - '0');
    *value = neg ? -v : v;
    return t;
}

/* Byte by byte, never past end: for tokens near the end of the text or out of the ordinary. */
static const char *number_end_careful(const char *p, const char *end)
{
    const char *s = p;
    if (s < end && *s == '-') s++;
    const char *digits = s;
    s = skip_digits(s, end);
    size_t n = (size_t)(s - digits);
    if (n == 0 || (n > 1 && *digits == '0')) return NULL;
    if (s < end && *s == '.') {
        const char *frac = ++s;
        s = skip_digits(s, end);
        if (s == frac) return NULL;
    }
    int64_t e;
    return exponent(s, end, &e);
}

/* ---- slow path: strtof / strtod on an exact rewrite ---- */

/* Rewrites the token p..end as "[-]DDDDe[-]N": up to EXACT_DIGITS significant digits, one more
 * '1' when nonzero digits were dropped (it keeps the value strictly between the kept digits
 * and the next, which is all rounding needs), no decimal point, so strtof reads it the same in
 * every locale. */
static void exact_text(const char *p, const char *end, char *buf)
{
    size_t n = 0, kept = 0;
    int64_t e10 = 0;
    bool frac = false, lead = true, dropped = false;
    if (*p == '-') buf[n++] = *p++;
    for (; p < end && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') {
            frac = true;
            continue;
        }
        if (lead && *p == '0') {
            if (frac) e10--;
            continue;
        }
        lead = false;
        if (kept < EXACT_DIGITS) {
            buf[n++] = *p;
            kept++;
            if (frac) e10--;
        } else {
            dropped |= *p != '0';
            if (!frac) e10++;
        }
    }
    if (kept == 0) buf[n++] = '0';
    if (dropped) {
        buf[n++] = '1';
        e10--;
    }
    int64_t e;
    exponent(p, end, &e);
    e10 += e;
    /* Past +-10^6 the value is 0 or infinite whatever the digits; keep the text short. */
    if (e10 > 1000000) e10 = 1000000;
    if (e10 < -1000000) e10 = -1000000;
    snprintf(buf + n, 16, "e%lld", (long long)e10);
}

static float slow_float(const char *p, const char *end)
{
    char buf[EXACT_DIGITS + 32];
    exact_text(p, end, buf);
    return strtof(buf, NULL);
}

double api_json_number_double(const char *p, const char *end)
{
    char buf[EXACT_DIGITS + 32];
    exact_text(p, end, buf);
    return strtod(buf, NULL);
}

/* ---- fast path ---- */

/* True when rounding the positive double d to float32 might differ from rounding the exact
 * value it approximates (within MIDPOINT_MARGIN of d's ulps): a float32 midpoint is that close. */
static inline bool near_midpoint(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    int e = (int)(bits >> 52) - 1023; /* d in [2^e, 2^(e+1)); d is normal here */
    uint64_t m = (bits & ((1ull << 52) - 1)) | 1ull << 52;
    /* Bits of m below a float32 ulp: 29 for normal floats, more for subnormals (ulp 2^-149). */
    int shift = e >= -126 ? 29 : -97 - e;
    uint64_t rem = m & ((1ull << shift) - 1), half = 1ull << (shift - 1);
    uint64_t dist = rem > half ? rem - half : half - rem;
    return dist <= MIDPOINT_MARGIN;
}

/* The float32 nearest to the token's value, of which w * 10^e10 (w < 10^19, the token's first
 * significant digits) is the start; its sign is left to the caller. p..tok_end is the token
 * without its sign, for the slow path. */
static inline float to_float(uint64_t w, int64_t e10, const char *p, const char *tok_end)
{
    if (w == 0 || e10 < POW10_MIN) return 0.0f;
    if (e10 > POW10_MAX) return INFINITY;
    double d = (double)w * pow10_d[e10 - POW10_MIN];
    if (d < 0x1p-151) return 0.0f; /* below half the smallest subnormal, error included */
    if (near_midpoint(d)) return slow_float(p, tok_end);
    if (d >= API_F32_OVERFLOW) return INFINITY; /* converting it would be undefined behaviour */
    return (float)d;
}

/* f (positive) negated when neg, without a branch: signs of data are random. */
static inline float with_sign(float f, bool neg)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    bits |= (uint32_t)neg << 31;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* api_float_parse byte by byte. */
static const char *parse_careful(const char *p, const char *end, float *out)
{
    const char *s = p;
    bool neg = s < end && *s == '-';
    s += neg;
    uint64_t w = 0;
    const char *int_start = s;
    while (s < end && is_digit(*s))
        w = w * 10 + (uint64_t)(*s++ - '0');
    size_t n_int = (size_t)(s - int_start), n_frac = 0;
    if (n_int == 0 || (n_int > 1 && *int_start == '0')) return NULL;
    if (s < end && *s == '.') {
        const char *frac = ++s;
        while (s < end && is_digit(*s))
            w = w * 10 + (uint64_t)(*s++ - '0');
        n_frac = (size_t)(s - frac);
        if (n_frac == 0) return NULL;
    }
    int64_t e10;
    const char *tok_end = exponent(s, end, &e10);
    if (!tok_end) return NULL;
    e10 -= (int64_t)n_frac;
    if (n_int + n_frac > MAX_DIGITS) {
        /* Leading zeros do not count; beyond 19 significant digits keep the first 19 (w then
         * falls short of the value by less than 1, a relative 10^-18) and scale by the rest. */
        const char *q = int_start;
        while (q < s && (*q == '0' || *q == '.'))
            q++;
        w = 0;
        int kept = 0;
        for (; q < s; q++) {
            if (*q == '.') continue;
            if (kept < MAX_DIGITS) {
                w = w * 10 + (uint64_t)(*q - '0');
                kept++;
            } else {
                e10++;
            }
        }
    }
    *out = with_sign(to_float(w, e10, int_start, tok_end), neg);
    return tok_end;
}

/* ---- fast path: whole runs of digits at once ---- */

/* Bytes the fast paths may read from the start of a token: a sign, 8 integer digits, a '.',
 * 16 fraction digits, "e-" and 8 exponent digits, rounded up. Nearer the end of the text the
 * careful versions run. */
#define WINDOW 40

static inline int trailing_zero_bits(uint64_t m) /* m != 0 */
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(m);
#else
    int n = 0;
    while (!(m & 1)) {
        m >>= 1;
        n++;
    }
    return n;
#endif
}

/* 0x80 in each byte of v that is not an ASCII digit, 0 in the others. */
static inline uint64_t non_digits(uint64_t v)
{
    uint64_t x = v ^ 0x3030303030303030u; /* digits become 0..9 */
    return (((x & 0x7f7f7f7f7f7f7f7fu) + 0x7676767676767676u) | x) & 0x8080808080808080u;
}

/* How many of the eight bytes of v (first byte first) are digits before the first that is not:
 * 0..8, without a branch per byte. */
static inline int digit_run(uint64_t v)
{
    uint64_t nd = non_digits(v);
    return nd ? trailing_zero_bits(nd) >> 3 : 8;
}

/* The value of the first n (0..8) digits of v. */
static inline uint32_t digits_value(uint64_t v, int n)
{
    /* Move them to the end and put '0's before: "123?????" -> "00000123". Two shifts each, as
     * a shift by 64 is undefined. */
    int k = 4 * (8 - n);
    v = (v << k) << k;
    v |= (0x3030303030303030u >> (4 * n)) >> (4 * n);
    return eight_digits_value(v);
}

static const uint64_t pow10_u64[17] = {
    1,
    10,
    100,
    1000,
    10000,
    100000,
    1000000,
    10000000,
    100000000,
    1000000000,
    10000000000,
    100000000000,
    1000000000000,
    10000000000000,
    100000000000000,
    1000000000000000,
    10000000000000000,
};

const char *api_json_number_end(const char *p, const char *end)
{
    if (*p != '-' && !is_digit(*p)) return NULL; /* ".5" is not a JSON number */
    if (end - p < WINDOW) return number_end_careful(p, end);
    const char *s = p + (*p == '-');
    int n = digit_run(load8(s));
    if (n == 8) return number_end_careful(p, end);
    if (n == 0 || (n > 1 && *s == '0')) return NULL; /* "-", ".5", "01" */
    s += n;
    if (*s == '.') {
        /* Up to 16 fraction digits from two words, without a branch on how many. */
        const char *f = s + 1;
        int m = digit_run(load8(f)), m2 = digit_run(load8(f + 8));
        m += m == 8 ? m2 : 0;
        if (m == 16) return number_end_careful(p, end);
        if (m == 0) return NULL; /* "1." */
        s = f + m;
    }
    if ((*s | 0x20) != 'e') return s;
    const char *t = s + 1;
    t += *t == '-' || *t == '+';
    int x = digit_run(load8(t));
    if (x == 8) return number_end_careful(p, end);
    return x ? t + x : NULL; /* "1e" */
}

const char *api_float_parse(const char *p, const char *end, float *out)
{
    if (*p != '-' && !is_digit(*p)) return NULL; /* ".5" is not a JSON number */
    if (end - p < WINDOW) return parse_careful(p, end, out);
    bool neg = *p == '-';
    const char *s = p + neg;
    uint64_t a = load8(s), b = load8(s + 8);
    uint64_t na = non_digits(a);
    if (na == 0) return parse_careful(p, end, out);       /* 8 or more integer digits */
    int n = trailing_zero_bits(na) >> 3;                  /* integer digits, 0..7 */
    if (n == 0 || (n > 1 && (char)a == '0')) return NULL; /* "-", ".5", "01" */
    uint64_t lo = a, hi = 0;
    int digits = n, frac = 0;
    if ((char)(a >> 8 * n) == '.') {
        /* The digits on both sides of the '.' joined into one string of up to 15: drop the
         * '.' from the 16 bytes. hi's top byte is then 0, which ends any run of digits. */
        uint64_t keep = (1ull << 8 * n) - 1;
        lo = (a & keep) | ((a >> 8) & ~keep) | b << 56;
        hi = b >> 8;
        uint64_t nl = non_digits(lo), nh = non_digits(hi);
        digits = nl ? trailing_zero_bits(nl) >> 3 : 8 + (trailing_zero_bits(nh) >> 3);
        if (digits == 15) return parse_careful(p, end, out); /* maybe more */
        frac = digits - n;
        if (frac == 0) return NULL; /* "1." */
        s++;
    }
    s += digits;
    /* The value of the digits, without a branch on how many there are. */
    int d1 = digits < 8 ? digits : 8, d2 = digits - d1;
    uint64_t w = (uint64_t)digits_value(lo, d1) * pow10_u64[d2] + digits_value(hi, d2);
    int64_t e10 = -frac;
    if ((*s | 0x20) == 'e') {
        const char *t = s + 1;
        bool eneg = *t == '-';
        t += eneg || *t == '+';
        uint64_t ev = load8(t);
        int x = digit_run(ev);
        if (x > 4) return parse_careful(p, end, out);
        if (!x) return NULL; /* "1e" */
        int64_t e = digits_value(ev, x);
        e10 += eneg ? -e : e;
        s = t + x;
    }
    *out = with_sign(to_float(w, e10, p + neg, s), neg);
    return s;
}
