/* The format-neutral attention request, shared by api/attention.c and the codecs. A codec scans
 * the shapes and options of a body into an api_attention_spec, api_attention_prepare validates
 * them and allocates the request (one arena), then the codec copies the tensor data into the
 * arena. Internal to api/: the server sees api_attention_request only as an opaque type. */
#ifndef API_REQUEST_H
#define API_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/attention.h"
#include "api.h"
#include "shape.h"

/* What a codec read from a body, before any tensor data is copied. The has_* flags record what
 * the client sent, so that api_attention_prepare can refuse options that do not apply (a "k"
 * with soft selection) instead of ignoring them. */
typedef struct api_attention_spec {
    api_shape query;            /* [Lq, d], [H, Lq, d] or [B, H, Lq, d] */
    api_shape key, value, mask; /* meaningful when the matching has_* is true */
    bool has_key, has_value, has_mask;
    at_score score; /* AT_SCORE_SCALED_DOT unless the client chose another */
    bool has_scale; /* the client gave "scale" */
    float scale;
    bool causal;
    bool return_weights; /* default true */
    bool return_context; /* default true; false leaves "context" out of the response */
    bool average_heads;  /* default false */

    /* The additive score's parameters: weight [da, dq + dk], optional bias [da] and v [da]. */
    bool has_additive;
    api_shape additive_weight, additive_bias, additive_v;
    bool has_additive_bias, has_additive_v;

    at_selection selection; /* AT_SELECT_SOFT unless the client chose another */
    bool has_k, has_normalize, has_seed;
    int64_t k;      /* >= 1 when has_k */
    bool normalize; /* default false */
    uint64_t seed;  /* default 0 */

    bool has_key_lengths;
    int64_t key_lengths_count; /* elements the client sent; must be the batch size B */

    bool has_timeout; /* the client gave "timeout" */
    double timeout;   /* seconds, > 0: a deadline shorter than the server's */

    /* "source_id": the key and value (and key_lengths, when the source has them and the
     * request does not) are a stored source's, read where they are: key and value above are its
     * shapes and has_key, has_value are set. A reference from api_source_store_acquire that the
     * request takes over once api_attention_prepare succeeds (and releases when freed); NULL
     * otherwise. */
    const struct api_source *source;
    struct api_source_store *source_store;
} api_attention_spec;

struct api_attention_request {
    /* The shapes as the client sent them; an omitted key has the query's shape and an omitted
     * value the key's, so responses can always report all three. */
    api_attention_spec spec;
    api_shape context_shape; /* [.., Lq, dv] in the query's rank */
    api_shape weights_shape; /* [.., Lq, Lk] in the query's rank, H dropped when averaged */

    /* Tensor data inside the arena, contiguous row-major in the client's order. The codec fills
     * query, and key / value / mask when the spec has them. An omitted key is the query (same
     * pointer, nothing copied) and an omitted value is the key. */
    float *query, *key, *value;
    uint8_t *mask;        /* NULL without a mask */
    int64_t *key_lengths; /* [B], or NULL; the codec fills it and checks each is 0..Lk */
    /* The additive score's parameters, or NULL: weight [da, dq + dk], bias [da], v [da]. */
    float *additive_weight, *additive_bias, *additive_v;

    at_tensor mask_view;    /* rank-4 broadcast view of mask; desc.mask points here */
    at_additive additive;   /* desc.additive points here for the additive score */
    at_attention_desc desc; /* rank-4 views of everything above */
    at_attention_out out;   /* context and (optional) weights, also in the arena */

    double compute_seconds; /* set by api_attention_run */
    bool computed;          /* api_attention_run succeeded: out holds the result */
    size_t arena_bytes;     /* total size of the single allocation holding all of this */
};

/* Validates `spec` (query rank 2..4, key and value agreeing with the query, mask broadcastable
 * to [.., Lq, Lk], additive parameters present exactly for the additive score and sized for
 * its dq and dk, "k", "normalize" and "seed" only with the selections they apply to,
 * key_lengths of the batch size B), checks the element counts against `limits` (NULL, or a
 * limit <= 0, means no limit), then makes one allocation holding the request, every input
 * tensor and the outputs, with the rank-4 views already set up (the data is left for the
 * caller to fill; with spec->source the key and value point at the source's data, which the
 * limits do not count, and the request takes over the source reference). Returns 0 and *out,
 * or an HTTP status (400 missing_field / invalid_shape /
 * invalid_value, 413 limit_exceeded, 500 when out of memory) with *err filled and *out NULL.
 * Free with api_attention_request_free. Thread-safe. */
int api_attention_prepare(const api_attention_spec *spec, const api_limits *limits,
                          api_attention_request **out, api_error *err);

/* Checks the options that apply only to some selections, as both attention endpoints take them:
 * "k" with topk and sample (and required there, >= 1), "normalize" with topk and sample, "seed"
 * with sample. Only the option fields of `s` are read. Returns 0, or 400 (invalid_value or
 * missing_field, naming the option) with *err filled. Thread-safe. */
int api_check_selection_options(const api_attention_spec *s, api_error *err);

/* Fills *err for a result that does not fit in float32 even computed in double (AT_ERANGE of
 * the forward pass): 400 invalid_value saying so and what to change. Returns 400. */
int api_overflow_error(api_error *err);

/* "scaled_dot", "dot", "additive" / "soft", "topk", "sample": the wire names. Static storage. */
const char *api_score_name(at_score score);
const char *api_selection_name(at_selection selection);

#endif
