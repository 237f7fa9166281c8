/* The Open Inference Protocol model "attention": raw tensors in (query, optional key, value,
 * mask, key_lengths and the additive score's parameters), context and weights out, the /v1
 * attention request in the protocol's shape. Internal to api/v2/. */
#ifndef API_V2_ATTENTION_MODEL_H
#define API_V2_ATTENTION_MODEL_H

#include "../api.h"
#include "infer_request.h"
#include "response.h"

#define API_V2_ATTENTION_MODEL "attention"

/* Its inputs and outputs, in metadata order. */
#define API_V2_ATTENTION_NINPUTS  8
#define API_V2_ATTENTION_NOUTPUTS 2
extern const char *const api_v2_attention_inputs[API_V2_ATTENTION_NINPUTS];
extern const char *const api_v2_attention_outputs[API_V2_ATTENTION_NOUTPUTS];

/* Maps the parsed request `r` into an attention request: input names checked, the shapes and
 * the options (request parameters, parameters.h) into an api_attention_spec, return_weights and
 * return_context from the outputs asked for (w, made from r), api_attention_prepare's checks
 * and limits, then each input's data copied into the arena (FP32, FP16, BF16 or FP64 for
 * query, key, value and the additive_* parameters; BOOL mask; INT32 or INT64 key_lengths, each
 * 0..Lk). Returns 0 and *out (free with api_attention_request_free), or an HTTP status with
 * *err filled. Thread-safe. */
int api_v2_attention_decode(const api_v2_infer *r, const api_job_wire *w, const api_limits *limits,
                            api_attention_request **out, api_error *err);

/* Appends the response of a computed request (api_v2_write_response). */
int api_v2_attention_encode(const api_attention_request *req, const api_job_wire *w, api_buf *out,
                            size_t *header_len, api_error *err);

#endif
