/* Loading models: a safetensors file is opened and validated (api/safetensors.c), its tensor
 * names and shapes are checked against one multi-head attention layer, its metadata parsed,
 * its vocabulary read, and an at_model assembled over the mapped (or converted) weights. */
#include "model_registry.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../core/status.h"
#include "error_int.h"
#include "hf_model.h"
#include "safetensors.h"

struct api_model {
    char name[API_MODEL_NAME_MAX + 1];
    char *source, *vocab_path; /* NULL for the built-in model */
    const char *dtype;
    at_model core;
    api_safetensors *file; /* owns the weights of a loaded model */
    at_vocab *vocab;
    float *storage; /* the built-in model's weights */
    time_t loaded_at;
    uint64_t generation; /* unique among the models this process made (api_model_generation) */
    atomic_int refs;     /* registries holding the model (api_model_registry_share) */
    api_hf_model *hf;    /* a Hugging Face folder's model, else NULL */
};

struct api_model_registry {
    api_model **models;
    size_t count;
};

static const char *const known_tensors[] = {
    "embedding.weight", "in_proj_weight",  "in_proj_bias",  "out_proj.weight",
    "out_proj.bias",    "additive.weight", "additive.bias", "additive.v",
};
#define N_REQUIRED 5 /* the first five */
#define TENSOR_LIST                                                                                \
    "embedding.weight [V, E], in_proj_weight [3E, E], in_proj_bias [3E], out_proj.weight [E, E], " \
    "out_proj.bias [E], and optionally additive.weight [da, 2E/H], additive.bias [da], "           \
    "additive.v [da]"

/* The generations handed out so far. */
static atomic_uint_fast64_t generations;

static uint64_t next_generation(void)
{
    return (uint64_t)atomic_fetch_add(&generations, 1) + 1;
}

static void model_free(api_model *m)
{
    if (!m) return;
    if (atomic_fetch_sub(&m->refs, 1) > 1) return; /* another registry still holds it */
    at_positions_free(m->core.positions);
    api_safetensors_close(m->file);
    api_hf_model_free(m->hf);
    at_vocab_free(m->vocab);
    free(m->storage);
    free(m->source);
    free(m->vocab_path);
    free(m);
}

/* ---- the registry ---- */

static int add_model(api_model_registry *r, api_model *m)
{
    /* The shared position table of a token model; without one (out of memory) each request
     * computes its positions. */
    at_model *c = &m->core;
    if (!m->hf && c->positional == AT_POSITIONAL_SINUSOIDAL && !c->positions)
        c->positions = at_positions_new(c->mha.embed_dim, c->max_len);
    api_model **grown = realloc(r->models, (r->count + 1) * sizeof *grown);
    if (!grown) return AT_ENOMEM;
    r->models = grown;
    r->models[r->count++] = m;
    return AT_OK;
}

api_model_registry *api_model_registry_new(void)
{
    api_model_registry *r = calloc(1, sizeof *r);
    api_model *m = calloc(1, sizeof *m);
    if (!r || !m) goto fail;
    atomic_init(&m->refs, 1);
    m->loaded_at = time(NULL);
    m->generation = next_generation();
    if (!(m->storage = malloc(at_model_default_floats() * sizeof(float)))) goto fail;
    at_model_init_default(&m->core, m->storage);
    snprintf(m->name, sizeof m->name, "%s", API_MODEL_DEFAULT);
    m->dtype = "F32";
    if (add_model(r, m) != AT_OK) goto fail;
    return r;
fail:
    model_free(m);
    free(r);
    return NULL;
}

void api_model_registry_free(api_model_registry *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->count; i++)
        model_free(r->models[i]);
    free(r->models);
    free(r);
}

api_model_registry *api_model_registry_new_empty(void)
{
    return calloc(1, sizeof(api_model_registry));
}

int api_model_registry_share(api_model_registry *r, const api_model *m)
{
    if (api_model_registry_find(r, m->name)) return AT_EINVAL;
    api_model *shared = (api_model *)m; /* only its reference count changes */
    atomic_fetch_add(&shared->refs, 1);
    int rc = add_model(r, shared);
    if (rc != AT_OK) atomic_fetch_sub(&shared->refs, 1);
    return rc;
}

const api_model *api_model_registry_find(const api_model_registry *r, const char *name)
{
    for (size_t i = 0; i < r->count; i++)
        if (!strcmp(r->models[i]->name, name)) return r->models[i];
    return NULL;
}

size_t api_model_registry_count(const api_model_registry *r)
{
    return r->count;
}

const api_model *api_model_registry_at(const api_model_registry *r, size_t i)
{
    return i < r->count ? r->models[i] : NULL;
}

/* ---- checking a file ---- */

/* Tensor `name` must have exactly the sizes want[0..rank); `why` explains them. */
static int expect_shape(const api_safetensors *st, const char *name, int rank, const int64_t *want,
                        const char *why, char *err, size_t errlen)
{
    const api_st_tensor *t = api_safetensors_find(st, name);
    bool ok = t->rank == rank;
    for (int i = 0; ok && i < rank; i++)
        ok = t->shape[i] == want[i];
    if (ok) return AT_OK;
    char ws[96], gs[160];
    at_shape_str(rank, want, ws, sizeof ws);
    at_shape_str(t->rank, t->shape, gs, sizeof gs);
    return api_path_error(api_safetensors_path(st), err, errlen, AT_ESHAPE,
                          "tensor %s: expected %s (%s), got %s", name, ws, why, gs);
}

/* A decimal integer in 1..max, nothing else (no sign, no spaces). */
static bool parse_count(const char *s, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (!*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10) return false;
        v = v * 10 + (*s - '0');
    }
    if (v < 1) return false;
    *out = v;
    return true;
}

/* The config in "__metadata__": num_heads, positional, lowercase, max_len. */
static int read_metadata(api_model *m, const api_safetensors *st, char *err, size_t errlen)
{
    const char *path = api_safetensors_path(st), *v;
    at_model *c = &m->core;
    const int64_t e = c->mha.embed_dim;
    if (!(v = api_safetensors_metadata(st, "num_heads")))
        return api_path_error(
            path, err, errlen, AT_EINVAL,
            "metadata num_heads is missing (the number of attention heads, a divisor of "
            "the embedding dimension %lld; write it in __metadata__ as a string, e.g. "
            "\"num_heads\": \"2\")",
            (long long)e);
    if (!parse_count(v, e, &c->mha.num_heads) || e % c->mha.num_heads != 0)
        return api_path_error(
            path, err, errlen, AT_EINVAL,
            "metadata num_heads \"%.32s\" must be a positive integer that divides the "
            "embedding dimension %lld",
            v, (long long)e);
    v = api_safetensors_metadata(st, "positional");
    if (!v || !strcmp(v, "sinusoidal"))
        c->positional = AT_POSITIONAL_SINUSOIDAL;
    else if (!strcmp(v, "none"))
        c->positional = AT_POSITIONAL_NONE;
    else
        return api_path_error(path, err, errlen, AT_EINVAL,
                              "metadata positional \"%.32s\": expected \"sinusoidal\" or \"none\"",
                              v);
    v = api_safetensors_metadata(st, "lowercase");
    if (v && strcmp(v, "true") && strcmp(v, "false"))
        return api_path_error(path, err, errlen, AT_EINVAL,
                              "metadata lowercase \"%.32s\": expected \"true\" or \"false\"", v);
    c->lowercase = v && !strcmp(v, "true");
    v = api_safetensors_metadata(st, "max_len");
    if (v && !parse_count(v, INT32_MAX, &c->max_len))
        return api_path_error(path, err, errlen, AT_EINVAL,
                              "metadata max_len \"%.32s\": expected an integer from 1 to %d", v,
                              INT32_MAX);
    return AT_OK;
}

/* Names and shapes of every tensor; E from embedding.weight, H from the metadata. */
static int check_tensors(api_model *m, const api_safetensors *st, char *err, size_t errlen)
{
    const char *path = api_safetensors_path(st);
    const size_t nknown = sizeof known_tensors / sizeof known_tensors[0];
    for (size_t i = 0; i < api_safetensors_count(st); i++) {
        const char *name = api_safetensors_at(st, i)->name;
        size_t k = 0;
        while (k < nknown && strcmp(name, known_tensors[k]))
            k++;
        if (k == nknown)
            return api_path_error(path, err, errlen, AT_EINVAL,
                                  "unexpected tensor %s (a model holds " TENSOR_LIST ")", name);
    }
    for (size_t k = 0; k < N_REQUIRED; k++)
        if (!api_safetensors_find(st, known_tensors[k]))
            return api_path_error(path, err, errlen, AT_EINVAL,
                                  "missing tensor %s (a model holds " TENSOR_LIST ")",
                                  known_tensors[k]);
    const api_st_tensor *emb = api_safetensors_find(st, "embedding.weight");
    char gs[160];
    if (emb->rank != 2 || emb->shape[0] < 1 || emb->shape[1] < 1 ||
        emb->shape[0] > AT_VOCAB_MAX_SIZE || emb->shape[1] > 65536)
        return api_path_error(path, err, errlen, AT_ESHAPE,
                              "tensor embedding.weight: expected [V, E] with 1 <= V <= %lld and "
                              "1 <= E <= 65536, got %s",
                              (long long)AT_VOCAB_MAX_SIZE,
                              at_shape_str(emb->rank, emb->shape, gs, sizeof gs));
    const int64_t v = emb->shape[0], e = emb->shape[1];
    m->core.vocab_size = v;
    m->core.mha.embed_dim = e;
    char why[96];
    snprintf(why, sizeof why, "3E, E with E = %lld from embedding.weight", (long long)e);
    int rc;
    if ((rc = expect_shape(st, "in_proj_weight", 2, (int64_t[]){3 * e, e}, why, err, errlen)) ||
        (rc = expect_shape(st, "in_proj_bias", 1, (int64_t[]){3 * e}, why, err, errlen)))
        return rc;
    snprintf(why, sizeof why, "E = %lld from embedding.weight", (long long)e);
    if ((rc = expect_shape(st, "out_proj.weight", 2, (int64_t[]){e, e}, why, err, errlen)) ||
        (rc = expect_shape(st, "out_proj.bias", 1, (int64_t[]){e}, why, err, errlen)))
        return rc;
    if ((rc = read_metadata(m, st, err, errlen))) return rc;

    const api_st_tensor *aw = api_safetensors_find(st, "additive.weight");
    bool any =
        aw || api_safetensors_find(st, "additive.bias") || api_safetensors_find(st, "additive.v");
    if (!any) return AT_OK;
    const int64_t hd = e / m->core.mha.num_heads;
    if (!aw)
        return api_path_error(path, err, errlen, AT_EINVAL,
                              "additive.bias or additive.v without additive.weight [da, %lld]",
                              (long long)(2 * hd));
    if (aw->rank != 2 || aw->shape[0] < 1 || aw->shape[0] > 65536 || aw->shape[1] != 2 * hd)
        return api_path_error(
            path, err, errlen, AT_ESHAPE,
            "tensor additive.weight: expected [da, %lld] (2 * head_dim, head_dim = E / "
            "num_heads = %lld / %lld) with 1 <= da <= 65536, got %s",
            (long long)(2 * hd), (long long)e, (long long)m->core.mha.num_heads,
            at_shape_str(aw->rank, aw->shape, gs, sizeof gs));
    snprintf(why, sizeof why, "da = %lld from additive.weight", (long long)aw->shape[0]);
    if ((api_safetensors_find(st, "additive.bias") &&
         (rc = expect_shape(st, "additive.bias", 1, aw->shape, why, err, errlen))) ||
        (api_safetensors_find(st, "additive.v") &&
         (rc = expect_shape(st, "additive.v", 1, aw->shape, why, err, errlen))))
        return rc;
    return AT_OK;
}

/* The F32 data of tensor `name`, or NULL (with *rc AT_OK) when the file lacks it. */
static const float *weights(api_safetensors *st, const char *name, int *rc, char *err,
                            size_t errlen)
{
    const api_st_tensor *t = api_safetensors_find(st, name);
    const float *data = NULL;
    if (t && *rc == AT_OK) *rc = api_safetensors_f32(st, t, &data, err, errlen);
    return data;
}

/* ---- the vocabulary ---- */

/* Where the vocabulary of the model at `path` is: metadata "vocab" (relative to the model's
 * directory), else vocab.txt beside the model. malloc'd. */
static char *vocab_path_for(const char *path, const char *meta)
{
    const char *file = meta ? meta : "vocab.txt";
    const char *slash = strrchr(path, '/');
    size_t dir = !slash ? 0 : (size_t)(slash - path) + 1;
    char *out = malloc(dir + strlen(file) + 1);
    if (!out) return NULL;
    memcpy(out, path, dir);
    strcpy(out + dir, file);
    return out;
}

/* The vocabulary text[0..size) of the model `path` names (for messages), whose file, or origin,
 * `where` names: parsed, checked against the embedding table, and [UNK] looked up. */
static int set_vocab(api_model *m, const char *path, const char *where, const char *text,
                     size_t size, char *err, size_t errlen)
{
    char msg[512];
    int rc;
    if ((rc = at_vocab_new(text, size, &m->vocab, msg, sizeof msg)))
        return api_path_error(path, err, errlen, rc, "vocabulary %s: %s", where, msg);
    if (at_vocab_size(m->vocab) != m->core.vocab_size)
        return api_path_error(path, err, errlen, AT_ESHAPE,
                              "vocabulary %s has %lld tokens but embedding.weight has %lld rows",
                              where, (long long)at_vocab_size(m->vocab),
                              (long long)m->core.vocab_size);
    if ((m->core.unk_id = at_vocab_find(m->vocab, "[UNK]", 5)) < 0)
        return api_path_error(path, err, errlen, AT_EINVAL,
                              "vocabulary %s has no [UNK] token (unknown tokens need one)", where);
    m->core.vocab = m->vocab;
    return AT_OK;
}

/* Metadata "vocab" comes with the model file, which may come from anywhere: it may name a file
 * in the model's directory or below, never one elsewhere (an absolute path, a ".." component,
 * or a symbolic link that leads out). NULL when `meta` is acceptable, else why not. */
static const char *vocab_escapes(const char *meta)
{
    if (!*meta) return "is empty";
    if (meta[0] == '/') return "is an absolute path";
    for (const char *c = meta; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 2 && c[0] == '.' && c[1] == '.') return "has a '..' component";
        c += n;
        if (*c) c++;
    }
    return NULL;
}

/* True when the file `file` (opened) resolves to a place under the directory of `model`. */
static bool vocab_inside(const char *model, const char *file)
{
    char *dir_of = strdup(model);
    const char *slash = dir_of ? strrchr(dir_of, '/') : NULL;
    if (dir_of) {
        if (slash)
            dir_of[slash - dir_of + (slash == dir_of)] = '\0';
        else
            strcpy(dir_of, ".");
    }
    char *dir = dir_of ? realpath(dir_of, NULL) : NULL, *real = realpath(file, NULL);
    size_t n = dir ? strlen(dir) : 0;
    bool inside = dir && real && strncmp(real, dir, n) == 0 && (real[n] == '/' || n == 1);
    free(dir_of);
    free(dir);
    free(real);
    return inside;
}

static int read_vocab(api_model *m, const char *path, const char *meta, char *err, size_t errlen)
{
    const char *why = meta ? vocab_escapes(meta) : NULL;
    if (why)
        return api_path_error(path, err, errlen, AT_EINVAL,
                              "metadata vocab \"%.64s\" %s: it must name a file in the model's "
                              "directory, such as \"vocab.txt\"",
                              meta, why);
    if (!(m->vocab_path = vocab_path_for(path, meta)))
        return api_path_error(path, err, errlen, AT_ENOMEM, "out of memory");
    if (meta && access(m->vocab_path, F_OK) == 0 && !vocab_inside(path, m->vocab_path))
        return api_path_error(path, err, errlen, AT_EINVAL,
                              "metadata vocab \"%.64s\" leads out of the model's directory (a "
                              "symbolic link?): it must name a file in that directory",
                              meta);
    FILE *f = fopen(m->vocab_path, "rb");
    if (!f)
        return api_path_error(
            path, err, errlen, AT_EIO,
            "vocabulary %s: cannot open: %s (a vocab.txt beside the model, or the "
            "file named by metadata vocab)",
            m->vocab_path, strerror(errno));
    char *text = NULL;
    long long size = -1;
    int rc = AT_EIO;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = api_path_error(path, err, errlen, AT_EIO, "vocabulary %s: cannot read: %s",
                            m->vocab_path, strerror(errno));
        goto done;
    }
    if (size > API_VOCAB_MAX_BYTES) {
        rc = api_path_error(path, err, errlen, AT_ELIMIT,
                            "vocabulary %s: %lld bytes, over the limit of %lld", m->vocab_path,
                            size, API_VOCAB_MAX_BYTES);
        goto done;
    }
    if (!(text = malloc((size_t)size + 1))) {
        rc = api_path_error(path, err, errlen, AT_ENOMEM, "vocabulary %s: out of memory",
                            m->vocab_path);
        goto done;
    }
    if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        rc = api_path_error(path, err, errlen, AT_EIO, "vocabulary %s: short read", m->vocab_path);
        goto done;
    }
    rc = set_vocab(m, path, m->vocab_path, text, (size_t)size, err, errlen);
done:
    free(text);
    fclose(f);
    return rc;
}

/* ---- loading ---- */

static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > API_MODEL_NAME_MAX) return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* The file name without directory and ".safetensors". */
static void name_from_path(const char *path, char *out, size_t outlen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base), ext = strlen(".safetensors");
    if (n > ext && !strcmp(base + n - ext, ".safetensors")) n -= ext;
    snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), base);
}

/* The tensors of m->file checked, and the core model pointed at them. */
static int use_weights(api_model *m, char *err, size_t errlen)
{
    int rc;
    if ((rc = check_tensors(m, m->file, err, errlen))) return rc;
    at_model *c = &m->core;
    m->dtype = api_st_dtype_name(api_safetensors_find(m->file, "in_proj_weight")->dtype);
    c->embedding = weights(m->file, "embedding.weight", &rc, err, errlen);
    c->mha.in_proj_weight = weights(m->file, "in_proj_weight", &rc, err, errlen);
    c->mha.in_proj_bias = weights(m->file, "in_proj_bias", &rc, err, errlen);
    c->mha.out_proj_weight = weights(m->file, "out_proj.weight", &rc, err, errlen);
    c->mha.out_proj_bias = weights(m->file, "out_proj.bias", &rc, err, errlen);
    const api_st_tensor *aw = api_safetensors_find(m->file, "additive.weight");
    if (aw) {
        void *w = (void *)weights(m->file, "additive.weight", &rc, err, errlen);
        c->additive.weight = at_tensor_make(AT_F32, 2, aw->shape, w);
        c->additive.bias = weights(m->file, "additive.bias", &rc, err, errlen);
        c->additive.v = weights(m->file, "additive.v", &rc, err, errlen);
        c->mha.additive = &c->additive;
    }
    return rc;
}

/* A new model called `name` (valid and free), or NULL with err set; `path` starts messages. */
static api_model *new_model(const api_model_registry *r, const char *name, const char *path,
                            int *rc, char *err, size_t errlen)
{
    *rc = AT_EINVAL;
    if (!valid_name(name)) {
        api_path_error(path, err, errlen, AT_EINVAL,
                       "model name \"%.80s\" must be 1 to %d characters of A-Z a-z 0-9 . _ -", name,
                       API_MODEL_NAME_MAX);
        return NULL;
    }
    if (api_model_registry_find(r, name)) {
        api_path_error(path, err, errlen, AT_EINVAL,
                       "model name \"%s\" is already taken; give this file another name "
                       "(NAME=PATH)",
                       name);
        return NULL;
    }
    api_model *m = calloc(1, sizeof *m);
    if (!m) {
        *rc = api_path_error(path, err, errlen, AT_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(m->name, name, strlen(name) + 1); /* valid_name: at most API_MODEL_NAME_MAX */
    atomic_init(&m->refs, 1);
    m->loaded_at = time(NULL);
    m->generation = next_generation();
    *rc = AT_OK;
    return m;
}

int api_model_registry_add_memory(api_model_registry *r, const char *name,
                                  const unsigned char *file, size_t file_len, const char *vocab,
                                  size_t vocab_len, char *err, size_t errlen)
{
    char label[API_MODEL_NAME_MAX + 16];
    snprintf(label, sizeof label, "built-in %s", name);
    int rc;
    api_model *m = new_model(r, name, label, &rc, err, errlen);
    if (!m) return rc;
    if ((rc = api_safetensors_open_memory(label, file, file_len, &m->file, err, errlen)) ||
        (rc = use_weights(m, err, errlen)) ||
        (rc = set_vocab(m, label, "vocab.txt", vocab, vocab_len, err, errlen)))
        goto fail;
    if ((rc = add_model(r, m)) != AT_OK) {
        api_path_error(label, err, errlen, rc, "out of memory");
        goto fail;
    }
    return AT_OK;
fail:
    model_free(m);
    return rc;
}

int api_model_registry_load_folder(api_model_registry *r, const char *name, const char *dir,
                                   char *err, size_t errlen)
{
    char derived[API_MODEL_NAME_MAX + 2], trimmed[1024];
    snprintf(trimmed, sizeof trimmed, "%s", dir);
    for (size_t n = strlen(trimmed); n > 1 && trimmed[n - 1] == '/'; n--)
        trimmed[n - 1] = '\0';
    if (!name) {
        name_from_path(trimmed, derived, sizeof derived);
        name = derived;
    }
    int rc;
    api_model *m = new_model(r, name, dir, &rc, err, errlen);
    if (!m) return rc;
    if (!(m->source = strdup(dir))) {
        rc = api_path_error(dir, err, errlen, AT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = api_hf_model_open(dir, &m->hf, err, errlen))) goto fail;
    m->dtype = api_hf_model_dtype(m->hf);
    if ((rc = add_model(r, m)) != AT_OK) {
        api_path_error(dir, err, errlen, rc, "out of memory");
        goto fail;
    }
    return AT_OK;
fail:
    model_free(m);
    return rc;
}

int api_model_registry_load(api_model_registry *r, const char *name, const char *path, char *err,
                            size_t errlen)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return api_model_registry_load_folder(r, name, path, err, errlen);
    char derived[API_MODEL_NAME_MAX + 2];
    if (!name) {
        name_from_path(path, derived, sizeof derived);
        name = derived;
    }
    int rc;
    api_model *m = new_model(r, name, path, &rc, err, errlen);
    if (!m) return rc;
    rc = AT_ENOMEM;
    if (!(m->source = strdup(path))) {
        api_path_error(path, err, errlen, rc, "out of memory");
        goto fail;
    }
    if ((rc = api_safetensors_open(path, &m->file, err, errlen)) ||
        (rc = use_weights(m, err, errlen)) ||
        (rc = read_vocab(m, path, api_safetensors_metadata(m->file, "vocab"), err, errlen)))
        goto fail;
    if ((rc = add_model(r, m)) != AT_OK) {
        api_path_error(path, err, errlen, rc, "out of memory");
        goto fail;
    }
    return AT_OK;
fail:
    model_free(m);
    return rc;
}

void api_model_spec_name(const char *spec, char *name, size_t namelen)
{
    const char *eq = strchr(spec, '=');
    if (eq)
        snprintf(name, namelen, "%.*s", (int)(eq - spec), spec);
    else
        name_from_path(spec, name, namelen);
}

int api_model_registry_load_spec(api_model_registry *r, const char *spec, char *err, size_t errlen)
{
    const char *eq = strchr(spec, '=');
    if (!eq) return api_model_registry_load(r, NULL, spec, err, errlen);
    char name[API_MODEL_NAME_MAX + 1];
    size_t n = (size_t)(eq - spec);
    if (n > API_MODEL_NAME_MAX)
        return api_path_error(eq + 1, err, errlen, AT_EINVAL,
                              "model name \"%.*s...\" is longer than %d characters", 16, spec,
                              API_MODEL_NAME_MAX);
    memcpy(name, spec, n);
    name[n] = '\0';
    return api_model_registry_load(r, name, eq + 1, err, errlen);
}

/* ---- describing ---- */

const char *api_model_name(const api_model *m)
{
    return m->name;
}

uint64_t api_model_generation(const api_model *m)
{
    return m->generation;
}

const at_model *api_model_core(const api_model *m)
{
    return &m->core;
}

const api_hf_model *api_model_hf(const api_model *m)
{
    return m->hf;
}

void api_model_get_info(const api_model *m, api_model_info *info)
{
    if (m->hf) {
        const at_transformer *t = api_hf_model_core(m->hf);
        const at_vocab *v = api_hf_model_vocab(m->hf);
        *info = (api_model_info){
            .name = m->name,
            .source = m->source,
            .embedding = "table",
            .positional = "learned",
            .dtype = m->dtype,
            .model_type = api_hf_model_type(m->hf),
            .num_layers = t->num_layers,
            .embed_dim = t->embed_dim,
            .num_heads = t->num_heads,
            .head_dim = t->embed_dim / t->num_heads,
            .vocab_size = v ? at_vocab_size(v) : t->vocab_size,
            .max_len = t->max_positions,
            .loaded_at = m->loaded_at,
        };
        return;
    }
    const at_model *c = &m->core;
    *info = (api_model_info){
        .name = m->name,
        .source = m->source,
        .vocab_path = m->vocab_path,
        .embedding = c->embedding ? "table" : "hashing",
        .positional = c->positional == AT_POSITIONAL_NONE ? "none" : "sinusoidal",
        .dtype = m->dtype,
        .model_type = "attention",
        .num_layers = 1,
        .embed_dim = c->mha.embed_dim,
        .num_heads = c->mha.num_heads,
        .head_dim = c->mha.embed_dim / c->mha.num_heads,
        .vocab_size = c->vocab_size,
        .max_len = c->max_len,
        .additive_dim = c->mha.additive ? c->additive.weight.ne[0] : 0,
        .lowercase = c->lowercase,
        .has_additive = c->mha.additive != NULL,
        .loaded_at = m->loaded_at,
    };
}

/* A folder's model: its architecture as the config gave it. */
static cJSON *hf_to_json(const api_model *m)
{
    const at_transformer *t = api_hf_model_core(m->hf);
    const at_vocab *v = api_hf_model_vocab(m->hf);
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    bool ok =
        cJSON_AddStringToObject(o, "name", m->name) &&
        cJSON_AddStringToObject(o, "source", m->source) &&
        cJSON_AddStringToObject(o, "type", api_hf_model_type(m->hf)) &&
        cJSON_AddNumberToObject(o, "layers", (double)t->num_layers) &&
        cJSON_AddNumberToObject(o, "embed_dim", (double)t->embed_dim) &&
        cJSON_AddNumberToObject(o, "num_heads", (double)t->num_heads) &&
        cJSON_AddNumberToObject(o, "head_dim", (double)(t->embed_dim / t->num_heads)) &&
        cJSON_AddNumberToObject(o, "intermediate_size", (double)t->inner_dim) &&
        cJSON_AddStringToObject(o, "activation", at_activation_name(t->act)) &&
        cJSON_AddNumberToObject(o, "vocab_size", (double)t->vocab_size) &&
        cJSON_AddNumberToObject(o, "max_len", (double)t->max_positions) &&
        cJSON_AddBoolToObject(o, "causal", t->causal) &&
        (v ? cJSON_AddStringToObject(o, "tokenizer", t->arch == AT_TF_BERT ? "wordpiece" : "bpe")
           : cJSON_AddNullToObject(o, "tokenizer")) &&
        cJSON_AddStringToObject(o, "dtype", m->dtype);
    char stamp[32];
    struct tm tm;
    if (!gmtime_r(&m->loaded_at, &tm) || !strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(stamp, sizeof stamp, "1970-01-01T00:00:00Z");
    ok = ok && cJSON_AddStringToObject(o, "loaded_at", stamp);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *api_model_to_json(const api_model *m)
{
    if (m->hf) return hf_to_json(m);
    api_model_info in;
    api_model_get_info(m, &in);
    cJSON *o = cJSON_CreateObject(), *add = NULL;
    if (!o) return NULL;
    bool ok = cJSON_AddStringToObject(o, "name", in.name) &&
              (in.source ? cJSON_AddStringToObject(o, "source", in.source)
                         : cJSON_AddNullToObject(o, "source")) &&
              cJSON_AddStringToObject(o, "embedding", in.embedding) &&
              (in.vocab_size ? cJSON_AddNumberToObject(o, "vocab_size", (double)in.vocab_size)
                             : cJSON_AddNullToObject(o, "vocab_size")) &&
              cJSON_AddNumberToObject(o, "embed_dim", (double)in.embed_dim) &&
              cJSON_AddNumberToObject(o, "num_heads", (double)in.num_heads) &&
              cJSON_AddNumberToObject(o, "head_dim", (double)in.head_dim) &&
              cJSON_AddStringToObject(o, "positional", in.positional) &&
              cJSON_AddBoolToObject(o, "lowercase", in.lowercase) &&
              (in.max_len ? cJSON_AddNumberToObject(o, "max_len", (double)in.max_len)
                          : cJSON_AddNullToObject(o, "max_len"));
    if (ok && in.has_additive) {
        ok = (add = cJSON_AddObjectToObject(o, "additive")) &&
             cJSON_AddNumberToObject(add, "dim", (double)in.additive_dim);
    } else if (ok) {
        ok = cJSON_AddNullToObject(o, "additive") != NULL;
    }
    char stamp[32];
    struct tm tm;
    if (!gmtime_r(&in.loaded_at, &tm) || !strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(stamp, sizeof stamp, "1970-01-01T00:00:00Z");
    ok = ok && cJSON_AddStringToObject(o, "dtype", in.dtype) &&
         cJSON_AddStringToObject(o, "loaded_at", stamp);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
