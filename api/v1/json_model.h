/* The JSON wire format of the model endpoints: POST /v1/models/{name}/attention bodies and
 * responses, and the GET /v1/models listings, for the v1 protocol (protocol.c). Internal to
 * api/v1/. */
#ifndef API_JSON_MODEL_H
#define API_JSON_MODEL_H

#include <stddef.h>

#include "../api.h"

/* Decodes a POST /v1/models/{name}/attention body for `model` (the registry's, which must outlive
 * the request): the sequence as text, tokens or ids, an optional source, the attention options.
 * Tokenizes and looks up the ids here; the embeddings and the attention are left to
 * api_model_attention_run. Returns 0, or the HTTP status to answer with and *err filled. */
int api_v1_decode_model_attention(const char *body, size_t len, const api_model *model,
                                  const api_limits *limits, api_model_request **out,
                                  api_error *err);
int api_v1_encode_model_attention(const api_model_request *req, api_buf *out, api_error *err);
int api_v1_encode_models(const api_model_registry *models, api_buf *out);
int api_v1_encode_model(const api_model *model, api_buf *out);

#endif
