/* The JSON wire format of the model endpoints. A POST /v1/models/{name}/attention body holds the
 * sequence as "text", "tokens" or "ids", an optional "source" object in one of the same forms,
 * and the attention options of /v1/attention (read by json_request.c). Decoding scans counts and
 * sizes first, lets api_model_prepare judge them and make the arena, then copies the strings
 * and ids into it. Ids of hashing models are 64-bit and travel as decimal strings. */
#include "json_model.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../encoded_source.h"
#include "../float_format.h"
#include "../json_number.h"
#include "../json_scan.h"
#include "../json_tensor.h"
#include "../json_write.h"
#include "../model_request.h"
#include "../source_store.h"
#include "json_request.h"
#include "json_transformer.h"

#define EXAMPLE "{\"text\": \"欢迎 来 北京\"}"

/* The fields of the body: the sequence's three forms, the source (inline or stored), then the
 * shared options. */
enum field {
    F_TEXT,
    F_TOKENS,
    F_IDS,
    F_SOURCE,
    F_SOURCE_ID,
    F_OPTIONS,
    F_COUNT = F_OPTIONS + API_OPT_COUNT
};

static const char *const field_names[F_COUNT] = {"text",
                                                 "tokens",
                                                 "ids",
                                                 "source",
                                                 "source_id",
#define OPTION_NAME(name, str) str,
                                                 API_JSON_OPTIONS(OPTION_NAME)
#undef OPTION_NAME
};

/* The members of "source": the first three fields, in the order of api_seq_form. */
#define SOURCE_MEMBERS 3

/* The UTF-8 of a JSON string ends at its first NUL, so a string holding U+0000 (raw, or written
 * \u0000) would reach the tokenizer cut short. Refused instead: no text needs it. */
static int refuse_nul(const char *body, size_t len, api_error *err)
{
    const char *nul = memchr(body, '\0', len);
    if (nul)
        return api_error_set(err, API_ERR_INVALID_JSON, "",
                             "byte %zu of the body is NUL, which JSON does not allow",
                             (size_t)(nul - body));
    for (size_t i = 0; i + 6 <= len; i++) {
        if (body[i] != '\\' || body[i + 1] != 'u' || memcmp(body + i + 2, "0000", 4) != 0) continue;
        size_t slashes = 0; /* an even number before the 'u' are escaped backslashes */
        while (slashes <= i && body[i - slashes] == '\\')
            slashes++;
        if (slashes % 2)
            return api_error_set(err, API_ERR_INVALID_VALUE, "",
                                 "\\u0000 at byte %zu: strings may not hold U+0000", i);
    }
    return 0;
}

/* ---- scanning: counts and sizes ---- */

/* Exactly one of f[0..3) (text, tokens, ids); `where` is "" for the body or "source". */
static int pick_form(const cJSON *const *f, const char *where, api_seq_form *form, api_error *err)
{
    int n = 0, first = -1, second = -1;
    for (int i = 0; i < SOURCE_MEMBERS; i++)
        if (f[i]) {
            if (n++ == 0)
                first = i;
            else if (second < 0)
                second = i;
        }
    if (n == 0 && !*where)
        return api_error_set(err, API_ERR_MISSING_FIELD, "text",
                             "missing field 'text': send the sequence as \"text\" (a string the "
                             "model's tokenizer splits), \"tokens\" (an array of strings) or "
                             "\"ids\" (an array of token ids)");
    if (n == 0)
        return api_error_set(err, API_ERR_MISSING_FIELD, "source",
                             "source: expected one of {\"text\": \"...\"}, {\"tokens\": [...]} or "
                             "{\"ids\": [...]}, got an empty object");
    if (n > 1)
        return api_error_set(err, API_ERR_INVALID_VALUE, *where ? where : field_names[second],
                             "%s%ssend the sequence in one form: \"%s\" or \"%s\", not both", where,
                             *where ? ": " : "", field_names[first], field_names[second]);
    *form = (api_seq_form)first;
    return 0;
}

/* "text" or "source.text" into buf. */
static const char *path(const char *where, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", where, *where ? "." : "", name);
    return buf;
}

static int scan_text(const cJSON *node, const char *name, const char *field, const at_vocab *vocab,
                     api_seq_spec *s, api_error *err)
{
    if (!cJSON_IsString(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, field, "%s: expected a string, got %s",
                             name, api_json_type_name(node));
    char msg[sizeof err->message - 64];
    size_t count = 0;
    s->bytes = strlen(node->valuestring);
    if (at_tokenize_vocab(node->valuestring, s->bytes, vocab, NULL, 0, &count, msg, sizeof msg))
        return api_error_set(err, API_ERR_INVALID_VALUE, field, "%s: %s", name, msg);
    s->count = (int64_t)count;
    return 0;
}

static int scan_tokens(const cJSON *node, const char *name, const char *field, api_seq_spec *s,
                       api_error *err)
{
    if (!cJSON_IsArray(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, field,
                             "%s: expected an array of strings, got %s", name,
                             api_json_type_name(node));
    char msg[sizeof err->message - 96];
    int64_t i = 0;
    for (const cJSON *c = node->child; c; c = c->next, i++) {
        if (!cJSON_IsString(c))
            return api_error_set(err, API_ERR_INVALID_TYPE, field,
                                 "%s[%lld]: expected a string, got %s", name, (long long)i,
                                 api_json_type_name(c));
        size_t n = strlen(c->valuestring);
        if (n == 0)
            return api_error_set(err, API_ERR_INVALID_VALUE, field,
                                 "%s[%lld]: a token cannot be empty", name, (long long)i);
        if (at_utf8_check(c->valuestring, n, NULL, msg, sizeof msg))
            return api_error_set(err, API_ERR_INVALID_VALUE, field, "%s[%lld]: %s", name,
                                 (long long)i, msg);
        s->bytes += n;
    }
    s->count = i;
    return 0;
}

static int scan_ids(const cJSON *node, const char *name, const char *field, api_seq_spec *s,
                    api_error *err)
{
    if (!cJSON_IsArray(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, field,
                             "%s: expected an array of token ids, got %s", name,
                             api_json_type_name(node));
    s->count = cJSON_GetArraySize(node);
    return 0;
}

/* The sequence held by f[0..3) of the object `where` ("" for the body, "source"). */
static int scan_seq(const cJSON *const *f, const char *where, const at_vocab *vocab,
                    api_seq_spec *s, api_error *err)
{
    int rc = pick_form(f, where, &s->form, err);
    if (rc) return rc;
    char name[32];
    const char *field = api_seq_field(s->form, *where != '\0');
    path(where, field_names[s->form], name, sizeof name);
    const cJSON *node = f[s->form];
    if (s->form == API_SEQ_TEXT) return scan_text(node, name, field, vocab, s, err);
    if (s->form == API_SEQ_TOKENS) return scan_tokens(node, name, field, s, err);
    return scan_ids(node, name, field, s, err);
}

/* ---- filling the arena ---- */

/* A decimal string of 1 to 20 digits up to 2^64 - 1. */
static bool parse_decimal(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s) return false;
    for (; *s; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static int read_ids(const cJSON *node, const char *name, const char *field, uint64_t *ids,
                    api_error *err)
{
    static const char want[] = "a token id: an integer up to 2^53, or a decimal string such as "
                               "\"18446744073709551615\" for any 64-bit id";
    char at[80];
    int64_t i = 0;
    for (const cJSON *c = node->child; c; c = c->next, i++) {
        snprintf(at, sizeof at, "%s[%lld]", name, (long long)i);
        if (cJSON_IsString(c)) {
            if (!parse_decimal(c->valuestring, &ids[i]))
                return api_error_set(err, API_ERR_INVALID_VALUE, field,
                                     "%s: expected %s, got \"%.40s\"", at, want, c->valuestring);
            continue;
        }
        int64_t v;
        int rc = api_json_read_int(c, at, field, want, 0, API_JSON_EXACT_INT, &v, err);
        if (rc) return rc;
        ids[i] = (uint64_t)v;
    }
    return 0;
}

/* Copies the sequence's text or tokens into the arena (and splits a text there), or reads its
 * ids. */
static int fill_seq(const cJSON *node, const char *where, const at_vocab *vocab, api_seq *s,
                    api_error *err)
{
    char name[32];
    const char *field = api_seq_field(s->form, *where != '\0');
    path(where, field_names[s->form], name, sizeof name);
    if (s->form == API_SEQ_IDS) return read_ids(node, name, field, s->ids, err);
    if (s->form == API_SEQ_TEXT) {
        size_t n = strlen(node->valuestring), count = 0;
        char msg[sizeof err->message];
        memcpy(s->bytes, node->valuestring, n);
        /* Already validated by the scan: the same bytes give the same count. */
        if (at_tokenize_vocab(s->bytes, n, vocab, s->tokens, (size_t)s->len, &count, msg,
                              sizeof msg) ||
            count != (size_t)s->len)
            return api_error_set(err, API_ERR_INTERNAL, field, "%s: tokenizing again failed", name);
        return 0;
    }
    size_t at = 0;
    int64_t i = 0;
    for (const cJSON *c = node->child; c; c = c->next, i++) {
        size_t n = strlen(c->valuestring);
        memcpy(s->bytes + at, c->valuestring, n);
        s->tokens[i] = (at_token){s->bytes + at, n};
        at += n;
    }
    return 0;
}

/* Parses the body, building only the fields of field_names: a sequence of tokens or ids of at
 * most as many items as the element limit allows embeddings for, each option small. */
static int64_t items_for(const api_model *model, const api_limits *limits)
{
    const at_model *core = api_model_core(model);
    if (limits && limits->max_elements > 0 && core && core->mha.embed_dim > 0)
        return limits->max_elements / core->mha.embed_dim + 1;
    return INT64_MAX;
}

void api_v1_model_source_schema(int64_t items, api_json_member out[SOURCE_MEMBERS + 1])
{
    static const char *const paths[SOURCE_MEMBERS] = {"source.text", "source.tokens", "source.ids"};
    out[0] = (api_json_member){"source", API_JSON_OBJECT, 0};
    out[1] = (api_json_member){paths[0], API_JSON_VALUE, -1};
    out[2] = (api_json_member){paths[1], API_JSON_LIST, items};
    out[3] = (api_json_member){paths[2], API_JSON_LIST, items};
}

static int parse_model_body(const char *body, size_t len, const api_model *model,
                            const api_limits *limits, cJSON **root, api_error *err)
{
    int64_t items = items_for(model, limits);
    api_json_member schema[F_COUNT + SOURCE_MEMBERS + 1];
    int n = 0;
    for (int f = 0; f < F_COUNT; f++) {
        if (f == F_SOURCE) continue; /* below, with its members */
        api_json_kind kind = f == F_TOKENS || f == F_IDS ? API_JSON_LIST : API_JSON_VALUE;
        int64_t max = kind == API_JSON_LIST ? items : f == F_TEXT ? -1 : 0;
        schema[n++] = (api_json_member){field_names[f], kind, max};
    }
    api_v1_model_source_schema(items, schema + n);
    n += SOURCE_MEMBERS + 1;
    schema[n] = (api_json_member){NULL, API_JSON_VALUE, 0};
    return api_json_parse_checked(body, len, EXAMPLE, schema, 0, root, err);
}

int api_v1_scan_model_source(const cJSON *node, const at_vocab *vocab,
                             const cJSON *members[SOURCE_MEMBERS], api_seq_spec *spec,
                             api_error *err)
{
    if (!cJSON_IsObject(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "source",
                             "source: expected an object {\"text\": \"...\"}, {\"tokens\": "
                             "[...]} or {\"ids\": [...]} (the sequence attended to), got %s",
                             api_json_type_name(node));
    int rc =
        api_json_collect_members(node, "source", field_names, SOURCE_MEMBERS, members, NULL, err);
    return rc ? rc : scan_seq(members, "source", vocab, spec, err);
}

int api_v1_fill_model_source(const cJSON *const members[SOURCE_MEMBERS], const at_vocab *vocab,
                             api_seq *s, api_error *err)
{
    return fill_seq(members[s->form], "source", vocab, s, err);
}

/* "source_id" in a model body: takes a reference to the stored source (released by the caller
 * on a later failure, by the request once it exists) after checking that it is this model's. */
static int use_stored_source(const cJSON *const *f, const api_model *model,
                             api_source_store *sources, api_model_spec *spec, api_error *err)
{
    const cJSON *node = f[F_SOURCE_ID];
    if (f[F_SOURCE])
        return api_error_set(err, API_ERR_INVALID_VALUE, "source_id",
                             "source_id: send either \"source\" (the sequence itself) or "
                             "\"source_id\" (a source stored with PUT /v1/sources/{id}), not "
                             "both");
    if (!cJSON_IsString(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "source_id",
                             "source_id: expected a string (the id of a PUT /v1/sources/{id} "
                             "with {\"model\", \"source\"}), got %s",
                             api_json_type_name(node));
    const api_source *src;
    int rc = api_encoded_source_acquire(sources, node->valuestring, model, &src, err);
    if (rc) return rc;
    spec->has_source = true;
    spec->source = (api_seq_spec){.form = src->encoded->seq.form, .count = src->encoded->seq.len};
    spec->stored = src;
    spec->stored_in = sources;
    return 0;
}

int api_v1_decode_model_attention(const char *body, size_t len, const api_model *model,
                                  const api_limits *limits, api_model_request **out, api_error *err)
{
    return api_v1_decode_model_attention_sources(body, len, model, limits, NULL, out, err);
}

int api_v1_decode_model_attention_sources(const char *body, size_t len, const api_model *model,
                                          const api_limits *limits, api_source_store *sources,
                                          api_model_request **out, api_error *err)
{
    *out = NULL;
    cJSON *root = NULL;
    api_model_request *req = NULL;
    const cJSON *f[F_COUNT], *src[SOURCE_MEMBERS] = {0};
    int index[F_COUNT];
    api_model_spec spec;
    memset(&spec, 0, sizeof spec);

    int rc = body && len ? refuse_nul(body, len, err) : 0;
    if (!rc && api_model_hf(model)) /* a BERT or GPT-2 folder: json_transformer.c */
        return api_json_decode_tf(body, len, model, limits, out, err);
    if (!rc) rc = parse_model_body(body, len, model, limits, &root, err);
    if (!rc) rc = api_json_collect_members(root, "", field_names, F_COUNT, f, index, err);
    if (!rc) {
        int seed_index = f[F_OPTIONS + API_OPT_SEED] ? index[F_OPTIONS + API_OPT_SEED] : -1;
        rc = api_json_read_options(&f[F_OPTIONS], seed_index, body, len, &spec.opts, err);
    }
    const at_vocab *vocab = api_model_core(model)->vocab;
    if (!rc) rc = scan_seq(f, "", vocab, &spec.seq, err);
    if (!rc && f[F_SOURCE_ID]) {
        rc = use_stored_source(f, model, sources, &spec, err);
    } else if (!rc && f[F_SOURCE]) {
        spec.has_source = true;
        rc = api_v1_scan_model_source(f[F_SOURCE], vocab, src, &spec.source, err);
    }
    if (!rc) rc = api_model_prepare(model, &spec, limits, &req, err);
    if (!rc) rc = fill_seq(f[spec.seq.form], "", vocab, &req->seq, err);
    if (!rc && spec.has_source && !spec.stored)
        rc = api_v1_fill_model_source(src, vocab, &req->source, err);
    if (!rc) rc = api_model_request_resolve(req, err);
    cJSON_Delete(root);
    if (rc) {
        if (req)
            api_model_request_free(req); /* releases a stored source */
        else if (spec.stored)
            api_source_store_release(spec.stored_in, spec.stored);
        return rc;
    }
    *out = req;
    return 0;
}

/* ---- encoding ---- */

/* The tokens of a sequence: as the tokenizer or the client gave them; for ids, the vocabulary's
 * tokens, or null for a hashing model (a hash cannot be read back). */
static void write_tokens(api_buf *out, const at_model *m, const api_seq *s)
{
    if (s->form == API_SEQ_IDS && !m->vocab) {
        api_buf_puts(out, "null");
        return;
    }
    api_buf_append(out, "[", 1);
    for (int64_t i = 0; i < s->len; i++) {
        if (i) api_buf_append(out, ",", 1);
        if (s->form != API_SEQ_IDS) {
            api_json_write_string(out, s->tokens[i].ptr, s->tokens[i].len);
        } else {
            size_t n = 0;
            const char *t = at_vocab_token(m->vocab, (int64_t)s->ids[i], &n);
            api_json_write_string(out, t ? t : "", t ? n : 0);
        }
    }
    api_buf_append(out, "]", 1);
}

/* Ids: numbers for vocabulary models (they fit an int32), decimal strings for hashing models,
 * whose 64-bit ids JSON numbers (doubles) would round. */
static void write_ids(api_buf *out, const at_model *m, const api_seq *s)
{
    const char *fmt = m->vocab ? "%llu" : "\"%llu\"";
    api_buf_append(out, "[", 1);
    for (int64_t i = 0; i < s->len; i++) {
        if (i) api_buf_append(out, ",", 1);
        api_buf_printf(out, fmt, (unsigned long long)s->ids[i]);
    }
    api_buf_append(out, "]", 1);
}

int api_v1_encode_model_attention(const api_model_request *req, api_buf *out, api_error *err)
{
    if (req && req->tf) return api_json_encode_tf(req, out, err);
    if (!req || !req->computed)
        return api_error_set(err, API_ERR_INTERNAL, "", "the request has not been computed");
    const at_model *m = api_model_core(req->model);
    const api_attention_spec *o = &req->spec.opts;
    const bool cross = req->source.len > 0;

    api_buf_puts(out, "{\"tokens\":");
    write_tokens(out, m, &req->seq);
    api_buf_puts(out, ",\"ids\":");
    write_ids(out, m, &req->seq);
    if (cross) {
        api_buf_puts(out, ",\"source_tokens\":");
        write_tokens(out, m, &req->source);
        api_buf_puts(out, ",\"source_ids\":");
        write_ids(out, m, &req->source);
    }
    if (req->spec.opts.return_context) {
        api_buf_puts(out, ",\"context\":");
        api_json_tensor_write_f32(out, req->out.context, 2, req->context_shape.ne);
    }
    if (req->opts.need_weights) {
        api_buf_puts(out, ",\"weights\":");
        api_json_tensor_write_f32(out, req->out.weights, req->weights_shape.rank,
                                  req->weights_shape.ne);
    }

    api_buf_puts(out, ",\"meta\":{\"model\":");
    api_json_write_string(out, api_model_name(req->model), strlen(api_model_name(req->model)));
    api_buf_printf(out, ",\"attention\":\"%s\",\"length\":%lld", cross ? "cross" : "self",
                   (long long)req->seq.len);
    if (cross) api_buf_printf(out, ",\"source_length\":%lld", (long long)req->source.len);
    api_buf_printf(out, ",\"embed_dim\":%lld,\"num_heads\":%lld,\"context_shape\":",
                   (long long)m->mha.embed_dim, (long long)m->mha.num_heads);
    api_json_write_shape(out, &req->context_shape);
    if (req->opts.need_weights) {
        api_buf_puts(out, ",\"weights_shape\":");
        api_json_write_shape(out, &req->weights_shape);
    }
    /* The scale of the per-head scores: the default of scaled_dot is 1/sqrt(head_dim). */
    at_attention_desc d = req->opts;
    d.query.ne[3] = m->mha.embed_dim / m->mha.num_heads;
    api_json_write_options(out, o, at_attention_scale(&d));
    if (m->vocab) {
        api_buf_printf(out, ",\"unknown_tokens\":%zu", req->seq.unknown);
        if (cross) api_buf_printf(out, ",\"source_unknown_tokens\":%zu", req->source.unknown);
    }
    api_buf_puts(out, ",\"compute_ms\":");
    api_json_write_fixed3(out, req->compute_seconds * 1e3);
    api_buf_puts(out, "}}\n");
    if (out->oom)
        return api_error_set(err, API_ERR_INTERNAL, "", "out of memory encoding the response");
    return 0;
}

/* Appends the printed cJSON tree and a newline, then deletes the tree. */
static int append_tree(api_buf *out, cJSON *tree)
{
    char *text = tree ? cJSON_PrintUnformatted(tree) : NULL;
    cJSON_Delete(tree);
    if (!text) return -1;
    api_buf_puts(out, text);
    api_buf_append(out, "\n", 1);
    cJSON_free(text);
    return out->oom ? -1 : 0;
}

int api_v1_encode_models(const api_model_registry *models, api_buf *out)
{
    cJSON *root = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(root, "models");
    if (!list) {
        cJSON_Delete(root);
        return -1;
    }
    for (size_t i = 0; i < api_model_registry_count(models); i++) {
        cJSON *m = api_model_to_json(api_model_registry_at(models, i));
        if (!m || !cJSON_AddItemToArray(list, m)) {
            cJSON_Delete(m);
            cJSON_Delete(root);
            return -1;
        }
    }
    return append_tree(out, root);
}

int api_v1_encode_model(const api_model *model, api_buf *out)
{
    return append_tree(out, api_model_to_json(model));
}
