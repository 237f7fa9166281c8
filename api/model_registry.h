/* The named token-sequence models a daemon serves: the built-in "default" (hashing embeddings,
 * no files) and models loaded from safetensors files at start-up, each with its vocabulary.
 * Built before serving, read-only afterwards: any number of threads may look models up and run
 * them at once. */
#ifndef API_MODEL_REGISTRY_H
#define API_MODEL_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../core/model.h"

#define API_MODEL_NAME_MAX  63 /* bytes in a model name */
#define API_MODEL_DEFAULT   "default"
#define API_MODEL_ZH_EN     "zh-en"
#define API_VOCAB_MAX_BYTES ((long long)256 << 20) /* largest vocab.txt read */

typedef struct api_model api_model;
typedef struct api_model_registry api_model_registry;

/* A model's configuration, for listings and messages. Strings belong to the model. */
typedef struct api_model_info {
    const char *name;
    const char *source;     /* the model file's path, or NULL for the built-in model */
    const char *vocab_path; /* the vocabulary file's path, or NULL for hashing embeddings */
    const char *embedding;  /* "table" or "hashing" */
    const char *positional; /* "sinusoidal" or "none" */
    const char *dtype;      /* stored dtype of in_proj_weight: "F32", "F16" or "BF16" */
    const char *model_type; /* "attention" (one layer), or a folder's "bert" or "gpt2" */
    int64_t num_layers;     /* 1 for the one-layer models */
    int64_t embed_dim, num_heads, head_dim;
    int64_t vocab_size;   /* rows of the embedding table; 0 for hashing */
    int64_t max_len;      /* 0: no limit of the model's own */
    int64_t additive_dim; /* da of the additive score parameters; 0 when there are none */
    bool lowercase;
    bool has_additive;
    time_t loaded_at; /* when the model was built or read from its file */
} api_model_info;

/* A registry holding the built-in model "default" (core/model.h's at_model_init_default).
 * Returns NULL when out of memory. */
api_model_registry *api_model_registry_new(void);

/* A registry with no model at all, not even "default": for building a registry anew from an
 * older one's models (api_model_registry_share) and freshly loaded ones. NULL when out of
 * memory. */
api_model_registry *api_model_registry_new_empty(void);

/* Adds `m`, a model of another registry, to r as well: the model is reference-counted and
 * freed (its file unmapped) with the last registry holding it. Returns AT_OK, AT_EINVAL when r
 * already has a model of that name, or AT_ENOMEM. Not thread-safe for r; m's count is atomic,
 * so registries sharing models may be freed on any threads. */
int api_model_registry_share(api_model_registry *r, const api_model *m);

/* The name a spec ("NAME=PATH" or "PATH") loads its model under, into name (cut to fit). */
void api_model_spec_name(const char *spec, char *name, size_t namelen);

/* Frees the registry and its hold on every model (a model no other registry shares is freed,
 * its file unmapped). NULL is a no-op. */
void api_model_registry_free(api_model_registry *r);

/* Loads the safetensors model at `path` under `name` (NULL: the file name without its
 * directory and its ".safetensors" extension). The file holds embedding.weight [V, E],
 * in_proj_weight [3E, E], in_proj_bias [3E], out_proj.weight [E, E], out_proj.bias [E] and
 * optionally additive.weight [da, 2E/H] with additive.bias [da] and additive.v [da] (each
 * optional), as F32, F16 or BF16; any other tensor is refused. Its "__metadata__" sets
 * num_heads (required, dividing E), positional ("sinusoidal", the default, or "none"),
 * lowercase ("true" or "false", the default), max_len (an integer >= 1; default none) and
 * vocab (the vocabulary's path relative to the model file's directory, which it may not
 * leave: no absolute path, no ".." component, no symbolic link out; default "vocab.txt" beside
 * it); other keys are ignored. The vocabulary (core/vocab.h's format) must have V
 * lines and contain "[UNK]". Everything is validated (api/safetensors.h for the file) and
 * every weight must be finite. Returns AT_OK, or an error status (AT_EIO, AT_EPARSE,
 * AT_ESHAPE, AT_EINVAL, AT_ELIMIT, AT_ENOMEM) with a message that starts with the path, e.g.
 * "m.safetensors: tensor in_proj_weight: expected [48, 16] (3E, E with E = 16 from
 * embedding.weight), got [49, 16]"; the registry is then unchanged. A name must be 1 to
 * API_MODEL_NAME_MAX characters of A-Z a-z 0-9 . _ - and not already taken (AT_EINVAL).
 * Not thread-safe: load every model before serving. */
int api_model_registry_load(api_model_registry *r, const char *name, const char *path, char *err,
                            size_t errlen);

/* api_model_registry_load for a model held in memory (compiled into attnd): the safetensors
 * bytes file[0..file_len) and the vocabulary text vocab[0..vocab_len), neither copied; both
 * must stay valid until api_model_registry_free. The same checks; messages start with
 * "built-in NAME". Its source and vocab_path are NULL. Same returns. */
int api_model_registry_add_memory(api_model_registry *r, const char *name,
                                  const unsigned char *file, size_t file_len, const char *vocab,
                                  size_t vocab_len, char *err, size_t errlen);

/* Adds the trained models compiled into attnd (api/builtin_models.c): "zh-en", a Chinese to
 * English word aligner made by models/zh-en/train.py, whose cross-attention links each English
 * word (query) to the Chinese characters it translates (source). Returns AT_OK, or the error
 * of api_model_registry_add_memory (a name taken: load built-ins before --model files). */
int api_model_registry_add_builtins(api_model_registry *r, char *err, size_t errlen);

/* Loads the Hugging Face folder `dir` (api/hf_model.h: config.json, model.safetensors,
 * vocab.txt or vocab.json) under `name` (NULL: the folder's name). Same returns and naming
 * rules as api_model_registry_load. api_model_registry_load calls it for a directory. */
int api_model_registry_load_folder(api_model_registry *r, const char *name, const char *dir,
                                   char *err, size_t errlen);

/* api_model_registry_load for a command-line argument "NAME=PATH" or "PATH" (the name then
 * comes from the file name). Same returns. */
int api_model_registry_load_spec(api_model_registry *r, const char *spec, char *err, size_t errlen);

/* The model called `name`, or NULL (answer 404 not_found). Thread-safe. */
const api_model *api_model_registry_find(const api_model_registry *r, const char *name);

/* Number of models, and model i (0 <= i < count): "default" first, then in load order. */
size_t api_model_registry_count(const api_model_registry *r);
const api_model *api_model_registry_at(const api_model_registry *r, size_t i);

/* The model's name, its configuration, and the core model that runs it (owned by the
 * registry, valid until api_model_registry_free). Thread-safe. */
const char *api_model_name(const api_model *m);
void api_model_get_info(const api_model *m, api_model_info *info);
const at_model *api_model_core(const api_model *m);

/* A number no other model made by this process has (1, 2, ...): a model reloaded from its file
 * is a new model with a new generation, while one a reload shares unchanged (a built-in) keeps
 * its own. What stored sources encoded by a model compare, to know whether it is still the one
 * serving under its name. Thread-safe. */
uint64_t api_model_generation(const api_model *m);

/* The Hugging Face model behind m, or NULL for a one-layer model (whose api_model_core is
 * then the one to run). Owned by the registry. Thread-safe. */
const struct api_hf_model *api_model_hf(const api_model *m);

/* The configuration as a cJSON object (the caller deletes it with cJSON_Delete), or NULL when
 * out of memory. A folder's model: {"name", "source", "type" ("bert"|"gpt2"), "layers",
 * "embed_dim", "num_heads", "head_dim", "intermediate_size", "activation", "vocab_size",
 * "max_len", "causal", "tokenizer" ("wordpiece"|"bpe"|null), "dtype"}. A one-layer model:
 * {"name", "source" (string or null), "embedding" ("table"|"hashing"),
 * "vocab_size" (int or null), "embed_dim", "num_heads", "head_dim", "positional",
 * "lowercase", "max_len" (int or null), "additive" ({"dim": da} or null), "dtype",
 * "loaded_at" (RFC 3339 UTC, e.g. "2026-11-30T01:02:03Z")}. Declared
 * with struct cJSON so that this header does not bring cJSON to the server, which includes it
 * to load models. */
struct cJSON *api_model_to_json(const api_model *m);

#endif
