/* BERT's input: the sum of a token's word, position and token-type embeddings, normalised by
 * embeddings.LayerNorm (dropout is off at inference). Its layers are post-LN and see the whole
 * sequence; transformer_layer.c runs them. */
#include "layernorm.h"
#include "transformer.h"

void at_bert_embed(const at_transformer *t, const uint64_t *ids, const uint8_t *types, int64_t len,
                   float *x)
{
    const int64_t e = t->embed_dim;
    for (int64_t i = 0; i < len; i++) {
        const float *w = t->word_emb + ids[i] * e, *p = t->pos_emb + i * e;
        const float *ty = t->type_emb + (types ? types[i] : 0) * e;
        float *o = x + i * e;
        for (int64_t k = 0; k < e; k++)
            o[k] = w[k] + p[k] + ty[k];
    }
    at_layernorm(x, len, e, t->emb_ln_w, t->emb_ln_b, t->eps, x);
}
