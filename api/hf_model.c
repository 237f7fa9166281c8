/* Loading a Hugging Face folder: the config gives every size, from which the list of tensors the
 * architecture needs (with shapes) is made; the safetensors file must hold exactly those plus,
 * optionally, the known task-head tensors. Shapes are compared one by one with messages that
 * say where the expected sizes come from. */
#include "hf_model.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "../core/bpe.h"
#include "../core/packed.h"
#include "../core/status.h"
#include "../core/wordpiece.h"
#include "big_alloc.h"
#include "error_int.h"
#include "hf_config.h"
#include "read_file.h"
#include "safetensors.h"

#define NAME_MAX_LEN  128
#define VOCAB_MAX     ((size_t)256 << 20)
#define LAYER_TENSORS 16

struct api_hf_model {
    at_transformer core;
    at_tf_layer *layers;
    api_safetensors *file;
    at_vocab *vocab;
    const char *prefix;
    const char *dtype;
    float *packed; /* the layers' weights packed for the products (pack_layers), or NULL */
    bool has_wordpiece;
    at_wordpiece wordpiece; /* BERT, with a vocab.txt */
    at_bpe *bpe;            /* GPT-2, with vocab.json and merges.txt */
};

static void pack_layers(api_hf_model *m);

/* One tensor the checkpoint may hold: its name, exact shape, where its data goes (NULL: checked
 * but not used) and whether it must be there. */
typedef struct spec {
    char name[NAME_MAX_LEN];
    int rank;
    int64_t shape[4];
    const char *why;
    const float **dst;
    bool required;
} spec;

typedef struct spec_list {
    spec *items;
    size_t count, cap;
} spec_list;

static void add(spec_list *l, bool required, const float **dst, const char *why, int rank,
                int64_t a, int64_t b, int64_t c, int64_t d, const char *fmt, ...)
    __attribute__((format(printf, 10, 11)));

static void add(spec_list *l, bool required, const float **dst, const char *why, int rank,
                int64_t a, int64_t b, int64_t c, int64_t d, const char *fmt, ...)
{
    if (l->count == l->cap) return; /* sized exactly by the caller */
    spec *s = &l->items[l->count++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->name, sizeof s->name, fmt, ap);
    va_end(ap);
    s->rank = rank;
    s->shape[0] = a, s->shape[1] = b, s->shape[2] = c, s->shape[3] = d;
    s->why = why;
    s->dst = dst;
    s->required = required;
}

#define VEC(req, dst, why, n, ...)    add(l, req, dst, why, 1, n, 0, 0, 0, __VA_ARGS__)
#define MAT(req, dst, why, r, c, ...) add(l, req, dst, why, 2, r, c, 0, 0, __VA_ARGS__)

static void bert_specs(api_hf_model *m, spec_list *l, const char *p)
{
    at_transformer *t = &m->core;
    const int64_t V = t->vocab_size, E = t->embed_dim, I = t->inner_dim, P = t->max_positions;
    static const char *const ve = "vocab_size, hidden_size", *const e = "hidden_size",
                             *const ee = "hidden_size, hidden_size",
                             *const ie = "intermediate_size, hidden_size",
                             *const ei = "hidden_size, intermediate_size",
                             *const i = "intermediate_size";
    MAT(true, &t->word_emb, ve, V, E, "%sembeddings.word_embeddings.weight", p);
    MAT(true, &t->pos_emb, "max_position_embeddings, hidden_size", P, E,
        "%sembeddings.position_embeddings.weight", p);
    MAT(true, &t->type_emb, "type_vocab_size, hidden_size", t->type_vocab_size, E,
        "%sembeddings.token_type_embeddings.weight", p);
    VEC(true, &t->emb_ln_w, e, E, "%sembeddings.LayerNorm.weight", p);
    VEC(true, &t->emb_ln_b, e, E, "%sembeddings.LayerNorm.bias", p);
    static const char *const qkv[3] = {"query", "key", "value"};
    for (int64_t n = 0; n < t->num_layers; n++) {
        at_tf_layer *y = &m->layers[n];
        char at[64];
        snprintf(at, sizeof at, "%sencoder.layer.%lld.", p, (long long)n);
        for (int k = 0; k < 3; k++) {
            MAT(true, &y->attn.qkv_weight[k], ee, E, E, "%sattention.self.%s.weight", at, qkv[k]);
            VEC(true, &y->attn.qkv_bias[k], e, E, "%sattention.self.%s.bias", at, qkv[k]);
        }
        MAT(true, &y->attn.out_proj_weight, ee, E, E, "%sattention.output.dense.weight", at);
        VEC(true, &y->attn.out_proj_bias, e, E, "%sattention.output.dense.bias", at);
        VEC(true, &y->ln1_w, e, E, "%sattention.output.LayerNorm.weight", at);
        VEC(true, &y->ln1_b, e, E, "%sattention.output.LayerNorm.bias", at);
        MAT(true, &y->ffn_in_w, ie, I, E, "%sintermediate.dense.weight", at);
        VEC(true, &y->ffn_in_b, i, I, "%sintermediate.dense.bias", at);
        MAT(true, &y->ffn_out_w, ei, E, I, "%soutput.dense.weight", at);
        VEC(true, &y->ffn_out_b, e, E, "%soutput.dense.bias", at);
        VEC(true, &y->ln2_w, e, E, "%soutput.LayerNorm.weight", at);
        VEC(true, &y->ln2_b, e, E, "%soutput.LayerNorm.bias", at);
    }
    /* Heads of BertModel and BertFor{PreTraining,MaskedLM,NextSentencePrediction}. */
    MAT(false, NULL, ee, E, E, "%spooler.dense.weight", p);
    VEC(false, NULL, e, E, "%spooler.dense.bias", p);
    VEC(false, NULL, "vocab_size", V, "cls.predictions.bias");
    MAT(false, NULL, ee, E, E, "cls.predictions.transform.dense.weight");
    VEC(false, NULL, e, E, "cls.predictions.transform.dense.bias");
    VEC(false, NULL, e, E, "cls.predictions.transform.LayerNorm.weight");
    VEC(false, NULL, e, E, "cls.predictions.transform.LayerNorm.bias");
    MAT(false, NULL, ve, V, E, "cls.predictions.decoder.weight");
    VEC(false, NULL, "vocab_size", V, "cls.predictions.decoder.bias");
    MAT(false, NULL, "2, hidden_size", 2, E, "cls.seq_relationship.weight");
    VEC(false, NULL, "2", 2, "cls.seq_relationship.bias");
}

static void gpt2_specs(api_hf_model *m, spec_list *l, const char *p)
{
    at_transformer *t = &m->core;
    const int64_t V = t->vocab_size, E = t->embed_dim, I = t->inner_dim, P = t->max_positions;
    static const char *const e = "n_embd", *const ee = "n_embd, n_embd",
                             *const e3 = "n_embd, 3 n_embd", *const ei = "n_embd, n_inner",
                             *const ie = "n_inner, n_embd";
    MAT(true, &t->word_emb, "vocab_size, n_embd", V, E, "%swte.weight", p);
    MAT(true, &t->pos_emb, "n_positions, n_embd", P, E, "%swpe.weight", p);
    VEC(true, &t->final_ln_w, e, E, "%sln_f.weight", p);
    VEC(true, &t->final_ln_b, e, E, "%sln_f.bias", p);
    for (int64_t n = 0; n < t->num_layers; n++) {
        at_tf_layer *y = &m->layers[n];
        char at[64];
        snprintf(at, sizeof at, "%sh.%lld.", p, (long long)n);
        VEC(true, &y->ln1_w, e, E, "%sln_1.weight", at);
        VEC(true, &y->ln1_b, e, E, "%sln_1.bias", at);
        MAT(true, &y->attn.in_proj_weight, e3, E, 3 * E, "%sattn.c_attn.weight", at);
        VEC(true, &y->attn.in_proj_bias, "3 n_embd", 3 * E, "%sattn.c_attn.bias", at);
        MAT(true, &y->attn.out_proj_weight, ee, E, E, "%sattn.c_proj.weight", at);
        VEC(true, &y->attn.out_proj_bias, e, E, "%sattn.c_proj.bias", at);
        VEC(true, &y->ln2_w, e, E, "%sln_2.weight", at);
        VEC(true, &y->ln2_b, e, E, "%sln_2.bias", at);
        MAT(true, &y->ffn_in_w, ei, E, I, "%smlp.c_fc.weight", at);
        VEC(true, &y->ffn_in_b, "n_inner", I, "%smlp.c_fc.bias", at);
        MAT(true, &y->ffn_out_w, ie, I, E, "%smlp.c_proj.weight", at);
        VEC(true, &y->ffn_out_b, e, E, "%smlp.c_proj.bias", at);
        /* The causal-mask buffers older transformers versions saved. */
        add(l, false, NULL, "1, 1, n_positions, n_positions", 4, 1, 1, P, P, "%sattn.bias", at);
        add(l, false, NULL, "a scalar", 0, 0, 0, 0, 0, "%sattn.masked_bias", at);
    }
    MAT(false, NULL, "vocab_size, n_embd", V, E, "lm_head.weight"); /* GPT2LMHeadModel */
}

#undef VEC
#undef MAT

/* The name transformers reads a stored tensor as: the LayerNorm parameters of checkpoints
 * converted from TensorFlow (bert-base-uncased's) are called gamma and beta, which transformers
 * renames to weight and bias at load; so does this loader. */
static void canonical_name(const char *name, char *out, size_t len)
{
    size_t n = strlen(name);
    static const char gamma[] = "LayerNorm.gamma", beta[] = "LayerNorm.beta";
    if (n >= sizeof gamma - 1 && !strcmp(name + n - (sizeof gamma - 1), gamma))
        snprintf(out, len, "%.*sLayerNorm.weight", (int)(n - (sizeof gamma - 1)), name);
    else if (n >= sizeof beta - 1 && !strcmp(name + n - (sizeof beta - 1), beta))
        snprintf(out, len, "%.*sLayerNorm.bias", (int)(n - (sizeof beta - 1)), name);
    else
        snprintf(out, len, "%s", name);
}

/* The stored tensor for spec name `name`: itself, or its gamma/beta spelling. */
static const api_st_tensor *find_tensor(const api_safetensors *st, const char *name)
{
    const api_st_tensor *t = api_safetensors_find(st, name);
    for (size_t i = 0; !t && i < api_safetensors_count(st); i++) {
        char canon[NAME_MAX_LEN];
        const api_st_tensor *c = api_safetensors_at(st, i);
        canonical_name(c->name, canon, sizeof canon);
        if (strcmp(canon, c->name) && !strcmp(canon, name)) t = c;
    }
    return t;
}

static int check_and_bind(api_hf_model *m, spec_list *l, char *err, size_t errlen)
{
    api_safetensors *st = m->file;
    const char *path = api_safetensors_path(st);
    const char *model = m->core.arch == AT_TF_BERT ? "BERT" : "GPT-2";
    for (size_t i = 0; i < api_safetensors_count(st); i++) {
        const char *name = api_safetensors_at(st, i)->name;
        char canon[NAME_MAX_LEN];
        canonical_name(name, canon, sizeof canon);
        size_t k = 0;
        while (k < l->count && strcmp(l->items[k].name, canon))
            k++;
        if (k == l->count)
            return api_path_error(path, err, errlen, AT_EINVAL,
                                  "unexpected tensor %s: not part of a %s model with %lld layers "
                                  "and prefix \"%s\" (config.json), so the checkpoint is refused",
                                  name, model, (long long)m->core.num_layers, m->prefix);
    }
    for (size_t k = 0; k < l->count; k++) {
        const spec *s = &l->items[k];
        const api_st_tensor *t = find_tensor(st, s->name);
        char ws[96], gs[160];
        at_shape_str(s->rank, s->shape, ws, sizeof ws);
        if (!t) {
            if (!s->required) continue;
            return api_path_error(path, err, errlen, AT_EINVAL,
                                  "missing tensor %s %s (%s from config.json)", s->name, ws,
                                  s->why);
        }
        bool ok = t->rank == s->rank;
        for (int d = 0; ok && d < s->rank; d++)
            ok = t->shape[d] == s->shape[d];
        if (!ok)
            return api_path_error(path, err, errlen, AT_ESHAPE,
                                  "tensor %s: expected %s (%s from config.json), got %s", s->name,
                                  ws, s->why, at_shape_str(t->rank, t->shape, gs, sizeof gs));
        if (s->dst) {
            int rc = api_safetensors_f32(st, t, s->dst, err, errlen);
            if (rc) return rc;
        }
    }
    return AT_OK;
}

/* dir + "/" + file, malloc'd. */
static char *join(const char *dir, const char *file)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    char *out = malloc(n + strlen(file) + 2);
    if (out) sprintf(out, "%.*s/%s", (int)n, dir, file);
    return out;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* GPT-2's vocab.json {"token": id, ...} as an at_vocab: line id holds the token. */
static int read_vocab_json(api_hf_model *m, const char *path, char *err, size_t errlen)
{
    char *text = NULL, *lines = NULL;
    size_t len = 0;
    int rc = api_read_file(path, VOCAB_MAX, &text, &len, err, errlen);
    if (rc) return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const int64_t v = m->core.vocab_size;
    char **tok = NULL;
    size_t total = 0;
    if (!cJSON_IsObject(root)) {
        rc = api_path_error(path, err, errlen, AT_EPARSE, "not a JSON object");
        goto done;
    }
    if (!(tok = calloc((size_t)v, sizeof *tok))) {
        rc = api_path_error(path, err, errlen, AT_ENOMEM, "out of memory");
        goto done;
    }
    for (const cJSON *c = root->child; c; c = c->next) {
        double id = cJSON_IsNumber(c) ? c->valuedouble : -1;
        if (!(id >= 0 && id < (double)v) || id != (double)(int64_t)id || tok[(int64_t)id] ||
            strpbrk(c->string, "\r\n") || !*c->string) {
            rc = api_path_error(path, err, errlen, AT_EINVAL,
                                "token \"%.40s\": expected a unique id from 0 to %lld (vocab_size "
                                "- 1) and a non-empty token without line breaks",
                                c->string, (long long)v - 1);
            goto done;
        }
        tok[(int64_t)id] = c->string;
        total += strlen(c->string) + 1;
    }
    if (!(lines = malloc(total + (size_t)v + 1))) {
        rc = api_path_error(path, err, errlen, AT_ENOMEM, "out of memory");
        goto done;
    }
    size_t at = 0;
    int64_t last = v - 1;
    while (last > 0 && !tok[last])
        last--;
    for (int64_t i = 0; i <= last; i++) {
        size_t n = tok[i] ? strlen(tok[i]) : 0;
        memcpy(lines + at, tok[i] ? tok[i] : "", n);
        at += n;
        lines[at++] = '\n';
    }
    char msg[256];
    if ((rc = at_vocab_new(lines, at, &m->vocab, msg, sizeof msg)))
        api_path_error(path, err, errlen, rc, "%s", msg);
done:
    free(lines);
    free(tok);
    cJSON_Delete(root);
    return rc;
}

static int read_vocab_txt(api_hf_model *m, const char *path, char *err, size_t errlen)
{
    char *text = NULL, msg[256];
    size_t len = 0;
    int rc = api_read_file(path, VOCAB_MAX, &text, &len, err, errlen);
    if (rc) return rc;
    if ((rc = at_vocab_new(text, len, &m->vocab, msg, sizeof msg)))
        api_path_error(path, err, errlen, rc, "%s", msg);
    else if (at_vocab_size(m->vocab) > m->core.vocab_size)
        rc = api_path_error(path, err, errlen, AT_ESHAPE,
                            "%lld tokens, more than vocab_size %lld of config.json",
                            (long long)at_vocab_size(m->vocab), (long long)m->core.vocab_size);
    free(text);
    return rc;
}

/* tokenizer_config.json's boolean `key`, or dflt when the file or the key is absent (or
 * null). */
static int config_bool(const cJSON *root, const char *path, const char *key, bool dflt, bool *out,
                       char *err, size_t errlen)
{
    const cJSON *n = root ? cJSON_GetObjectItemCaseSensitive(root, key) : NULL;
    *out = dflt;
    if (!n || cJSON_IsNull(n)) return AT_OK;
    if (!cJSON_IsBool(n))
        return api_path_error(path, err, errlen, AT_EINVAL, "key %s: expected true or false", key);
    *out = cJSON_IsTrue(n);
    return AT_OK;
}

static int read_tokenizer(api_hf_model *m, const char *dir, char *err, size_t errlen)
{
    char msg[256], *text = NULL;
    size_t len = 0;
    int rc = AT_OK;
    if (m->core.arch == AT_TF_GPT2) {
        char *path = join(dir, "merges.txt");
        if (!path) return api_path_error(dir, err, errlen, AT_ENOMEM, "out of memory");
        if (exists(path) && !(rc = api_read_file(path, VOCAB_MAX, &text, &len, err, errlen)) &&
            (rc = at_bpe_new(m->vocab, text, len, &m->bpe, msg, sizeof msg)))
            api_path_error(path, err, errlen, rc, "%s", msg);
        free(text);
        free(path);
        return rc;
    }
    char *path = join(dir, "tokenizer_config.json");
    if (!path) return api_path_error(dir, err, errlen, AT_ENOMEM, "out of memory");
    cJSON *root = NULL;
    if (exists(path) && !(rc = api_read_file(path, VOCAB_MAX, &text, &len, err, errlen))) {
        root = cJSON_ParseWithLength(text, len);
        if (!cJSON_IsObject(root))
            rc = api_path_error(path, err, errlen, AT_EPARSE, "not a JSON object");
    }
    bool lower = true, strip = true, chinese = true;
    if (!rc) rc = config_bool(root, path, "do_lower_case", true, &lower, err, errlen);
    if (!rc) rc = config_bool(root, path, "strip_accents", lower, &strip, err, errlen);
    if (!rc) rc = config_bool(root, path, "tokenize_chinese_chars", true, &chinese, err, errlen);
    if (!rc && (rc = at_wordpiece_init(&m->wordpiece, m->vocab, lower, msg, sizeof msg))) {
        char *vocab = join(dir, "vocab.txt");
        api_path_error(vocab ? vocab : dir, err, errlen, rc, "%s (the tokenizer needs it)", msg);
        free(vocab);
    }
    if (!rc) {
        m->wordpiece.strip_accents = strip;
        m->wordpiece.chinese_chars = chinese;
        m->has_wordpiece = true;
    }
    cJSON_Delete(root);
    free(text);
    free(path);
    return rc;
}

int api_hf_model_tokenize(const api_hf_model *m, const char *text, size_t len, const char *pair,
                          size_t pair_len, at_piece **out, size_t *count, size_t *unknown,
                          const char **field, char *err, size_t errlen)
{
    *field = "text";
    *unknown = 0;
    char msg[256];
    int rc;
    if (m->has_wordpiece) {
        rc = at_wordpiece_tokenize(&m->wordpiece, text, len, pair, pair_len, out, count, unknown,
                                   msg, sizeof msg);
        /* Which of the two was malformed: the text is checked first. */
        if (rc == AT_EPARSE && pair && at_utf8_check(text, len, NULL, NULL, 0) == AT_OK)
            *field = "text_pair";
    } else if (m->bpe && !pair) {
        rc = at_bpe_tokenize(m->bpe, text, len, out, count, msg, sizeof msg);
    } else {
        snprintf(err, errlen,
                 "%s: this model's folder has no tokenizer (BERT: vocab.txt; GPT-2: vocab.json "
                 "and merges.txt); send \"ids\"",
                 pair && m->bpe ? "text_pair" : "text");
        if (pair && m->bpe) *field = "text_pair";
        return AT_EINVAL;
    }
    if (rc) snprintf(err, errlen, "%s: %s", *field, msg);
    return rc;
}

int api_hf_model_open(const char *dir, api_hf_model **out, char *err, size_t errlen)
{
    *out = NULL;
    char *config = join(dir, "config.json"), *weights = join(dir, "model.safetensors");
    char *vocab_txt = join(dir, "vocab.txt"), *vocab_json = join(dir, "vocab.json");
    api_hf_model *m = calloc(1, sizeof *m);
    spec_list l = {0};
    int rc = AT_ENOMEM;
    if (!config || !weights || !vocab_txt || !vocab_json || !m) {
        api_path_error(dir, err, errlen, rc, "out of memory");
        goto fail;
    }
    if ((rc = api_hf_config_read(config, &m->core, err, errlen))) goto fail;
    if (!exists(weights)) {
        rc = api_path_error(weights, err, errlen, AT_EIO,
                            "not found (attnd reads one model.safetensors; convert a "
                            "pytorch_model.bin or merge a sharded checkpoint first)");
        goto fail;
    }
    if ((rc = api_safetensors_open(weights, &m->file, err, errlen))) goto fail;
    at_transformer *t = &m->core;
    if (!(m->layers = calloc((size_t)t->num_layers, sizeof *m->layers))) {
        rc = api_path_error(dir, err, errlen, AT_ENOMEM, "out of memory");
        goto fail;
    }
    l.cap = (size_t)t->num_layers * LAYER_TENSORS + 32;
    if (!(l.items = calloc(l.cap, sizeof *l.items))) {
        rc = api_path_error(dir, err, errlen, AT_ENOMEM, "out of memory");
        goto fail;
    }
    if (t->arch == AT_TF_BERT) {
        m->prefix =
            api_safetensors_find(m->file, "bert.embeddings.word_embeddings.weight") ? "bert." : "";
        bert_specs(m, &l, m->prefix);
    } else {
        m->prefix = api_safetensors_find(m->file, "transformer.wte.weight") ? "transformer." : "";
        gpt2_specs(m, &l, m->prefix);
    }
    if ((rc = check_and_bind(m, &l, err, errlen))) goto fail;
    for (int64_t n = 0; n < t->num_layers; n++) {
        m->layers[n].attn.embed_dim = t->embed_dim;
        m->layers[n].attn.num_heads = t->num_heads;
        m->layers[n].attn.conv1d = t->conv1d;
    }
    t->layers = m->layers;
    pack_layers(m);
    char msg[256];
    if ((rc = at_transformer_check(t, msg, sizeof msg))) {
        api_path_error(config, err, errlen, rc, "%s", msg);
        goto fail;
    }
    const char *first = t->arch == AT_TF_BERT ? "embeddings.word_embeddings.weight" : "wte.weight";
    char name[NAME_MAX_LEN];
    snprintf(name, sizeof name, "%s%s", m->prefix, first);
    m->dtype = api_st_dtype_name(api_safetensors_find(m->file, name)->dtype);
    if (t->arch == AT_TF_BERT && exists(vocab_txt))
        rc = read_vocab_txt(m, vocab_txt, err, errlen);
    else if (t->arch == AT_TF_GPT2 && exists(vocab_json))
        rc = read_vocab_json(m, vocab_json, err, errlen);
    if (rc) goto fail;
    if (m->vocab && (rc = read_tokenizer(m, dir, err, errlen))) goto fail;
    *out = m;
    m = NULL;
fail:
    api_hf_model_free(m);
    free(l.items);
    free(config);
    free(weights);
    free(vocab_txt);
    free(vocab_json);
    return rc;
}

/* Floats one layer's packed weights take: q | k | v with its bias, the output projection and the
 * two feed-forward matrices. */
static size_t packed_layer_floats(const at_transformer *t)
{
    const int64_t e = t->embed_dim, i = t->inner_dim;
    return at_packed_floats(3 * e, e) + (size_t)(3 * e) + at_packed_floats(e, e) +
           at_packed_floats(i, e) + at_packed_floats(e, i);
}

/* Packs every layer's dense weights once (core/packed.h), so that requests stream them in the
 * order the products read them instead of repacking them per call; the file's pages of the
 * originals then leave resident memory. F16 and BF16 checkpoints, whose converted copies would
 * stay beside the packed ones, and a load without memory for it, run unpacked. */
static void pack_layers(api_hf_model *m)
{
    const at_transformer *t = &m->core;
    const int64_t e = t->embed_dim, in = t->inner_dim;
    const size_t per_layer = packed_layer_floats(t);
    const at_tf_layer *first = &m->layers[0];
    if (!api_safetensors_mapped(m->file, first->ffn_in_w, (size_t)(in * e) * sizeof(float))) return;
    if ((size_t)t->num_layers > SIZE_MAX / sizeof(float) / per_layer) return;
    float *p = api_big_alloc((size_t)t->num_layers * per_layer * sizeof(float), 64);
    if (!p) return;
    m->packed = p;
    const bool conv = t->conv1d;
    for (int64_t n = 0; n < t->num_layers; n++) {
        at_tf_layer *y = &m->layers[n];
        at_mha_weights *a = &y->attn;
        float *qkv = p;
        if (conv) { /* c_attn [E, 3E] input-major, its bias [3E] */
            at_pack_weights(a->in_proj_weight, 3 * e, e, true, qkv);
        } else {
            /* query, key and value [E, E] stacked are q | k | v's [3E, E] */
            float *stacked = malloc((size_t)(3 * e * e) * sizeof(float));
            if (!stacked) {
                free(m->packed), m->packed = NULL;
                for (int64_t j = 0; j < n; j++) {
                    m->layers[j].attn.packed_qkv = m->layers[j].attn.packed_qkv_bias = NULL;
                    m->layers[j].attn.packed_out = NULL;
                    m->layers[j].ffn_in_packed = m->layers[j].ffn_out_packed = NULL;
                }
                return;
            }
            for (int k = 0; k < 3; k++)
                memcpy(stacked + k * e * e, a->qkv_weight[k], (size_t)(e * e) * sizeof(float));
            at_pack_weights(stacked, 3 * e, e, false, qkv);
            free(stacked);
        }
        p += at_packed_floats(3 * e, e);
        float *bias = p;
        for (int k = 0; k < 3; k++) {
            const float *b =
                conv ? (a->in_proj_bias ? a->in_proj_bias + k * e : NULL) : a->qkv_bias[k];
            if (b)
                memcpy(bias + k * e, b, (size_t)e * sizeof(float));
            else
                memset(bias + k * e, 0, (size_t)e * sizeof(float));
        }
        p += 3 * e;
        float *out = p;
        at_pack_weights(a->out_proj_weight, e, e, conv, out);
        p += at_packed_floats(e, e);
        float *up = p;
        at_pack_weights(y->ffn_in_w, in, e, conv, up);
        p += at_packed_floats(in, e);
        float *down = p;
        at_pack_weights(y->ffn_out_w, e, in, conv, down);
        p += at_packed_floats(e, in);
        a->packed_qkv = qkv, a->packed_qkv_bias = bias, a->packed_out = out;
        y->ffn_in_packed = up, y->ffn_out_packed = down;
        const size_t ee = (size_t)(e * e) * sizeof(float), ie = (size_t)(in * e) * sizeof(float);
        if (conv) {
            api_safetensors_release(m->file, a->in_proj_weight, 3 * ee);
        } else {
            for (int k = 0; k < 3; k++)
                api_safetensors_release(m->file, a->qkv_weight[k], ee);
        }
        api_safetensors_release(m->file, a->out_proj_weight, ee);
        api_safetensors_release(m->file, y->ffn_in_w, ie);
        api_safetensors_release(m->file, y->ffn_out_w, ie);
    }
}

void api_hf_model_free(api_hf_model *m)
{
    if (!m) return;
    api_safetensors_close(m->file);
    at_bpe_free(m->bpe);
    at_vocab_free(m->vocab);
    free(m->packed);
    free(m->layers);
    free(m);
}

const at_transformer *api_hf_model_core(const api_hf_model *m)
{
    return &m->core;
}

const char *api_hf_model_type(const api_hf_model *m)
{
    return m->core.arch == AT_TF_BERT ? "bert" : "gpt2";
}

const char *api_hf_model_dtype(const api_hf_model *m)
{
    return m->dtype;
}

const at_vocab *api_hf_model_vocab(const api_hf_model *m)
{
    return m->vocab;
}

const char *api_hf_model_prefix(const api_hf_model *m)
{
    return m->prefix;
}
