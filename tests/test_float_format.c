/* Unit tests of float32 <-> decimal text: the shortest round-trip formatting every response
 * number goes through (api/float_format.c), the correctly rounded parsing every tensor number of
 * a request goes through (api/float_parse.c), and writing tensors as nested JSON arrays
 * (api/json_tensor.c). The property tests run a fixed number of cases (fewer under
 * AddressSanitizer); nothing here is timed. */
#include <float.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../api/buf.h"
#include "../api/float_format.h"
#include "../api/float_parse.h"
#include "../api/json_tensor.h"
#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* Random cases per property test: about a second in the normal build. */
#define CASES (SANITIZED ? 100000 : 1000000)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    uint64_t s = rng_state; /* xorshift64 */
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return rng_state = s;
}

static uint32_t bits_of(float v)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static float float_of(uint32_t b)
{
    float v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* ---- parsing helpers ---- */

/* api_float_parse on text[0..n) placed at the very end of a heap block, so that AddressSanitizer
 * sees any read past the token (the careful path runs near the end). Returns the bytes read, or
 * -1 when the text does not start a number. */
static long parse_at_end(const char *text, size_t n, float *out)
{
    static char *block;
    enum { BLOCK = 1024 };
    if (!block) block = malloc(BLOCK);
    if (n > BLOCK) return -2;
    char *p = block + BLOCK - n;
    memcpy(p, text, n);
    const char *end = api_float_parse(p, block + BLOCK, out);
    const char *end2 = api_json_number_end(p, block + BLOCK);
    if (end != end2) return -3; /* the two must agree on the token */
    return end ? end - p : -1;
}

/* The same with the text followed by `tail` and more, so that the fast path runs. */
static long parse_padded(const char *text, size_t n, const char *tail, float *out)
{
    char buf[1200];
    if (n + 80 > sizeof buf) return -2;
    memcpy(buf, text, n);
    memset(buf + n, ' ', 80);
    memcpy(buf + n, tail, strlen(tail));
    const char *end = api_float_parse(buf, buf + n + 80, out);
    const char *end2 = api_json_number_end(buf, buf + n + 80);
    if (end != end2) return -3;
    return end ? end - buf : -1;
}

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

TEST(api_json_tensor_write_shapes_and_null)
{
    api_buf out = {0};
    const float data[] = {1, 2.5f, -0.0f, INFINITY, NAN, 0.1f};
    int64_t ne[] = {2, 1, 3};
    api_json_tensor_write_f32(&out, data, 3, ne);
    ASSERT_STREQ(out.data, "[[[1,2.5,-0]],[[null,null,0.1]]]");
    api_buf_free(&out);

    /* A row longer than one formatting chunk. */
    enum { N = 10000 };
    float *row = malloc(N * sizeof *row);
    for (int i = 0; i < N; i++)
        row[i] = (float)i * -1.2345678e-3f;
    int64_t n1[] = {N};
    api_json_tensor_write_f32(&out, row, 1, n1);
    cJSON *r = cJSON_Parse(out.data);
    ASSERT(cJSON_IsArray(r));
    ASSERT_EQ(cJSON_GetArraySize(r), N);
    int i = 0;
    for (const cJSON *c = r->child; c; c = c->next, i++)
        ASSERT((float)c->valuedouble == row[i]);
    cJSON_Delete(r);
    free(row);
    api_buf_free(&out);
}
