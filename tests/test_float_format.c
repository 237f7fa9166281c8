/* Unit tests of api/float_format.c: the shortest round-trip text every response number goes
 * through. The property tests run a fixed number of cases (fewer under AddressSanitizer);
 * nothing here is timed. */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/float_format.h"
#include "../api/float_parse.h"
#include "float_support.h"
#include "harness.h"

/* ---- float formatting ---- */

/* The significant digits of a number's text (up to 9) and the exponent of the last one. */
static int digits_of(const char *s, uint64_t *d, int *e10)
{
    int n = 0;
    bool frac = false, lead = true;
    *d = 0;
    *e10 = 0;
    if (*s == '-') s++;
    for (; *s && *s != 'e'; s++) {
        if (*s == '.') {
            frac = true;
            continue;
        }
        if (lead && *s == '0') {
            if (frac) --*e10;
            continue;
        }
        lead = false;
        *d = *d * 10 + (uint64_t)(*s - '0');
        n++;
        if (frac) --*e10;
    }
    if (*s == 'e') *e10 += atoi(s + 1);
    return n;
}

/* printf's "%.{n}g" of text's own value, with the exponent tidied as api_float_format does: the
 * layout the formatter promises. */
static void g_layout(const char *text, int n, char *out, size_t len)
{
    snprintf(out, len, "%.*g", n, strtod(text, NULL));
    char *e = strchr(out, 'e');
    if (!e) return;
    char *src = e + 1, *dst = e + 1;
    if (*src == '+')
        src++;
    else if (*src == '-')
        *dst++ = *src++;
    while (*src == '0' && src[1])
        src++;
    memmove(dst, src, strlen(src) + 1);
}

/* v's text reads back to v (with api_float_parse and strtof), is valid JSON of at most
 * API_FLOAT_TEXT_MAX bytes, and no decimal with fewer digits reads back to v: neither of the
 * two with one digit fewer around it (any shorter one is one of those with zeros appended).
 * With `layout`, also that the digits are laid out as "%.{digits}g" would. */
static void check_float(float v, bool layout, int line)
{
    char buf[API_FLOAT_FORMAT_MAX];
    size_t len = api_float_format(v, buf);
    if (len == 0 || len != strlen(buf) || len > API_FLOAT_TEXT_MAX)
        harness_fail(__FILE__, line, "format(%a) gave \"%s\"", (double)v, buf);
    float back;
    if (parse_padded(buf, len, ",", &back) != (long)len || bits_of(back) != bits_of(v))
        harness_fail(__FILE__, line, "\"%s\" reads back as %a, not %a", buf, (double)back,
                     (double)v);
    back = strtof(buf, NULL);
    if (bits_of(back) != bits_of(v))
        harness_fail(__FILE__, line, "strtof reads \"%s\" as %a, not %a", buf, (double)back,
                     (double)v);
    if (strchr(buf, '+') || buf[0] == '.' || (buf[0] == '-' && buf[1] == '.'))
        harness_fail(__FILE__, line, "\"%s\" is not a JSON number", buf);
    uint64_t d;
    int e10, n = digits_of(buf, &d, &e10);
    for (uint64_t c = d / 10; n > 1 && c <= d / 10 + 1; c++) {
        char shorter[48];
        int sl = snprintf(shorter, sizeof shorter, "%s%llue%d", buf[0] == '-' ? "-" : "",
                          (unsigned long long)c, e10 + 1);
        if (c && parse_padded(shorter, (size_t)sl, ",", &back) == sl && bits_of(back) == bits_of(v))
            harness_fail(__FILE__, line, "\"%s\" is not shortest: \"%s\" also reads back", buf,
                         shorter);
    }
    if (layout && v != 0) {
        char want[64];
        g_layout(buf, n, want, sizeof want);
        if (strcmp(buf + (buf[0] == '-'), want + (want[0] == '-')) != 0)
            harness_fail(__FILE__, line, "\"%s\" is not laid out as %%.%dg: \"%s\"", buf, n, want);
    }
}

TEST(api_float_format_edges)
{
    static const struct {
        float v;
        const char *text;
    } cases[] = {
        {0.0f, "0"},
        {-0.0f, "-0"},
        {0.1f, "0.1"},
        {16777217.0f, "16777216"},
        {0x1p-149f, "1e-45"},
        {-0x1p-149f, "-1e-45"},
        {FLT_MAX, "3.4028235e38"},
        {FLT_MIN, "1.1754944e-38"},
        {0x1.fffffcp-127f, "1.1754942e-38"},
        {100000.0f, "1e5"},
        {1 / 3.f, "0.33333334"},
        {1e-5f, "1e-5"},
        {0.0001f, "0.0001"},
        {0.001f, "0.001"},
        {123456789.0f, "1.2345679e8"},
        {12345678.0f, "12345678"},
        {123456.79f, "123456.79"},
        {1.5e-7f, "1.5e-7"},
        {2.5e-10f, "2.5e-10"},
        {100.0f, "1e2"},
        {1e9f, "1e9"},
        {1.25e8f, "1.25e8"},
        {1.0f, "1"},
        {-2.5f, "-2.5"},
        {-0.83412457f, "-0.83412457"},
        {3e38f, "3e38"},
        /* A power of two, where the interval that reads back is lopsided: 8 digits, though the
         * nearest 8-digit decimal (1.2621774e-29) reads back to the float below. */
        {0x1p-96f, "1.2621775e-29"},
        {0x1p87f, "1.5474251e26"},
    };
    char buf[API_FLOAT_FORMAT_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = api_float_format(cases[i].v, buf);
        ASSERT_STREQ(buf, cases[i].text);
        ASSERT_EQ(n, strlen(cases[i].text));
        check_float(cases[i].v, true, __LINE__);
    }
    ASSERT_EQ(api_float_format(INFINITY, buf), 0);
    ASSERT_STREQ(buf, "");
    ASSERT_EQ(api_float_format(-INFINITY, buf), 0);
    ASSERT_EQ(api_float_format(NAN, buf), 0);
    ASSERT_EQ(api_double_format(1e39, buf), 4);
    ASSERT_STREQ(buf, "1e39");
}

TEST(api_float_format_powers_of_two_and_subnormals)
{
    /* Every power of two and its neighbours, both signs. */
    for (uint32_t sign = 0; sign < 2; sign++)
        for (uint32_t e = 0; e < 255; e++)
            for (int d = -3; d <= 3; d++) {
                uint32_t b = (sign << 31 | e << 23) + (uint32_t)d;
                if (b >> 31 != sign || ((b >> 23) & 0xff) == 0xff) continue;
                check_float(float_of(b), true, __LINE__);
            }
    /* Subnormals: the first thousand, the last thousand, and a sample between. */
    for (uint32_t b = 1; b < 1000; b++) {
        check_float(float_of(b), true, __LINE__);
        check_float(float_of(0x800000 - b), true, __LINE__);
    }
    for (uint32_t b = 1000; b < 0x800000; b += 997)
        check_float(float_of(b | 0x80000000u), false, __LINE__);
}

TEST(api_float_format_random_round_trip)
{
    int checked = 0;
    for (int i = 0; i < CASES; i++) {
        float v = float_of((uint32_t)(rng() >> 16));
        if (!isfinite(v)) continue;
        check_float(v, i % 16 == 0, __LINE__);
        checked++;
    }
    ASSERT(checked > CASES / 100 * 99);
    /* Values like a model's, which is what responses mostly hold. */
    for (int i = 0; i < CASES / 10; i++)
        check_float((float)((double)(rng() >> 11) / 9007199254740992.0 * 2 - 1), i % 16 == 0,
                    __LINE__);
}
