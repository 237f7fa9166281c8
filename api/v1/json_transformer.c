/* JSON for folder models: the body is parsed by json_model.c (which hands the object here when
 * the model is a BERT or GPT-2 folder), read field by field, tokenized with the checkpoint's
 * tokenizer, and validated by api_tf_prepare; the response writes the selected layers and
 * heads straight from the full per-layer weights. */
#include "json_transformer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/status.h"
#include "../../core/vocab.h"
#include "../hf_model.h"
#include "../json_number.h"
#include "../json_scan.h"
#include "../json_tensor.h"
#include "../json_write.h"
#include "../model_request.h"
#include "../tf_request.h"
#include "json_model.h"
#include "json_request.h"

enum field {
    F_TEXT,
    F_TOKENS,
    F_IDS,
    F_TEXT_PAIR,
    F_TOKEN_TYPES,
    F_LAYERS,
    F_HEADS,
    F_AVERAGE,
    F_WEIGHTS,
    F_HIDDEN,
    F_CONTEXT,
    F_COUNT
};

static const char *const names[F_COUNT] = {
    "text",           "tokens", "ids",           "text_pair",      "token_type_ids",
    "layers",         "heads",  "average_heads", "return_weights", "return_hidden_states",
    "return_context",
};

static int read_bool(const cJSON *n, const char *name, bool dflt, bool *out, api_error *err)
{
    if (!n) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsBool(n))
        return api_error_set(err, API_ERR_INVALID_TYPE, name, "%s: expected true or false, got %s",
                             name, api_json_type_name(n));
    *out = cJSON_IsTrue(n);
    return 0;
}

/* An array of 1..API_TF_MAX_LAYERS integers 0..max-1 into v (malloc'd) and *n. */
static int read_indices(const cJSON *node, const char *name, int64_t max, int64_t **v, int64_t *n,
                        api_error *err)
{
    *v = NULL;
    *n = 0;
    if (!node) return 0;
    if (!cJSON_IsArray(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, name,
                             "%s: expected an array of indices, got %s", name,
                             api_json_type_name(node));
    int64_t count = cJSON_GetArraySize(node);
    if (count < 1 || count > API_TF_MAX_LAYERS)
        return api_error_set(err, API_ERR_INVALID_VALUE, name,
                             "%s: expected 1 to %d indices (leave it out for all of them)", name,
                             API_TF_MAX_LAYERS);
    if (!(*v = malloc((size_t)count * sizeof **v)))
        return api_error_set(err, API_ERR_INTERNAL, "", "out of memory");
    int64_t i = 0;
    char at[48], want[64];
    snprintf(want, sizeof want, "an index from 0 to %lld", (long long)max);
    for (const cJSON *c = node->child; c; c = c->next, i++) {
        snprintf(at, sizeof at, "%s[%lld]", name, (long long)i);
        int rc = api_json_read_int(c, at, name, want, 0, max, &(*v)[i], err);
        if (rc) return rc;
    }
    *n = count;
    return 0;
}

/* The pieces of "tokens": vocabulary lookups ([UNK] for BERT, an error for GPT-2). */
static int read_tokens(const cJSON *node, const api_hf_model *hf, at_piece **out, int64_t *n,
                       size_t *unknown, api_error *err)
{
    const at_vocab *v = api_hf_model_vocab(hf);
    if (!cJSON_IsArray(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "tokens",
                             "tokens: expected an array of strings, got %s",
                             api_json_type_name(node));
    if (!v)
        return api_error_set(err, API_ERR_INVALID_VALUE, "tokens",
                             "tokens: this model's folder has no vocabulary; send \"ids\"");
    int64_t count = cJSON_GetArraySize(node), i = 0;
    if (!(*out = calloc((size_t)(count ? count : 1), sizeof **out)))
        return api_error_set(err, API_ERR_INTERNAL, "", "out of memory");
    int64_t unk = at_vocab_find(v, "[UNK]", 5);
    for (const cJSON *c = node->child; c; c = c->next, i++) {
        if (!cJSON_IsString(c))
            return api_error_set(err, API_ERR_INVALID_TYPE, "tokens",
                                 "tokens[%lld]: expected a string, got %s", (long long)i,
                                 api_json_type_name(c));
        int64_t id = at_vocab_find(v, c->valuestring, strlen(c->valuestring));
        if (id < 0 && (unk < 0 || api_hf_model_core(hf)->arch != AT_TF_BERT))
            return api_error_set(err, API_ERR_INVALID_VALUE, "tokens",
                                 "tokens[%lld]: \"%.40s\" is not in the vocabulary", (long long)i,
                                 c->valuestring);
        if (id < 0) {
            id = unk;
            (*unknown)++;
        }
        (*out)[i] = (at_piece){.id = (uint64_t)id, .begin = -1, .end = -1};
    }
    *n = count;
    return 0;
}

static int read_ids(const cJSON *node, int64_t vocab, at_piece **out, int64_t *n, api_error *err)
{
    if (!cJSON_IsArray(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "ids",
                             "ids: expected an array of token ids, got %s",
                             api_json_type_name(node));
    int64_t count = cJSON_GetArraySize(node), i = 0;
    if (!(*out = calloc((size_t)(count ? count : 1), sizeof **out)))
        return api_error_set(err, API_ERR_INTERNAL, "", "out of memory");
    char at[48], want[64];
    snprintf(want, sizeof want, "a token id from 0 to %lld", (long long)vocab - 1);
    for (const cJSON *c = node->child; c; c = c->next, i++) {
        int64_t id;
        snprintf(at, sizeof at, "ids[%lld]", (long long)i);
        int rc = api_json_read_int(c, at, "ids", want, 0, vocab - 1, &id, err);
        if (rc) return rc;
        (*out)[i] = (at_piece){.id = (uint64_t)id, .begin = -1, .end = -1};
    }
    *n = count;
    return 0;
}

static int read_types(const cJSON *node, at_piece *p, int64_t n, api_error *err)
{
    if (!cJSON_IsArray(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "token_type_ids",
                             "token_type_ids: expected an array of integers, got %s",
                             api_json_type_name(node));
    if (cJSON_GetArraySize(node) != n)
        return api_error_set(err, API_ERR_INVALID_VALUE, "token_type_ids",
                             "token_type_ids: %d entries for %lld tokens; send one per token",
                             cJSON_GetArraySize(node), (long long)n);
    int64_t i = 0;
    char at[48];
    for (const cJSON *c = node->child; c; c = c->next, i++) {
        int64_t v;
        snprintf(at, sizeof at, "token_type_ids[%lld]", (long long)i);
        int rc =
            api_json_read_int(c, at, "token_type_ids", "a token type (0 or 1)", 0, 255, &v, err);
        if (rc) return rc;
        p[i].type = (uint8_t)v;
    }
    return 0;
}

static int read_text(const cJSON *text, const cJSON *pair, const api_hf_model *hf, at_piece **out,
                     int64_t *n, size_t *unknown, api_error *err)
{
    if (!cJSON_IsString(text))
        return api_error_set(err, API_ERR_INVALID_TYPE, "text", "text: expected a string, got %s",
                             api_json_type_name(text));
    if (pair && !cJSON_IsString(pair))
        return api_error_set(err, API_ERR_INVALID_TYPE, "text_pair",
                             "text_pair: expected a string, got %s", api_json_type_name(pair));
    char msg[sizeof err->message - 32];
    size_t count = 0;
    const char *field = "text";
    int rc = api_hf_model_tokenize(
        hf, text->valuestring, strlen(text->valuestring), pair ? pair->valuestring : NULL,
        pair ? strlen(pair->valuestring) : 0, out, &count, unknown, &field, msg, sizeof msg);
    if (rc == AT_ENOMEM) return api_error_set(err, API_ERR_INTERNAL, "", "%s", msg);
    if (rc) return api_error_set(err, API_ERR_INVALID_VALUE, field, "%s", msg);
    *n = (int64_t)count;
    return 0;
}

int api_json_read_tf(const cJSON *root, const api_model *model, const api_limits *limits,
                     api_model_request **out, api_error *err)
{
    *out = NULL;
    const api_hf_model *hf = api_model_hf(model);
    const at_transformer *t = api_hf_model_core(hf);
    const cJSON *f[F_COUNT];
    int64_t *layers = NULL, *heads = NULL;
    at_piece *pieces = NULL;
    api_tf_spec spec = {.hidden = API_TF_HIDDEN_LAST};
    api_model_request *req = NULL;
    const char *field = "text";
    int rc = api_json_collect_members(root, "", names, F_COUNT, f, NULL, err);
    if (rc) goto done;
    int forms = !!f[F_TEXT] + !!f[F_TOKENS] + !!f[F_IDS];
    if (forms != 1) {
        rc = forms ? api_error_set(err, API_ERR_INVALID_VALUE, f[F_TEXT] ? "text" : "tokens",
                                   "send the sequence in one form: \"text\", \"tokens\" or "
                                   "\"ids\", not several")
                   : api_error_set(err, API_ERR_MISSING_FIELD, "text",
                                   "missing field 'text': send the sequence as \"text\" (a "
                                   "string the model's tokenizer splits), \"tokens\" or \"ids\"");
        goto done;
    }
    if (f[F_TEXT_PAIR] && (!f[F_TEXT] || t->arch != AT_TF_BERT)) {
        rc = api_error_set(err, API_ERR_INVALID_VALUE, "text_pair",
                           "text_pair: only with \"text\", and only for BERT models (sentence B "
                           "of a pair)");
        goto done;
    }
    if (f[F_TOKEN_TYPES] && (f[F_TEXT] || t->arch != AT_TF_BERT)) {
        rc = api_error_set(err, API_ERR_INVALID_VALUE, "token_type_ids",
                           "token_type_ids: only with \"tokens\" or \"ids\" of a BERT model (a "
                           "text's types come from text_pair)");
        goto done;
    }
    if ((rc =
             read_indices(f[F_LAYERS], "layers", t->num_layers - 1, &layers, &spec.nlayers, err)) ||
        (rc = read_indices(f[F_HEADS], "heads", t->num_heads - 1, &heads, &spec.nheads, err)) ||
        (rc = read_bool(f[F_AVERAGE], "average_heads", false, &spec.average_heads, err)) ||
        (rc = read_bool(f[F_WEIGHTS], "return_weights", true, &spec.return_weights, err)) ||
        (rc = read_bool(f[F_CONTEXT], "return_context", true, &spec.return_context, err)))
        goto done;
    spec.layers = layers, spec.heads = heads;
    if (f[F_HIDDEN]) {
        const cJSON *h = f[F_HIDDEN];
        if (cJSON_IsString(h) && !strcmp(h->valuestring, "all")) {
            spec.hidden = API_TF_HIDDEN_ALL;
        } else if (!cJSON_IsString(h) || strcmp(h->valuestring, "last")) {
            rc = api_error_set(err, API_ERR_INVALID_VALUE, "return_hidden_states",
                               "return_hidden_states: expected \"last\" or \"all\"");
            goto done;
        }
    }
    if (f[F_TEXT]) {
        rc = read_text(f[F_TEXT], f[F_TEXT_PAIR], hf, &pieces, &spec.len, &spec.unknown, err);
        spec.from_text = true;
    } else if (f[F_TOKENS]) {
        field = "tokens";
        rc = read_tokens(f[F_TOKENS], hf, &pieces, &spec.len, &spec.unknown, err);
    } else {
        field = "ids";
        rc = read_ids(f[F_IDS], t->vocab_size, &pieces, &spec.len, err);
    }
    if (!rc && f[F_TOKEN_TYPES]) rc = read_types(f[F_TOKEN_TYPES], pieces, spec.len, err);
    if (!rc) rc = api_tf_prepare(model, &spec, field, limits, &req, err);
    if (rc) goto done;
    memcpy(req->tf->pieces, pieces, (size_t)spec.len * sizeof *pieces);
    if ((rc = api_tf_resolve(req->tf, field, err))) goto done;
    *out = req;
    req = NULL;
done:
    api_model_request_free(req);
    free(pieces);
    free(layers);
    free(heads);
    return rc;
}

int api_json_decode_tf(const char *body, size_t len, const api_model *model,
                       const api_limits *limits, api_model_request **out, api_error *err)
{
    *out = NULL;
    const at_transformer *t = api_hf_model_core(api_model_hf(model));
    int64_t items = 4 * t->max_positions > API_JSON_SMALL_MAX ? 4 * t->max_positions : 0;
    api_json_member schema[F_COUNT + 1];
    for (int f = 0; f < F_COUNT; f++) {
        bool list =
            f == F_TOKENS || f == F_IDS || f == F_TOKEN_TYPES || f == F_LAYERS || f == F_HEADS;
        int64_t max = list ? (f == F_LAYERS || f == F_HEADS ? 0 : items)
                           : (f == F_TEXT || f == F_TEXT_PAIR ? -1 : 0);
        schema[f] = (api_json_member){names[f], list ? API_JSON_LIST : API_JSON_VALUE, max};
    }
    schema[F_COUNT] = (api_json_member){NULL, API_JSON_VALUE, 0};
    cJSON *root = NULL;
    int rc =
        api_json_parse_checked(body, len, "{\"text\": \"The cat sat.\"}", schema, 0, &root, err);
    if (!rc) rc = api_json_read_tf(root, model, limits, out, err);
    cJSON_Delete(root);
    return rc;
}

/* ---- encoding ---- */

/* [layers, heads, L, L] (or [layers, L, L] averaged over the selected heads). */
static void write_attentions(api_buf *out, const api_tf_request *tf)
{
    const int64_t L = tf->spec.len, H = tf->t->num_heads, ll[2] = {L, L};
    api_buf_append(out, "[", 1);
    for (int64_t i = 0; i < tf->spec.nlayers; i++) {
        const float *w = tf->layer_weights[tf->spec.layers[i]];
        if (i) api_buf_append(out, ",", 1);
        if (tf->spec.average_heads) {
            float *avg = tf->average;
            memset(avg, 0, (size_t)(L * L) * sizeof(float));
            for (int64_t h = 0; h < tf->spec.nheads; h++) {
                const float *src = w + tf->spec.heads[h] * L * L;
                for (int64_t k = 0; k < L * L; k++)
                    avg[k] += src[k];
            }
            for (int64_t k = 0; k < L * L; k++)
                avg[k] /= (float)tf->spec.nheads;
            api_json_tensor_write_f32(out, avg, 2, ll);
            continue;
        }
        api_buf_append(out, "[", 1);
        for (int64_t h = 0; h < tf->spec.nheads; h++) {
            if (h) api_buf_append(out, ",", 1);
            api_json_tensor_write_f32(out, w + tf->spec.heads[h] * L * L, 2, ll);
        }
        api_buf_append(out, "]", 1);
    }
    api_buf_append(out, "]", 1);
    (void)H;
}

int api_json_encode_tf(const api_model_request *req, api_buf *out, api_error *err)
{
    const api_tf_request *tf = req->tf;
    const api_hf_model *hf = api_model_hf(req->model);
    const at_transformer *t = tf->t;
    const at_vocab *v = api_hf_model_vocab(hf);
    const int64_t L = tf->spec.len, E = t->embed_dim, N = t->num_layers;
    const bool bert = t->arch == AT_TF_BERT;

    api_buf_puts(out, "{\"tokens\":");
    if (!v) {
        api_buf_puts(out, "null");
    } else {
        api_buf_append(out, "[", 1);
        for (int64_t i = 0; i < L; i++) {
            size_t n = 0;
            const char *s = at_vocab_token(v, (int64_t)tf->ids[i], &n);
            if (i) api_buf_append(out, ",", 1);
            if (s)
                api_json_write_string(out, s, n);
            else
                api_buf_puts(out, "null"); /* an id past the vocabulary file's last line */
        }
        api_buf_append(out, "]", 1);
    }
    api_buf_puts(out, ",\"ids\":[");
    for (int64_t i = 0; i < L; i++)
        api_buf_printf(out, i ? ",%llu" : "%llu", (unsigned long long)tf->ids[i]);
    api_buf_append(out, "]", 1);
    if (bert) {
        api_buf_puts(out, ",\"token_type_ids\":[");
        for (int64_t i = 0; i < L; i++)
            api_buf_printf(out, i ? ",%u" : "%u", tf->types[i]);
        api_buf_append(out, "]", 1);
    }
    api_buf_puts(out, ",\"offsets\":");
    if (!tf->spec.from_text) {
        api_buf_puts(out, "null");
    } else {
        api_buf_append(out, "[", 1);
        for (int64_t i = 0; i < L; i++) {
            const at_piece *p = &tf->pieces[i];
            if (i) api_buf_append(out, ",", 1);
            if (p->begin < 0)
                api_buf_puts(out, "null");
            else
                api_buf_printf(out, "[%lld,%lld]", (long long)p->begin, (long long)p->end);
        }
        api_buf_append(out, "]", 1);
    }
    int64_t ashape[4] = {tf->spec.nlayers, tf->spec.nheads, L, L}, arank = 4;
    if (tf->spec.average_heads) ashape[1] = L, ashape[2] = L, arank = 3;
    if (tf->weights) {
        api_buf_puts(out, ",\"attentions\":");
        write_attentions(out, tf);
    }
    const int64_t cshape[2] = {L, E}, hshape[3] = {N + 1, L, E};
    if (tf->spec.return_context) {
        api_buf_puts(out, ",\"context\":");
        api_json_tensor_write_f32(out, tf->hidden, 2, cshape);
    }
    if (tf->all_hidden) {
        api_buf_puts(out, ",\"hidden_states\":");
        api_json_tensor_write_f32(out, tf->all_hidden, 3, hshape);
    }
    api_buf_puts(out, ",\"meta\":{\"model\":");
    api_json_write_string(out, api_model_name(req->model), strlen(api_model_name(req->model)));
    api_buf_printf(out, ",\"type\":\"%s\",\"layers\":%lld,\"heads\":%lld,\"length\":%lld",
                   api_hf_model_type(hf), (long long)N, (long long)t->num_heads, (long long)L);
    api_buf_puts(out, ",\"selected_layers\":");
    api_json_write_ints(out, tf->spec.layers, tf->spec.nlayers);
    api_buf_puts(out, ",\"selected_heads\":");
    api_json_write_ints(out, tf->spec.heads, tf->spec.nheads);
    api_buf_printf(out, ",\"average_heads\":%s", tf->spec.average_heads ? "true" : "false");
    if (tf->weights) {
        api_buf_puts(out, ",\"attentions_shape\":");
        api_json_write_ints(out, ashape, arank);
    }
    api_buf_puts(out, ",\"context_shape\":");
    api_json_write_ints(out, cshape, 2);
    if (tf->all_hidden) {
        api_buf_puts(out, ",\"hidden_states_shape\":");
        api_json_write_ints(out, hshape, 3);
    }
    api_buf_printf(out, ",\"causal\":%s,\"unknown_tokens\":%zu,\"compute_ms\":",
                   t->causal ? "true" : "false", tf->spec.unknown);
    api_json_write_fixed3(out, tf->compute_seconds * 1e3);
    api_buf_puts(out, "}}\n");
    if (out->oom)
        return api_error_set(err, API_ERR_INTERNAL, "", "out of memory encoding the response");
    return 0;
}
