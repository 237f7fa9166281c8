/* A Hugging Face BERT or GPT-2 folder model (--model NAME=DIR) as an Open Inference Protocol
 * model: input "text" (BYTES [1]; with "text_pair" for BERT) or "ids" (INT64 [L]; with
 * "token_type_ids" for BERT); outputs "context" (the last hidden state [L, E]), "weights" (every
 * layer's attention [N, H, L, L]), "tokens" (BYTES [L]) and "ids" (INT64 [L]). The request of
 * tf_request.h in the protocol's shape. Internal to api/v2/. */
#ifndef API_V2_TRANSFORMER_MODEL_H
#define API_V2_TRANSFORMER_MODEL_H

#include "../api.h"
#include "infer_request.h"
#include "response.h"

#define API_V2_TF_NINPUTS  4
#define API_V2_TF_NOUTPUTS 4
extern const char *const api_v2_tf_inputs[API_V2_TF_NINPUTS];
extern const char *const api_v2_tf_outputs[API_V2_TF_NOUTPUTS];

/* Maps `r` into a request of the folder model `model`: the sequence as text (tokenized by the
 * folder's tokenizer; a BERT pair with text_pair) or ids (token_type_ids for BERT), the
 * request parameters timeout and binary_data_output only (the attention options of the
 * one-layer models do not apply: 400), return_weights and return_context from the outputs
 * asked for, then api_tf_prepare's checks and limits and api_tf_resolve's id checks. Returns 0
 * and *out (free with api_model_request_free), or an HTTP status with *err filled.
 * Thread-safe. */
int api_v2_tf_decode(const api_v2_infer *r, const api_job_wire *w, const api_model *model,
                     const api_limits *limits, api_model_request **out, api_error *err);

/* Appends the response of a computed folder-model request (api_v2_write_response). */
int api_v2_tf_encode(const api_model_request *req, const api_job_wire *w, api_buf *out,
                     size_t *header_len, api_error *err);

#endif
