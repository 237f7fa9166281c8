/* A stack of Transformer layers as BERT and GPT-2 checkpoints define it, and its forward pass:
 *   ids --embed (bert.c / gpt2.c)--> x [L, E] --layer 1..N (transformer_layer.c)--> ...
 *   --final LayerNorm (GPT-2 only)--> last hidden state [L, E]
 * with every layer's attention weights [H, L, L] written where the caller asks for them. The
 * model does not own its weights: api/ maps them from a checkpoint and keeps them while the
 * model is used. */
#ifndef AT_TRANSFORMER_H
#define AT_TRANSFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "activation.h"
#include "mha.h"
#include "pool.h"

typedef enum at_tf_arch {
    AT_TF_BERT, /* post-LN encoder: bidirectional */
    AT_TF_GPT2, /* pre-LN decoder: causal, final LayerNorm ln_f */
} at_tf_arch;

/* One layer's parameters (not owned). Linear weights are [out, in] (x W^T), Conv1D weights
 * [in, out] (x W), as the model's `conv1d` says. */
typedef struct at_tf_layer {
    at_mha_weights attn;        /* embed_dim, num_heads, projections (conv1d for GPT-2) */
    const float *ln1_w, *ln1_b; /* BERT attention.output.LayerNorm; GPT-2 ln_1 (before attn) */
    const float *ffn_in_w;      /* [I, E] Linear or [E, I] Conv1D */
    const float *ffn_in_b;      /* [I] */
    const float *ffn_out_w;     /* [E, I] Linear or [I, E] Conv1D */
    const float *ffn_out_b;     /* [E] */
    const float *ln2_w, *ln2_b; /* BERT output.LayerNorm; GPT-2 ln_2 (before the MLP) */
    /* Optional: ffn_in_w [I, E] and ffn_out_w [E, I] packed by at_pack_weights, read instead
     * of them when set (core/packed.h). NULL: not packed. */
    const float *ffn_in_packed, *ffn_out_packed;
} at_tf_layer;

typedef struct at_transformer {
    at_tf_arch arch;
    int64_t vocab_size;      /* V: rows of word_emb */
    int64_t max_positions;   /* P: rows of pos_emb, the longest sequence */
    int64_t type_vocab_size; /* T: rows of type_emb (BERT; 0 for GPT-2) */
    int64_t embed_dim;       /* E */
    int64_t num_heads;       /* H, dividing E */
    int64_t inner_dim;       /* I, the feed-forward width */
    int64_t num_layers;      /* N >= 1 */
    at_activation act;
    float eps;          /* LayerNorm epsilon */
    bool conv1d;        /* GPT-2's Conv1D weight layout */
    bool causal;        /* token i sees tokens 0..i */
    bool scale_attn;    /* scores divided by sqrt(E/H) (GPT-2's scale_attn_weights; BERT: true) */
    bool scale_inverse; /* GPT-2's scale_attn_by_inverse_layer_idx: layer l also divides by l+1 */
    const float *word_emb, *pos_emb, *type_emb; /* [V, E], [P, E], [T, E] or NULL */
    const float *emb_ln_w, *emb_ln_b;           /* BERT embeddings.LayerNorm */
    const float *final_ln_w, *final_ln_b;       /* GPT-2 ln_f */
    const at_tf_layer *layers;                  /* [N] */
} at_transformer;

/* One forward pass. Caller-allocated outputs, contiguous row-major. */
typedef struct at_tf_run {
    const uint64_t *ids;   /* [L], each < V (checked by the caller) */
    const uint8_t *types;  /* [L] token types < T (BERT), or NULL for zeros */
    int64_t len;           /* L, 1..P */
    float *hidden;         /* [L, E]: the last hidden state */
    float *all_hidden;     /* NULL, or [N + 1, L, E]: embeddings, then each layer's output
                            * (GPT-2's last one after ln_f, as Hugging Face returns them) */
    float *const *weights; /* NULL, or [N] pointers, each NULL or [H, L, L] for that layer */
} at_tf_run;

/* Checks the model's own consistency (sizes >= 1, H divides E, required weights present).
 * Returns AT_OK or AT_EINVAL with a message. Pure. */
int at_transformer_check(const at_transformer *t, char *err, size_t errlen);

/* Bytes of scratch at_transformer_forward needs for L tokens on `threads` workers, with or
 * without any layer's weights. */
size_t at_transformer_workspace_size(const at_transformer *t, int64_t len, bool any_weights,
                                     int threads);

/* Runs the model over run->ids. Layers whose run->weights entry is NULL use the attention's
 * tiled path and never hold an L x L matrix. `workspace` (64-byte aligned) holds
 * at_transformer_workspace_size(t, len, any_weights, at_pool_threads(pool)) bytes. Runs on
 * worker `worker` of `pool` (NULL: the calling thread) and spreads each step over the pool in
 * fixed blocks of rows, so the results are the same bits on any number of threads. The model
 * must have passed at_transformer_check and run->len must be 1..P. Returns AT_OK. Reentrant. */
int at_transformer_forward(const at_transformer *t, const at_tf_run *run, void *workspace,
                           at_pool *pool, int worker);

/* Internal steps, one file each. */

/* BERT's embeddings: word + position + token type, then embeddings.LayerNorm, into x [L, E]. */
void at_bert_embed(const at_transformer *t, const uint64_t *ids, const uint8_t *types, int64_t len,
                   float *x);

/* GPT-2's embeddings: wte + wpe into x [L, E]. */
void at_gpt2_embed(const at_transformer *t, const uint64_t *ids, int64_t len, float *x);

/* GPT-2's final LayerNorm ln_f of x [L, E] into out (may be x). */
void at_gpt2_final(const at_transformer *t, const float *x, int64_t len, float *out);

/* Bytes of scratch at_tf_layer_forward needs. */
size_t at_tf_layer_workspace_size(const at_transformer *t, int64_t len, bool need_weights,
                                  int threads);

/* Layer `index` of t over x [L, E] in place; weights [H, L, L] or NULL. */
int at_tf_layer_forward(const at_transformer *t, int64_t index, float *x, int64_t len,
                        float *weights, void *workspace, at_pool *pool, int worker);

#endif
