/* The fields of a JSON POST /v1/attention body: which exist, what each may hold, and how they
 * become an api_attention_request. json_codec.c parses the body and hands the object here.
 * Internal to api/. */
#ifndef API_JSON_REQUEST_H
#define API_JSON_REQUEST_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "api.h"

/* Reads the attention request held by `root`, a JSON object cJSON parsed from body[0..len)
 * (the text is needed for numbers whose exact digits matter, such as a 64-bit seed). Every
 * field is checked and nothing is ignored: unknown fields, wrong types, options that do not
 * apply to the chosen score or selection are errors. Returns 0 and a request the caller frees
 * with api_attention_request_free, or an HTTP status with *err filled and *out NULL. Neither
 * root nor body is kept. Thread-safe. */
int api_json_read_attention(const cJSON *root, const char *body, size_t len,
                            const api_limits *limits, api_attention_request **out, api_error *err);

#endif
