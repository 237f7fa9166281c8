/* The JSON wire format of the model endpoints: POST /v1/models/{name}/attention bodies and
 * responses, and the GET /v1/models listings, for the v1 protocol (protocol.c). Internal to
 * api/v1/. */
#ifndef API_JSON_MODEL_H
#define API_JSON_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../api.h"
#include "../json_scan.h"
#include "../model_request.h"

struct cJSON;
struct api_source_store;

/* Decodes a POST /v1/models/{name}/attention body for `model` (the registry's, which must outlive
 * the request): the sequence as text, tokens or ids, an optional source, the attention options.
 * Tokenizes and looks up the ids here; the embeddings and the attention are left to
 * api_model_attention_run. Returns 0, or the HTTP status to answer with and *err filled. */
int api_v1_decode_model_attention(const char *body, size_t len, const api_model *model,
                                  const api_limits *limits, api_model_request **out,
                                  api_error *err);
/* api_v1_decode_model_attention with the store of "source_id" (NULL: none): a source a model
 * encoded (PUT /v1/sources/{id} with {"model", "source"}) instead of "source" (both: 400). An
 * unknown id is 404 (a miss in the store's counts), another model's source or tensors 400, a
 * source of a model reloaded since 409 (api_encoded_source_check). */
int api_v1_decode_model_attention_sources(const char *body, size_t len, const api_model *model,
                                          const api_limits *limits,
                                          struct api_source_store *sources, api_model_request **out,
                                          api_error *err);

/* The members of a "source" object, for a body's schema: "source" and its "text", "tokens" and
 * "ids" (lists of at most `items` elements) into out[0..4). */
void api_v1_model_source_schema(int64_t items, api_json_member out[4]);

/* Scans a "source" object (checked to be one) for `vocab`'s tokenizer: which form it takes,
 * how many tokens and bytes, into *spec, with its members (text, tokens, ids) in members[0..3)
 * for api_v1_fill_model_source. Returns 0 or an HTTP status with *err filled (400 in field
 * "source"). */
int api_v1_scan_model_source(const struct cJSON *node, const at_vocab *vocab,
                             const struct cJSON *members[3], api_seq_spec *spec, api_error *err);

/* Copies the scanned source's text or tokens into s (sized from the spec), or reads its ids.
 * Returns 0 or an HTTP status with *err filled. */
int api_v1_fill_model_source(const struct cJSON *const members[3], const at_vocab *vocab,
                             api_seq *s, api_error *err);

int api_v1_encode_model_attention(const api_model_request *req, api_buf *out, api_error *err);
int api_v1_encode_models(const api_model_registry *models, api_buf *out);
int api_v1_encode_model(const api_model *model, api_buf *out);

#endif
