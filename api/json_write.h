/* The small JSON writers every protocol's responses share: strings, shapes and integer lists,
 * and the attention options of a response's "meta" (score, scale, selection and its options,
 * causal). Tensors are written by json_tensor.h. Internal to api/. */
#ifndef API_JSON_WRITE_H
#define API_JSON_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "request.h"

/* Appends s[0..n) as a JSON string: quotes, backslashes and control characters escaped, and
 * bytes that are not valid UTF-8 (a client's field name may hold any) replaced by U+FFFD, so
 * the output is always valid JSON in UTF-8. */
void api_json_write_string(api_buf *out, const char *s, size_t n);

/* Appends [v0,v1,...] for v[0..n). */
void api_json_write_ints(api_buf *out, const int64_t *v, int64_t n);

/* Appends a shape as [d0,d1,...] (its first API_SHAPE_MAX_RANK sizes). */
void api_json_write_shape(api_buf *out, const api_shape *s);

/* Appends ,"score":..,"scale":..,"selection":.. (then "k" and "normalize" for top-k and
 * sampling, "seed" for sampling) and ,"causal":.. of the options `o`, with `scale` the scale
 * the scores were computed with (null when not finite). */
void api_json_write_options(api_buf *out, const api_attention_spec *o, float scale);

/* Appends `v` with three decimals, as printf's "%.3f" writes it (the response's "compute_ms"),
 * without printf: values that are not finite or not below 1e15 go through printf itself. */
void api_json_write_fixed3(api_buf *out, double v);

#endif
