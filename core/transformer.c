/* The stack: embeddings, each layer in turn over one [L, E] buffer, the last hidden state (and,
 * when asked, every layer's) copied out. Scratch is one caller-given workspace: the running
 * hidden state, then the layers' shared scratch. */
#include "transformer.h"

#include <stdio.h>
#include <string.h>

#include "status.h"

#define WS_ALIGN 64

static size_t align_up(size_t n)
{
    return (n + WS_ALIGN - 1) / WS_ALIGN * WS_ALIGN;
}

int at_transformer_check(const at_transformer *t, char *err, size_t errlen)
{
    const char *bad = NULL;
    if (t->vocab_size < 1 || t->max_positions < 1 || t->embed_dim < 1 || t->num_heads < 1 ||
        t->inner_dim < 1 || t->num_layers < 1)
        bad = "every size must be >= 1";
    else if (t->embed_dim % t->num_heads)
        bad = "num_heads must divide embed_dim";
    else if (!t->word_emb || !t->pos_emb || !t->layers)
        bad = "the embeddings and layers are required";
    else if (t->arch == AT_TF_BERT && (t->type_vocab_size < 1 || !t->type_emb))
        bad = "BERT needs token-type embeddings";
    if (bad) {
        snprintf(err, errlen, "transformer: %s (E %lld, H %lld, I %lld, N %lld)", bad,
                 (long long)t->embed_dim, (long long)t->num_heads, (long long)t->inner_dim,
                 (long long)t->num_layers);
        return AT_EINVAL;
    }
    at_attention_desc d = {.score = AT_SCORE_SCALED_DOT, .causal = t->causal, .need_weights = true};
    for (int64_t i = 0; i < t->num_layers; i++) {
        char msg[256];
        int rc = at_mha_check(&t->layers[i].attn, t->max_positions, 0, &d, NULL, msg, sizeof msg);
        if (rc != AT_OK) {
            snprintf(err, errlen, "layer %lld: %s", (long long)i, msg);
            return rc;
        }
    }
    return AT_OK;
}

size_t at_transformer_workspace_size(const at_transformer *t, int64_t len, bool any_weights,
                                     int threads)
{
    size_t layer = at_tf_layer_workspace_size(t, len, false, threads);
    if (any_weights) {
        size_t w = at_tf_layer_workspace_size(t, len, true, threads);
        if (w > layer) layer = w;
    }
    return align_up((size_t)(len * t->embed_dim) * sizeof(float)) + align_up(layer);
}

int at_transformer_forward(const at_transformer *t, const at_tf_run *run, void *workspace,
                           at_pool *pool, int worker)
{
    const int64_t len = run->len, e = t->embed_dim;
    const size_t state = (size_t)(len * e) * sizeof(float);
    float *x = workspace;
    void *layer_ws = (char *)workspace + align_up(state);
    if (t->arch == AT_TF_BERT)
        at_bert_embed(t, run->ids, run->types, len, x);
    else
        at_gpt2_embed(t, run->ids, len, x);
    for (int64_t i = 0; i < t->num_layers; i++) {
        if (run->all_hidden) memcpy(run->all_hidden + i * len * e, x, state);
        float *w = run->weights ? run->weights[i] : NULL;
        int rc = at_tf_layer_forward(t, i, x, len, w, layer_ws, pool, worker);
        if (rc != AT_OK) return rc;
    }
    if (t->arch == AT_TF_GPT2) at_gpt2_final(t, x, len, x);
    memcpy(run->hidden, x, state);
    if (run->all_hidden) memcpy(run->all_hidden + t->num_layers * len * e, x, state);
    return AT_OK;
}
