/* JSON number tokens read straight from a body's text as float32, correctly rounded: the bulk
 * of a request is its tensors' numbers, and going through a double (cJSON, strtod) both costs
 * time and rounds twice. Internal to api/. */
#ifndef API_FLOAT_PARSE_H
#define API_FLOAT_PARSE_H

#include <stddef.h>

/* Numbers are spelled as RFC 8259 says: an optional '-', an integer part that is "0" or starts
 * with 1..9, optionally '.' and at least one digit, optionally 'e' or 'E', an optional sign and
 * at least one digit. "007", "1.", "-.5", ".5", "1e" and "+1" are not numbers. */

/* Returns the end of the number token that starts at p (p < end), or NULL when p does not start
 * one. Reads nothing at or past end. Thread-safe. */
const char *api_json_number_end(const char *p, const char *end);

/* Reads the number token at p (p < end) as the float32 nearest to its exact decimal value, ties
 * to even: every input, however many digits, rounds as strtof rounds it. Values from FLT_MAX
 * plus half an ulp up give +-infinity, values up to half the smallest subnormal +-0; "-0" is
 * -0. Returns the end of the token, or NULL (and *out untouched) when p does not start one.
 * Reads nothing at or past end; never allocates; locale-independent; thread-safe. */
const char *api_float_parse(const char *p, const char *end, float *out);

/* The double nearest to the number token p..end (a token api_json_number_end accepted), +-inf
 * when out of range: the value as cJSON would have read it, for messages. Slow; thread-safe. */
double api_json_number_double(const char *p, const char *end);

#endif
