/* config.json through cJSON: each key is looked up by name, its JSON type and range checked,
 * and a message names the file and the key when anything is off. */
#include "hf_config.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../core/status.h"
#include "error_int.h"
#include "read_file.h"

#define MAX_SIZE ((int64_t)1 << 24) /* any size above this is no real checkpoint's */

typedef struct cfg {
    const char *path;
    const cJSON *root;
    char *err;
    size_t errlen;
} cfg;

/* An integer 1..MAX_SIZE; `dflt` 0 means required. */
static int get_size(const cfg *c, const char *key, int64_t dflt, int64_t *out)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (!n || cJSON_IsNull(n)) {
        if (dflt) {
            *out = dflt;
            return AT_OK;
        }
        return api_path_error(c->path, c->err, c->errlen, AT_EINVAL, "key %s is missing", key);
    }
    double v = cJSON_IsNumber(n) ? n->valuedouble : -1;
    if (!(v >= 1 && v <= (double)MAX_SIZE) || v != floor(v))
        return api_path_error(c->path, c->err, c->errlen, AT_EINVAL,
                              "key %s: expected an integer from 1 to %lld", key,
                              (long long)MAX_SIZE);
    *out = (int64_t)v;
    return AT_OK;
}

static int get_bool(const cfg *c, const char *key, bool dflt, bool *out)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (!n || cJSON_IsNull(n)) {
        *out = dflt;
        return AT_OK;
    }
    if (!cJSON_IsBool(n))
        return api_path_error(c->path, c->err, c->errlen, AT_EINVAL,
                              "key %s: expected true or false", key);
    *out = cJSON_IsTrue(n);
    return AT_OK;
}

/* A key that must be absent or `want` (false): the forward pass would differ otherwise. */
static int require_false(const cfg *c, const char *key, const char *why)
{
    bool v;
    int rc = get_bool(c, key, false, &v);
    if (rc) return rc;
    if (v)
        return api_path_error(c->path, c->err, c->errlen, AT_EINVAL,
                              "key %s: true is not supported (%s)", key, why);
    return AT_OK;
}

static int get_eps(const cfg *c, const char *key, double dflt, float *out)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(c->root, key);
    double v = dflt;
    if (n && !cJSON_IsNull(n)) {
        v = cJSON_IsNumber(n) ? n->valuedouble : -1;
        if (!(v > 0 && v < 1))
            return api_path_error(c->path, c->err, c->errlen, AT_EINVAL,
                                  "key %s: expected a number in (0, 1)", key);
    }
    *out = (float)v;
    return AT_OK;
}

static int get_act(const cfg *c, const char *key, const char *dflt, at_activation *out)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(c->root, key);
    const char *name = dflt;
    if (n && !cJSON_IsNull(n)) {
        if (!cJSON_IsString(n))
            return api_path_error(c->path, c->err, c->errlen, AT_EINVAL,
                                  "key %s: expected a string", key);
        name = n->valuestring;
    }
    if (at_activation_parse(name, out))
        return api_path_error(c->path, c->err, c->errlen, AT_EINVAL,
                              "key %s: \"%.40s\" is not supported (gelu, gelu_new, "
                              "gelu_pytorch_tanh or relu)",
                              key, name);
    return AT_OK;
}

static int read_bert(const cfg *c, at_transformer *t)
{
    int rc;
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(c->root, "position_embedding_type");
    if (pos && !cJSON_IsNull(pos) &&
        !(cJSON_IsString(pos) && !strcmp(pos->valuestring, "absolute")))
        return api_path_error(c->path, c->err, c->errlen, AT_EINVAL,
                              "key position_embedding_type: only \"absolute\" is supported");
    if ((rc = get_size(c, "vocab_size", 0, &t->vocab_size)) ||
        (rc = get_size(c, "hidden_size", 0, &t->embed_dim)) ||
        (rc = get_size(c, "num_hidden_layers", 0, &t->num_layers)) ||
        (rc = get_size(c, "num_attention_heads", 0, &t->num_heads)) ||
        (rc = get_size(c, "intermediate_size", 0, &t->inner_dim)) ||
        (rc = get_size(c, "max_position_embeddings", 0, &t->max_positions)) ||
        (rc = get_size(c, "type_vocab_size", 0, &t->type_vocab_size)) ||
        (rc = get_act(c, "hidden_act", "gelu", &t->act)) ||
        (rc = get_eps(c, "layer_norm_eps", 1e-12, &t->eps)) ||
        (rc = require_false(c, "is_decoder", "attnd serves BERT as an encoder")) ||
        (rc = require_false(c, "add_cross_attention", "cross-attention layers")))
        return rc;
    if (t->type_vocab_size > 256)
        return api_path_error(c->path, c->err, c->errlen, AT_EINVAL,
                              "key type_vocab_size: %lld is over 256",
                              (long long)t->type_vocab_size);
    if (t->embed_dim % t->num_heads)
        return api_path_error(c->path, c->err, c->errlen, AT_EINVAL,
                              "key num_attention_heads: %lld does not divide hidden_size %lld",
                              (long long)t->num_heads, (long long)t->embed_dim);
    t->arch = AT_TF_BERT;
    t->scale_attn = true;
    return AT_OK;
}

static int read_gpt2(const cfg *c, at_transformer *t)
{
    int rc;
    if ((rc = get_size(c, "vocab_size", 0, &t->vocab_size)) ||
        (rc = get_size(c, "n_embd", 0, &t->embed_dim)) ||
        (rc = get_size(c, "n_layer", 0, &t->num_layers)) ||
        (rc = get_size(c, "n_head", 0, &t->num_heads)) ||
        (rc = get_size(c, "n_positions", 0, &t->max_positions)) ||
        (rc = get_size(c, "n_inner", 4 * t->embed_dim, &t->inner_dim)) ||
        (rc = get_act(c, "activation_function", "gelu_new", &t->act)) ||
        (rc = get_eps(c, "layer_norm_epsilon", 1e-5, &t->eps)) ||
        (rc = get_bool(c, "scale_attn_weights", true, &t->scale_attn)) ||
        (rc = get_bool(c, "scale_attn_by_inverse_layer_idx", false, &t->scale_inverse)) ||
        (rc = require_false(c, "add_cross_attention", "cross-attention layers")))
        return rc;
    if (t->embed_dim % t->num_heads)
        return api_path_error(c->path, c->err, c->errlen, AT_EINVAL,
                              "key n_head: %lld does not divide n_embd %lld",
                              (long long)t->num_heads, (long long)t->embed_dim);
    t->arch = AT_TF_GPT2;
    t->conv1d = true;
    t->causal = true;
    return AT_OK;
}

int api_hf_config_read(const char *path, at_transformer *t, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = api_read_file(path, API_HF_CONFIG_MAX_BYTES, &text, &len, err, errlen);
    if (rc) return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return api_path_error(path, err, errlen, AT_EPARSE, "not a JSON object");
    }
    cfg c = {path, root, err, errlen};
    memset(t, 0, sizeof *t);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!cJSON_IsString(type))
        rc = api_path_error(path, err, errlen, AT_EINVAL,
                            "key model_type is missing (\"bert\" or \"gpt2\")");
    else if (!strcmp(type->valuestring, "bert"))
        rc = read_bert(&c, t);
    else if (!strcmp(type->valuestring, "gpt2"))
        rc = read_gpt2(&c, t);
    else
        rc = api_path_error(path, err, errlen, AT_EINVAL,
                            "key model_type: \"%.40s\" is not supported (\"bert\" or \"gpt2\")",
                            type->valuestring);
    cJSON_Delete(root);
    return rc;
}
