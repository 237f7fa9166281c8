/* The JSON body and response of POST /v1/models/{name}/attention for a BERT or GPT-2 folder
 * model: text (+ text_pair), tokens or ids in; tokens, offsets, every selected layer's
 * attention, the last (or every) hidden state and meta out. Internal to api/. */
#ifndef API_JSON_TRANSFORMER_H
#define API_JSON_TRANSFORMER_H

#include <cjson/cJSON.h>

#include "../api.h"

/* Reads the body object `root` for the folder model `model`: exactly one of "text" (with an
 * optional "text_pair" for BERT), "tokens" (vocabulary tokens, used as given) or "ids";
 * "token_type_ids" (with tokens or ids), "layers" and "heads" (arrays of distinct indices;
 * default all), "average_heads", "return_weights" (default true), "return_hidden_states"
 * ("last", the default, or "all"). Unknown fields and the one-layer models' options are
 * refused. Returns 0 and the request (free with api_model_request_free), or an HTTP status with
 * *err filled. Thread-safe. */
int api_json_read_tf(const cJSON *root, const api_model *model, const api_limits *limits,
                     api_model_request **out, api_error *err);

/* Parses body[0..len) with a schema of exactly those fields (api_json_parse_checked: nothing
 * is built of unknown, repeated or oversized members; lists of tokens or ids up to 4 times the
 * model's positions, at least 4096), then api_json_read_tf. Same returns. */
int api_json_decode_tf(const char *body, size_t len, const api_model *model,
                       const api_limits *limits, api_model_request **out, api_error *err);

/* Appends the response of a computed folder-model request: {"tokens", "ids",
 * "token_type_ids" (BERT), "offsets" ([begin, end] character spans of the text, null for
 * special tokens; null when no text was sent), "attentions" ([layers, heads, L, L], or
 * [layers, L, L] with average_heads; absent without weights), "context" ([L, E], the last
 * hidden state), "hidden_states" ([N + 1, L, E] with "all"), "meta"}. Returns 0 or 500. */
int api_json_encode_tf(const api_model_request *req, api_buf *out, api_error *err);

#endif
