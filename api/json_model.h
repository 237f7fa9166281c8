/* The JSON wire format of the model endpoints: POST /v1/models/{name}/attention bodies and
 * responses, and the GET /v1/models listings. The functions of api_json_codec that json_codec.c
 * takes from here. Internal to api/. */
#ifndef API_JSON_MODEL_H
#define API_JSON_MODEL_H

#include <stddef.h>

#include "api.h"

/* api_codec.decode_model_attention, encode_model_attention, encode_models and encode_model
 * (api.h) for JSON. */
int api_json_decode_model_attention(const char *body, size_t len, const api_model *model,
                                    const api_limits *limits, api_model_request **out,
                                    api_error *err);
int api_json_encode_model_attention(const api_model_request *req, api_buf *out, api_error *err);
int api_json_encode_models(const api_model_registry *models, api_buf *out);
int api_json_encode_model(const api_model *model, api_buf *out);

/* Appends s[0..n), valid UTF-8, as a JSON string (quotes, backslashes and control characters
 * escaped). */
void api_json_write_string(api_buf *out, const char *s, size_t n);

#endif
