/* The request "parameters" of an Open Inference Protocol infer request: the attention options
 * of /v1 (score, scale, selection, k, normalize, seed, causal, average_heads), Triton's
 * "timeout" (microseconds) and "binary_data_output". Internal to api/v2/. */
#ifndef API_V2_PARAMETERS_H
#define API_V2_PARAMETERS_H

#include <cjson/cJSON.h>

#include "../api.h"
#include "../request.h"

/* The parameter names a request may send, for the models' metadata and messages. */
#define API_V2_PARAMETERS                                                                          \
    "score, scale, selection, k, normalize, seed, causal, average_heads, timeout, "                \
    "binary_data_output, source_id"

/* Reads `params` (the "parameters" object, or NULL) into the option fields of *s: score and
 * selection (defaults scaled_dot and soft), has_scale and scale, has_k and k, has_normalize and
 * normalize, has_seed and seed (an integer up to 2^53), causal, average_heads, and has_timeout
 * and timeout (seconds, from Triton's integer microseconds, > 0, at most a day);
 * return_weights and return_context are set true (the caller narrows them to the outputs
 * asked for). Other fields of *s are untouched. Unknown parameters and wrong types are refused
 * (400 naming the parameter); whether the options fit together is
 * api_check_selection_options' to judge. Returns 0 or 400 with *err filled. Thread-safe. */
int api_v2_read_parameters(const cJSON *params, api_attention_spec *s, api_error *err);

/* The parameter "source_id" of a token model's request (the id of a source the model encoded,
 * PUT /v1/sources/{id} with {"model", "source"}): *id points into params, or is NULL when the
 * request sends none. Returns 0, or 400 invalid_type when it is not a string. Thread-safe. */
int api_v2_read_source_id(const cJSON *params, const char **id, api_error *err);

#endif
