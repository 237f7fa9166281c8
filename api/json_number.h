/* Integers in JSON bodies. cJSON keeps every number as a double, exact only up to 2^53, so an
 * option that takes any unsigned 64-bit value (the sampling seed) is read from the digits of
 * the body itself; smaller integers (k, key lengths) are checked on the double. Internal to
 * api/. */
#ifndef API_JSON_NUMBER_H
#define API_JSON_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "api.h"

/* Largest integer every double up to it represents exactly: 2^53. */
#define API_JSON_EXACT_INT 9007199254740992LL

/* Finds the text of the value of member number `index` (0-based, in document order, as cJSON
 * lists an object's children) of the top-level object of `body`, which cJSON has parsed
 * successfully: *text points into body and *text_len is the length of the value's token.
 * Returns false when the body does not have that many members (a programmer error). */
bool api_json_member_text(const char *body, size_t len, int index, const char **text,
                          size_t *text_len);

/* Reads `node` as an integer in [min, max] (|min|, |max| <= API_JSON_EXACT_INT) into *out.
 * `name` names the value in messages and `field` is the field reported ("key_lengths[2]" in
 * field "key_lengths"); `want` says what is expected ("an integer >= 1"). Returns 0, or 400
 * with *err filled: invalid_type when node is not a number, invalid_value when it has a
 * fraction or is out of range. Thread-safe. */
int api_json_read_int(const cJSON *node, const char *name, const char *field, const char *want,
                      int64_t min, int64_t max, int64_t *out, api_error *err);

/* Reads an unsigned 64-bit integer from the token `text` (text_len bytes) of the number `node`,
 * named `name` in messages. Plain digits give every value 0..2^64-1 exactly; other spellings
 * ("1e3", "7.0") are accepted when they are whole numbers up to 2^53, where the double is
 * exact. text may be NULL to judge the double alone (then up to 2^53 only). Returns 0, or 400
 * with *err filled (invalid_type for a non-number, invalid_value for negative, fractional or
 * too large values). Thread-safe. */
int api_json_read_u64(const cJSON *node, const char *text, size_t text_len, const char *name,
                      uint64_t *out, api_error *err);

#endif
