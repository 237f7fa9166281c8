/* The format-neutral attention request: validation of the shapes a codec scanned, the limits,
 * the single arena that holds a request's tensors, and running it on the core. Codecs decode
 * into it (request.h); the server only runs and frees it (api.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/status.h"
#include "request.h"

#define ARENA_ALIGN 64
#define SHAPE_STR   128

static const char query_ranks[] = "expected rank 2 [Lq, d], 3 [H, Lq, d] or 4 [B, H, Lq, d]";

/* Bytes rounded up to the arena alignment, saturating like api_mul_sat. */
static int64_t align_up(int64_t n)
{
    if (n > INT64_MAX - (ARENA_ALIGN - 1)) return INT64_MAX;
    return (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

/* Key: same rank as the query, same leading dims, same last dim d; Lk is free. */
static int check_key(const api_attention_spec *s, api_error *err)
{
    const api_shape *q = &s->query, *k = &s->key;
    int r = q->rank;
    char qs[SHAPE_STR], ks[SHAPE_STR], want[SHAPE_STR];
    api_shape_str(q, -1, qs, sizeof qs);
    api_shape_str(k, -1, ks, sizeof ks);
    if (k->rank != r)
        return api_error_set(err, API_ERR_INVALID_SHAPE, "key",
                             "key: expected rank %d like query %s, got rank %d %s", r, qs, k->rank,
                             ks);
    bool ok = k->ne[r - 1] == q->ne[r - 1];
    for (int i = 0; i < r - 2; i++)
        ok = ok && k->ne[i] == q->ne[i];
    if (ok) return 0;
    api_shape_str(q, r - 2, want, sizeof want);
    return api_error_set(err, API_ERR_INVALID_SHAPE, "key",
                         "key: expected shape %s to match query %s, got %s", want, qs, ks);
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

static int check_limits(const api_attention_spec *s, const int64_t dims[6], const api_limits *lim,
                        api_error *err)
{
    if (!lim) return 0;
    int64_t B = dims[0], H = dims[1], Lq = dims[2], Lk = dims[4], dv = dims[5];
    int64_t score = api_mul_sat(api_mul_sat(B, H), api_mul_sat(Lq, Lk));
    if (lim->max_score_elements > 0 && score > lim->max_score_elements)
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                             "the attention matrix B*H*Lq*Lk = %lld*%lld*%lld*%lld = %lld "
                             "elements exceeds this server's limit of %lld; send shorter "
                             "sequences or fewer heads per request",
                             (long long)B, (long long)H, (long long)Lq, (long long)Lk,
                             (long long)score, (long long)lim->max_score_elements);
    int64_t q = api_shape_elements(&s->query);
    int64_t k = s->has_key ? api_shape_elements(&s->key) : 0;
    int64_t v = s->has_value ? api_shape_elements(&s->value) : 0;
    int64_t m = s->has_mask ? api_shape_elements(&s->mask) : 0;
    int64_t c = api_mul_sat(api_mul_sat(B, H), api_mul_sat(Lq, dv));
    int64_t w = !s->return_weights ? 0
                : s->average_heads ? api_mul_sat(B, api_mul_sat(Lq, Lk))
                                   : score;
    int64_t total =
        api_add_sat(api_add_sat(api_add_sat(q, k), api_add_sat(v, m)), api_add_sat(c, w));
    if (lim->max_elements > 0 && total > lim->max_elements)
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                             "the request needs %lld elements (query %lld, key %lld, value %lld, "
                             "mask %lld, context %lld, weights %lld), more than this server's "
                             "limit of %lld",
                             (long long)total, (long long)q, (long long)k, (long long)v,
                             (long long)m, (long long)c, (long long)w,
                             (long long)lim->max_elements);
    return 0;
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

int api_attention_prepare(const api_attention_spec *spec, const api_limits *limits,
                          api_attention_request **out, api_error *err)
{
    *out = NULL;
    api_attention_spec s = *spec;
    const api_shape *q = &s.query;
    int r = q->rank, rc;
    char qs[SHAPE_STR];

    if (r < 2 || r > 4)
        return api_error_set(err, API_ERR_INVALID_SHAPE, "query", "query: %s, got rank %d %s",
                             query_ranks, r, api_shape_str(q, -1, qs, sizeof qs));
    if (!s.has_key) s.key = s.query;
    if (s.has_key && (rc = check_key(&s, err))) return rc;
    if (!s.has_value) s.value = s.key;
    if (s.has_value && (rc = check_value(&s, err))) return rc;

    int64_t B = r == 4 ? q->ne[0] : 1, H = r >= 3 ? q->ne[r - 3] : 1;
    int64_t Lq = q->ne[r - 2], d = q->ne[r - 1], Lk = s.key.ne[r - 2], dv = s.value.ne[r - 1];
    int64_t dims[6] = {B, H, Lq, d, Lk, dv};

    api_shape ctx = *q, wts = *q;
    ctx.ne[r - 1] = dv;
    wts.ne[r - 1] = Lk;
    if (s.has_mask && (rc = check_mask(&s.mask, &wts, err))) return rc;
    if (s.average_heads && r >= 3) { /* drop H: [H, Lq, Lk] -> [Lq, Lk], [B, H, ..] -> [B, ..] */
        memmove(&wts.ne[r - 3], &wts.ne[r - 2], 2 * sizeof wts.ne[0]);
        wts.rank--;
    }
    if ((rc = check_limits(&s, dims, limits, err))) return rc;

    /* One arena: the request, then each tensor at a 64-byte boundary. */
    int64_t n_q = api_shape_elements(q);
    int64_t n_k = s.has_key ? api_shape_elements(&s.key) : 0;
    int64_t n_v = s.has_value ? api_shape_elements(&s.value) : 0;
    int64_t n_m = s.has_mask ? api_shape_elements(&s.mask) : 0;
    int64_t n_c = api_mul_sat(api_mul_sat(B, H), api_mul_sat(Lq, dv));
    int64_t n_w = s.return_weights ? api_shape_elements(&wts) : 0;
    int64_t off_q = align_up((int64_t)sizeof(api_attention_request));
    int64_t off_k = api_add_sat(off_q, align_up(api_mul_sat(n_q, sizeof(float))));
    int64_t off_v = api_add_sat(off_k, align_up(api_mul_sat(n_k, sizeof(float))));
    int64_t off_c = api_add_sat(off_v, align_up(api_mul_sat(n_v, sizeof(float))));
    int64_t off_w = api_add_sat(off_c, align_up(api_mul_sat(n_c, sizeof(float))));
    int64_t off_m = api_add_sat(off_w, align_up(api_mul_sat(n_w, sizeof(float))));
    int64_t total = align_up(api_add_sat(off_m, n_m));
    if (total == INT64_MAX || (uint64_t)total > SIZE_MAX / 2)
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                             "the request's tensors need more memory than can be allocated");
    char *arena = aligned_alloc(ARENA_ALIGN, (size_t)total);
    if (!arena)
        return api_error_set(err, API_ERR_INTERNAL, "",
                             "out of memory: the request needs %lld bytes", (long long)total);

    api_attention_request *req = (api_attention_request *)arena;
    memset(req, 0, sizeof *req);
    req->spec = s;
    req->context_shape = ctx;
    req->weights_shape = wts;
    req->arena_bytes = (size_t)total;
    req->query = (float *)(arena + off_q);
    req->key = s.has_key ? (float *)(arena + off_k) : req->query;
    req->value = s.has_value ? (float *)(arena + off_v) : req->key;
    req->mask = s.has_mask ? (uint8_t *)(arena + off_m) : NULL;
    req->out.context = (float *)(arena + off_c);
    req->out.weights = s.return_weights ? (float *)(arena + off_w) : NULL;

    at_attention_desc *desc = &req->desc;
    int64_t ne_q[4] = {B, H, Lq, d}, ne_k[4] = {B, H, Lk, d}, ne_v[4] = {B, H, Lk, dv};
    int64_t ne_s[4] = {B, H, Lq, Lk};
    desc->query = at_tensor_make(AT_F32, 4, ne_q, req->query);
    desc->key = s.has_key ? at_tensor_make(AT_F32, 4, ne_k, req->key) : desc->query;
    desc->value = s.has_value ? at_tensor_make(AT_F32, 4, ne_v, req->value) : desc->key;
    if (s.has_mask) {
        req->mask_view = mask_view(&s.mask, ne_s, req->mask);
        desc->mask = &req->mask_view;
    }
    desc->score = s.score;
    desc->has_scale = s.has_scale;
    desc->scale = s.scale;
    desc->causal = s.causal;
    desc->need_weights = s.return_weights;
    desc->average_heads = s.return_weights && s.average_heads;

    /* The checks above should make this pass; it guards against the two drifting apart. */
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

int api_attention_run(api_attention_request *req, at_pool *pool, int worker, api_error *err)
{
    if (!req) return api_error_set(err, API_ERR_INTERNAL, "", "no request to run");
    size_t ws = at_attention_workspace_size(&req->desc, at_pool_threads(pool));
    void *work = NULL;
    if (ws) {
        if (ws > SIZE_MAX - ARENA_ALIGN)
            return api_error_set(err, API_ERR_INTERNAL, "", "attention workspace too large");
        work = aligned_alloc(ARENA_ALIGN, (ws + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN);
        if (!work)
            return api_error_set(err, API_ERR_INTERNAL, "",
                                 "out of memory: the attention workspace needs %zu bytes", ws);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = at_attention_forward(&req->desc, &req->out, work, pool, worker);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(work);
    if (rc != AT_OK)
        return api_error_set(err, API_ERR_INTERNAL, "", "attention failed: %s", at_strerror(rc));
    req->compute_seconds =
        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    req->computed = true;
    return 0;
}

void api_attention_request_free(api_attention_request *req)
{
    free(req); /* the request is the start of its arena */
}
