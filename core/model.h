/* A token-sequence model in memory: tokenizer settings, embeddings (a table or hashing),
 * positional encoding and one multi-head attention layer. The pipeline a request runs is
 *   text --at_tokenize--> tokens --at_model_token_ids--> ids --at_model_embed--> x [L, E]
 *   --at_mha_forward--> context [L, E], weights [H, L, S] or [L, S]
 * with at_model_check_len and at_model_check_ids on the way (ids sent by a client skip the
 * first two steps). The model does not own its weights or vocabulary: api/model_registry.c
 * (a mapped file) or the caller of at_model_init_default holds them while the model is used. */
#ifndef AT_MODEL_H
#define AT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attention.h"
#include "mha.h"
#include "pool.h"
#include "positions.h"
#include "tokenizer.h"
#include "vocab.h"

typedef enum at_positional {
    AT_POSITIONAL_SINUSOIDAL, /* at_positional_add_sinusoidal, positions 0..L-1 */
    AT_POSITIONAL_NONE,
} at_positional;

/* An at_model is made in place and never copied: mha.additive points at its own `additive`. */
typedef struct at_model {
    /* embed_dim E, num_heads H, projections; additive is &this->additive or NULL. */
    at_mha_weights mha;
    at_additive additive; /* weight [da, 2 * E / H], bias and v [da] (or NULL) */
    /* Embeddings: a table [vocab_size, E] (vocab gives its tokens, unk_id the id of "[UNK]"),
     * or, with embedding NULL, vocab_size 0, vocab NULL and unk_id -1, hashing embeddings:
     * the id of a token is at_fnv1a64 of its (lower-cased, with `lowercase`) bytes and its
     * vector is at_embed_hashed(hash_seed, id, E). */
    const float *embedding;
    int64_t vocab_size;
    const at_vocab *vocab;
    int64_t unk_id;
    uint64_t hash_seed;
    at_positional positional;
    /* With AT_POSITIONAL_SINUSOIDAL: the table of positions shared by the model's requests, or
     * NULL to compute them per request (same result). Owned by whoever made the model. */
    at_positions *positions;
    bool lowercase;  /* tokens are lower-cased (at_utf8_lower) before they are looked up */
    int64_t max_len; /* longest sequence (query or source) the model accepts; 0: no limit */
} at_model;

/* The built-in model "default": E = 64, H = 4 (head_dim 16), hashing embeddings seeded with
 * AT_DEFAULT_SEED, sinusoidal positions, no lower-casing, no length limit, and untrained
 * projections drawn from the same seed the way PyTorch initialises nn.MultiheadAttention:
 * in_proj_weight uniform in +-sqrt(6 / (E + 3E)) (Xavier), out_proj.weight uniform in
 * +-1/sqrt(E), biases zero; and additive score parameters, weight [16, 32] uniform in
 * +-sqrt(6 / (16 + 32)), bias zero, v uniform in +-1/4. Element i of a tensor is
 * bound * (2u - 1), u from the top 24 bits of at_rng_mix(at_rng_mix(AT_DEFAULT_SEED ^ tag) +
 * (i + 1) * AT_RNG_GOLDEN), tag 1 in_proj_weight, 2 out_proj.weight, 3 additive.weight,
 * 4 additive.v. Its attention reflects token identity and position, not meaning. */
#define AT_DEFAULT_EMBED_DIM 64
#define AT_DEFAULT_NUM_HEADS 4
#define AT_DEFAULT_SEED      0x61747464u /* "attd" */

/* Floats of storage at_model_init_default needs. */
size_t at_model_default_floats(void);

/* Makes the built-in model in *m, its weights written to `storage` (at_model_default_floats()
 * floats, which the caller owns and keeps while m is used). Deterministic. */
void at_model_init_default(at_model *m, float *storage);

/* Checks a sequence length: 1 <= n, and n <= max_len when the model has one. `what` names the
 * sequence in the message ("text", "source"). Returns AT_OK, AT_EINVAL for an empty sequence
 * ("text: no tokens") or AT_ELIMIT ("text: 600 tokens, but this model accepts at most 512"). */
int at_model_check_len(const at_model *m, int64_t n, const char *what, char *err, size_t errlen);

/* The ids of n tokens (each valid UTF-8; see at_utf8_check) into ids[0..n): the vocabulary's id
 * of the token (lower-cased first with `lowercase`), or unk_id when it has none; for hashing
 * models at_fnv1a64 of the (lower-cased) bytes. *unknown (when not NULL) gets the number of
 * tokens that became unk_id. Returns AT_OK or AT_ENOMEM (lower-casing takes one scratch buffer
 * per call). Thread-safe. */
int at_model_token_ids(const at_model *m, const at_token *tokens, size_t n, uint64_t *ids,
                       size_t *unknown, char *err, size_t errlen);

/* Checks ids a client sent: each < vocab_size for table models (any value for hashing ones).
 * Returns AT_OK, or AT_ERANGE with the first bad index in *bad_index (when not NULL) and a
 * message "ids[3]: 57 is not a token id of this model (0..29)". Pure. */
int at_model_check_ids(const at_model *m, const uint64_t *ids, size_t n, size_t *bad_index,
                       char *err, size_t errlen);

/* The model's input x [n, E] for ids[0..n) (checked): embeddings plus positions (through
 * m->positions when the model has it, which may grow it). Thread-safe. */
void at_model_embed(const at_model *m, const uint64_t *ids, int64_t n, float *x);

/* Rows p0..p1-1 of the same: x [n, E] and ids[0..n) as above, only rows p0 <= i < p1 written.
 * Thread-safe: disjoint ranges may run at once. */
void at_model_embed_rows(const at_model *m, const uint64_t *ids, int64_t p0, int64_t p1, float *x);

/* at_model_embed on the pool (rows split between the caller, worker `worker`, and idle
 * workers; the result does not depend on the split). pool may be NULL. */
void at_model_embed_pool(const at_model *m, const uint64_t *ids, int64_t n, float *x, at_pool *pool,
                         int worker);

#endif
