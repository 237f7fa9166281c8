/* Checking replayed fixture cases (fixture_check.h). Tolerances: weights 1e-5 absolute,
 * context 1e-4 relative with a 1e-6 absolute floor, hard weights to 1e-6, frequencies of
 * sampled keys within FX_SIGMAS standard deviations of their inclusion probabilities. */
#include "fixture_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define FX_SIGMAS 5.0

/* Walks `node` at depth `depth`, checking that it is a regular nested array. */
static bool walk(const cJSON *node, int depth, fx_tensor *t, int64_t *at)
{
    if (depth == t->rank) {
        if (t->d && cJSON_IsNumber(node))
            t->d[(*at)++] = node->valuedouble;
        else if (t->d && cJSON_IsNull(node))
            t->d[(*at)++] = NAN;
        else if (t->b && cJSON_IsBool(node))
            t->b[(*at)++] = cJSON_IsTrue(node) ? 1 : 0;
        else
            return false;
        return true;
    }
    if (!cJSON_IsArray(node) || cJSON_GetArraySize(node) != t->ne[depth]) return false;
    for (const cJSON *e = node->child; e; e = e->next)
        if (!walk(e, depth + 1, t, at)) return false;
    return true;
}

fx_tensor fx_flatten(const cJSON *node, bool booleans, const char *what)
{
    fx_tensor t = {0};
    t.count = 1;
    for (const cJSON *n = node; cJSON_IsArray(n); n = n->child) {
        if (t.rank == FX_MAX_RANK || cJSON_GetArraySize(n) < 1)
            harness_fail(__FILE__, __LINE__, "%s: not a tensor of rank 1..4", what);
        t.ne[t.rank] = cJSON_GetArraySize(n);
        t.count *= t.ne[t.rank++];
    }
    if (booleans)
        t.b = malloc((size_t)t.count);
    else
        t.d = malloc((size_t)t.count * sizeof(double));
    ASSERT(t.d || t.b);
    int64_t at = 0;
    if (t.rank == 0 || !walk(node, 0, &t, &at) || at != t.count) {
        fx_tensor_free(&t);
        harness_fail(__FILE__, __LINE__, "%s: ragged or mistyped nested array", what);
    }
    return t;
}

float *fx_floats(const fx_tensor *t)
{
    float *f = malloc((size_t)t->count * sizeof(float));
    ASSERT(f != NULL && t->d != NULL);
    for (int64_t i = 0; i < t->count; i++)
        f[i] = (float)t->d[i];
    return f;
}

void fx_tensor_free(fx_tensor *t)
{
    free(t->d);
    free(t->b);
    t->d = NULL;
    t->b = NULL;
}

cJSON *fx_load(const char *file)
{
    const char *dir = getenv("ATTND_FIXTURES_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/fixtures", file);
    FILE *f = fopen(path, "rb");
    if (!f) harness_fail(__FILE__, __LINE__, "cannot open %s (run from the repo root)", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    ASSERT(text != NULL);
    size_t got = fread(text, 1, (size_t)len, f);
    fclose(f);
    text[got] = '\0';
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (!doc) harness_fail(__FILE__, __LINE__, "%s: not valid JSON", path);
    return doc;
}

const cJSON *fx_field(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

const char *fx_case_name(const cJSON *c)
{
    const char *name = cJSON_GetStringValue(fx_field(c, "name"));
    return name ? name : "(unnamed)";
}

const char *fx_case_selection(const cJSON *c)
{
    const char *sel = cJSON_GetStringValue(fx_field(fx_field(c, "request"), "selection"));
    return sel ? sel : "soft";
}

uint64_t fx_case_seed(const cJSON *c)
{
    const char *text = cJSON_GetStringValue(fx_field(c, "seed_decimal"));
    return text ? strtoull(text, NULL, 10) : 0;
}

bool fx_case_is_distribution(const cJSON *c)
{
    return fx_field(fx_field(c, "expected"), "inclusion") != NULL;
}

/* got[0..n) against the numbers of want_json. */
static void compare(const char *name, const char *what, const float *got, int64_t n,
                    const cJSON *want_json, bool relative)
{
    fx_tensor want = fx_flatten(want_json, false, what);
    if (want.count != n) {
        fx_tensor_free(&want);
        harness_fail(__FILE__, __LINE__, "%s: %s has %lld values, expected %lld", name, what,
                     (long long)n, (long long)want.count);
    }
    for (int64_t i = 0; i < n; i++) {
        double w = want.d[i], tol = relative ? 1e-6 + 1e-4 * fabs(w) : 1e-5;
        if (!(fabs(got[i] - w) <= tol)) {
            double g = got[i];
            fx_tensor_free(&want);
            harness_fail(__FILE__, __LINE__, "%s: %s[%lld] = %.9g, PyTorch %.9g", name, what,
                         (long long)i, g, w);
        }
    }
    fx_tensor_free(&want);
}

/* Sizes of the nested array `node` by its first elements; returns the rank. */
static int scan_shape(const cJSON *node, int64_t ne[FX_MAX_RANK])
{
    int r = 0;
    for (const cJSON *n = node; cJSON_IsArray(n) && r < FX_MAX_RANK; n = n->child)
        ne[r++] = cJSON_GetArraySize(n);
    return r;
}

/* What one hard-selection case needs, read once. */
typedef struct hard_case {
    const char *name;
    bool topk, normalize;
    int64_t k, groups, lq, lk, dv;
    fx_tensor values; /* [groups, Lk, dv] */
    fx_tensor scores; /* topk: [groups * Lq, Lk], NaN where masked */
    fx_tensor probs;  /* sample: [groups * Lq, Lk] or [groups, Lk] for distribution cases */
    fx_tensor incl;   /* distribution cases: [groups, Lk] */
    int64_t *counts;  /* distribution cases: times each (group, key) was selected */
} hard_case;

static void hard_case_free(hard_case *h)
{
    fx_tensor_free(&h->values);
    fx_tensor_free(&h->scores);
    fx_tensor_free(&h->probs);
    fx_tensor_free(&h->incl);
    free(h->counts);
}

/* Row `row`'s expected selection into sel[0..Lk): the true top k for topk (ties to the lower
 * index); for sample, the allowed keys into allowed[]. Returns how many keys must be selected. */
static int64_t row_expectation(const hard_case *h, int64_t row, uint8_t *sel, uint8_t *allowed)
{
    int64_t lk = h->lk, n_allowed = 0;
    if (h->topk) {
        const double *s = h->scores.d + row * lk;
        for (int64_t j = 0; j < lk; j++) {
            allowed[j] = !isnan(s[j]);
            n_allowed += allowed[j];
            sel[j] = 0;
        }
        int64_t want = n_allowed < h->k ? n_allowed : h->k;
        for (int64_t t = 0; t < want; t++) { /* pick the best unselected, lowest index on ties */
            int64_t best = -1;
            for (int64_t j = 0; j < lk; j++)
                if (allowed[j] && !sel[j] && (best < 0 || s[j] > s[best])) best = j;
            sel[best] = 1;
        }
        return want;
    }
    int64_t prow = h->probs.count == h->groups * lk ? row / h->lq : row;
    const double *p = h->probs.d + prow * lk;
    for (int64_t j = 0; j < lk; j++) {
        allowed[j] = p[j] > 0;
        n_allowed += allowed[j];
    }
    return n_allowed < h->k ? n_allowed : h->k;
}

static void check_hard_row(hard_case *h, int64_t row, const float *context, const float *weights)
{
    int64_t lk = h->lk, dv = h->dv, g = row / h->lq;
    uint8_t sel[4096], allowed[4096];
    ASSERT(lk <= 4096);
    int64_t want = row_expectation(h, row, sel, allowed);
    const float *w = weights ? weights + row * lk : NULL;
    if (!h->topk) { /* sampled: the keys the row drew, which must be allowed and distinct */
        ASSERT(w != NULL);
        for (int64_t j = 0; j < lk; j++)
            sel[j] = w[j] != 0;
    }
    int64_t n_sel = 0;
    for (int64_t j = 0; j < lk; j++) {
        n_sel += sel[j];
        if (sel[j] && !allowed[j])
            harness_fail(__FILE__, __LINE__, "%s: row %lld selected key %lld, which is masked",
                         h->name, (long long)row, (long long)j);
    }
    if (n_sel != want)
        harness_fail(__FILE__, __LINE__, "%s: row %lld selected %lld keys, expected %lld", h->name,
                     (long long)row, (long long)n_sel, (long long)want);
    double one = h->normalize && want > 0 ? 1.0 / (double)want : 1.0;
    for (int64_t j = 0; w && j < lk; j++) {
        double expect = sel[j] ? one : 0.0;
        if (!(fabs(w[j] - expect) <= 1e-6))
            harness_fail(__FILE__, __LINE__,
                         "%s: weights[row %lld][key %lld] = %.9g, expected %.9g (%s)", h->name,
                         (long long)row, (long long)j, (double)w[j], expect,
                         h->topk ? "the true top k" : "a sampled key");
    }
    const double *v = h->values.d + g * lk * dv;
    for (int64_t c = 0; c < dv; c++) {
        double expect = 0;
        for (int64_t j = 0; j < lk; j++)
            if (sel[j]) expect += one * v[j * dv + c];
        double got = context[row * dv + c];
        if (!(fabs(got - expect) <= 1e-6 + 1e-4 * fabs(expect)))
            harness_fail(__FILE__, __LINE__,
                         "%s: context[row %lld][%lld] = %.9g, the selected values sum to %.9g",
                         h->name, (long long)row, (long long)c, got, expect);
    }
    if (h->counts)
        for (int64_t j = 0; j < lk; j++)
            h->counts[g * lk + j] += sel[j];
}

/* Frequencies of the selected keys against the inclusion probabilities, per (batch, head). */
static void check_distribution(const hard_case *h)
{
    double n = (double)h->lq;
    ASSERT(h->lq >= 1000);
    for (int64_t g = 0; g < h->groups; g++)
        for (int64_t j = 0; j < h->lk; j++) {
            double p = h->incl.d[g * h->lk + j], f = (double)h->counts[g * h->lk + j] / n;
            double sigma = sqrt(p * (1 - p) / n);
            if (!(fabs(f - p) <= FX_SIGMAS * sigma + 1e-9))
                harness_fail(__FILE__, __LINE__,
                             "%s: head %lld key %lld drawn in %.5f of %lld rows, expected %.5f "
                             "(sigma %.5f)",
                             h->name, (long long)g, (long long)j, f, (long long)h->lq, p, sigma);
        }
}

static void check_hard(const cJSON *c, const float *context, int64_t n_context,
                       const float *weights, int64_t n_weights)
{
    const cJSON *req = fx_field(c, "request"), *exp = fx_field(c, "expected");
    hard_case h = {.name = fx_case_name(c)};
    h.topk = strcmp(fx_case_selection(c), "topk") == 0;
    h.normalize = cJSON_IsTrue(fx_field(req, "normalize"));
    ASSERT(cJSON_IsNumber(fx_field(req, "k")));
    h.k = (int64_t)fx_field(req, "k")->valuedouble;
    ASSERT(!cJSON_IsTrue(fx_field(req, "average_heads")));

    int64_t qne[FX_MAX_RANK], kne[FX_MAX_RANK];
    const cJSON *qj = fx_field(req, "query");
    const cJSON *kj = fx_field(req, "key") ? fx_field(req, "key") : qj;
    const cJSON *vj = fx_field(req, "value") ? fx_field(req, "value") : kj;
    int r = scan_shape(qj, qne);
    ASSERT(r >= 2 && scan_shape(kj, kne) == r);
    h.lq = qne[r - 2];
    h.lk = kne[r - 2];
    h.groups = 1;
    for (int i = 0; i < r - 2; i++)
        h.groups *= qne[i];
    h.values = fx_flatten(vj, false, "value");
    h.dv = h.values.ne[r - 1];
    int64_t rows = h.groups * h.lq;
    if (n_context != rows * h.dv)
        harness_fail(__FILE__, __LINE__, "%s: context has %lld values, expected %lld", h.name,
                     (long long)n_context, (long long)(rows * h.dv));
    if (weights && n_weights != rows * h.lk)
        harness_fail(__FILE__, __LINE__, "%s: weights have %lld values, expected %lld", h.name,
                     (long long)n_weights, (long long)(rows * h.lk));
    if (!weights) ASSERT(cJSON_IsFalse(fx_field(req, "return_weights")));
    if (h.topk) {
        h.scores = fx_flatten(fx_field(exp, "scores"), false, "scores");
        ASSERT_EQ(h.scores.count, rows * h.lk);
    } else {
        h.probs = fx_flatten(fx_field(exp, "probabilities"), false, "probabilities");
        ASSERT(h.probs.count == rows * h.lk || h.probs.count == h.groups * h.lk);
        if (fx_field(exp, "inclusion")) {
            h.incl = fx_flatten(fx_field(exp, "inclusion"), false, "inclusion");
            ASSERT_EQ(h.incl.count, h.groups * h.lk);
            h.counts = calloc((size_t)(h.groups * h.lk), sizeof *h.counts);
            ASSERT(h.counts != NULL);
        }
    }
    for (int64_t row = 0; row < rows; row++)
        check_hard_row(&h, row, context, weights);
    if (h.counts) check_distribution(&h);
    hard_case_free(&h);
}

void fx_check_case(const cJSON *c, const float *context, int64_t n_context, const float *weights,
                   int64_t n_weights)
{
    const char *name = fx_case_name(c);
    const cJSON *expected = fx_field(c, "expected");
    ASSERT(cJSON_IsObject(expected));
    if (strcmp(fx_case_selection(c), "soft") != 0) {
        check_hard(c, context, n_context, weights, n_weights);
        return;
    }
    compare(name, "context", context, n_context, fx_field(expected, "context"), true);
    if (fx_field(expected, "weights")) {
        if (!weights) harness_fail(__FILE__, __LINE__, "%s: no weights", name);
        compare(name, "weights", weights, n_weights, fx_field(expected, "weights"), false);
    } else if (weights) {
        harness_fail(__FILE__, __LINE__, "%s: weights that were not asked for", name);
    }
}
