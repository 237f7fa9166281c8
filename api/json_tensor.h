/* Tensors as nested JSON arrays, both ways. Decoding is two steps so that the request's arena
 * is allocated only once the shapes are validated: api_json_tensor_scan reads the shape from the
 * first element at each level, then (after the arena exists) api_json_tensor_read_* copy the
 * data while checking that the array is regular and every leaf is of the right type. A tensor
 * node is either a cJSON array or a text tensor (json_scan.h), which was checked for syntax and
 * shape-scanned while the body was parsed, its numbers usually read already; both give the same
 * shapes, data and messages. Encoding writes the text directly into an api_buf, without
 * building cJSON nodes for the numbers. */
#ifndef API_JSON_TENSOR_H
#define API_JSON_TENSOR_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "shape.h"

/* Reads the nesting depth and sizes of `node` (the value of field `name`) by following the
 * first element of each array. `what` names the leaves for messages ("numbers", "booleans").
 * Returns 0, or an HTTP status with *err filled: invalid_type when node is not an array,
 * invalid_shape ("query: dimension 1 is empty") when an array on that path is empty. The rank
 * is not judged here; the caller does. Thread-safe. */
int api_json_tensor_scan(const cJSON *node, const char *name, const char *what, api_shape *shape,
                         api_error *err);

/* Copies the numbers of `node`, whose scanned shape is `shape` (rank 1..API_SHAPE_MAX_RANK),
 * into dst (api_shape_elements(shape) floats, row-major). Every array must have the size of the
 * first one at its depth (invalid_shape "query[1]: expected 4 elements like query[0], got 3"),
 * every leaf must be a number (invalid_type, with its path) that is finite as a float32
 * (invalid_value "query[0][2]: 1e39 is not a finite float32"). Returns 0 or an HTTP status with
 * *err filled; dst is then partly written. Thread-safe. */
int api_json_tensor_read_f32(const cJSON *node, const char *name, const api_shape *shape,
                             float *dst, api_error *err);

/* The same for a boolean tensor: leaves must be true or false, stored as 1 or 0. */
int api_json_tensor_read_bool(const cJSON *node, const char *name, const api_shape *shape,
                              uint8_t *dst, api_error *err);

/* Appends `data` (contiguous row-major, `rank` 1..API_SHAPE_MAX_RANK sizes in ne, each >= 1)
 * as nested JSON arrays, every number in its shortest round-trip text (float_format.h). A
 * non-finite value, which JSON cannot express, is written as null. Errors set out->oom. */
void api_json_tensor_write_f32(api_buf *out, const float *data, int rank, const int64_t *ne);

/* "a string", "a number", "an array", ...: the JSON type of node, for messages. */
const char *api_json_type_name(const cJSON *node);

#endif
