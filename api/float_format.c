/* Shortest round-trip formatting by search: print with as few significant digits as read back
 * to the same bits. Simple and exact (printf and strtof round correctly), not fast: a few
 * printf calls per number. */
#include "float_format.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Prints v with `prec` significant digits; true when the text reads back to v's very bits
 * (memcmp, not ==: -0 must come back as -0). */
static bool round_trips(float v, int prec, char *buf, int *len)
{
    *len = snprintf(buf, API_FLOAT_FORMAT_MAX, "%.*g", prec, (double)v);
    float back = strtof(buf, NULL);
    return memcmp(&back, &v, sizeof v) == 0;
}

size_t api_float_format(float v, char *buf)
{
    buf[0] = '\0';
    if (!isfinite(v)) return 0;
    if (v == 0) {
        memcpy(buf, signbit(v) ? "-0" : "0", signbit(v) ? 3 : 2);
        return signbit(v) ? 2 : 1;
    }
    /* Whether p digits round-trip is monotone in p: the correctly rounded (p+1)-digit text is
     * never farther from v than the p-digit one, and the interval that reads back to v is
     * symmetric except at powers of two (checked exhaustively for those by the tests). So a
     * binary search over 1..9 (9 always round-trips) finds the same shortest precision as
     * trying 1, 2, 3, ... with about 3 printf calls instead of up to 9. */
    int lo = 1, hi = 9, len = 0, printed = 0;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        printed = mid;
        if (round_trips(v, mid, buf, &len))
            hi = mid;
        else
            lo = mid + 1;
    }
    if (printed != lo) round_trips(v, lo, buf, &len);
    return tidy_exponent(buf, (size_t)len);
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
