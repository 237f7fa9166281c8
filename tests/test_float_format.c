/* Unit tests of the shortest round-trip float formatting every response number goes through
 * (api/float_format.c) and of writing tensors as nested JSON arrays (api/json_tensor.c). */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../api/buf.h"
#include "../api/float_format.h"
#include "../api/json_tensor.h"
#include "harness.h"

/* ---- float formatting ---- */

static int significant_digits(const char *s)
{
    int n = 0, lead = 1, trailing = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9') continue;
        if (*s == '0' && lead) continue;
        lead = 0;
        n++;
        trailing = *s == '0' ? trailing + 1 : 0;
    }
    return n - trailing;
}

static void check_float(float v, int line)
{
    char buf[API_FLOAT_FORMAT_MAX];
    size_t len = api_float_format(v, buf);
    if (len == 0 || len != strlen(buf) || len > 15)
        harness_fail(__FILE__, line, "format(%a) gave \"%s\"", (double)v, buf);
    float back = strtof(buf, NULL);
    if (memcmp(&back, &v, sizeof v) != 0)
        harness_fail(__FILE__, line, "\"%s\" reads back as %a, not %a", buf, (double)back,
                     (double)v);
    /* Valid JSON number, read back the way a client reads it (double, then float). */
    cJSON *j = cJSON_Parse(buf);
    if (!cJSON_IsNumber(j) || (float)j->valuedouble != v || strchr(buf, '+') ||
        (buf[0] == '.' || (buf[0] == '-' && buf[1] == '.')))
        harness_fail(__FILE__, line, "\"%s\" is not a JSON number for %a", buf, (double)v);
    cJSON_Delete(j);
    /* Shortest: one fewer significant digit does not round-trip, nor does any fewer (the
     * formatter's binary search relies on that monotony). */
    for (int digits = significant_digits(buf) - 1; digits >= 1; digits--) {
        char shorter[512];
        snprintf(shorter, sizeof shorter, "%.*g", digits, (double)v);
        float s = strtof(shorter, NULL);
        if (memcmp(&s, &v, sizeof v) == 0)
            harness_fail(__FILE__, line, "\"%s\" is not shortest: \"%s\" also reads back", buf,
                         shorter);
    }
}

TEST(api_float_format_edges)
{
    const float edges[] = {
        0.0f,      -0.0f,      FLT_MIN,          -FLT_MIN, FLT_MAX,      -FLT_MAX,
        0x1p-149f, -0x1p-149f, 0x1.fffffcp-127f, 0.1f,     1 / 3.f,      16777217.0f,
        1.0f,      -1.0f,      100000.0f,        1e-5f,    123456789.0f, 0.5f,
        2.5e-10f,  3.0e38f};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        check_float(edges[i], __LINE__);
    /* Powers of two, where the interval that reads back is lopsided, and their neighbours. */
    for (int e = -149; e <= 127; e++) {
        for (int d = -2; d <= 2; d++) {
            float v = ldexpf(1.0f, e);
            uint32_t bits;
            memcpy(&bits, &v, sizeof v);
            bits += (uint32_t)d;
            memcpy(&v, &bits, sizeof v);
            if (!isfinite(v)) continue;
            check_float(v, __LINE__);
            check_float(-v, __LINE__);
        }
    }
    char buf[API_FLOAT_FORMAT_MAX];
    api_float_format(0.0f, buf);
    ASSERT_STREQ(buf, "0");
    api_float_format(-0.0f, buf);
    ASSERT_STREQ(buf, "-0");
    api_float_format(0.1f, buf);
    ASSERT_STREQ(buf, "0.1");
    api_float_format(16777217.0f, buf);
    ASSERT_STREQ(buf, "16777216");
    api_float_format(0x1p-149f, buf);
    ASSERT_STREQ(buf, "1e-45");
    api_float_format(FLT_MAX, buf);
    ASSERT_STREQ(buf, "3.4028235e38");
    api_float_format(100000.0f, buf);
    ASSERT_STREQ(buf, "1e5");
    api_float_format(1 / 3.f, buf);
    ASSERT_STREQ(buf, "0.33333334");
    ASSERT_EQ(api_float_format(INFINITY, buf), 0);
    ASSERT_EQ(api_float_format(NAN, buf), 0);
    ASSERT_EQ(api_double_format(1e39, buf), 4);
    ASSERT_STREQ(buf, "1e39");
}

TEST(api_float_format_random_round_trip)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    int checked = 0;
    for (int i = 0; i < 50000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift64 */
        uint32_t bits = (uint32_t)(s >> 16);
        float v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) continue;
        check_float(v, __LINE__);
        checked++;
    }
    ASSERT(checked > 49000);
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
