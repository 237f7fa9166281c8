/* A Hugging Face model folder (config.json, model.safetensors, and the tokenizer's files) of a
 * BERT or GPT-2 checkpoint, loaded into a core at_transformer over the mapped weights. Every
 * tensor the architecture needs must be there with its exact shape; tensors of the usual task
 * heads (BERT's pooler and cls.*, GPT-2's lm_head and attention-mask buffers) are checked and
 * not used; any other tensor refuses the checkpoint. */
#ifndef API_HF_MODEL_H
#define API_HF_MODEL_H

#include <stddef.h>

#include "../core/tokenizer.h"
#include "../core/transformer.h"
#include "../core/vocab.h"

typedef struct api_hf_model api_hf_model;

/* Loads the folder `dir`: config.json (api/hf_config.h), model.safetensors (F32, F16 or BF16;
 * F32 used in place, the others converted once), and the vocabulary: vocab.txt for BERT,
 * vocab.json for GPT-2 (optional: without one, requests must send ids). Returns AT_OK and
 * *out (free with api_hf_model_free), or an error status with a message that starts with the
 * file at fault: "dir/model.safetensors: tensor encoder.layer.1.attention.self.key.weight:
 * expected [32, 32] (hidden_size, hidden_size from config.json), got [32, 16]". */
int api_hf_model_open(const char *dir, api_hf_model **out, char *err, size_t errlen);

/* Frees the model and unmaps its weights. NULL is a no-op. */
void api_hf_model_free(api_hf_model *m);

/* The core model (owned by m). */
const at_transformer *api_hf_model_core(const api_hf_model *m);

/* "bert" or "gpt2". */
const char *api_hf_model_type(const api_hf_model *m);

/* The stored dtype of the word embeddings ("F32", "F16", "BF16"). */
const char *api_hf_model_dtype(const api_hf_model *m);

/* The vocabulary (ids to tokens and back), or NULL when the folder has none. */
const at_vocab *api_hf_model_vocab(const api_hf_model *m);

/* Tokenizes `text` (and, for BERT, `pair`, which may be NULL) with the folder's tokenizer:
 * BERT's WordPiece (core/wordpiece.h; do_lower_case, strip_accents and tokenize_chinese_chars
 * from tokenizer_config.json, default true, as lower-casing, true) with [CLS] and [SEP], or
 * GPT-2's byte-level BPE (core/bpe.h; merges.txt). Returns AT_OK with a malloc'd array *out of
 * *count pieces (the caller frees it) and the [UNK] count in *unknown; or an error with a
 * message "text: ..." in err and the field at fault ("text", "text_pair") in *field: AT_EINVAL
 * when the folder has no tokenizer, AT_EPARSE for invalid UTF-8, AT_ENOMEM. Thread-safe. */
int api_hf_model_tokenize(const api_hf_model *m, const char *text, size_t len, const char *pair,
                          size_t pair_len, at_piece **out, size_t *count, size_t *unknown,
                          const char **field, char *err, size_t errlen);

/* The tensor-name prefix the checkpoint used ("", "bert." or "transformer."). */
const char *api_hf_model_prefix(const api_hf_model *m);

#endif
