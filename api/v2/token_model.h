/* Every token model of the daemon ("default", "zh-en", the --model ones) as an Open Inference
 * Protocol model: input "text" (BYTES [1]) or "ids" (INT64 or INT32 [L]), optionally
 * "source_text" or "source_ids" for cross-attention; outputs "context" [L, E], "weights"
 * ([H, L, S], or [L, S] with average_heads), "tokens" (BYTES [L]), "ids" (INT64 [L]), and
 * with a source "source_tokens" and "source_ids". The model_request.h request in the
 * protocol's shape. Internal to api/v2/. */
#ifndef API_V2_TOKEN_MODEL_H
#define API_V2_TOKEN_MODEL_H

#include "../api.h"
#include "../model_registry.h"
#include "infer_request.h"
#include "response.h"

#define API_V2_TOKEN_NINPUTS  4
#define API_V2_TOKEN_NOUTPUTS 6
extern const char *const api_v2_token_inputs[API_V2_TOKEN_NINPUTS];
extern const char *const api_v2_token_outputs[API_V2_TOKEN_NOUTPUTS];

struct api_source_store;

/* Maps `r` into a request of the one-layer model `model` (not a Hugging Face folder's): the
 * sequence and source (exactly one form each: 400 otherwise; or, instead of a source input,
 * the parameter "source_id" naming a source this model encoded in `sources`, NULL for none:
 * 404 unknown, 400 another model's or tensors, 409 the model reloaded since), the options from
 * the request
 * parameters (parameters.h), return_weights and return_context from the outputs asked for,
 * then api_model_prepare's checks and limits, the text copied and split or the ids read, and
 * api_model_request_resolve. A text must be valid UTF-8 without NUL bytes. Returns 0 and *out
 * (free with api_model_request_free), or an HTTP status with *err filled. Thread-safe. */
int api_v2_token_decode(const api_v2_infer *r, const api_job_wire *w, const api_model *model,
                        const api_limits *limits, struct api_source_store *sources,
                        api_model_request **out, api_error *err);

/* Appends the response of a computed request (api_v2_write_response). */
int api_v2_token_encode(const api_model_request *req, const api_job_wire *w, api_buf *out,
                        size_t *header_len, api_error *err);

#endif
