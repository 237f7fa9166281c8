/* The tensor datatypes of the Open Inference Protocol (KServe v2) that attnd reads and writes,
 * and their raw little-endian form (the binary tensor data extension): FP32, FP16, BF16 and FP64
 * become float32, BOOL is one byte 0 or 1, INT32 and INT64 integers, BYTES a 4-byte
 * little-endian length and the bytes of each element. Internal to api/v2/. */
#ifndef API_V2_DATATYPE_H
#define API_V2_DATATYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../api.h"

/* name, wire name, bytes per element (0: variable, BYTES) */
#define API_V2_DATATYPES(X)                                                                        \
    X(BOOL, "BOOL", 1)                                                                             \
    X(INT32, "INT32", 4)                                                                           \
    X(INT64, "INT64", 8)                                                                           \
    X(FP16, "FP16", 2)                                                                             \
    X(BF16, "BF16", 2)                                                                             \
    X(FP32, "FP32", 4)                                                                             \
    X(FP64, "FP64", 8)                                                                             \
    X(BYTES, "BYTES", 0)

typedef enum api_v2_datatype {
    API_V2_INVALID = 0,
#define API_V2_DT_ENUM(name, str, size) API_V2_##name,
    API_V2_DATATYPES(API_V2_DT_ENUM)
#undef API_V2_DT_ENUM
        API_V2_DT_COUNT
} api_v2_datatype;

/* The datatype called `name` (exact, upper case as the protocol spells it), or API_V2_INVALID.
 * Thread-safe. */
api_v2_datatype api_v2_datatype_parse(const char *name);

/* Fills *err with 400 invalid_value for a datatype name api_v2_datatype_parse refused, saying
 * whether the protocol knows it (UINT8, INT16, ...: "not supported by attnd") or not, and
 * listing the supported ones. `input` names the tensor. Returns 400. */
int api_v2_datatype_unknown(const char *name, const char *input, api_error *err);

/* "FP32" for API_V2_FP32; "" for API_V2_INVALID. Static storage. */
const char *api_v2_datatype_name(api_v2_datatype dt);

/* Bytes per element; 0 for BYTES (and API_V2_INVALID). */
size_t api_v2_datatype_size(api_v2_datatype dt);

/* FP32, FP16, BF16 or FP64. */
bool api_v2_datatype_is_float(api_v2_datatype dt);

/* Reads n elements of the float datatype dt from src (raw little-endian, any alignment) into
 * dst as float32. Every value must be finite, as on /v1 (400 invalid_value "input 'query':
 * element 5 is NaN; every value must be finite"), and an FP64 value must fit FP32 (400
 * invalid_value "input 'query': element 3 (1e+39) does not fit FP32 ..."). `input` names the
 * tensor in messages and is the error's field. Returns 0 or 400 with *err filled (dst is then
 * partly written). Thread-safe. */
int api_v2_read_f32(api_v2_datatype dt, const void *src, int64_t n, float *dst, const char *input,
                    api_error *err);

/* Reads n BOOL bytes into dst, each 0 or 1 (400 invalid_value naming the element otherwise). */
int api_v2_read_bool(const void *src, int64_t n, uint8_t *dst, const char *input, api_error *err);

/* Reads n INT32 or INT64 (dt) little-endian integers into dst. Cannot fail for those two. */
void api_v2_read_int(api_v2_datatype dt, const void *src, int64_t n, int64_t *dst);

/* Checks that src[0..len) holds exactly `count` BYTES elements, each a 4-byte little-endian
 * length followed by that many bytes: 400 invalid_value when a length runs past the end
 * ("input 'text': element 0 says 100 bytes, only 5 are left") or bytes are left over after the
 * last element. Returns 0 or 400. Thread-safe. */
int api_v2_bytes_check(const void *src, size_t len, int64_t count, const char *input,
                       api_error *err);

/* The element at *p of a BYTES tensor api_v2_bytes_check accepted: sets *data and *n, and
 * returns the start of the next element. */
const unsigned char *api_v2_bytes_next(const unsigned char *p, const unsigned char **data,
                                       size_t *n);

/* Appends n floats as FP32 / n integers as INT64, little-endian. Errors set out->oom. */
void api_v2_write_f32(api_buf *out, const float *src, int64_t n);
void api_v2_write_i64(api_buf *out, const int64_t *src, int64_t n);

/* Appends one BYTES element: the 4-byte little-endian length of s[0..n) (n < 2^32), then s. */
void api_v2_write_bytes(api_buf *out, const void *s, size_t n);

#endif
