/* The format-neutral attention request: validation of the shapes a codec scanned, the limits,
 * the single arena that holds a request's tensors, and running it on the core. Codecs decode
 * into it (request.h); the server only runs and frees it (api.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/cost.h"
#include "../core/status.h"
#include "arena.h"
#include "request.h"
#include "source_store.h"

#define SHAPE_STR 128

static const char query_ranks[] = "expected rank 2 [Lq, d], 3 [H, Lq, d] or 4 [B, H, Lq, d]";

/* Key: same rank as the query, same leading dims; Lk is free, and so is the last dim dk for
 * the additive score (W [q; k] does not need dk == dq), which every other score needs. */
static int check_key(const api_attention_spec *s, api_error *err)
{
    const api_shape *q = &s->query, *k = &s->key;
    int r = q->rank;
    bool additive = s->score == AT_SCORE_ADDITIVE;
    char qs[SHAPE_STR], ks[SHAPE_STR], want[SHAPE_STR];
    api_shape_str(q, -1, qs, sizeof qs);
    api_shape_str(k, -1, ks, sizeof ks);
    if (k->rank != r)
        return api_error_set(err, API_ERR_INVALID_SHAPE, "key",
                             "key: expected rank %d like query %s, got rank %d %s", r, qs, k->rank,
                             ks);
    bool same_d = k->ne[r - 1] == q->ne[r - 1];
    bool ok = additive || same_d;
    for (int i = 0; i < r - 2; i++)
        ok = ok && k->ne[i] == q->ne[i];
    if (ok) return 0;
    if (additive) { /* "[2, *, *]": both Lk and dk are free (r >= 3 here) */
        api_shape lead = *q;
        lead.rank = r - 2;
        api_shape_str(&lead, -1, want, sizeof want);
        size_t n = strlen(want);
        if (n > 0 && n + 6 < sizeof want) memcpy(want + n - 1, ", *, *]", 8);
    } else {
        api_shape_str(q, r - 2, want, sizeof want);
    }
    return api_error_set(err, API_ERR_INVALID_SHAPE, "key",
                         "key: expected shape %s to match query %s, got %s%s", want, qs, ks,
                         !additive && !same_d ? " (only score \"additive\" accepts a key whose "
                                                "last dim differs from the query's)"
                                              : "");
}

/* Value: same rank, leading dims and Lk as the key (which has the query's leading dims). */
static int check_value(const api_attention_spec *s, api_error *err)
{
    const api_shape *q = &s->query, *k = &s->key, *v = &s->value;
    int r = q->rank;
    char qs[SHAPE_STR], ks[SHAPE_STR], vs[SHAPE_STR], want[SHAPE_STR];
    api_shape_str(q, -1, qs, sizeof qs);
    api_shape_str(k, -1, ks, sizeof ks);
    api_shape_str(v, -1, vs, sizeof vs);
    if (v->rank != r)
        return api_error_set(err, API_ERR_INVALID_SHAPE, "value",
                             "value: expected rank %d like query %s, got rank %d %s", r, qs,
                             v->rank, vs);
    bool ok = true;
    for (int i = 0; i < r - 1; i++)
        ok = ok && v->ne[i] == k->ne[i];
    if (ok) return 0;
    api_shape_str(k, r - 1, want, sizeof want);
    if (s->has_key)
        return api_error_set(err, API_ERR_INVALID_SHAPE, "value",
                             "value: expected shape %s to match key %s, got %s", want, ks, vs);
    return api_error_set(err, API_ERR_INVALID_SHAPE, "value",
                         "value: expected shape %s to match query %s (no key was sent, so the "
                         "key is the query), got %s",
                         want, qs, vs);
}

/* Mask: PyTorch broadcasting against target = [.., Lq, Lk] in the query's rank. */
static int check_mask(const api_shape *m, const api_shape *target, api_error *err)
{
    static const char *const names[] = {"", "", "[Lq, Lk]", "[H, Lq, Lk]", "[B, H, Lq, Lk]"};
    int r = target->rank;
    char ms[SHAPE_STR], ts[SHAPE_STR];
    api_shape_str(m, -1, ms, sizeof ms);
    api_shape_str(target, -1, ts, sizeof ts);
    if (m->rank > r)
        return api_error_set(err, API_ERR_INVALID_SHAPE, "mask",
                             "mask: expected at most %d dimensions, broadcastable to %s = %s, "
                             "got rank %d %s",
                             r, names[r], ts, m->rank, ms);
    for (int i = 0; i < m->rank; i++) {
        int64_t want = target->ne[r - m->rank + i];
        if (m->ne[i] != 1 && m->ne[i] != want)
            return api_error_set(err, API_ERR_INVALID_SHAPE, "mask",
                                 "mask: shape %s is not broadcastable to %s = %s: dimension %d "
                                 "has size %lld, expected 1 or %lld",
                                 ms, names[r], ts, i, (long long)m->ne[i], (long long)want);
    }
    return 0;
}

const char *api_score_name(at_score s)
{
    return s == AT_SCORE_DOT ? "dot" : s == AT_SCORE_ADDITIVE ? "additive" : "scaled_dot";
}

const char *api_selection_name(at_selection s)
{
    return s == AT_SELECT_TOPK ? "topk" : s == AT_SELECT_SAMPLE ? "sample" : "soft";
}

int api_check_selection_options(const api_attention_spec *s, api_error *err)
{
    bool hard = s->selection != AT_SELECT_SOFT;
    const char *sel = api_selection_name(s->selection);
    if (!hard && s->has_k)
        return api_error_set(err, API_ERR_INVALID_VALUE, "k",
                             "k applies only to selection topk or sample, and selection is "
                             "\"soft\"; send \"selection\": \"topk\" or \"sample\", or drop \"k\"");
    if (hard && !s->has_k)
        return api_error_set(err, API_ERR_MISSING_FIELD, "k",
                             "missing field 'k': selection \"%s\" needs the number of keys each "
                             "query row selects, an integer >= 1",
                             sel);
    if (s->has_k && s->k < 1)
        return api_error_set(err, API_ERR_INVALID_VALUE, "k",
                             "k: expected an integer >= 1, got %lld", (long long)s->k);
    if (!hard && s->has_normalize)
        return api_error_set(err, API_ERR_INVALID_VALUE, "normalize",
                             "normalize applies only to selection topk or sample, and selection "
                             "is \"soft\" (whose weights always sum to 1); drop \"normalize\"");
    if (s->has_seed && s->selection != AT_SELECT_SAMPLE)
        return api_error_set(err, API_ERR_INVALID_VALUE, "seed",
                             "seed applies only to selection sample, and selection is \"%s\"; "
                             "send \"selection\": \"sample\" or drop \"seed\"",
                             sel);
    return 0;
}

/* Options that only make sense together: additive parameters with the additive score, and the
 * selection's own (api_check_selection_options). Nothing a client sends is ignored. */
static int check_options(const api_attention_spec *s, api_error *err)
{
    if (s->score == AT_SCORE_ADDITIVE && !s->has_additive)
        return api_error_set(err, API_ERR_MISSING_FIELD, "additive",
                             "missing field 'additive': score \"additive\" needs its parameters "
                             "{\"weight\": [da, dq + dk], \"bias\": [da] (optional), \"v\": [da] "
                             "(optional)}");
    if (s->score != AT_SCORE_ADDITIVE && s->has_additive)
        return api_error_set(err, API_ERR_INVALID_VALUE, "additive",
                             "additive: parameters apply only to score \"additive\", but score is "
                             "\"%s\"; send \"score\": \"additive\" or drop \"additive\"",
                             api_score_name(s->score));
    return api_check_selection_options(s, err);
}

/* The additive score's weight is [da, dq + dk]; bias and v are [da]. */
static int check_additive(const api_attention_spec *s, int64_t dq, int64_t dk, api_error *err)
{
    const api_shape *w = &s->additive_weight;
    char ws[SHAPE_STR], got[SHAPE_STR];
    api_shape_str(w, -1, ws, sizeof ws);
    if (w->rank != 2)
        return api_error_set(err, API_ERR_INVALID_SHAPE, "additive",
                             "additive.weight: expected rank 2 [da, %lld] (dq %lld + dk %lld), "
                             "got rank %d %s",
                             (long long)(dq + dk), (long long)dq, (long long)dk, w->rank, ws);
    if (w->ne[1] != dq + dk)
        return api_error_set(err, API_ERR_INVALID_SHAPE, "additive",
                             "additive.weight: expected [da, %lld] (dq %lld + dk %lld), got %s",
                             (long long)(dq + dk), (long long)dq, (long long)dk, ws);
    const struct {
        bool has;
        const api_shape *shape;
        const char *name;
    } vecs[] = {{s->has_additive_bias, &s->additive_bias, "bias"},
                {s->has_additive_v, &s->additive_v, "v"}};
    for (int i = 0; i < 2; i++) {
        const api_shape *x = vecs[i].shape;
        if (!vecs[i].has || (x->rank == 1 && x->ne[0] == w->ne[0])) continue;
        return api_error_set(err, API_ERR_INVALID_SHAPE, "additive",
                             "additive.%s: expected [%lld] (da from additive.weight %s), got %s",
                             vecs[i].name, (long long)w->ne[0], ws,
                             api_shape_str(x, -1, got, sizeof got));
    }
    return 0;
}

/* Elements of one request by what holds them, for the limits and their messages. */
typedef struct request_sizes {
    int64_t query, key, value, mask, context, weights;
    int64_t key_lengths, additive, projections; /* 0 unless the request has them */
} request_sizes;

/* The work, by core/cost.h's model, against max_flops: checked whether or not the weights are
 * returned, since the context alone can take minutes of every core. */
static int check_flops(const api_attention_spec *s, const int64_t dims[6], const api_limits *lim,
                       api_error *err)
{
    if (lim->max_flops <= 0) return 0;
    int64_t B = dims[0], H = dims[1], Lq = dims[2], d = dims[3], Lk = dims[4], dv = dims[5];
    int r = s->query.rank;
    int64_t dk = s->has_key ? s->key.ne[r - 1] : d;
    at_additive add = {0};
    at_attention_desc desc = {
        .query = {.dtype = AT_F32, .rank = 4, .ne = {B, H, Lq, d}},
        .key = {.dtype = AT_F32, .rank = 4, .ne = {B, H, Lk, dk}},
        .value = {.dtype = AT_F32, .rank = 4, .ne = {B, H, Lk, dv}},
        .score = s->score,
        .selection = s->selection,
        .need_weights = s->return_weights,
        .average_heads = s->return_weights && s->average_heads,
    };
    if (s->has_additive) {
        add.weight = (at_tensor){.dtype = AT_F32, .rank = 2, .ne = {s->additive_weight.ne[0]}};
        desc.additive = &add;
    }
    double flops = at_attention_flops(&desc);
    if (flops <= (double)lim->max_flops) return 0;
    char extra[64] = "";
    if (s->has_additive)
        snprintf(extra, sizeof extra, ", additive da %lld", (long long)s->additive_weight.ne[0]);
    return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                         "the request needs about %.3g floating-point operations (B*H*Lq*Lk = "
                         "%lld*%lld*%lld*%lld scores, d %lld, dv %lld%s), more than this "
                         "server's limit of %.3g per request (--max-request-flops); send shorter "
                         "sequences or fewer heads per request",
                         flops, (long long)B, (long long)H, (long long)Lq, (long long)Lk,
                         (long long)d, (long long)dv, extra, (double)lim->max_flops);
}

static int check_limits(const api_attention_spec *s, const int64_t dims[6], const api_limits *lim,
                        api_error *err)
{
    if (!lim) return 0;
    int64_t B = dims[0], H = dims[1], Lq = dims[2], Lk = dims[4], dv = dims[5];
    int64_t bh = api_mul_sat(B, H);
    int64_t score = api_mul_sat(bh, api_mul_sat(Lq, Lk));
    /* The matrix exists only when it is returned; without weights the core streams over keys. */
    if (s->return_weights && lim->max_score_elements > 0 && score > lim->max_score_elements)
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                             "the attention matrix B*H*Lq*Lk = %lld*%lld*%lld*%lld = %lld "
                             "elements exceeds this server's limit of %lld for returned weights; "
                             "send shorter sequences or fewer heads per request, or set "
                             "\"return_weights\": false (the context alone has no such limit)",
                             (long long)B, (long long)H, (long long)Lq, (long long)Lk,
                             (long long)score, (long long)lim->max_score_elements);
    request_sizes n = {
        .query = api_shape_elements(&s->query),
        /* A stored source is not copied: the store's budget bounds it, not the request's. */
        .key = s->has_key && !s->source ? api_shape_elements(&s->key) : 0,
        .value = s->has_value && !s->source ? api_shape_elements(&s->value) : 0,
        .mask = s->has_mask ? api_shape_elements(&s->mask) : 0,
        .context = api_mul_sat(bh, api_mul_sat(Lq, dv)),
        .weights = !s->return_weights ? 0
                   : s->average_heads ? api_mul_sat(B, api_mul_sat(Lq, Lk))
                                      : score,
        .key_lengths = s->has_key_lengths ? s->key_lengths_count : 0,
    };
    if (s->has_additive) {
        int64_t da = s->additive_weight.ne[0];
        n.additive = api_shape_elements(&s->additive_weight);
        if (s->has_additive_bias) n.additive = api_add_sat(n.additive, da);
        if (s->has_additive_v) n.additive = api_add_sat(n.additive, da);
        n.projections = api_mul_sat(bh, api_mul_sat(Lk, da));
    }
    int64_t total = 0;
    const int64_t parts[] = {n.query,   n.key,         n.value,    n.mask,       n.context,
                             n.weights, n.key_lengths, n.additive, n.projections};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        total = api_add_sat(total, parts[i]);
    if (lim->max_elements <= 0 || total <= lim->max_elements) return check_flops(s, dims, lim, err);

    char extra[192] = "";
    size_t len = 0;
    if (s->has_key_lengths)
        len += (size_t)snprintf(extra + len, sizeof extra - len, ", key_lengths %lld",
                                (long long)n.key_lengths);
    if (s->has_additive && len < sizeof extra)
        snprintf(extra + len, sizeof extra - len,
                 ", additive parameters %lld, additive key projections B*H*Lk*da %lld",
                 (long long)n.additive, (long long)n.projections);
    return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                         "the request needs %lld elements (query %lld, key %lld, value %lld, "
                         "mask %lld, context %lld, weights %lld%s), more than this server's "
                         "limit of %lld",
                         (long long)total, (long long)n.query, (long long)n.key, (long long)n.value,
                         (long long)n.mask, (long long)n.context, (long long)n.weights, extra,
                         (long long)lim->max_elements);
}

/* The rank-4 view of a mask of shape m broadcast to [B, H, Lq, Lk] = ne4: missing and size-1
 * dimensions that are broadcast get stride 0 (the example in attention.h: a [Lq, Lk] mask for a
 * rank-4 query has nb = {0, 0, Lk, 1}). */
static at_tensor mask_view(const api_shape *m, const int64_t ne4[4], uint8_t *data)
{
    at_tensor t = {.dtype = AT_BOOL, .rank = 4, .data = data};
    int64_t stride[API_SHAPE_MAX_RANK];
    int64_t acc = 1;
    for (int i = m->rank - 1; i >= 0; i--) {
        stride[i] = acc;
        acc *= m->ne[i];
    }
    for (int c = 0; c < 4; c++) {
        int i = c - (4 - m->rank);
        t.ne[c] = ne4[c];
        t.nb[c] = (i < 0 || (m->ne[i] == 1 && ne4[c] != 1)) ? 0 : stride[i];
    }
    return t;
}

/* Checks the number of key lengths against the batch size B. */
static int check_key_lengths(const api_attention_spec *s, int64_t B, api_error *err)
{
    char qs[SHAPE_STR];
    api_shape_str(&s->query, -1, qs, sizeof qs);
    if (s->key_lengths_count == B) return 0;
    if (s->query.rank == 4)
        return api_error_set(err, API_ERR_INVALID_SHAPE, "key_lengths",
                             "key_lengths: expected %lld lengths, one per batch entry of query "
                             "%s [B, H, Lq, d], got %lld",
                             (long long)B, qs, (long long)s->key_lengths_count);
    return api_error_set(err, API_ERR_INVALID_SHAPE, "key_lengths",
                         "key_lengths: expected 1 length, since a rank-%d query %s has batch "
                         "size 1, got %lld",
                         s->query.rank, qs, (long long)s->key_lengths_count);
}

/* Where each buffer of a request lives in its arena. */
enum arena_part {
    P_QUERY,
    P_KEY,
    P_VALUE,
    P_CONTEXT,
    P_WEIGHTS,
    P_KEY_LENGTHS,
    P_ADD_WEIGHT,
    P_ADD_BIAS,
    P_ADD_V,
    P_MASK,
    P_COUNT
};

int api_attention_prepare(const api_attention_spec *spec, const api_limits *limits,
                          api_attention_request **out, api_error *err)
{
    *out = NULL;
    api_attention_spec s = *spec;
    const api_shape *q = &s.query;
    int r = q->rank, rc;
    char qs[SHAPE_STR];

    if ((rc = check_options(&s, err))) return rc;
    if (r < 2 || r > 4)
        return api_error_set(err, API_ERR_INVALID_SHAPE, "query", "query: %s, got rank %d %s",
                             query_ranks, r, api_shape_str(q, -1, qs, sizeof qs));
    if (!s.has_key) s.key = s.query;
    if (s.has_key && (rc = check_key(&s, err))) return rc;
    if (!s.has_value) s.value = s.key;
    if (s.has_value && (rc = check_value(&s, err))) return rc;

    int64_t B = r == 4 ? q->ne[0] : 1, H = r >= 3 ? q->ne[r - 3] : 1;
    int64_t Lq = q->ne[r - 2], d = q->ne[r - 1], Lk = s.key.ne[r - 2], dk = s.key.ne[r - 1];
    int64_t dv = s.value.ne[r - 1];
    int64_t dims[6] = {B, H, Lq, d, Lk, dv};

    api_shape ctx = *q, wts = *q;
    ctx.ne[r - 1] = dv;
    wts.ne[r - 1] = Lk;
    if (s.has_mask && (rc = check_mask(&s.mask, &wts, err))) return rc;
    if (s.has_additive && (rc = check_additive(&s, d, dk, err))) return rc;
    if (s.has_key_lengths && (rc = check_key_lengths(&s, B, err))) return rc;
    if (s.average_heads && r >= 3) { /* drop H: [H, Lq, Lk] -> [Lq, Lk], [B, H, ..] -> [B, ..] */
        memmove(&wts.ne[r - 3], &wts.ne[r - 2], 2 * sizeof wts.ne[0]);
        wts.rank--;
    }
    if ((rc = check_limits(&s, dims, limits, err))) return rc;

    /* One arena: the request, then each buffer at a 64-byte boundary. */
    int64_t da = s.has_additive ? s.additive_weight.ne[0] : 0;
    bool copy_key = s.has_key && !s.source, copy_value = s.has_value && !s.source;
    int64_t bytes[P_COUNT] = {
        [P_QUERY] = api_mul_sat(api_shape_elements(q), sizeof(float)),
        [P_KEY] = copy_key ? api_mul_sat(api_shape_elements(&s.key), sizeof(float)) : 0,
        [P_VALUE] = copy_value ? api_mul_sat(api_shape_elements(&s.value), sizeof(float)) : 0,
        [P_CONTEXT] =
            api_mul_sat(api_mul_sat(api_mul_sat(B, H), api_mul_sat(Lq, dv)), sizeof(float)),
        [P_WEIGHTS] = s.return_weights ? api_mul_sat(api_shape_elements(&wts), sizeof(float)) : 0,
        [P_KEY_LENGTHS] = s.has_key_lengths ? api_mul_sat(B, sizeof(int64_t)) : 0,
        [P_ADD_WEIGHT] = api_mul_sat(api_mul_sat(da, d + dk), sizeof(float)),
        [P_ADD_BIAS] = s.has_additive_bias ? api_mul_sat(da, sizeof(float)) : 0,
        [P_ADD_V] = s.has_additive_v ? api_mul_sat(da, sizeof(float)) : 0,
        [P_MASK] = s.has_mask ? api_shape_elements(&s.mask) : 0,
    };
    int64_t off[P_COUNT];
    size_t total;
    char *arena = api_arena_alloc(sizeof(api_attention_request), bytes, off, P_COUNT, &total, err);
    if (!arena) return api_error_http_status(err->kind);
    api_attention_request *req = (api_attention_request *)arena;
    req->spec = s;
    req->context_shape = ctx;
    req->weights_shape = wts;
    req->arena_bytes = total;
#define PART(type, p) (bytes[p] ? (type *)(arena + off[p]) : NULL)
    req->query = PART(float, P_QUERY);
    req->key = s.has_key ? PART(float, P_KEY) : req->query;
    req->value = s.has_value ? PART(float, P_VALUE) : req->key;
    if (s.source) {
        req->key = s.source->key_data;
        req->value = s.source->value_data;
    }
    req->mask = PART(uint8_t, P_MASK);
    req->key_lengths = PART(int64_t, P_KEY_LENGTHS);
    req->additive_weight = PART(float, P_ADD_WEIGHT);
    req->additive_bias = PART(float, P_ADD_BIAS);
    req->additive_v = PART(float, P_ADD_V);
    req->out.context = PART(float, P_CONTEXT);
    req->out.weights = PART(float, P_WEIGHTS);
#undef PART
    if (req->key_lengths) memset(req->key_lengths, 0, (size_t)bytes[P_KEY_LENGTHS]);

    at_attention_desc *desc = &req->desc;
    int64_t ne_q[4] = {B, H, Lq, d}, ne_k[4] = {B, H, Lk, dk}, ne_v[4] = {B, H, Lk, dv};
    int64_t ne_s[4] = {B, H, Lq, Lk};
    desc->query = at_tensor_make(AT_F32, 4, ne_q, req->query);
    desc->key = s.has_key ? at_tensor_make(AT_F32, 4, ne_k, req->key) : desc->query;
    desc->value = s.has_value ? at_tensor_make(AT_F32, 4, ne_v, req->value) : desc->key;
    if (s.has_mask) {
        req->mask_view = mask_view(&s.mask, ne_s, req->mask);
        desc->mask = &req->mask_view;
    }
    desc->key_lengths = req->key_lengths;
    desc->score = s.score;
    if (s.has_additive) {
        int64_t ne_w[2] = {da, d + dk};
        req->additive.weight = at_tensor_make(AT_F32, 2, ne_w, req->additive_weight);
        req->additive.bias = req->additive_bias;
        req->additive.v = req->additive_v;
        desc->additive = &req->additive;
    }
    desc->selection = s.selection;
    desc->k = s.has_k ? s.k : 0;
    desc->normalize = s.normalize;
    desc->seed = s.seed;
    desc->has_scale = s.has_scale;
    desc->scale = s.scale;
    desc->causal = s.causal;
    desc->need_weights = s.return_weights;
    desc->average_heads = s.return_weights && s.average_heads;

    /* The checks above should make this pass; it guards against the two drifting apart. The
     * key lengths are not read yet: zeros (valid lengths) until the codec fills them. */
    const char *field = NULL;
    char msg[sizeof err->message];
    rc = at_attention_check(desc, &field, msg, sizeof msg);
    if (rc != AT_OK) {
        free(arena);
        return api_error_set(err, rc == AT_ESHAPE ? API_ERR_INVALID_SHAPE : API_ERR_INVALID_VALUE,
                             field ? field : "", "%s", msg);
    }
    *out = req;
    return 0;
}

int api_overflow_error(api_error *err)
{
    return api_error_set(err, API_ERR_INVALID_VALUE, "",
                         "the result does not fit in float32: a context value is beyond "
                         "+-3.4028235e38 even computed in float64 (top-k or sampling without "
                         "\"normalize\" adds up k values, or the inputs are too large); scale "
                         "the values down or set \"normalize\": true");
}

/* The forward pass of one request on the pool (api_compute_fn). */
typedef struct attention_call {
    api_attention_request *req;
    at_pool *pool;
    int worker;
} attention_call;

static int attention_forward(void *ctx, void *work)
{
    attention_call *c = ctx;
    return at_attention_forward(&c->req->desc, &c->req->out, work, c->pool, c->worker);
}

int api_attention_run(api_attention_request *req, at_pool *pool, int worker, api_error *err)
{
    if (!req) return api_error_set(err, API_ERR_INTERNAL, "", "no request to run");
    attention_call c = {req, pool, worker};
    int st = api_compute(at_attention_workspace_size(&req->desc, at_pool_threads(pool)),
                         attention_forward, &c, "attention", &req->compute_seconds, err);
    req->computed = st == 0;
    return st;
}

void api_attention_request_free(api_attention_request *req)
{
    if (req && req->spec.source) api_source_store_release(req->spec.source_store, req->spec.source);
    free(req); /* the request is the start of its arena */
}
