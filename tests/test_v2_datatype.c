/* Unit tests of api/v2/datatype.c: Open Inference Protocol datatypes read from and written to
 * their raw little-endian bytes, with FP16 / BF16 / FP64 edge values and malformed BYTES. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../api/v2/datatype.h"
#include "harness.h"

/* An exactly sized heap copy, so that ASan catches any read past the end. */
static void *copy(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    memcpy(q, p, n);
    return q;
}

TEST(v2_datatype_names_and_sizes)
{
    ASSERT_EQ(api_v2_datatype_parse("FP32"), API_V2_FP32);
    ASSERT_EQ(api_v2_datatype_parse("BYTES"), API_V2_BYTES);
    ASSERT_EQ(api_v2_datatype_parse("fp32"), API_V2_INVALID); /* the protocol's spelling only */
    ASSERT_EQ(api_v2_datatype_parse("UINT8"), API_V2_INVALID);
    ASSERT_EQ(api_v2_datatype_size(API_V2_FP16), 2);
    ASSERT_EQ(api_v2_datatype_size(API_V2_FP64), 8);
    ASSERT_EQ(api_v2_datatype_size(API_V2_BOOL), 1);
    ASSERT_EQ(api_v2_datatype_size(API_V2_BYTES), 0);
    ASSERT_STREQ(api_v2_datatype_name(API_V2_BF16), "BF16");
    ASSERT(api_v2_datatype_is_float(API_V2_BF16) && !api_v2_datatype_is_float(API_V2_INT32));

    api_error e;
    ASSERT_EQ(api_v2_datatype_unknown("UINT8", "mask", &e), 400);
    ASSERT_CONTAINS(e.message, "input 'mask': unsupported datatype 'UINT8'");
    ASSERT_CONTAINS(e.message, "FP32, FP16, BF16, FP64, BOOL, INT32, INT64 and BYTES");
    api_v2_datatype_unknown("FLOAT", "query", &e);
    ASSERT_CONTAINS(e.message, "unknown datatype 'FLOAT'");
}

TEST(v2_datatype_fp32_little_endian_any_alignment)
{
    /* 1.0f = 0x3f800000 and -2.5f = 0xc0200000, little-endian, at an odd offset. */
    const unsigned char raw[] = {0xff, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0};
    unsigned char *p = copy(raw, sizeof raw);
    float out[2];
    api_error e;
    ASSERT_EQ(api_v2_read_f32(API_V2_FP32, p + 1, 2, out, "query", &e), 0);
    ASSERT(out[0] == 1.0f && out[1] == -2.5f);
    free(p);

    const float bad[] = {1, NAN};
    ASSERT_EQ(api_v2_read_f32(API_V2_FP32, bad, 2, out, "query", &e), 400);
    ASSERT_STREQ(e.message, "input 'query': element 1 is NaN; every value must be finite");
    ASSERT_STREQ(e.field, "query");
    const float inf[] = {-INFINITY};
    ASSERT_EQ(api_v2_read_f32(API_V2_FP32, inf, 1, out, "key", &e), 400);
    ASSERT_CONTAINS(e.message, "element 0 is -infinity");
}

TEST(v2_datatype_fp16_bf16_edges)
{
    /* FP16: 1, -2, 65504 (largest), 2^-24 (smallest subnormal), -0. */
    const uint16_t h[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000};
    float out[5];
    api_error e;
    ASSERT_EQ(api_v2_read_f32(API_V2_FP16, h, 5, out, "query", &e), 0);
    ASSERT(out[0] == 1.0f && out[1] == -2.0f && out[2] == 65504.0f);
    ASSERT(out[3] == ldexpf(1.0f, -24));
    ASSERT(out[4] == 0.0f && signbit(out[4]));
    const uint16_t hinf[] = {0x3c00, 0x7c00}, hnan[] = {0x7e00};
    ASSERT_EQ(api_v2_read_f32(API_V2_FP16, hinf, 2, out, "query", &e), 400);
    ASSERT_CONTAINS(e.message, "element 1 is +infinity");
    ASSERT_EQ(api_v2_read_f32(API_V2_FP16, hnan, 1, out, "query", &e), 400);
    ASSERT_CONTAINS(e.message, "element 0 is NaN");

    /* BF16: the top half of a float: 1, -3, FLT_MAX's top half, smallest subnormal. */
    const uint16_t b[] = {0x3f80, 0xc040, 0x7f7f, 0x0001};
    ASSERT_EQ(api_v2_read_f32(API_V2_BF16, b, 4, out, "value", &e), 0);
    ASSERT(out[0] == 1.0f && out[1] == -3.0f);
    ASSERT_NEAR(out[2], 3.3895314e38, 1e32);
    ASSERT(out[3] == ldexpf(1.0f, -133));
    const uint16_t binf[] = {0xff80};
    ASSERT_EQ(api_v2_read_f32(API_V2_BF16, binf, 1, out, "value", &e), 400);
    ASSERT_CONTAINS(e.message, "input 'value': element 0 is -infinity");
}

TEST(v2_datatype_fp64_fits_fp32_or_names_the_element)
{
    const double ok[] = {0.1, -1e-300, (double)FLT_MAX, 0x1.fffffefffffffp+127};
    float out[4];
    api_error e;
    ASSERT_EQ(api_v2_read_f32(API_V2_FP64, ok, 4, out, "query", &e), 0);
    ASSERT(out[0] == 0.1f);
    ASSERT(out[1] == 0.0f && signbit(out[1])); /* underflow rounds to zero: not an error */
    ASSERT(out[2] == FLT_MAX && out[3] == FLT_MAX);

    const double big[] = {1.0, 2.0, 3.0, 1e39};
    ASSERT_EQ(api_v2_read_f32(API_V2_FP64, big, 4, out, "key", &e), 400);
    ASSERT_STREQ(e.field, "key");
    ASSERT_CONTAINS(e.message, "input 'key': element 3 (1e39) does not fit FP32");
    const double half_ulp[] = {0x1.ffffffp+127}; /* rounds to infinity as a float */
    ASSERT_EQ(api_v2_read_f32(API_V2_FP64, half_ulp, 1, out, "key", &e), 400);
    ASSERT_CONTAINS(e.message, "element 0");
    const double nan[] = {NAN};
    ASSERT_EQ(api_v2_read_f32(API_V2_FP64, nan, 1, out, "key", &e), 400);
    ASSERT_CONTAINS(e.message, "element 0 is NaN");
}

TEST(v2_datatype_bool_and_ints)
{
    const unsigned char b[] = {1, 0, 1, 2};
    uint8_t out[4];
    api_error e;
    ASSERT_EQ(api_v2_read_bool(b, 3, out, "mask", &e), 0);
    ASSERT(out[0] == 1 && out[1] == 0 && out[2] == 1);
    ASSERT_EQ(api_v2_read_bool(b, 4, out, "mask", &e), 400);
    ASSERT_CONTAINS(e.message, "input 'mask': element 3 is the byte 2; a BOOL is one byte, 0");

    const unsigned char i32[] = {0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0};
    int64_t v[2];
    api_v2_read_int(API_V2_INT32, i32, 2, v);
    ASSERT_EQ(v[0], -1);
    ASSERT_EQ(v[1], 7);
    const unsigned char i64[] = {0, 0, 0, 0, 0, 0, 0, 0x80, 5, 0, 0, 0, 1, 0, 0, 0};
    api_v2_read_int(API_V2_INT64, i64, 2, v);
    ASSERT(v[0] == INT64_MIN);
    ASSERT_EQ(v[1], 5 + (1LL << 32));
}

TEST(v2_datatype_bytes_walk_and_malformed)
{
    /* "hi", "", "abc" */
    const unsigned char ok[] = {2, 0, 0, 0, 'h', 'i', 0, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c'};
    unsigned char *p = copy(ok, sizeof ok);
    api_error e;
    ASSERT_EQ(api_v2_bytes_check(p, sizeof ok, 3, "text", &e), 0);
    const unsigned char *at = p, *data;
    size_t n;
    at = api_v2_bytes_next(at, &data, &n);
    ASSERT(n == 2 && memcmp(data, "hi", 2) == 0);
    at = api_v2_bytes_next(at, &data, &n);
    ASSERT_EQ(n, 0);
    at = api_v2_bytes_next(at, &data, &n);
    ASSERT(n == 3 && memcmp(data, "abc", 3) == 0 && at == p + sizeof ok);

    /* A length running off the end, a cut length prefix, bytes left over. */
    ASSERT_EQ(api_v2_bytes_check(p, sizeof ok - 1, 3, "text", &e), 400);
    ASSERT_STREQ(e.message, "input 'text': element 2 says 3 bytes, only 2 are left");
    ASSERT_EQ(api_v2_bytes_check(p, 12, 3, "text", &e), 400);
    ASSERT_CONTAINS(e.message, "element 2 of 3 has no 4-byte length: only 2 bytes are left");
    ASSERT_EQ(api_v2_bytes_check(p, sizeof ok, 2, "text", &e), 400);
    ASSERT_STREQ(e.message, "input 'text': 7 bytes are left after its 2 BYTES elements");
    free(p);
    /* A length near 2^32 cannot wrap the bounds check. */
    const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff, 'x'};
    p = copy(huge, sizeof huge);
    ASSERT_EQ(api_v2_bytes_check(p, sizeof huge, 1, "text", &e), 400);
    ASSERT_CONTAINS(e.message, "says 4294967295 bytes, only 1 are left");
    free(p);
}

TEST(v2_datatype_write_round_trip)
{
    api_buf out = {0};
    const float f[] = {1.0f, -0.0f, 3.5e-42f};
    const int64_t i[] = {-2, 1LL << 40};
    api_v2_write_f32(&out, f, 3);
    api_v2_write_i64(&out, i, 2);
    api_v2_write_bytes(&out, "héllo", 6);
    ASSERT_EQ(out.len, 12 + 16 + 10);
    float g[3];
    int64_t j[2];
    api_error e;
    ASSERT_EQ(api_v2_read_f32(API_V2_FP32, out.data, 3, g, "x", &e), 0);
    ASSERT(memcmp(f, g, sizeof f) == 0);
    api_v2_read_int(API_V2_INT64, out.data + 12, 2, j);
    ASSERT(j[0] == -2 && j[1] == 1LL << 40);
    ASSERT_EQ(api_v2_bytes_check(out.data + 28, 10, 1, "x", &e), 0);
    ASSERT((unsigned char)out.data[28] == 6 && memcmp(out.data + 32, "héllo", 6) == 0);
    api_buf_free(&out);
}
