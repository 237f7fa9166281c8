/* The format-neutral request of POST /v1/models/{name}/attention for a Hugging Face model
 * (BERT or GPT-2): its token pieces (ids, token types, character offsets), which layers and
 * heads come back and how, and the outputs, all in one arena behind an api_model_request. A
 * codec reads the body into an api_tf_spec and the pieces, api_tf_prepare validates and
 * allocates, api_model_attention_run runs it (api_tf_run), the codec encodes it. Internal to
 * api/. */
#ifndef API_TF_REQUEST_H
#define API_TF_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/tokenizer.h"
#include "../core/transformer.h"
#include "api.h"
#include "model_registry.h"

#define API_TF_MAX_LAYERS 1024 /* layers and heads a selection can name */

/* One token of the sequence (core/tokenizer.h's at_piece): id, token type, character span. */
typedef at_piece api_tf_piece;

typedef enum api_tf_hidden {
    API_TF_HIDDEN_LAST, /* "context": the last hidden state only */
    API_TF_HIDDEN_ALL,  /* also "hidden_states": the embeddings and every layer's output */
} api_tf_hidden;

/* What a codec read from a body. */
typedef struct api_tf_spec {
    int64_t len;           /* tokens (with specials) */
    bool from_text;        /* offsets are meaningful */
    bool return_weights;   /* default true */
    bool return_context;   /* default true: false leaves "context" (the last hidden state) out */
    bool average_heads;    /* with weights: mean over the selected heads */
    api_tf_hidden hidden;  /* default last */
    int64_t nlayers;       /* 0: every layer */
    const int64_t *layers; /* [nlayers], distinct, 0..N-1 (codec-checked order kept) */
    int64_t nheads;        /* 0: every head */
    const int64_t *heads;  /* [nheads], distinct, 0..H-1 */
    size_t unknown;        /* tokens the vocabulary lacked (became [UNK]) */
} api_tf_spec;

typedef struct api_tf_request {
    const at_transformer *t;
    api_tf_spec spec;      /* layers and heads point into the arena: never NULL after prepare */
    api_tf_piece *pieces;  /* [L]: the codec fills them */
    uint64_t *ids;         /* [L] */
    uint8_t *types;        /* [L] */
    float *hidden;         /* [L, E] */
    float *all_hidden;     /* [N + 1, L, E] or NULL */
    float *weights;        /* [nlayers, H, L, L] or NULL: every head of each selected layer */
    float **layer_weights; /* [N]: into weights for selected layers, else NULL */
    float *average;        /* [L, L] scratch for average_heads, or NULL */
    double compute_seconds;
} api_tf_request;

/* Validates `spec` for the folder model `model`: 1 <= len <= max positions (400 invalid_value in
 * field `field`), layer and head indices in range and distinct (400 in "layers" / "heads"),
 * and the sizes within `limits` (413: the weights [layers, H, L, L] against
 * max_score_elements, everything against max_elements). Allocates one arena holding the
 * api_model_request, its api_tf_request and every buffer. Returns 0 and *out, or an HTTP
 * status with *err filled. Thread-safe. */
int api_tf_prepare(const api_model *model, const api_tf_spec *spec, const char *field,
                   const api_limits *limits, api_model_request **out, api_error *err);

/* After the codec filled the pieces: copies ids and types out and checks them (ids < V, types
 * < T; 400 invalid_value in `field` / "token_type_ids"). Returns 0 or an HTTP status. */
int api_tf_resolve(api_tf_request *tf, const char *field, api_error *err);

/* Runs the forward pass on worker `worker` of `pool` (NULL: this thread). Returns 0 or 500. */
int api_tf_run(api_tf_request *tf, at_pool *pool, int worker, api_error *err);

/* The request's transformer part, or NULL for a one-layer model's request. */
api_tf_request *api_model_request_tf(const api_model_request *req);

#endif
