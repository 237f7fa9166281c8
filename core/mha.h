/* Multi-head attention of one sequence, as torch.nn.MultiheadAttention computes it: project the
 * queries from x and the keys and values from a source (x itself for self-attention), split
 * the E features into H heads of E/H, attend per head with at_attention_forward (so every score,
 * selection and mask option applies), concatenate the heads and project the result out. */
#ifndef AT_MHA_H
#define AT_MHA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attention.h"
#include "cancel.h"
#include "pool.h"

/* The parameters, named as in nn.MultiheadAttention's state_dict. Not owned: they point at
 * memory the model holds (a mapped file or an allocation) for as long as it is used. */
typedef struct at_mha_weights {
    int64_t embed_dim;            /* E */
    int64_t num_heads;            /* H, which divides E; head_dim = E / H */
    const float *in_proj_weight;  /* [3E, E]: rows 0..E-1 W_q, E..2E-1 W_k, 2E..3E-1 W_v */
    const float *in_proj_bias;    /* [3E], or NULL for zeros */
    const float *out_proj_weight; /* [E, E] */
    const float *out_proj_bias;   /* [E], or NULL for zeros */
    /* Per-head additive score parameters shared by every head: weight [da, 2 * head_dim]
     * (dq = dk = head_dim), bias and v [da] or NULL. NULL when the model has none. */
    const at_additive *additive;
    /* The layouts of real checkpoints, self-attention only. With `conv1d` (GPT-2's Conv1D),
     * in_proj_weight is [E, 3E] and out_proj_weight [E, E] stored input-major: y = x W + b.
     * With in_proj_weight NULL, qkv_weight[0..3) are BERT's separate query, key and value
     * nn.Linear weights [E, E] and qkv_bias[0..3) their biases [E] (or NULL for zeros). */
    bool conv1d;
    const float *qkv_weight[3];
    const float *qkv_bias[3];
    /* Optional, self-attention only: the same weights packed by at_pack_weights (core/packed.h),
     * q | k | v as one [3E, E] matrix with its bias [3E] (NULL for zeros), and the output
     * projection [E, E] (its bias stays out_proj_bias); when set, the products read them
     * instead (the unpacked weights must still be given). NULL: not packed. */
    const float *packed_qkv, *packed_qkv_bias, *packed_out;
} at_mha_weights;

/* Caller-allocated outputs, contiguous row-major. */
typedef struct at_mha_out {
    float *context; /* [L, E]: after the output projection */
    float *weights; /* need_weights: [H, L, S], or [L, S] with average_heads; else NULL */
} at_mha_out;

/* Checks the weights and a request before anything is allocated. `len` is L, the length of x;
 * `src_len` is S, the length of the source, or 0 for self-attention (then S = L). `opts` is a
 * template of the per-head attention: every field except query, key, value and additive is
 * used as given (score, selection, k, normalize, seed, scale, causal, need_weights,
 * average_heads, mask as a [1, H, L, S]-broadcastable view, key_lengths as one entry); query,
 * key and value are ignored, and additive is replaced by w->additive. Returns AT_OK, AT_EINVAL
 * or AT_ESHAPE with a message in err and, when field is not NULL, the name of the field at
 * fault in *field ("embed_dim", "weights", "len", "src_len", "additive", or at_attention_check's
 * names: "k", "scale", ...). A model's additive score needs w->additive ("additive: this model has
 * no additive score parameters"). Pure and thread-safe. */
int at_mha_check(const at_mha_weights *w, int64_t len, int64_t src_len,
                 const at_attention_desc *opts, const char **field, char *err, size_t errlen);

/* Bytes of scratch memory at_mha_forward needs, on a pool of `threads` workers, for a request
 * that passed at_mha_check: the projections ([L, 3E] for self-attention, [L, E] + [S, 2E] for
 * cross-attention), the per-head context [H, L, E/H] and at_attention_workspace_size. */
size_t at_mha_workspace_size(const at_mha_weights *w, int64_t len, int64_t src_len,
                             const at_attention_desc *opts, int threads);

/* Computes out->context [L, E] and, when opts->need_weights, out->weights for x [L, E]
 * attending to src [S, E] (src NULL and src_len 0: self-attention, key and value from x).
 * Matches torch.nn.MultiheadAttention(E, H)(x, src, src, need_weights=True,
 * average_attn_weights=opts->average_heads, attn_mask=<causal mask when opts->causal>): q is
 * scaled by 1/sqrt(E/H) (the scaled-dot default; opts may choose another score or scale).
 * Causal is top-left aligned, so with a source query i sees source positions 0..i. `workspace`
 * (64-byte aligned) must hold at_mha_workspace_size(w, len, src_len, opts,
 * at_pool_threads(pool)) bytes. Runs on worker `worker` of `pool` (pool NULL: on the calling
 * thread, worker 0) and spreads the projections and the attention over the pool; the
 * projections are cut into fixed blocks of rows, so the results are the same bits on any
 * number of threads. The request must have passed at_mha_check. Returns AT_OK, or the status
 * of opts->cancel when it was cancelled before it finished (see at_attention_forward). Reentrant:
 * weights and inputs are only read. */
int at_mha_forward(const at_mha_weights *w, const float *x, int64_t len, const float *src,
                   int64_t src_len, const at_attention_desc *opts, const at_mha_out *out,
                   void *workspace, at_pool *pool, int worker);

/* ---- a source projected once, attended to many times ---- */

/* A source's keys and values as at_mha_project_source made them: per head, contiguous
 * row-major [H, S, E/H] each. Not owned. */
typedef struct at_mha_kv {
    const float *key, *value;
    int64_t len; /* S */
} at_mha_kv;

/* Checks that the layer can project a source of `src_len` tokens for cross-attention (a
 * source of 1 or more tokens, weights with a fused in_proj_weight: BERT's and GPT-2's layers
 * are self-attention only). Returns AT_OK, or AT_EINVAL with a message in err. Pure. */
int at_mha_check_source(const at_mha_weights *w, int64_t src_len, char *err, size_t errlen);

/* Bytes of scratch memory at_mha_project_source needs: the projections [S, 2E]. */
size_t at_mha_source_workspace_size(const at_mha_weights *w, int64_t src_len);

/* Projects src [S, E] into the keys and values of every head, key and value [H, S, E/H] each
 * (caller-allocated, contiguous): the very products at_mha_forward computes for a source
 * (the same blocks of rows, whatever the query), so at_mha_forward_projected over them gives
 * the same bits as at_mha_forward over src. `workspace` (64-byte aligned) holds
 * at_mha_source_workspace_size bytes. Runs on worker `worker` of `pool` (NULL: the calling
 * thread). The source must have passed at_mha_check_source. Returns AT_OK, or the status of
 * `cancel` (NULL: never) when it was cancelled. Reentrant. */
int at_mha_project_source(const at_mha_weights *w, const float *src, int64_t src_len, float *key,
                          float *value, const at_cancel *cancel, void *workspace, at_pool *pool,
                          int worker);

/* Bytes of scratch memory at_mha_forward_projected needs for `len` queries against a projected
 * source of `src_len` tokens: q [L, E], the per-head context and the attention's workspace. */
size_t at_mha_projected_workspace_size(const at_mha_weights *w, int64_t len, int64_t src_len,
                                       const at_attention_desc *opts, int threads);

/* at_mha_forward for x [L, E] attending to a source already projected (kv, from
 * at_mha_project_source with the same weights): the queries are projected, the keys and values
 * read where they are. Same results, bit for bit, as at_mha_forward over the source itself.
 * The request must have passed at_mha_check(w, len, kv->len, opts); `workspace` holds
 * at_mha_projected_workspace_size bytes. Same returns, threading and reentrancy as
 * at_mha_forward. */
int at_mha_forward_projected(const at_mha_weights *w, const float *x, int64_t len,
                             const at_mha_kv *kv, const at_attention_desc *opts,
                             const at_mha_out *out, void *workspace, at_pool *pool, int worker);

#endif
