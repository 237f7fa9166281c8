/* A folder model's request: validation of the selection and the sizes, the one arena (request
 * header, transformer part, pieces, ids, outputs), the ids' check, and the forward pass that
 * writes only the selected layers' weights. */
#include "tf_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/cost.h"
#include "../core/status.h"
#include "arena.h"
#include "hf_model.h"
#include "model_request.h"
#include "shape.h"

enum part {
    P_LAYERS,
    P_HEADS,
    P_PIECES,
    P_IDS,
    P_TYPES,
    P_HIDDEN,
    P_ALL,
    P_WEIGHTS,
    P_PTRS,
    P_AVG,
    P_COUNT
};

/* Indices [n] distinct and in 0..max-1. */
static int check_indices(const int64_t *v, int64_t n, int64_t max, const char *field,
                         const char *what, api_error *err)
{
    for (int64_t i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] >= max)
            return api_error_set(err, API_ERR_INVALID_VALUE, field,
                                 "%s[%lld]: %lld is not a %s of this model (0..%lld)", field,
                                 (long long)i, (long long)v[i], what, (long long)max - 1);
        for (int64_t j = 0; j < i; j++)
            if (v[j] == v[i])
                return api_error_set(err, API_ERR_INVALID_VALUE, field,
                                     "%s[%lld]: %lld is listed twice", field, (long long)i,
                                     (long long)v[i]);
    }
    return 0;
}

int api_tf_prepare(const api_model *model, const api_tf_spec *spec, const char *field,
                   const api_limits *limits, api_model_request **out, api_error *err)
{
    *out = NULL;
    const at_transformer *t = api_hf_model_core(api_model_hf(model));
    const int64_t L = spec->len, N = t->num_layers, H = t->num_heads, E = t->embed_dim;
    if (L < 1)
        return api_error_set(err, API_ERR_INVALID_VALUE, field, "%s: no tokens; send at least one",
                             field);
    if (L > t->max_positions)
        return api_error_set(err, API_ERR_INVALID_VALUE, field,
                             "%s: %lld tokens, but model \"%s\" accepts at most %lld (its "
                             "position embeddings)",
                             field, (long long)L, api_model_name(model),
                             (long long)t->max_positions);
    int rc;
    if ((rc = check_indices(spec->layers, spec->nlayers, N, "layers", "layer", err)) ||
        (rc = check_indices(spec->heads, spec->nheads, H, "heads", "head", err)))
        return rc;
    const int64_t nl = spec->nlayers ? spec->nlayers : N, nh = spec->nheads ? spec->nheads : H;
    const bool weights = spec->return_weights;
    const int64_t score = api_mul_sat(api_mul_sat(nl, H), api_mul_sat(L, L));
    if (limits && weights && limits->max_score_elements > 0 && score > limits->max_score_elements)
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                             "the attention weights layers*H*L*L = %lld*%lld*%lld*%lld = %lld "
                             "elements exceed this server's limit of %lld for returned weights; "
                             "select fewer \"layers\", send a shorter sequence, or set "
                             "\"return_weights\": false",
                             (long long)nl, (long long)H, (long long)L, (long long)L,
                             (long long)score, (long long)limits->max_score_elements);
    const int64_t all = spec->hidden == API_TF_HIDDEN_ALL ? api_mul_sat(N + 1, L * E) : 0;
    /* What the forward pass holds besides: the state, q|k|v, attention output, feed-forward. */
    const int64_t work = api_mul_sat(L, 6 * E + t->inner_dim);
    int64_t total =
        api_add_sat(api_add_sat(api_mul_sat(L, E), all), api_add_sat(weights ? score : 0, work));
    if (limits && limits->max_elements > 0 && total > limits->max_elements)
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                             "the request needs %lld elements (hidden states %lld, weights %lld, "
                             "working memory %lld) for %lld tokens, more than this server's "
                             "limit of %lld",
                             (long long)total, (long long)(api_mul_sat(L, E) + all),
                             (long long)(weights ? score : 0), (long long)work, (long long)L,
                             (long long)limits->max_elements);
    const double flops = at_transformer_flops(t, L);
    if (limits && limits->max_flops > 0 && flops > (double)limits->max_flops)
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                             "the request needs about %.3g floating-point operations (%lld "
                             "layers of hidden size %lld over %lld tokens), more than this "
                             "server's limit of %.3g per request (--max-request-flops); send a "
                             "shorter sequence",
                             flops, (long long)N, (long long)E, (long long)L,
                             (double)limits->max_flops);
    const int64_t f = sizeof(float);
    int64_t bytes[P_COUNT] = {
        [P_LAYERS] = nl * (int64_t)sizeof(int64_t),
        [P_HEADS] = nh * (int64_t)sizeof(int64_t),
        [P_PIECES] = api_mul_sat(L, sizeof(api_tf_piece)),
        [P_IDS] = api_mul_sat(L, sizeof(uint64_t)),
        [P_TYPES] = L,
        [P_HIDDEN] = api_mul_sat(L * E, f),
        [P_ALL] = api_mul_sat(all, f),
        [P_WEIGHTS] = weights ? api_mul_sat(score, f) : 0,
        [P_PTRS] = N * (int64_t)sizeof(float *),
        [P_AVG] = weights && spec->average_heads ? api_mul_sat(L * L, f) : 0,
    };
    int64_t off[P_COUNT];
    size_t total_bytes;
    const size_t header = sizeof(api_model_request) + sizeof(api_tf_request);
    char *arena = api_arena_alloc(header, bytes, off, P_COUNT, &total_bytes, err);
    if (!arena) return api_error_http_status(err->kind);
    api_model_request *req = (api_model_request *)arena;
    api_tf_request *tf = (api_tf_request *)(arena + sizeof(api_model_request));
    req->model = model;
    req->arena_bytes = total_bytes;
    req->tf = tf;
#define PART(type, p) (bytes[p] ? (type *)(arena + off[p]) : NULL)
    tf->t = t;
    tf->spec = *spec;
    int64_t *layers = PART(int64_t, P_LAYERS), *heads = PART(int64_t, P_HEADS);
    for (int64_t i = 0; i < nl; i++)
        layers[i] = spec->nlayers ? spec->layers[i] : i;
    for (int64_t i = 0; i < nh; i++)
        heads[i] = spec->nheads ? spec->heads[i] : i;
    tf->spec.nlayers = nl, tf->spec.layers = layers;
    tf->spec.nheads = nh, tf->spec.heads = heads;
    tf->pieces = PART(api_tf_piece, P_PIECES);
    tf->ids = PART(uint64_t, P_IDS);
    tf->types = PART(uint8_t, P_TYPES);
    tf->hidden = PART(float, P_HIDDEN);
    tf->all_hidden = PART(float, P_ALL);
    tf->weights = PART(float, P_WEIGHTS);
    tf->layer_weights = PART(float *, P_PTRS);
    tf->average = PART(float, P_AVG);
#undef PART
    for (int64_t i = 0; i < N; i++) /* the arena is not zeroed: unselected layers get NULL */
        tf->layer_weights[i] = NULL;
    for (int64_t i = 0; weights && i < nl; i++)
        tf->layer_weights[layers[i]] = tf->weights + i * H * L * L;
    *out = req;
    return 0;
}

int api_tf_resolve(api_tf_request *tf, const char *field, api_error *err)
{
    const at_transformer *t = tf->t;
    for (int64_t i = 0; i < tf->spec.len; i++) {
        const api_tf_piece *p = &tf->pieces[i];
        if (p->id >= (uint64_t)t->vocab_size)
            return api_error_set(err, API_ERR_INVALID_VALUE, field,
                                 "%s[%lld]: %llu is not a token id of this model (0..%lld)", field,
                                 (long long)i, (unsigned long long)p->id,
                                 (long long)t->vocab_size - 1);
        if (p->type && (t->arch != AT_TF_BERT || p->type >= t->type_vocab_size))
            return api_error_set(err, API_ERR_INVALID_VALUE, "token_type_ids",
                                 "token_type_ids[%lld]: %u is not a token type of this model "
                                 "(0..%lld)",
                                 (long long)i, p->type,
                                 (long long)(t->arch == AT_TF_BERT ? t->type_vocab_size - 1 : 0));
        tf->ids[i] = p->id;
        tf->types[i] = p->type;
    }
    return 0;
}

/* The transformer's forward pass of one request on the pool (api_compute_fn). */
typedef struct tf_call {
    api_tf_request *tf;
    at_pool *pool;
    int worker;
} tf_call;

static int tf_forward(void *ctx, void *work)
{
    tf_call *c = ctx;
    api_tf_request *tf = c->tf;
    at_tf_run run = {.ids = tf->ids,
                     .types = tf->types,
                     .len = tf->spec.len,
                     .hidden = tf->hidden,
                     .all_hidden = tf->all_hidden,
                     .weights = tf->weights ? tf->layer_weights : NULL};
    return at_transformer_forward(tf->t, &run, work, c->pool, c->worker);
}

int api_tf_run(api_tf_request *tf, at_pool *pool, int worker, api_error *err)
{
    size_t ws = at_transformer_workspace_size(tf->t, tf->spec.len, tf->weights != NULL,
                                              at_pool_threads(pool));
    tf_call c = {tf, pool, worker};
    return api_compute(ws, tf_forward, &c, "forward pass", &tf->compute_seconds, err);
}

api_tf_request *api_model_request_tf(const api_model_request *req)
{
    return req ? req->tf : NULL;
}
