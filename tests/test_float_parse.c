/* Unit tests of api/float_parse.c: the correctly rounded, strictly RFC 8259 parsing every
 * tensor number of a request goes through, compared with strtof and an independent grammar.
 * The property tests run a fixed number of cases (fewer under AddressSanitizer). */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/float_parse.h"
#include "float_support.h"
#include "harness.h"

/* Checks that `text` (a whole number token) reads as strtof reads it, both ways. */
static void check_parse(const char *text, int line)
{
    static const char *const tails[] = {",", "]", "}", " ", ",1234567890", "]]]]]]]]", "e", "."};
    size_t n = strlen(text);
    float want = strtof(text, NULL), got;
    long used = parse_at_end(text, n, &got);
    if (used != (long)n || bits_of(got) != bits_of(want))
        harness_fail(__FILE__, line, "\"%s\": read %ld of %zu bytes as %a, strtof gives %a", text,
                     used, n, (double)got, (double)want);
    const char *tail = tails[rng() % (sizeof tails / sizeof tails[0])];
    /* A tail that would make the token invalid ("1" + "e" is "1e", "1" + "." is "1.") */
    if ((*tail == '.' && !strpbrk(text, ".eE")) || (*tail == 'e' && !strpbrk(text, "eE")))
        tail = ",";
    used = parse_padded(text, n, tail, &got);
    if (used != (long)n || bits_of(got) != bits_of(want))
        harness_fail(__FILE__, line, "\"%s\" + \"%s\": read %ld bytes as %a, strtof gives %a", text,
                     tail, used, (double)got, (double)want);
}

/* ---- float parsing ---- */

TEST(api_float_parse_grammar)
{
    /* The numbers of RFC 8259 and where each token ends; what it does not allow (leading zeros,
     * a '.' or an 'e' without digits after it) is not a number. */
    static const struct {
        const char *text;
        long end; /* -1: not a number */
    } cases[] = {
        {"0", 1},
        {"-0", 2},
        {"1.", -1},
        {"-.5", -1},
        {"007", -1},
        {"00.50", -1},
        {"01", -1},
        {"-01", -1},
        {"0.", -1},
        {"-0.", -1},
        {"0.5e", -1},
        {"10", 2},
        {"-10.05", 6},
        {"0.50", 4},
        {"1e", -1},
        {"1e+", -1},
        {"1E-", -1},
        {"1e5", 3},
        {"1E+05", 5},
        {"1e-0005", 7},
        {"1.5e3x", 5},
        {"0x10", 1},
        {"1e5.5", 3},
        {"1.2.3", 3},
        {"1,2", 1},
        {"1]", 1},
        {"12 3", 2},
        {"-", -1},
        {".", -1},
        {".5", -1},
        {"+1", -1},
        {"-e5", -1},
        {"-.", -1},
        {"--1", -1},
        {"e5", -1},
        {"nan", -1},
        {"inf", -1},
        {"-inf", -1},
        {"-nan", -1},
        {"x", -1},
        {"\"1\"", -1},
        {"1.e5", -1},
        {"-0.e-0", -1},
        {"-0.0e-0", 7},
        {"12345678901234567890123", 23},
        {"0.0000000000000000000000000000001", 33},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *t = cases[i].text;
        float f;
        long got = parse_at_end(t, strlen(t), &f);
        if (got != cases[i].end)
            harness_fail(__FILE__, __LINE__, "\"%s\": token of %ld bytes, want %ld", t, got,
                         cases[i].end);
        got = parse_padded(t, strlen(t), ",", &f);
        if (got != cases[i].end)
            harness_fail(__FILE__, __LINE__, "\"%s,\": token of %ld bytes, want %ld", t, got,
                         cases[i].end);
    }
}

TEST(api_float_parse_hard_cases)
{
    static const char *const cases[] = {
        /* around 1 + 2^-24, the midpoint between 1 and the next float */
        "1.00000005960464477539062",
        "1.000000059604644775390625",
        "1.000000059604644775390625000000000000000000000000000000000000000000000000000000001",
        "1.0000000596046447753906249999999999999999999999999999999999999999999999999999999",
        "16777217",
        "16777219",
        "16777217.000000000000000000000000000000000000001",
        "16777216.999999999999999999999999999999999999999",
        /* known hard inputs for float parsers */
        "7038531e-32",
        "8.589973e9",
        "1.18e-38",
        "4.7019774e-38",
        "3.4028236e38",
        "1.00000006e0",
        "9.7e-42",
        "1.4e-45",
        "7.0e-46",
        "7.1e-46",
        /* around half the smallest subnormal 2^-150 */
        "1e-46",
        "-1e-46",
        "7.006492321624085e-46",
        "7.006492321624086e-46",
        "7.00649232162408535461864791644958065640130970938257885878534141944895541342930300743"
        "319094181060791015625e-46",
        "7.00649232162408535461864791644958065640130970938257885878534141944895541342930300743"
        "319094181060791015626e-46",
        /* around the largest float and the overflow threshold FLT_MAX + half an ulp */
        "3.4028235e38",
        "3.40282356e38",
        "340282356779733661637539395458142568448",
        "340282356779733661637539395458142568447",
        "340282356779733661637539395458142568449",
        "1e39",
        "-1e39",
        "1e400",
        "1e-400",
        "1e99999999999999999999",
        "1e-99999999999999999999",
        /* zeros and signs */
        "-0",
        "0",
        "0e10",
        "-0e-10",
        "0.000e-5",
        "-0.0",
        "0.00000000000000000000000000000",
        "0.0000000000000000000000000000000000000000000000000000000000000000000000001e70",
        /* exponents with signs and zeros, leading zeros in the fraction */
        "1E+2",
        "1e-2",
        "1e+0",
        "1.5E-0003",
        "0.000000000000000000000000000000000000011754943508222875",
        "0.00000000000000000000000000000000000001175494350822287507968736537222245677818665556772"
        "08752150875170627841725945472717285156250",
        "0.1",
        "0.2",
        "0.3",
        "-0.83412457",
        "0.33333334",
        "2.5e-10",
        "123456.79",
        "1e9",
        /* long digit strings, more digits than any fast path keeps */
        "123456789012345678901234567890e-20",
        "3.141592653589793238462643383279502884197169399",
        "0.99999997019767761230468750000000000000001",
        "0.9999999701976776123046875",
        "0.99999997019767761230468749999999999999999",
        "1000000000000000000000000000000000000000000000000000000000000000000000000000000000e-82",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_parse(cases[i], __LINE__);
    float f;
    ASSERT_EQ(parse_at_end("1.000000059604644775390625", 26, &f), 26);
    ASSERT_EQ(bits_of(f), bits_of(1.0f)); /* the midpoint: ties to even */
    ASSERT_EQ(parse_at_end("16777219", 8, &f), 8);
    ASSERT(f == 16777220.0f);
    ASSERT_EQ(parse_at_end("-0", 2, &f), 2);
    ASSERT_EQ(bits_of(f), 0x80000000u);
    ASSERT_EQ(parse_at_end("1e-46", 5, &f), 5);
    ASSERT_EQ(bits_of(f), 0);
    ASSERT_EQ(parse_at_end("7.1e-46", 7, &f), 7);
    ASSERT_EQ(bits_of(f), 1);
    ASSERT_EQ(parse_at_end("3.4028236e38", 12, &f), 12);
    ASSERT(isinf(f) && f > 0);
    ASSERT_EQ(parse_at_end("-1e39", 5, &f), 5);
    ASSERT(isinf(f) && f < 0);
    const char *t = "1.5e400";
    ASSERT(isinf(api_json_number_double(t, t + 7)));
    t = "1e39";
    ASSERT(api_json_number_double(t, t + 4) == 1e39);
}

/* One random decimal string of varied form into buf; returns its length. */
static int random_decimal(char *buf)
{
    int len = 0;
    switch (rng() % 8) {
    case 0: { /* a float printed with too few or too many digits */
        float v = float_of((uint32_t)rng());
        if (!isfinite(v)) v = 1.5f;
        return snprintf(buf, 64, "%.*g", (int)(rng() % 12) + 1, (double)v);
    }
    case 1: /* any magnitude float32 may meet, with up to 25 digits */
        return snprintf(buf, 80, "%.*e", (int)(rng() % 25),
                        (double)(rng() >> 11) / 9007199254740992.0 *
                            pow(10, (int)(rng() % 100) - 60));
    case 2: { /* near a midpoint between two floats, printed with 8 to 48 digits, or exactly */
        float v = float_of((uint32_t)rng() & 0x7fffffffu);
        if (!isfinite(v) || v == FLT_MAX) v = 1.0f;
        double mid = (double)v + ((double)nextafterf(v, INFINITY) - (double)v) / 2;
        return snprintf(buf, 200, "%.*e", rng() % 4 ? (int)(rng() % 40) + 8 : 120, mid);
    }
    case 3: { /* "0.000ddd": leading zeros in the fraction */
        len = snprintf(buf, 8, "%s0.", rng() % 2 ? "-" : "");
        int zeros = (int)(rng() % 45);
        for (int i = 0; i < zeros; i++)
            buf[len++] = '0';
        int digits = 1 + (int)(rng() % 12);
        for (int i = 0; i < digits; i++)
            buf[len++] = (char)('0' + rng() % 10);
        buf[len] = '\0';
        return len;
    }
    default: { /* digit strings of 1 to 60 digits, a '.' anywhere, an exponent or not */
        int digits = 1 + (int)(rng() % (rng() % 4 ? 20 : 60));
        int dot = (int)(rng() % (unsigned)(digits + 1));
        if (rng() % 2) buf[len++] = '-';
        int int_digits = dot ? dot : digits;
        for (int i = 0; i < digits; i++) {
            if (i == dot && i) buf[len++] = '.';
            /* JSON allows no leading zero before another integer digit */
            bool lead = i == 0 && int_digits > 1;
            buf[len++] = (char)(lead ? '1' + rng() % 9 : '0' + rng() % 10);
        }
        if (rng() % 2)
            len += snprintf(buf + len, 16, "%s%d", rng() % 2 ? "e" : "E", (int)(rng() % 100) - 55);
        buf[len] = '\0';
        return len;
    }
    }
}

TEST(api_float_parse_matches_strtof)
{
    char buf[256];
    for (int i = 0; i < CASES; i++) {
        random_decimal(buf);
        check_parse(buf, __LINE__);
        if (i % 64 == 0) {
            double want = strtod(buf, NULL), got = api_json_number_double(buf, buf + strlen(buf));
            if (memcmp(&want, &got, sizeof want) != 0)
                harness_fail(__FILE__, __LINE__, "\"%s\": double %a, strtod %a", buf, got, want);
        }
    }
}
