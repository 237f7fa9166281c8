/* Attention over [B, H, L, d] tensors: score(q, k) -> mask -> selection (softmax, top-k or
 * sampling) -> weighted sum of values. The forward pass splits its work into (batch*head,
 * query-row block) items that the pool spreads over its workers; each item multiplies with
 * BLAS. Without weights and with soft selection, a tiled online softmax never holds Lq x Lk. */
#ifndef AT_ATTENTION_H
#define AT_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cancel.h"
#include "pool.h"
#include "tensor.h"

typedef enum at_score {
    AT_SCORE_SCALED_DOT, /* q.k * scale, scale = 1/sqrt(d) unless given */
    AT_SCORE_DOT,        /* q.k * scale, scale = 1 unless given */
    AT_SCORE_ADDITIVE,   /* v^T tanh(W [q; k] + b) * scale (Bahdanau), scale = 1 unless given */
} at_score;

typedef enum at_selection {
    AT_SELECT_SOFT,   /* softmax weights in (0, 1) summing to 1 */
    AT_SELECT_TOPK,   /* hard: the k highest scores get 1 (ties: lower key index first) */
    AT_SELECT_SAMPLE, /* hard: k distinct keys drawn without replacement from the softmax */
} at_selection;

/* Parameters of the additive score. W is split by columns into W_q = W[:, :dq] and
 * W_k = W[:, dq:], so W [q; k] = W_q q + W_k k: each is computed once per row with BLAS. */
typedef struct at_additive {
    at_tensor weight;  /* F32 rank 2 [da, dq + dk], contiguous */
    const float *bias; /* [da], or NULL for zeros */
    const float *v;    /* [da], or NULL for ones ("tanh, then sum") */
} at_additive;

/* What to compute. All tensors are rank-4 views; the api layer views rank-2 and rank-3 inputs as
 * [1, 1, L, d] and [1, H, L, d]. Every view must have innermost stride 1 (rows may be strided). */
typedef struct at_attention_desc {
    at_tensor query; /* F32 [B, H, Lq, d] */
    at_tensor key;   /* F32 [B, H, Lk, dk]: same B and H; dk == d except for the additive score */
    at_tensor value; /* F32 [B, H, Lk, dv]: same B, H and Lk as the key */
    /* Optional BOOL view [B, H, Lq, Lk] in which broadcast dimensions have stride 0; a non-zero
     * element means "query i may attend key j" (PyTorch's scaled_dot_product_attention polarity).
     * NULL means every key may be attended. Combined with `causal` by AND. */
    const at_tensor *mask;
    /* Optional [B] lengths: key j of batch entry b is masked when j >= key_lengths[b] (padding).
     * Each length is 0..Lk. Combined with mask and causal by AND. */
    const int64_t *key_lengths;
    at_score score;
    const at_additive *additive; /* required when score == AT_SCORE_ADDITIVE, else NULL */
    at_selection selection;
    int64_t k;      /* keys selected per row by TOPK and SAMPLE, >= 1 */
    bool normalize; /* TOPK/SAMPLE: selected keys weigh 1/(number selected) instead of 1 */
    uint64_t seed;  /* SAMPLE: the same seed gives the same keys on any thread count */
    bool has_scale; /* when true, `scale` replaces the score's default factor */
    float scale;
    bool causal;        /* query i may attend key j only if j <= i (top-left aligned) */
    bool need_weights;  /* write the attention weights to the output */
    bool average_heads; /* with need_weights: weights averaged over H, shape [B, Lq, Lk] */
    /* Optional: read between items and key tiles; once it holds a status the forward pass
     * skips the rest of its work and returns that status (outputs are then garbage). */
    const at_cancel *cancel;
} at_attention_desc;

/* Caller-allocated outputs, contiguous row-major. */
typedef struct at_attention_out {
    float *context; /* [B, H, Lq, dv] */
    float *weights; /* need_weights: [B, H, Lq, Lk], or [B, Lq, Lk] with average_heads; else NULL */
} at_attention_out;

/* The scale factor the forward pass will use for `d` (the score's default or the override). */
float at_attention_scale(const at_attention_desc *d);

/* Checks that the descriptor is consistent (ranks, dtypes, sizes, strides). Returns AT_OK, or
 * AT_ESHAPE / AT_EINVAL with a message naming the tensor in err ("key: expected ...") and the
 * name of the offending tensor in *field ("query", "key", "value", "mask", "scale") when field
 * is not NULL. Never asserts: the descriptor may come from a client. */
int at_attention_check(const at_attention_desc *d, const char **field, char *err, size_t errlen);

/* Bytes of scratch memory at_attention_forward needs for `d` when run on a pool of `threads`
 * workers. The caller allocates it (64-byte alignment is enough) and passes it in. */
size_t at_attention_workspace_size(const at_attention_desc *d, int threads);

/* Computes the attention described by `d` into `out`. `workspace` must hold
 * at_attention_workspace_size(d, at_pool_threads(pool)) bytes. Called on worker `worker` of
 * `pool` (or pool == NULL, worker 0, to run on the calling thread); splits the work over the
 * pool with at_pool_parallel_for. A query row whose keys are all masked gets zero weights and a
 * zero context, never NaN. Finite inputs whose scores overflow float32 get the answer computed
 * in double for the rows concerned (an even split among the keys whose scores tie at the
 * top, say), never infinity or NaN. `d` must have passed at_attention_check. Returns AT_OK;
 * AT_ERANGE when a context value is beyond float32's range even in double (top-k without
 * normalize sums k values); AT_ENOMEM; or the status of d->cancel (AT_ETIMEDOUT,
 * AT_ECANCELED) when it was cancelled before it finished, within about one item's time of the
 * request. Reentrant: inputs are only read, and nothing global is written. */
int at_attention_forward(const at_attention_desc *d, const at_attention_out *out, void *workspace,
                         at_pool *pool, int worker);

#endif
