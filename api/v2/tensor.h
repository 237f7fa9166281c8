/* An infer request's input read into the request's arena, from its binary bytes or its JSON
 * "data" (flat, or nested in the input's shape, row-major), with the checks of datatype.h.
 * Internal to api/v2/. */
#ifndef API_V2_TENSOR_H
#define API_V2_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "../api.h"
#include "infer_request.h"

/* Fills *err with 400 invalid_value for an input of datatype in->datatype where `want` ("FP32,
 * FP16, BF16 or FP64") is needed, and returns 400. */
int api_v2_wrong_datatype(const api_v2_input *in, const char *want, api_error *err);

/* Copies in->elements values of `in` into dst: a float datatype as float32, BOOL as 0/1 bytes,
 * INT32 or INT64 as int64 (JSON integers up to 2^53 in magnitude). JSON data must hold exactly
 * in->elements values, flat or nested in the input's shape (400 invalid_shape otherwise), of
 * the datatype's JSON type; the checks and messages are datatype.h's and json_tensor.h's. The
 * caller has checked the datatype (api_v2_wrong_datatype). Returns 0 or 400 with *err filled.
 * Thread-safe. */
int api_v2_input_read_f32(const api_v2_input *in, float *dst, api_error *err);
int api_v2_input_read_bool(const api_v2_input *in, uint8_t *dst, api_error *err);
int api_v2_input_read_int(const api_v2_input *in, int64_t *dst, api_error *err);

/* The single element of a BYTES input of one element: *out a malloc'd copy (NUL-terminated,
 * free() it) of its *n bytes, from the binary data or the JSON string. Returns 0, 400 for a
 * non-string JSON value or more than one element, or 500 when out of memory. */
int api_v2_input_bytes(const api_v2_input *in, char **out, size_t *n, api_error *err);

#endif
