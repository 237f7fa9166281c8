/* Open Inference Protocol datatypes: names, sizes, and raw little-endian elements read into the
 * request's float32, byte and integer arrays (with the checks /v1 makes of its JSON numbers)
 * and written back out. Loads are assembled byte by byte, so the host's byte order and the
 * body's alignment never matter. */
#include "datatype.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../core/half.h"
#include "../float_format.h"

static const struct {
    const char *name;
    size_t size;
} dt_info[API_V2_DT_COUNT] = {[API_V2_INVALID] = {"", 0},
#define API_V2_DT_INFO(name, str, size) [API_V2_##name] = {str, size},
                              API_V2_DATATYPES(API_V2_DT_INFO)
#undef API_V2_DT_INFO
};

api_v2_datatype api_v2_datatype_parse(const char *name)
{
    for (int i = 1; i < API_V2_DT_COUNT; i++)
        if (name && strcmp(name, dt_info[i].name) == 0) return (api_v2_datatype)i;
    return API_V2_INVALID;
}

int api_v2_datatype_unknown(const char *name, const char *input, api_error *err)
{
    /* The protocol's other datatypes: known to Triton's users, not taken by any attnd input. */
    static const char *const other[] = {"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16"};
    bool known = false;
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        known = known || strcmp(name, other[i]) == 0;
    return api_error_set(err, API_ERR_INVALID_VALUE, input,
                         "input '%s': %s datatype '%.32s'; attnd takes FP32, FP16, BF16, FP64, "
                         "BOOL, INT32, INT64 and BYTES",
                         input, known ? "unsupported" : "unknown", name);
}

const char *api_v2_datatype_name(api_v2_datatype dt)
{
    return (int)dt > 0 && dt < API_V2_DT_COUNT ? dt_info[dt].name : "";
}

size_t api_v2_datatype_size(api_v2_datatype dt)
{
    return (int)dt > 0 && dt < API_V2_DT_COUNT ? dt_info[dt].size : 0;
}

bool api_v2_datatype_is_float(api_v2_datatype dt)
{
    return dt == API_V2_FP32 || dt == API_V2_FP16 || dt == API_V2_BF16 || dt == API_V2_FP64;
}

static uint32_t load32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t load64(const unsigned char *p)
{
    return (uint64_t)load32(p) | (uint64_t)load32(p + 4) << 32;
}

static int not_finite(const char *input, int64_t i, float v, api_error *err)
{
    return api_error_set(err, API_ERR_INVALID_VALUE, input,
                         "input '%s': element %lld is %s; every value must be finite", input,
                         (long long)i,
                         isnan(v) ? "NaN"
                         : v > 0  ? "+infinity"
                                  : "-infinity");
}

int api_v2_read_f32(api_v2_datatype dt, const void *src, int64_t n, float *dst, const char *input,
                    api_error *err)
{
    const unsigned char *p = src;
    if (dt == API_V2_FP64) {
        for (int64_t i = 0; i < n; i++) {
            uint64_t bits = load64(p + 8 * i);
            double d;
            memcpy(&d, &bits, sizeof d);
            if (!isfinite(d)) return not_finite(input, i, (float)d, err);
            if (!(fabs(d) < API_F32_OVERFLOW)) {
                char num[API_FLOAT_FORMAT_MAX];
                api_double_format(d, num);
                return api_error_set(err, API_ERR_INVALID_VALUE, input,
                                     "input '%s': element %lld (%s) does not fit FP32, whose "
                                     "largest magnitude is 3.4028235e38; send values within "
                                     "FP32's range",
                                     input, (long long)i, num);
            }
            dst[i] = (float)d;
        }
        return 0;
    }
    if (dt == API_V2_FP32) {
        /* One pass: copy, and note an exponent of all ones (infinity or NaN) on the way. */
        uint32_t special = 0;
        for (int64_t i = 0; i < n; i++) {
            uint32_t bits = load32(p + 4 * i);
            special |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
            memcpy(&dst[i], &bits, sizeof bits);
        }
        if (!special) return 0;
    } else if (dt == API_V2_FP16) {
        at_f16_to_f32_array(p, (size_t)n, dst);
    } else {
        at_bf16_to_f32_array(p, (size_t)n, dst);
    }
    for (int64_t i = 0; i < n; i++)
        if (!(fabsf(dst[i]) <= FLT_MAX)) return not_finite(input, i, dst[i], err);
    return 0;
}

int api_v2_read_bool(const void *src, int64_t n, uint8_t *dst, const char *input, api_error *err)
{
    const unsigned char *p = src;
    for (int64_t i = 0; i < n; i++) {
        if (p[i] > 1)
            return api_error_set(err, API_ERR_INVALID_VALUE, input,
                                 "input '%s': element %lld is the byte %u; a BOOL is one byte, 0 "
                                 "(false) or 1 (true)",
                                 input, (long long)i, p[i]);
        dst[i] = p[i];
    }
    return 0;
}

void api_v2_read_int(api_v2_datatype dt, const void *src, int64_t n, int64_t *dst)
{
    const unsigned char *p = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] =
            dt == API_V2_INT32 ? (int64_t)(int32_t)load32(p + 4 * i) : (int64_t)load64(p + 8 * i);
}

int api_v2_bytes_check(const void *src, size_t len, int64_t count, const char *input,
                       api_error *err)
{
    const unsigned char *p = src;
    size_t at = 0;
    for (int64_t i = 0; i < count; i++) {
        if (len - at < 4)
            return api_error_set(err, API_ERR_INVALID_VALUE, input,
                                 "input '%s': element %lld of %lld has no 4-byte length: only %zu "
                                 "bytes are left",
                                 input, (long long)i, (long long)count, len - at);
        uint32_t n = load32(p + at);
        at += 4;
        if (n > len - at)
            return api_error_set(err, API_ERR_INVALID_VALUE, input,
                                 "input '%s': element %lld says %u bytes, only %zu are left", input,
                                 (long long)i, n, len - at);
        at += n;
    }
    if (at != len)
        return api_error_set(err, API_ERR_INVALID_VALUE, input,
                             "input '%s': %zu bytes are left after its %lld BYTES elements", input,
                             len - at, (long long)count);
    return 0;
}

const unsigned char *api_v2_bytes_next(const unsigned char *p, const unsigned char **data,
                                       size_t *n)
{
    *n = load32(p);
    *data = p + 4;
    return p + 4 + *n;
}

static void store32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

void api_v2_write_f32(api_buf *out, const float *src, int64_t n)
{
    if (n <= 0 || !api_buf_reserve(out, (size_t)n * 4)) return;
    unsigned char *p = (unsigned char *)out->data + out->len;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &src[i], sizeof bits);
        store32(p + 4 * i, bits);
    }
    out->len += (size_t)n * 4;
}

void api_v2_write_i64(api_buf *out, const int64_t *src, int64_t n)
{
    if (n <= 0 || !api_buf_reserve(out, (size_t)n * 8)) return;
    unsigned char *p = (unsigned char *)out->data + out->len;
    for (int64_t i = 0; i < n; i++) {
        uint64_t v = (uint64_t)src[i];
        store32(p + 8 * i, (uint32_t)v);
        store32(p + 8 * i + 4, (uint32_t)(v >> 32));
    }
    out->len += (size_t)n * 8;
}

void api_v2_write_bytes(api_buf *out, const void *s, size_t n)
{
    unsigned char len[4];
    store32(len, (uint32_t)n);
    api_buf_append(out, len, 4);
    api_buf_append(out, s, n);
}
