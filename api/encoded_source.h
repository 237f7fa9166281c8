/* Sources a model encoded: PUT /v1/sources/{id} with {"model", "source"} keeps the keys and values
 * a one-layer model's cross-attention projects from a source sequence, per head [H, S, head_dim],
 * so that POST /v1/models/{name}/attention naming it with "source_id" attends to them without
 * tokenizing, embedding and projecting the source again, and answers exactly what the same
 * source sent inline gives. Besides the tensors, a source keeps what a response tells of it (its
 * tokens, ids and unknown count) and which model, loaded when, encoded it: once that model is
 * reloaded, the keys and values are stale and the source is refused. Internal to api/. */
#ifndef API_ENCODED_SOURCE_H
#define API_ENCODED_SOURCE_H

#include <stdint.h>
#include <time.h>

#include "../core/cancel.h"
#include "../core/pool.h"
#include "api.h"
#include "model_registry.h"
#include "model_request.h"
#include "source_store.h"

/* What a model's source keeps besides its keys and values, inside the source's allocation. */
typedef struct api_encoded_source {
    char model[API_MODEL_NAME_MAX + 1]; /* the name of the model that encoded it */
    uint64_t generation;                /* and that model's api_model_generation */
    time_t loaded_at;                   /* and when it was loaded, for messages */
    api_seq seq; /* form, len, bytes, tokens, ids and unknown as a request's source; x NULL */
} api_encoded_source;

/* Allocates a source that `model` will encode from a sequence a codec scanned as `spec`: its key
 * and value [H, S, head_dim], and the sequence's bytes, tokens and ids laid out as in a model
 * request (the codec fills them; api_encoded_source_seq gives them). Checks that the model can
 * encode a source at all (a Hugging Face folder's BERT or GPT-2 has self-attention only: 400
 * invalid_value in field "model"), the length (400 in field "source", like the source of a model
 * request) and `limits` (the embeddings and projections of the source: 413 limit_exceeded).
 * Returns 0 and *out (the caller owns it until api_source_store_put; api_source_discard frees
 * it), or an HTTP status with *err filled and *out NULL. Thread-safe. */
int api_encoded_source_alloc(const api_model *model, const api_seq_spec *spec,
                             const api_limits *limits, api_source **out, api_error *err);

/* The sequence of a source from api_encoded_source_alloc, for the codec to fill. */
api_seq *api_encoded_source_seq(api_source *src);

/* After the codec filled the sequence: the ids of its text or tokens, or the check of the ids a
 * client sent, as api_model_request_resolve does for a request's source. Returns 0 or an HTTP
 * status with *err filled. Thread-safe. */
int api_encoded_source_resolve(api_source *src, const api_model *model, api_error *err);

/* Embeds the source and projects it into src's key and value (at_mha_project_source), on worker
 * `worker` of `pool` (NULL: the calling thread). Call from a worker. Returns 0, or 504/499 when
 * `cancel` stopped it, 500 when out of memory, with *err filled. */
int api_encoded_source_encode(api_source *src, const api_model *model, const at_cancel *cancel,
                              at_pool *pool, int worker, api_error *err);

/* Whether the stored source `src` (named `id` by the request) can serve a request of `model`:
 * 0; 400 invalid_value in field "source_id" for key/value tensors a client sent (not a model's
 * source) or a source another model encoded; 409 conflict when the model that encoded it has
 * been reloaded since (its keys and values are stale: the message says to PUT it again).
 * Thread-safe. */
int api_encoded_source_check(const api_source *src, const char *id, const api_model *model,
                             api_error *err);

/* The stored source `id` for a request of `model`: checks the id (400 in field "source_id"),
 * takes a reference from `store` (NULL: 404, the server keeps none; unknown id: 404, counted as
 * a miss) and checks it with api_encoded_source_check (releasing it on failure). Returns 0 and
 * *out (release with api_source_store_release), or an HTTP status with *err filled. Thread-safe. */
int api_encoded_source_acquire(api_source_store *store, const char *id, const api_model *model,
                               const api_source **out, api_error *err);

#endif
