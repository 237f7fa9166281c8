/* A Hugging Face config.json of a BERT or GPT-2 model, read and checked: the model type, every
 * size, the activation, the LayerNorm epsilon and the attention switches that change results.
 * Keys that do not change the forward pass (architectures, torch_dtype, ...) are ignored; keys
 * that would (a decoder BERT, relative positions, cross-attention) are refused. */
#ifndef API_HF_CONFIG_H
#define API_HF_CONFIG_H

#include <stddef.h>

#include "../core/transformer.h"

#define API_HF_CONFIG_MAX_BYTES ((size_t)1 << 20)

/* Reads `path` into the size fields, arch, act, eps, conv1d, causal, scale_attn and
 * scale_inverse of *t (weights are left NULL). BERT: vocab_size, hidden_size,
 * num_hidden_layers, num_attention_heads, intermediate_size, max_position_embeddings,
 * type_vocab_size (integers >= 1, required), hidden_act (default "gelu"), layer_norm_eps
 * (default 1e-12); position_embedding_type "absolute" only; is_decoder and add_cross_attention
 * false. GPT-2: vocab_size, n_positions, n_embd, n_layer, n_head (required), n_inner (null:
 * 4 n_embd), activation_function (default "gelu_new"), layer_norm_epsilon (default 1e-5),
 * scale_attn_weights (default true), scale_attn_by_inverse_layer_idx (default false),
 * add_cross_attention false. The heads must divide the hidden size. Returns AT_OK, or AT_EIO,
 * AT_EPARSE, AT_EINVAL (with "<path>: key num_attention_heads: 5 does not divide hidden_size
 * 32") or AT_ENOMEM. */
int api_hf_config_read(const char *path, at_transformer *t, char *err, size_t errlen);

#endif
