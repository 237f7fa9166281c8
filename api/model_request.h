/* The format-neutral request of POST /v1/models/{name}/attention: a token sequence (and, for
 * cross-attention, a source sequence) given as text, tokens or ids, run through a model's
 * tokenizer, embeddings and multi-head attention. Like request.h for /v1/attention: a codec
 * scans the body into an api_model_spec (counts and sizes only), api_model_prepare validates it
 * and allocates the request (one arena), the codec copies the text, tokens or ids into it, and
 * api_model_request_resolve turns tokens into ids. Internal to api/. */
#ifndef API_MODEL_REQUEST_H
#define API_MODEL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/mha.h"
#include "../core/model.h"
#include "api.h"
#include "model_registry.h"
#include "request.h"
#include "shape.h"

typedef enum api_seq_form {
    API_SEQ_TEXT,   /* a text that the model's tokenizer splits */
    API_SEQ_TOKENS, /* tokens as the client split them, used as given */
    API_SEQ_IDS,    /* token ids of the model */
} api_seq_form;

/* One sequence as a codec scanned it, before anything is allocated. */
typedef struct api_seq_spec {
    api_seq_form form;
    int64_t count; /* tokens (the tokenizer's count for a text) or ids */
    size_t bytes;  /* a text's length, or the tokens' lengths summed; 0 for ids */
} api_seq_spec;

typedef struct api_model_spec {
    /* Only the option fields: score, scale, selection, k, normalize, seed, causal,
     * return_weights, average_heads (json_request.h's api_json_read_options). */
    api_attention_spec opts;
    api_seq_spec seq;
    bool has_source; /* cross-attention */
    api_seq_spec source;
    /* "source_id": the source is a stored one a model encoded (encoded_source.h), whose keys
     * and values are attended to where they are stored; source above is its form and length.
     * A reference from api_source_store_acquire, checked with api_encoded_source_check, that
     * the request takes over once api_model_prepare succeeds (and releases when freed); NULL
     * otherwise. */
    const struct api_source *stored;
    struct api_source_store *stored_in;
} api_model_spec;

/* One sequence in the request's arena. */
typedef struct api_seq {
    api_seq_form form;
    int64_t len;
    char *bytes;      /* the text, or the tokens end to end: the codec copies them here */
    at_token *tokens; /* [len] pointing into bytes (the codec sets them); NULL for ids */
    uint64_t *ids;    /* [len]: the codec fills them for ids, resolve for text and tokens */
    size_t unknown;   /* tokens the vocabulary lacks, which became its [UNK] */
    float *x;         /* [len, E]: embeddings plus positions, made by api_model_attention_run */
} api_seq;

struct api_model_request {
    const api_model *model; /* the registry's; outlives the request */
    api_model_spec spec;
    /* source.len is 0 for self-attention. With spec.stored, source is the stored source's
     * sequence (its pointers into the store, x NULL), already resolved. */
    api_seq seq, source;
    at_attention_desc opts; /* the per-head template at_mha_forward takes */
    at_mha_out out;         /* context [L, E], weights [H, L, S] or [L, S] (or NULL) */
    api_shape context_shape, weights_shape;
    double compute_seconds;
    bool computed;
    size_t arena_bytes;
    struct api_tf_request *tf; /* a folder model's request (api/tf_request.h), else NULL */
};

/* Validates `spec` for `model` (with spec->stored, the stored source's keys and values are not
 * allocated nor counted against the limits, and the request takes over the reference): each
 * sequence has 1 to max_len tokens (400 invalid_value in field "text", "tokens", "ids" or
 * "source"), the selection options fit together, the additive score needs the model's additive
 * parameters (400 invalid_value in field "score"), and the embeddings, projections and outputs fit
 * `limits` (413 limit_exceeded; NULL or limits <= 0: none). Then makes one allocation holding the
 * request and every buffer, with the pointers set (the codec fills bytes, tokens and ids). Returns
 * 0 and *out, or an HTTP status with *err filled and *out NULL. Free with api_model_request_free.
 * Thread-safe. */
int api_model_prepare(const api_model *model, const api_model_spec *spec, const api_limits *limits,
                      api_model_request **out, api_error *err);

/* After the codec filled the request: the ids of text and tokens sequences (the vocabulary's,
 * lower-cased first for lowercase models, [UNK] for the rest; hashes for hashing models), and
 * the check of ids a client sent (400 invalid_value "ids[3]: 57 is not a token id of this
 * model (0..31)" in field "ids" or "source"). Returns 0 or an HTTP status with *err filled.
 * Thread-safe. */
int api_model_request_resolve(api_model_request *req, api_error *err);

/* 1 <= s->count <= the model's max_len: 400 invalid_value in the sequence's field (see
 * api_seq_field) otherwise. Thread-safe. */
int api_seq_check_len(const at_model *m, const api_seq_spec *s, bool source, api_error *err);

/* The ids of one sequence (as api_model_request_resolve does for each). Thread-safe. */
int api_seq_resolve(const at_model *m, api_seq *s, bool source, api_error *err);

/* The field a sequence came from, for messages: "text", "tokens" or "ids", or "source" for any
 * form of the source. Static storage. */
const char *api_seq_field(api_seq_form form, bool source);

#endif
