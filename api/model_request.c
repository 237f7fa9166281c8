/* The format-neutral model request: validation of what a codec scanned (lengths, options, the
 * model's additive parameters, the limits), the single arena holding its tokens, ids,
 * embeddings and outputs, the ids of its tokens, and running it: embeddings plus positions,
 * then the model's multi-head attention. */
#include "model_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/cost.h"
#include "../core/status.h"
#include "arena.h"
#include "encoded_source.h"
#include "request.h"
#include "source_store.h"
#include "tf_request.h"

const char *api_seq_field(api_seq_form form, bool source)
{
    if (source) return "source";
    return form == API_SEQ_TEXT ? "text" : form == API_SEQ_TOKENS ? "tokens" : "ids";
}

/* 1 <= count <= max_len. An empty sequence and one the model cannot take are the client's to
 * fix (400); the server's own limits are judged later (413). */
int api_seq_check_len(const at_model *m, const api_seq_spec *s, bool source, api_error *err)
{
    const char *field = api_seq_field(s->form, source);
    char msg[sizeof err->message];
    if (s->count < 1)
        return api_error_set(
            err, API_ERR_INVALID_VALUE, field, "%s: no tokens (%s); send at least one", field,
            s->form == API_SEQ_TEXT ? "the text is empty or blank" : "the array is empty");
    if (at_model_check_len(m, s->count, field, msg, sizeof msg) == AT_OK) return 0;
    return api_error_set(err, API_ERR_INVALID_VALUE, field, "%s", msg);
}

static int check_limits(const at_model *m, const api_model_spec *spec, const at_attention_desc *d,
                        const api_limits *lim, api_error *err)
{
    if (!lim) return 0;
    const int64_t e = m->mha.embed_dim, h = m->mha.num_heads;
    const int64_t L = spec->seq.count, S = spec->has_source ? spec->source.count : 0;
    const int64_t keys = S ? S : L;
    int64_t score = api_mul_sat(h, api_mul_sat(L, keys));
    if (d->need_weights && lim->max_score_elements > 0 && score > lim->max_score_elements)
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                             "the attention weights H*L*S = %lld*%lld*%lld = %lld elements exceed "
                             "this server's limit of %lld for returned weights; send shorter "
                             "sequences, or set \"return_weights\": false",
                             (long long)h, (long long)L, (long long)keys, (long long)score,
                             (long long)lim->max_score_elements);
    /* A stored source is embedded and projected already, and its keys and values are the
     * store's (its budget bounds them). */
    const int64_t fresh = spec->stored ? 0 : S;
    int64_t embeddings = api_mul_sat(L + fresh, e);
    int64_t projections = api_mul_sat(S ? L + 2 * fresh : 3 * L, e);
    int64_t outputs = api_mul_sat(2 * L, e); /* the heads' context, then the projected one */
    int64_t weights = !d->need_weights ? 0 : d->average_heads ? api_mul_sat(L, keys) : score;
    int64_t additive = 0;
    if (d->score == AT_SCORE_ADDITIVE) /* the key projections W_k k of every head */
        additive = api_mul_sat(api_mul_sat(h, keys), m->additive.weight.ne[0]);
    int64_t total = api_add_sat(
        api_add_sat(api_add_sat(embeddings, projections), api_add_sat(outputs, weights)), additive);
    if (lim->max_elements <= 0 || total <= lim->max_elements) {
        double flops =
            spec->stored ? at_model_flops_projected(m, L, S, d) : at_model_flops(m, L, S, d);
        if (lim->max_flops <= 0 || flops <= (double)lim->max_flops) return 0;
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                             "the request needs about %.3g floating-point operations (embeddings, "
                             "projections and H*L*S = %lld*%lld*%lld scores of head dim %lld), "
                             "more than this server's limit of %.3g per request "
                             "(--max-request-flops); send shorter sequences",
                             flops, (long long)h, (long long)L, (long long)keys, (long long)(e / h),
                             (double)lim->max_flops);
    }
    return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                         "the request needs %lld elements (embeddings %lld, projections %lld, "
                         "context per head and projected %lld, weights %lld, additive key "
                         "projections %lld) for %lld "
                         "tokens%s, more than this server's limit of %lld",
                         (long long)total, (long long)embeddings, (long long)projections,
                         (long long)outputs, (long long)weights, (long long)additive, (long long)L,
                         S ? " and its source" : "", (long long)lim->max_elements);
}

/* The per-head attention the options describe (views and additive are at_mha_forward's). */
static at_attention_desc options_desc(const api_attention_spec *o)
{
    return (at_attention_desc){
        .score = o->score,
        .selection = o->selection,
        .k = o->has_k ? o->k : 0,
        .normalize = o->normalize,
        .seed = o->seed,
        .has_scale = o->has_scale,
        .scale = o->scale,
        .causal = o->causal,
        .need_weights = o->return_weights,
        .average_heads = o->return_weights && o->average_heads,
    };
}

/* Where each buffer of a request lives in its arena. */
enum arena_part {
    P_SEQ_BYTES,
    P_SRC_BYTES,
    P_SEQ_TOKENS,
    P_SRC_TOKENS,
    P_SEQ_IDS,
    P_SRC_IDS,
    P_SEQ_X,
    P_SRC_X,
    P_CONTEXT,
    P_WEIGHTS,
    P_COUNT
};

int api_model_prepare(const api_model *model, const api_model_spec *spec, const api_limits *limits,
                      api_model_request **out, api_error *err)
{
    *out = NULL;
    const at_model *m = api_model_core(model);
    const int64_t e = m->mha.embed_dim, h = m->mha.num_heads;
    int rc;
    if ((rc = api_seq_check_len(m, &spec->seq, false, err))) return rc;
    if (spec->has_source && (rc = api_seq_check_len(m, &spec->source, true, err))) return rc;
    if ((rc = api_check_selection_options(&spec->opts, err))) return rc;
    if (spec->opts.score == AT_SCORE_ADDITIVE && !m->mha.additive)
        return api_error_set(err, API_ERR_INVALID_VALUE, "score",
                             "score: model \"%s\" has no additive score parameters (tensor "
                             "additive.weight [da, 2 * head_dim = %lld] in its file); send "
                             "\"score\": \"scaled_dot\" or \"dot\"",
                             api_model_name(model), (long long)(2 * (e / h)));
    at_attention_desc d = options_desc(&spec->opts);
    if ((rc = check_limits(m, spec, &d, limits, err))) return rc;

    const int64_t L = spec->seq.count, S = spec->has_source ? spec->source.count : 0;
    const char *field = NULL;
    char msg[sizeof err->message];
    if (at_mha_check(&m->mha, L, S, &d, &field, msg, sizeof msg) != AT_OK) {
        if (field && !strcmp(field, "len")) field = api_seq_field(spec->seq.form, false);
        if (field && !strcmp(field, "src_len")) field = "source";
        return api_error_set(err, API_ERR_INVALID_VALUE, field ? field : "", "%s", msg);
    }

    const int64_t keys = S ? S : L;
    const api_seq_spec *src = &spec->source;
    const int64_t fresh = spec->stored ? 0 : S; /* source tokens this request holds */
    int64_t f = sizeof(float);
    int64_t bytes[P_COUNT] = {
        [P_SEQ_BYTES] = (int64_t)spec->seq.bytes,
        [P_SRC_BYTES] = fresh ? (int64_t)src->bytes : 0,
        [P_SEQ_TOKENS] = spec->seq.form == API_SEQ_IDS ? 0 : api_mul_sat(L, sizeof(at_token)),
        [P_SRC_TOKENS] = !fresh || src->form == API_SEQ_IDS ? 0 : api_mul_sat(S, sizeof(at_token)),
        [P_SEQ_IDS] = api_mul_sat(L, sizeof(uint64_t)),
        [P_SRC_IDS] = api_mul_sat(fresh, sizeof(uint64_t)),
        [P_SEQ_X] = api_mul_sat(api_mul_sat(L, e), f),
        [P_SRC_X] = api_mul_sat(api_mul_sat(fresh, e), f),
        [P_CONTEXT] = api_mul_sat(api_mul_sat(L, e), f),
        [P_WEIGHTS] =
            !d.need_weights
                ? 0
                : api_mul_sat(api_mul_sat(d.average_heads ? 1 : h, api_mul_sat(L, keys)), f),
    };
    int64_t off[P_COUNT];
    size_t total;
    char *arena = api_arena_alloc(sizeof(api_model_request), bytes, off, P_COUNT, &total, err);
    if (!arena) return api_error_http_status(err->kind);
    api_model_request *req = (api_model_request *)arena;
    req->model = model;
    req->spec = *spec;
    req->opts = d;
    req->arena_bytes = total;
#define PART(type, p) (bytes[p] ? (type *)(arena + off[p]) : NULL)
    req->seq = (api_seq){.form = spec->seq.form,
                         .len = L,
                         .bytes = PART(char, P_SEQ_BYTES),
                         .tokens = PART(at_token, P_SEQ_TOKENS),
                         .ids = PART(uint64_t, P_SEQ_IDS),
                         .x = PART(float, P_SEQ_X)};
    req->source = (api_seq){.form = src->form,
                            .len = S,
                            .bytes = PART(char, P_SRC_BYTES),
                            .tokens = PART(at_token, P_SRC_TOKENS),
                            .ids = PART(uint64_t, P_SRC_IDS),
                            .x = PART(float, P_SRC_X)};
    if (spec->stored) req->source = spec->stored->encoded->seq; /* the request holds it now */
    req->out.context = PART(float, P_CONTEXT);
    req->out.weights = PART(float, P_WEIGHTS);
#undef PART
    req->context_shape = (api_shape){.rank = 2, .ne = {L, e}};
    if (d.average_heads)
        req->weights_shape = (api_shape){.rank = 2, .ne = {L, keys}};
    else
        req->weights_shape = (api_shape){.rank = 3, .ne = {h, L, keys}};
    *out = req;
    return 0;
}

int api_seq_resolve(const at_model *m, api_seq *s, bool source, api_error *err)
{
    char msg[sizeof err->message];
    const char *field = api_seq_field(s->form, source);
    if (s->form != API_SEQ_IDS) {
        if (at_model_token_ids(m, s->tokens, (size_t)s->len, s->ids, &s->unknown, msg,
                               sizeof msg) != AT_OK)
            return api_error_set(err, API_ERR_INTERNAL, "", "%s", msg);
        return 0;
    }
    if (at_model_check_ids(m, s->ids, (size_t)s->len, NULL, msg, sizeof msg) != AT_OK)
        return api_error_set(err, API_ERR_INVALID_VALUE, field, "%s%s", source ? "source." : "",
                             msg);
    return 0;
}

int api_model_request_resolve(api_model_request *req, api_error *err)
{
    const at_model *m = api_model_core(req->model);
    int rc = api_seq_resolve(m, &req->seq, false, err);
    if (!rc && req->source.len && !req->spec.stored)
        rc = api_seq_resolve(m, &req->source, true, err);
    return rc;
}

/* The output projection can overflow where the attention did not (a model with large
 * weights): such a context is refused, never sent as null. */
static bool all_finite(const float *x, int64_t n)
{
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i++)
        acc += x[i] * 0.0f; /* 0 for finite x, NaN for infinity or NaN */
    return acc == 0.0f;
}

/* The embeddings and multi-head attention of one request on the pool (api_compute_fn). */
typedef struct model_call {
    api_model_request *req;
    at_pool *pool;
    int worker;
} model_call;

static int model_forward(void *ctx, void *work)
{
    model_call *c = ctx;
    api_model_request *req = c->req;
    const at_model *m = api_model_core(req->model);
    const int64_t L = req->seq.len, S = req->source.len;
    at_model_embed_pool(m, req->seq.ids, L, req->seq.x, c->pool, c->worker);
    int rc;
    if (req->spec.stored) {
        const api_source *st = req->spec.stored;
        at_mha_kv kv = {st->key_data, st->value_data, S};
        rc = at_mha_forward_projected(&m->mha, req->seq.x, L, &kv, &req->opts, &req->out, work,
                                      c->pool, c->worker);
    } else {
        if (S) at_model_embed_pool(m, req->source.ids, S, req->source.x, c->pool, c->worker);
        rc = at_mha_forward(&m->mha, req->seq.x, L, S ? req->source.x : NULL, S, &req->opts,
                            &req->out, work, c->pool, c->worker);
    }
    if (rc == AT_OK && !all_finite(req->out.context, L * m->mha.embed_dim)) rc = AT_ERANGE;
    return rc;
}

int api_model_attention_run(api_model_request *req, at_pool *pool, int worker, api_error *err)
{
    if (!req) return api_error_set(err, API_ERR_INTERNAL, "", "no request to run");
    int st;
    if (req->tf) {
        st = api_tf_run(req->tf, pool, worker, err);
    } else {
        const at_model *m = api_model_core(req->model);
        model_call c = {req, pool, worker};
        size_t ws = req->spec.stored
                        ? at_mha_projected_workspace_size(&m->mha, req->seq.len, req->source.len,
                                                          &req->opts, at_pool_threads(pool))
                        : at_mha_workspace_size(&m->mha, req->seq.len, req->source.len, &req->opts,
                                                at_pool_threads(pool));
        st = api_compute(ws, model_forward, &c, "attention", &req->compute_seconds, err);
    }
    req->computed = st == 0;
    return st;
}

void api_model_request_free(api_model_request *req)
{
    if (req && req->spec.stored) api_source_store_release(req->spec.stored_in, req->spec.stored);
    free(req); /* the request is the start of its arena */
}

int api_model_not_found(const api_model_registry *models, const char *name, api_error *err)
{
    char list[256];
    size_t n = 0;
    list[0] = '\0';
    size_t count = api_model_registry_count(models);
    for (size_t i = 0; i < count && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                              api_model_name(api_model_registry_at(models, i)));
    if (n >= sizeof list) memcpy(list + sizeof list - 4, "...", 4);
    return api_error_set(err, API_ERR_NOT_FOUND, "",
                         "no model \"%.64s\" is loaded; the models are: %s (GET /v1/models lists "
                         "them with their configuration)",
                         name, list);
}
