/* The cost model: the floating-point operations a request's work takes, estimated from its
 * shapes alone (no data is read), so that a server can refuse work it will not do before it
 * allocates anything. Matrix products count 2 per multiply-add; each exp or tanh counts
 * AT_COST_TRANSCENDENTAL, because for short rows (d = 1) the softmax, not the products, is what
 * takes the time. Masks and causality are not counted as savings: the figure is an upper
 * bound of what the kernels do. */
#ifndef AT_COST_H
#define AT_COST_H

#include <stdint.h>

#include "attention.h"
#include "model.h"
#include "transformer.h"

/* FLOPs one exp, tanh, log or sin counts as: about what it costs beside a multiply-add. */
#define AT_COST_TRANSCENDENTAL 16

/* FLOPs of at_attention_forward for `d`, reading only shapes and options: query.ne, key.ne,
 * value.ne, score, additive->weight.ne[0] (the additive score's da), selection, need_weights
 * and average_heads (data pointers may be NULL). Per score (B*H*Lq*Lk of them): 2*d for
 * q.k (additive: da * (3 + tanh) plus the projections W_q q and W_k k once per row), one exp
 * and 4 more for the selection, 2*dv for the weighted sum of values, 1 more for averaged heads.
 * Never negative or NaN; huge shapes give huge (possibly infinite) figures, never a wrap. Pure. */
double at_attention_flops(const at_attention_desc *d);

/* FLOPs of a model request of `len` tokens attending to `src_len` source tokens (0: itself),
 * `opts` as at_mha_check takes it: the embeddings and positions (hashing embeddings cost four
 * transcendentals per element, a table one copy, sinusoidal positions one sin or cos), the in-
 * and out-projections (2 * rows * E * E per projected matrix) and at_attention_flops of the
 * per-head attention ([1, H, len, E/H] over [1, H, S, E/H]). Pure. */
double at_model_flops(const at_model *m, int64_t len, int64_t src_len,
                      const at_attention_desc *opts);

/* at_model_flops for a source already embedded and projected (at_mha_forward_projected): the
 * source's embeddings and key and value projections are left out. Pure. */
double at_model_flops_projected(const at_model *m, int64_t len, int64_t src_len,
                                const at_attention_desc *opts);

/* FLOPs of at_transformer_forward over `len` tokens: the embeddings, then per layer the q, k, v
 * and output projections (8 * L * E^2), the feed-forward (4 * L * E * I plus one
 * transcendental per inner activation), two LayerNorms (about 8 * L * E each) and the soft
 * scaled-dot attention of every head (at_attention_flops, causal or not). Pure. */
double at_transformer_flops(const at_transformer *t, int64_t len);

#endif
