/* GPT-2's input and output ends: token (wte) plus position (wpe) embeddings in, the final
 * LayerNorm ln_f out. Its blocks are pre-LN and causal; transformer_layer.c runs them. */
#include "layernorm.h"
#include "transformer.h"

void at_gpt2_embed(const at_transformer *t, const uint64_t *ids, int64_t len, float *x)
{
    const int64_t e = t->embed_dim;
    for (int64_t i = 0; i < len; i++) {
        const float *w = t->word_emb + ids[i] * e, *p = t->pos_emb + i * e;
        float *o = x + i * e;
        for (int64_t k = 0; k < e; k++)
            o[k] = w[k] + p[k];
    }
}

void at_gpt2_final(const at_transformer *t, const float *x, int64_t len, float *out)
{
    at_layernorm(x, len, t->embed_dim, t->final_ln_w, t->final_ln_b, t->eps, out);
}
