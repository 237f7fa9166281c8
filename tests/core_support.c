/* The core unit tests' helpers (core_support.h). */
#include "core_support.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/status.h"
#include "harness.h"
#include "reference.h"

/* ---- random numbers ---- */

uint64_t ct_rng_next(ct_rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

int64_t ct_rng_int(ct_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(ct_rng_next(r) % (uint64_t)(hi - lo + 1));
}

float ct_rng_float(ct_rng *r)
{
    return (float)((double)(ct_rng_next(r) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* ---- inputs ---- */

at_tensor ct_make_view(ct_rng *r, int64_t b, int64_t h, int64_t l, int64_t d, ct_layout lay)
{
    int64_t pad = lay == CT_DENSE ? 0 : 3;
    int64_t rs = d + pad, heads_stored = lay == CT_SHARED_HEAD ? 1 : h;
    int64_t total = b * heads_stored * l * rs;
    float *data = malloc((size_t)total * sizeof(float));
    ASSERT(data != NULL);
    for (int64_t i = 0; i < total; i++)
        data[i] = (i % rs) < d ? ct_rng_float(r) : NAN;
    at_tensor t = {.dtype = AT_F32, .rank = 4, .ne = {b, h, l, d}, .data = data};
    switch (lay) {
    case CT_BLHD: memcpy(t.nb, (int64_t[]){l * h * rs, rs, h * rs, 1}, sizeof t.nb); break;
    case CT_SHARED_HEAD: memcpy(t.nb, (int64_t[]){l * rs, 0, rs, 1}, sizeof t.nb); break;
    default: memcpy(t.nb, (int64_t[]){h * l * rs, l * rs, rs, 1}, sizeof t.nb); break;
    }
    return t;
}

at_tensor ct_make_mask(ct_rng *r, const int64_t scores[4], unsigned bcast, bool unit_dims,
                       int percent_true)
{
    int64_t ne[4], total = 1;
    for (int a = 0; a < 4; a++) {
        ne[a] = (bcast >> a) & 1 ? 1 : scores[a];
        total *= ne[a];
    }
    uint8_t *data = malloc((size_t)total);
    ASSERT(data != NULL);
    for (int64_t i = 0; i < total; i++)
        data[i] = ct_rng_int(r, 0, 99) < percent_true;
    at_tensor m = at_tensor_make(AT_BOOL, 4, ne, data);
    if (!unit_dims)
        for (int a = 0; a < 4; a++)
            if ((bcast >> a) & 1) {
                m.ne[a] = scores[a];
                m.nb[a] = 0;
            }
    return m;
}

int64_t *ct_make_key_lengths(ct_rng *r, int64_t batch, int64_t lk)
{
    int64_t *len = malloc((size_t)batch * sizeof(int64_t));
    ASSERT(len != NULL);
    for (int64_t b = 0; b < batch; b++) {
        int64_t pick = ct_rng_int(r, 0, 9);
        len[b] = pick == 0 ? 0 : pick < 4 ? lk : ct_rng_int(r, 1, lk);
    }
    return len;
}

static float *random_floats(ct_rng *r, int64_t n, float amplitude)
{
    float *p = malloc((size_t)n * sizeof(float));
    ASSERT(p != NULL);
    for (int64_t i = 0; i < n; i++)
        p[i] = ct_rng_float(r) * amplitude;
    return p;
}

void ct_make_additive(ct_rng *r, at_attention_desc *d, ct_extras *x, int64_t dk, int64_t da,
                      bool bias, bool v)
{
    const at_tensor *k = &d->key;
    if (k->ne[3] != dk) {
        at_tensor nk = ct_make_view(r, k->ne[0], k->ne[1], k->ne[2], dk,
                                    (ct_layout)ct_rng_int(r, 0, CT_LAYOUT_COUNT - 1));
        free(d->key.data);
        d->key = nk;
    }
    int64_t width = d->query.ne[3] + dk;
    /* Pre-activations of order 1 exercise both branches of tanh and its saturation. */
    float amplitude = 2.5f / sqrtf((float)width);
    float *w = random_floats(r, da * width, amplitude);
    x->additive = (at_additive){
        .weight = at_tensor_make(AT_F32, 2, (int64_t[]){da, width}, w),
        .bias = bias ? random_floats(r, da, 1.0f) : NULL,
        .v = v ? random_floats(r, da, 1.5f) : NULL,
    };
    d->score = AT_SCORE_ADDITIVE;
    d->additive = &x->additive;
}

at_attention_desc ct_random_desc(ct_rng *r, int64_t max_b, int64_t max_h, int64_t max_l,
                                 int64_t max_d, ct_extras *x)
{
    at_attention_desc d = {0};
    int64_t b = ct_rng_int(r, 1, max_b), h = ct_rng_int(r, 1, max_h);
    int64_t lq = ct_rng_int(r, 1, max_l), lk = ct_rng_int(r, 1, max_l);
    int64_t dk = ct_rng_int(r, 1, max_d), dv = ct_rng_int(r, 1, max_d);
    d.query = ct_make_view(r, b, h, lq, dk, (ct_layout)ct_rng_int(r, 0, CT_LAYOUT_COUNT - 1));
    d.key = ct_make_view(r, b, h, lk, dk, (ct_layout)ct_rng_int(r, 0, CT_LAYOUT_COUNT - 1));
    d.value = ct_make_view(r, b, h, lk, dv, (ct_layout)ct_rng_int(r, 0, CT_LAYOUT_COUNT - 1));
    d.score = ct_rng_int(r, 0, 1) ? AT_SCORE_DOT : AT_SCORE_SCALED_DOT;
    d.has_scale = ct_rng_int(r, 0, 3) == 0;
    d.scale = d.has_scale ? (float)ct_rng_int(r, 1, 40) / 16.0f : 0.0f;
    d.causal = ct_rng_int(r, 0, 2) == 0;
    d.need_weights = ct_rng_int(r, 0, 3) != 0;
    d.average_heads = d.need_weights && ct_rng_int(r, 0, 2) == 0;
    if (ct_rng_int(r, 0, 1)) {
        int64_t scores[4] = {b, h, lq, lk};
        x->mask = ct_make_mask(r, scores, (unsigned)ct_rng_int(r, 0, 15), ct_rng_int(r, 0, 1), 75);
        d.mask = &x->mask;
    }
    if (ct_rng_int(r, 0, 2) == 0) d.key_lengths = ct_make_key_lengths(r, b, lk);
    return d;
}

at_attention_desc ct_tiny_desc(float *q, float *k, float *v, bool causal)
{
    const int64_t one[4] = {1, 1, 1, 1};
    at_attention_desc d = {
        .query = at_tensor_make(AT_F32, 4, one, q),
        .key = at_tensor_make(AT_F32, 4, one, k),
        .value = at_tensor_make(AT_F32, 4, one, v),
        .causal = causal,
    };
    return d;
}

at_attention_desc ct_empty_rows_desc(ct_rng *r, int64_t lk, ct_extras *x)
{
    int64_t scores[4] = {1, 2, 4, lk};
    x->mask = ct_make_mask(r, scores, 0, false, 100);
    uint8_t *m = x->mask.data;
    memset(m + 1 * lk, 0, (size_t)lk);       /* head 0, row 1 */
    memset(m + (4 + 3) * lk, 0, (size_t)lk); /* head 1, row 3 */
    at_attention_desc d = {
        .query = ct_make_view(r, 1, 2, 4, 3, CT_DENSE),
        .key = ct_make_view(r, 1, 2, lk, 3, CT_DENSE),
        .value = ct_make_view(r, 1, 2, lk, 5, CT_DENSE),
        .mask = &x->mask,
    };
    return d;
}

void ct_free_desc(at_attention_desc *d)
{
    free(d->query.data);
    free(d->key.data);
    free(d->value.data);
    if (d->mask) free(d->mask->data);
    free((void *)d->key_lengths);
    if (d->additive) {
        free(d->additive->weight.data);
        free((void *)d->additive->bias);
        free((void *)d->additive->v);
    }
}

/* ---- running ---- */

typedef struct pool_job {
    ct_pool_fn fn;
    void *ctx;
    at_pool *pool;
    int rc;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} pool_job;

static void pool_job_run(void *arg, int worker)
{
    pool_job *j = arg;
    int rc = j->fn(j->ctx, j->pool, worker);
    pthread_mutex_lock(&j->mu);
    j->rc = rc;
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

int ct_run_on_pool(at_pool *pool, ct_pool_fn fn, void *ctx)
{
    if (!pool) return fn(ctx, NULL, 0);
    pool_job j = {.fn = fn, .ctx = ctx, .pool = pool};
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    int rc = at_pool_submit(pool, pool_job_run, &j);
    if (rc == AT_OK) {
        pthread_mutex_lock(&j.mu);
        while (!j.done)
            pthread_cond_wait(&j.cv, &j.mu);
        pthread_mutex_unlock(&j.mu);
        rc = j.rc;
    }
    pthread_cond_destroy(&j.cv);
    pthread_mutex_destroy(&j.mu);
    return rc;
}

typedef struct forward_call {
    const at_attention_desc *d;
    const at_attention_out *out;
    void *ws;
} forward_call;

static int forward_call_run(void *ctx, at_pool *pool, int worker)
{
    forward_call *c = ctx;
    return at_attention_forward(c->d, c->out, c->ws, pool, worker);
}

int ct_run_forward(at_pool *pool, const at_attention_desc *d, const at_attention_out *out)
{
    size_t ws_size = at_attention_workspace_size(d, at_pool_threads(pool));
    /* Exactly the size asked for (rounded to the alignment), so ASan sees any overrun. */
    void *ws = ws_size ? aligned_alloc(64, (ws_size + 63) / 64 * 64) : NULL;
    if (ws_size) ASSERT(ws != NULL);
    forward_call c = {d, out, ws};
    int rc = ct_run_on_pool(pool, forward_call_run, &c);
    ASSERT(rc != AT_EBUSY && rc != AT_ESHUTDOWN); /* the pool took the job */
    free(ws);
    return rc;
}

ct_outputs ct_alloc_outputs(const at_attention_desc *d)
{
    ct_outputs o = {0};
    int64_t b = d->query.ne[0], h = d->query.ne[1], lq = d->query.ne[2], lk = d->key.ne[2];
    o.context_n = (size_t)(b * h * lq * d->value.ne[3]);
    o.context = malloc(o.context_n * sizeof(float));
    ASSERT(o.context != NULL);
    if (d->need_weights) {
        o.weights_n = (size_t)(b * (d->average_heads ? 1 : h) * lq * lk);
        o.weights = malloc(o.weights_n * sizeof(float));
        ASSERT(o.weights != NULL);
        for (size_t i = 0; i < o.weights_n; i++)
            o.weights[i] = NAN;
    }
    for (size_t i = 0; i < o.context_n; i++)
        o.context[i] = NAN;
    return o;
}

void ct_free_outputs(ct_outputs *o)
{
    free(o->context);
    free(o->weights);
}

ct_outputs ct_forward(at_pool *pool, const at_attention_desc *d)
{
    ct_outputs o = ct_alloc_outputs(d);
    at_attention_out out = {.context = o.context, .weights = o.weights};
    ASSERT_EQ(ct_run_forward(pool, d, &out), AT_OK);
    return o;
}

/* ---- checking ---- */

char *ct_describe(const at_attention_desc *d, char *buf, size_t len)
{
    static const char *const scores[] = {"scaled_dot", "dot", "additive"};
    static const char *const selections[] = {"soft", "topk", "sample"};
    char q[64], k[64], v[64];
    snprintf(buf, len,
             "q%s k%s v%s score=%s da=%lld bias=%d v=%d scale=%s%g causal=%d mask=%d lengths=%d "
             "select=%s k=%lld norm=%d seed=%llu weights=%d avg=%d",
             at_shape_str(4, d->query.ne, q, sizeof q), at_shape_str(4, d->key.ne, k, sizeof k),
             at_shape_str(4, d->value.ne, v, sizeof v), scores[d->score % 3],
             d->additive ? (long long)d->additive->weight.ne[0] : 0LL,
             d->additive && d->additive->bias, d->additive && d->additive->v,
             d->has_scale ? "" : "~", (double)at_attention_scale(d), d->causal, d->mask != NULL,
             d->key_lengths != NULL, selections[d->selection % 3], (long long)d->k, d->normalize,
             (unsigned long long)d->seed, d->need_weights, d->average_heads);
    return buf;
}

bool ct_allowed(const at_attention_desc *d, int64_t b, int64_t h, int64_t i, int64_t j)
{
    if (d->causal && j > i) return false;
    if (d->key_lengths && j >= d->key_lengths[b]) return false;
    if (!d->mask) return true;
    const at_tensor *m = d->mask;
    int64_t idx[4] = {b, h, i, j}, off = 0;
    for (int a = 0; a < 4; a++)
        off += (m->ne[a] == 1 ? 0 : idx[a]) * m->nb[a];
    return ((const uint8_t *)m->data)[off] != 0;
}

at_attention_desc ct_lengths_as_mask(const at_attention_desc *d, at_tensor *full)
{
    at_attention_desc e = *d;
    *full = (at_tensor){0};
    if (!d->key_lengths) return e;
    at_attention_desc no_causal = *d; /* causal stays in e: fold only lengths and mask */
    no_causal.causal = false;
    int64_t ne[4] = {d->query.ne[0], d->query.ne[1], d->query.ne[2], d->key.ne[2]};
    uint8_t *data = malloc((size_t)(ne[0] * ne[1] * ne[2] * ne[3]));
    ASSERT(data != NULL);
    *full = at_tensor_make(AT_BOOL, 4, ne, data);
    for (int64_t b = 0; b < ne[0]; b++)
        for (int64_t h = 0; h < ne[1]; h++)
            for (int64_t i = 0; i < ne[2]; i++)
                for (int64_t j = 0; j < ne[3]; j++)
                    *data++ = ct_allowed(&no_causal, b, h, i, j);
    e.mask = full;
    e.key_lengths = NULL;
    return e;
}

double ct_at(const at_tensor *t, int64_t b, int64_t h, int64_t j, int64_t e)
{
    const float *p = t->data;
    return (double)p[b * t->nb[0] + h * t->nb[1] + j * t->nb[2] + e * t->nb[3]];
}

double ct_gumbel(uint64_t seed, int64_t b, int64_t h, int64_t i, int64_t j)
{
    double u = (double)at_rng_uniform(at_rng_bits(at_rng_row_stream(seed, b, h, i), j));
    return -log(-log(u));
}

void ct_check_soft_outputs(const at_attention_desc *d, const ct_outputs *o,
                           const at_attention_desc *ref, const char *note)
{
    char what[512];
    double *rc = malloc(o->context_n * sizeof(double));
    double *rw = o->weights ? malloc(o->weights_n * sizeof(double)) : NULL;
    ASSERT(rc != NULL && (!o->weights || rw != NULL));
    ASSERT_EQ(at_ref_attention(ref, rc, rw), AT_OK);
    for (size_t i = 0; i < o->context_n; i++)
        if (!(fabs(o->context[i] - rc[i]) <= 1e-5 + 1e-4 * fabs(rc[i])))
            harness_fail(__FILE__, __LINE__, "%s: context[%zu] = %.9g, reference%s %.9g",
                         ct_describe(d, what, sizeof what), i, (double)o->context[i], note, rc[i]);
    for (size_t i = 0; i < o->weights_n; i++)
        if (!(fabs(o->weights[i] - rw[i]) <= 1e-5))
            harness_fail(__FILE__, __LINE__, "%s: weights[%zu] = %.9g, reference%s %.9g",
                         ct_describe(d, what, sizeof what), i, (double)o->weights[i], note, rw[i]);
    free(rc);
    free(rw);
}

static void check_soft(at_pool *pool, const at_attention_desc *d)
{
    ct_outputs o = ct_forward(pool, d);
    ct_check_soft_outputs(d, &o, d, "");
    ct_free_outputs(&o);
}

/* One row of a hard selection: w (fast, per head) against ref (reference, same row) and the
 * reference's softmax probabilities prob. Returns whether the two selected different keys (a
 * near-tie, checked here). */
static bool check_hard_row(const at_attention_desc *d, int64_t b, int64_t h, int64_t i,
                           const float *w, const double *ref, const double *prob)
{
    char what[512];
    const int64_t lk = d->key.ne[2];
    int64_t allowed = 0, selected = 0;
    bool differs = false;
    for (int64_t j = 0; j < lk; j++) {
        bool ok = ct_allowed(d, b, h, i, j);
        allowed += ok;
        if (w[j] != 0) {
            selected++;
            if (!ok)
                harness_fail(__FILE__, __LINE__,
                             "%s: row (%lld, %lld, %lld) selects masked key %lld",
                             ct_describe(d, what, sizeof what), (long long)b, (long long)h,
                             (long long)i, (long long)j);
        }
        if ((w[j] != 0) != (ref[j] != 0)) differs = true;
    }
    int64_t want = allowed < d->k ? allowed : d->k;
    if (selected != want)
        harness_fail(__FILE__, __LINE__, "%s: row (%lld, %lld, %lld) selects %lld keys, want %lld",
                     ct_describe(d, what, sizeof what), (long long)b, (long long)h, (long long)i,
                     (long long)selected, (long long)want);
    float one = d->normalize && selected > 0 ? 1.0f / (float)selected : 1.0f;
    for (int64_t j = 0; j < lk; j++)
        if (w[j] != 0 && w[j] != one)
            harness_fail(__FILE__, __LINE__, "%s: row (%lld, %lld, %lld) weight %.9g, want %.9g",
                         ct_describe(d, what, sizeof what), (long long)b, (long long)h,
                         (long long)i, (double)w[j], (double)one);
    if (!differs) return false;
    /* Where float and double disagree, the boundary must be a near-tie of the reference's
     * ordering key: log softmax (a per-row shift of the score) plus the Gumbel noise. */
    double worst_in = INFINITY, best_out = -INFINITY;
    for (int64_t j = 0; j < lk; j++) {
        if (!ct_allowed(d, b, h, i, j)) continue;
        double z = log(prob[j]);
        if (d->selection == AT_SELECT_SAMPLE) z += ct_gumbel(d->seed, b, h, i, j);
        if (w[j] != 0)
            worst_in = z < worst_in ? z : worst_in;
        else
            best_out = z > best_out ? z : best_out;
    }
    if (!(worst_in >= best_out - 1e-4))
        harness_fail(__FILE__, __LINE__,
                     "%s: row (%lld, %lld, %lld) selects a key ranked %.9g below an unselected one",
                     ct_describe(d, what, sizeof what), (long long)b, (long long)h, (long long)i,
                     best_out - worst_in);
    return true;
}

static void check_hard(at_pool *pool, const at_attention_desc *d)
{
    char what[512];
    const int64_t nb = d->query.ne[0], nh = d->query.ne[1], lq = d->query.ne[2];
    const int64_t lk = d->key.ne[2], dv = d->value.ne[3];

    /* The per-head weights explain every other output mode. */
    at_attention_desc dp = *d;
    dp.need_weights = true;
    dp.average_heads = false;
    ct_outputs o = ct_forward(pool, d), op = ct_forward(pool, &dp);
    for (size_t n = 0; n < o.context_n; n++)
        if (!(fabs(o.context[n] - op.context[n]) <= 1e-6 + 1e-6 * fabs(op.context[n])))
            harness_fail(__FILE__, __LINE__, "%s: context[%zu] = %.9g, with per-head weights %.9g",
                         ct_describe(d, what, sizeof what), n, (double)o.context[n],
                         (double)op.context[n]);
    if (d->need_weights && d->average_heads) {
        for (int64_t b = 0; b < nb; b++)
            for (int64_t n = 0; n < lq * lk; n++) {
                double avg = 0;
                for (int64_t h = 0; h < nh; h++)
                    avg += op.weights[(b * nh + h) * lq * lk + n];
                avg /= (double)nh;
                ASSERT_NEAR(o.weights[b * lq * lk + n], avg, 1e-6);
            }
    } else if (d->need_weights) {
        ASSERT(memcmp(o.weights, op.weights, o.weights_n * sizeof(float)) == 0);
    }

    at_attention_desc ds = dp;
    ds.selection = AT_SELECT_SOFT;
    double *prob = malloc(op.weights_n * sizeof(double));
    double *ref = malloc(op.weights_n * sizeof(double));
    double *rc = malloc(op.context_n * sizeof(double));
    ASSERT(prob && ref && rc);
    ASSERT_EQ(at_ref_attention(&ds, rc, prob), AT_OK);
    ASSERT_EQ(at_ref_attention(&dp, rc, ref), AT_OK);

    int64_t near_ties = 0, rows = nb * nh * lq;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t h = 0; h < nh; h++)
            for (int64_t i = 0; i < lq; i++) {
                size_t row = (size_t)(((b * nh + h) * lq + i) * lk);
                near_ties += check_hard_row(d, b, h, i, op.weights + row, ref + row, prob + row);
                /* The context is the selected values, weighted. */
                for (int64_t e = 0; e < dv; e++) {
                    double acc = 0;
                    for (int64_t j = 0; j < lk; j++)
                        if (op.weights[row + j] != 0)
                            acc += (double)op.weights[row + j] * ct_at(&d->value, b, h, j, e);
                    float got = op.context[((b * nh + h) * lq + i) * dv + e];
                    if (!(fabs(got - acc) <= 1e-5 + 1e-5 * fabs(acc)))
                        harness_fail(__FILE__, __LINE__,
                                     "%s: context (%lld, %lld, %lld, %lld) = %.9g, want %.9g",
                                     ct_describe(d, what, sizeof what), (long long)b, (long long)h,
                                     (long long)i, (long long)e, (double)got, acc);
                }
            }
    /* Near-ties are rare with random inputs; many of them would mean a systematic error. */
    if (near_ties > 2 + rows / 100)
        harness_fail(__FILE__, __LINE__, "%s: %lld of %lld rows differ from the reference",
                     ct_describe(d, what, sizeof what), (long long)near_ties, (long long)rows);
    free(prob);
    free(ref);
    free(rc);
    ct_free_outputs(&o);
    ct_free_outputs(&op);
}

void ct_check_forward(at_pool *pool, const at_attention_desc *d)
{
    char what[512], err[256];
    if (at_attention_check(d, NULL, err, sizeof err) != AT_OK)
        harness_fail(__FILE__, __LINE__, "check failed for %s: %s",
                     ct_describe(d, what, sizeof what), err);
    if (d->selection == AT_SELECT_SOFT)
        check_soft(pool, d);
    else
        check_hard(pool, d);
}

void ct_expect_bad_at(const at_attention_desc *d, const char *field, const char *needle, int status,
                      const char *file, int line)
{
    char err[256] = "untouched";
    const char *got = NULL;
    int rc = at_attention_check(d, &got, err, sizeof err);
    if (rc != status || !got || strcmp(got, field) != 0 ||
        strncmp(err, field, strlen(field)) != 0 || !strstr(err, needle))
        harness_fail(file, line, "want %s/%s/\"%s\", got %s/%s/\"%s\"", at_status_name(status),
                     field, needle, at_status_name(rc), got ? got : "(null)", err);
}

/* ---- families of cases ---- */

void ct_check_mask_patterns(ct_rng *r, const int64_t scores[4], bool need_weights,
                            ct_check_fn check)
{
    const int64_t b = scores[0], h = scores[1], lq = scores[2], lk = scores[3];
    for (unsigned bcast = 0; bcast < 16; bcast++)
        for (int unit = 0; unit <= 1; unit++)
            for (int causal = 0; causal <= 1; causal++) {
                at_tensor mask = ct_make_mask(r, scores, bcast, unit, 60);
                at_attention_desc d = {
                    .query = ct_make_view(r, b, h, lq, 5, CT_DENSE),
                    .key = ct_make_view(r, b, h, lk, 5, CT_BLHD),
                    .value = ct_make_view(r, b, h, lk, 4, CT_DENSE),
                    .mask = &mask,
                    .causal = causal,
                    .need_weights = need_weights,
                    .average_heads = need_weights && (bcast & 1),
                };
                check(NULL, &d);
                ct_free_desc(&d);
            }
}

void ct_check_strided_mask(ct_rng *r, int64_t lq, int64_t lk, bool need_weights, ct_check_fn check)
{
    size_t n = (size_t)(2 * lq * lk * 2);
    uint8_t *bytes = malloc(n);
    ASSERT(bytes != NULL);
    for (size_t i = 0; i < n; i++)
        bytes[i] = (i % 2) ? 0 : (uint8_t)ct_rng_int(r, 0, 1);
    at_tensor mask = {.dtype = AT_BOOL,
                      .rank = 4,
                      .ne = {2, 1, lq, lk},
                      .nb = {lq * lk * 2, 0, lk * 2, 2},
                      .data = bytes};
    at_attention_desc d = {
        .query = ct_make_view(r, 2, 3, lq, 6, CT_DENSE),
        .key = ct_make_view(r, 2, 3, lk, 6, CT_DENSE),
        .value = ct_make_view(r, 2, 3, lk, 2, CT_DENSE),
        .mask = &mask,
        .need_weights = need_weights,
    };
    check(NULL, &d);
    ct_free_desc(&d);
}
