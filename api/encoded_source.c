/* A model's encoded source: one allocation from the store (api_source_alloc_extra) holding the
 * per-head keys and values, then, in its extra bytes, the api_encoded_source and the sequence's
 * bytes, tokens and ids. Encoding is the first half of a cross-attention request: embeddings plus
 * positions, then the key and value projections (at_mha_project_source, the same products as
 * at_mha_forward's). */
#include "encoded_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cost.h"
#include "../core/mha.h"
#include "../core/status.h"
#include "arena.h"

/* Where each part of the extra bytes lives. */
enum part { X_HEAD, X_BYTES, X_TOKENS, X_IDS, X_COUNT };

static void layout(const api_seq_spec *spec, int64_t bytes[X_COUNT], int64_t off[X_COUNT],
                   int64_t *total)
{
    bytes[X_HEAD] = (int64_t)sizeof(api_encoded_source);
    bytes[X_BYTES] = (int64_t)spec->bytes;
    bytes[X_TOKENS] =
        spec->form == API_SEQ_IDS ? 0 : api_mul_sat(spec->count, (int64_t)sizeof(at_token));
    bytes[X_IDS] = api_mul_sat(spec->count, (int64_t)sizeof(uint64_t));
    *total = 0;
    for (int i = 0; i < X_COUNT; i++) {
        off[i] = *total;
        *total = api_add_sat(*total, api_arena_align(bytes[i]));
    }
}

static int check_limits(const at_model *m, int64_t s, const api_limits *lim, api_error *err)
{
    if (!lim) return 0;
    const int64_t e = m->mha.embed_dim;
    /* The embeddings and the projections [S, 2E] while it is encoded, and the keys and values
     * [S, 2E] it keeps. */
    int64_t total = api_mul_sat(api_mul_sat(5, s), e);
    if (lim->max_elements > 0 && total > lim->max_elements)
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "source",
                             "encoding the source needs %lld elements (embeddings, projections, "
                             "keys and values of %lld tokens), more than this server's limit of "
                             "%lld",
                             (long long)total, (long long)s, (long long)lim->max_elements);
    at_attention_desc d = {.score = AT_SCORE_SCALED_DOT};
    double flops = at_model_flops(m, 1, s, &d);
    if (lim->max_flops > 0 && flops > (double)lim->max_flops)
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "source",
                             "encoding the source needs about %.3g floating-point operations, "
                             "more than this server's limit of %.3g per request "
                             "(--max-request-flops); send a shorter source",
                             flops, (double)lim->max_flops);
    return 0;
}

int api_encoded_source_alloc(const api_model *model, const api_seq_spec *spec,
                             const api_limits *limits, api_source **out, api_error *err)
{
    *out = NULL;
    api_model_info info;
    api_model_get_info(model, &info);
    if (api_model_hf(model))
        return api_error_set(err, API_ERR_INVALID_VALUE, "model",
                             "model: \"%s\" is a %s checkpoint, whose attention is self-attention "
                             "only: it has no cross-attention to encode a source for; use a "
                             "one-layer attention model such as \"zh-en\"",
                             info.name, info.model_type);
    const at_model *m = api_model_core(model);
    int rc = api_seq_check_len(m, spec, true, err);
    if (rc) return rc;
    char msg[sizeof err->message];
    if (at_mha_check_source(&m->mha, spec->count, msg, sizeof msg) != AT_OK)
        return api_error_set(err, API_ERR_INVALID_VALUE, "source", "source: %s", msg);
    if ((rc = check_limits(m, spec->count, limits, err))) return rc;

    const int64_t h = m->mha.num_heads, hd = m->mha.embed_dim / h;
    api_shape kv = {.rank = 3, .ne = {h, spec->count, hd}};
    int64_t bytes[X_COUNT], off[X_COUNT], total;
    layout(spec, bytes, off, &total);
    if (total == INT64_MAX)
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "source", "source: it is too large");
    api_source *src = api_source_alloc_extra(&kv, &kv, 0, (size_t)total, err);
    if (!src) return api_error_http_status(err->kind);
    char *x = src->extra;
    api_encoded_source *enc = (api_encoded_source *)(x + off[X_HEAD]);
    memset(enc, 0, sizeof *enc);
    snprintf(enc->model, sizeof enc->model, "%s", info.name);
    enc->generation = api_model_generation(model);
    enc->loaded_at = info.loaded_at;
    enc->seq = (api_seq){
        .form = spec->form,
        .len = spec->count,
        .bytes = bytes[X_BYTES] ? x + off[X_BYTES] : NULL,
        .tokens = bytes[X_TOKENS] ? (at_token *)(x + off[X_TOKENS]) : NULL,
        .ids = (uint64_t *)(x + off[X_IDS]),
    };
    src->encoded = enc;
    *out = src;
    return 0;
}

api_seq *api_encoded_source_seq(api_source *src)
{
    return &((api_encoded_source *)src->encoded)->seq;
}

int api_encoded_source_resolve(api_source *src, const api_model *model, api_error *err)
{
    return api_seq_resolve(api_model_core(model), api_encoded_source_seq(src), true, err);
}

typedef struct encode_call {
    api_source *src;
    const at_model *m;
    const at_cancel *cancel;
    at_pool *pool;
    int worker;
} encode_call;

/* The workspace: x [S, E], then at_mha_project_source's. */
static size_t x_bytes(const at_model *m, int64_t s)
{
    return (size_t)api_arena_align(s * m->mha.embed_dim * (int64_t)sizeof(float));
}

static int encode_run(void *ctx, void *work)
{
    encode_call *c = ctx;
    const api_seq *seq = &c->src->encoded->seq;
    float *x = work;
    at_model_embed(c->m, seq->ids, seq->len, x);
    return at_mha_project_source(&c->m->mha, x, seq->len, c->src->key_data, c->src->value_data,
                                 c->cancel, (char *)work + x_bytes(c->m, seq->len), c->pool,
                                 c->worker);
}

int api_encoded_source_encode(api_source *src, const api_model *model, const at_cancel *cancel,
                              at_pool *pool, int worker, api_error *err)
{
    const at_model *m = api_model_core(model);
    const int64_t s = src->encoded->seq.len;
    encode_call c = {src, m, cancel, pool, worker};
    double seconds;
    size_t ws = x_bytes(m, s) + at_mha_source_workspace_size(&m->mha, s);
    return api_compute(ws, encode_run, &c, "encoding the source", &seconds, err);
}

/* "2026-11-30T01:02:03Z" */
static void stamp(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "%lld", (long long)t);
}

int api_encoded_source_check(const api_source *src, const char *id, const api_model *model,
                             api_error *err)
{
    const api_encoded_source *enc = src->encoded;
    const char *name = api_model_name(model);
    if (!enc)
        return api_error_set(err, API_ERR_INVALID_VALUE, "source_id",
                             "source_id: source '%s' holds key and value tensors, not a model's "
                             "encoded source; name it in POST /v1/attention, or store a source "
                             "for this model with PUT /v1/sources/%s and {\"model\": \"%s\", "
                             "\"source\": {...}}",
                             id, id, name);
    if (strcmp(enc->model, name) != 0)
        return api_error_set(err, API_ERR_INVALID_VALUE, "source_id",
                             "source_id: source '%s' was encoded by model '%s', not '%s'; use it "
                             "on /v1/models/%s/attention, or PUT it again with \"model\": \"%s\"",
                             id, enc->model, name, enc->model, name);
    if (enc->generation != api_model_generation(model)) {
        api_model_info info;
        api_model_get_info(model, &info);
        char then[32], now[32];
        stamp(enc->loaded_at, then, sizeof then);
        stamp(info.loaded_at, now, sizeof now);
        return api_error_set(err, API_ERR_CONFLICT, "source_id",
                             "source_id: source '%s' was encoded by model '%s' loaded at %s, "
                             "which has since been reloaded (the model serving now was loaded at "
                             "%s), so its keys and values are stale; PUT /v1/sources/%s again",
                             id, enc->model, then, now, id);
    }
    return 0;
}

int api_encoded_source_acquire(api_source_store *store, const char *id, const api_model *model,
                               const api_source **out, api_error *err)
{
    *out = NULL;
    const api_source *src;
    int rc = api_source_store_acquire_request(store, id, &src, err);
    if (rc) return rc;
    if ((rc = api_encoded_source_check(src, id, model, err))) {
        api_source_store_release(store, src);
        return rc;
    }
    *out = src;
    return 0;
}
