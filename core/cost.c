/* The cost model of the attention and model requests (cost.h): a sum of products of shapes,
 * in double so that no shape a client can send wraps around. */
#include "cost.h"

/* Per-element work of the selection: an exp (softmax, and the sampling's softmax) or a heap
 * step (top-k), plus the max, the sum and the rescale. */
#define SELECT_FLOPS (AT_COST_TRANSCENDENTAL + 4)

double at_attention_flops(const at_attention_desc *d)
{
    const double b = (double)d->query.ne[0], h = (double)d->query.ne[1];
    const double lq = (double)d->query.ne[2], dq = (double)d->query.ne[3];
    const double lk = (double)d->key.ne[2], dk = (double)d->key.ne[3];
    const double dv = (double)d->value.ne[3];
    const double scores = b * h * lq * lk;

    double flops = 0.0;
    if (d->score == AT_SCORE_ADDITIVE && d->additive) {
        const double da = (double)d->additive->weight.ne[0];
        /* W_q q and W_k k once per row, then v . tanh(pq + rk + bias) per score. */
        flops += 2.0 * da * b * h * (lq * dq + lk * dk);
        flops += scores * da * (3.0 + AT_COST_TRANSCENDENTAL);
    } else {
        flops += scores * 2.0 * dq;
    }
    flops += scores * SELECT_FLOPS;
    flops += scores * 2.0 * dv;
    if (d->need_weights && d->average_heads) flops += scores;
    return flops;
}

/* With `projected`, the source is embedded and projected already (at_mha_forward_projected). */
static double model_flops(const at_model *m, int64_t len, int64_t src_len,
                          const at_attention_desc *opts, bool projected)
{
    const int64_t h = m->mha.num_heads, hd = m->mha.embed_dim / (h > 0 ? h : 1);
    const double e = (double)m->mha.embed_dim, l = (double)len;
    const double s = projected ? 0.0 : (double)src_len;
    const double tokens = l + s;
    const int64_t keys = src_len ? src_len : len;

    /* Hashing embeddings: a Box-Muller draw (log, sqrt, cos) and a hash per element. */
    double per_element = m->embedding ? 1.0 : 4.0 * AT_COST_TRANSCENDENTAL;
    if (m->positional == AT_POSITIONAL_SINUSOIDAL) per_element += AT_COST_TRANSCENDENTAL;
    double flops = tokens * e * per_element;

    /* q from x; k and v from the source (x itself for self-attention); the out-projection. */
    flops += 2.0 * e * e * (l + 2.0 * (src_len ? s : l));
    flops += 2.0 * e * e * l;

    at_attention_desc d = *opts;
    d.query = (at_tensor){.dtype = AT_F32, .rank = 4, .ne = {1, h, len, hd}};
    d.key = (at_tensor){.dtype = AT_F32, .rank = 4, .ne = {1, h, keys, hd}};
    d.value = d.key;
    d.additive = opts->score == AT_SCORE_ADDITIVE ? m->mha.additive : NULL;
    return flops + at_attention_flops(&d);
}

double at_model_flops(const at_model *m, int64_t len, int64_t src_len,
                      const at_attention_desc *opts)
{
    return model_flops(m, len, src_len, opts, false);
}

double at_model_flops_projected(const at_model *m, int64_t len, int64_t src_len,
                                const at_attention_desc *opts)
{
    return model_flops(m, len, src_len, opts, true);
}

double at_transformer_flops(const at_transformer *t, int64_t len)
{
    const int64_t h = t->num_heads > 0 ? t->num_heads : 1, hd = t->embed_dim / h;
    const double l = (double)len, e = (double)t->embed_dim, inner = (double)t->inner_dim;
    const double layernorm = 8.0 * l * e;
    at_attention_desc d = {
        .query = {.dtype = AT_F32, .rank = 4, .ne = {1, h, len, hd}},
        .key = {.dtype = AT_F32, .rank = 4, .ne = {1, h, len, hd}},
        .value = {.dtype = AT_F32, .rank = 4, .ne = {1, h, len, hd}},
        .score = AT_SCORE_SCALED_DOT,
        .selection = AT_SELECT_SOFT,
    };
    double layer = 8.0 * l * e * e                                            /* q, k, v, out */
                   + 4.0 * l * e * inner + l * inner * AT_COST_TRANSCENDENTAL /* feed-forward */
                   + 2.0 * layernorm + at_attention_flops(&d);
    return 3.0 * l * e + layernorm + (double)t->num_layers * layer;
}
