/* Replays tests/fixtures/attention_basic.json (made by make_fixtures.py with PyTorch, float64)
 * directly on the core: each request body becomes an at_attention_desc through a small
 * converter here, and the outputs must match PyTorch's. The HTTP layer replays the same file. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/attention.h"
#include "../core/status.h"
#include "harness.h"

#define FIXTURE_FILE "attention_basic.json"

/* A nested JSON array of numbers or booleans, flattened. */
typedef struct flat {
    int rank;
    int64_t ne[AT_MAX_RANK];
    int64_t count;
    float *f;   /* numbers */
    uint8_t *b; /* booleans */
} flat;

static void flat_free(flat *t)
{
    free(t->f);
    free(t->b);
}

/* Walks `node` at depth `depth`, checking that it is a regular nested array. */
static bool flat_walk(const cJSON *node, int depth, flat *t, int64_t *at)
{
    if (depth == t->rank) {
        if (t->f && cJSON_IsNumber(node))
            t->f[(*at)++] = (float)node->valuedouble;
        else if (t->b && cJSON_IsBool(node))
            t->b[(*at)++] = cJSON_IsTrue(node) ? 1 : 0;
        else
            return false;
        return true;
    }
    if (!cJSON_IsArray(node) || cJSON_GetArraySize(node) != t->ne[depth]) return false;
    for (const cJSON *e = node->child; e; e = e->next)
        if (!flat_walk(e, depth + 1, t, at)) return false;
    return true;
}

static flat flatten(const cJSON *node, bool booleans, const char *what)
{
    flat t = {0};
    t.count = 1;
    for (const cJSON *n = node; cJSON_IsArray(n); n = n->child) {
        if (t.rank == AT_MAX_RANK || cJSON_GetArraySize(n) < 1)
            harness_fail(__FILE__, __LINE__, "%s: not a tensor of rank 1..4", what);
        t.ne[t.rank] = cJSON_GetArraySize(n);
        t.count *= t.ne[t.rank++];
    }
    if (booleans)
        t.b = malloc((size_t)t.count);
    else
        t.f = malloc((size_t)t.count * sizeof(float));
    ASSERT(t.f || t.b);
    int64_t at = 0;
    if (t.rank == 0 || !flat_walk(node, 0, &t, &at) || at != t.count)
        harness_fail(__FILE__, __LINE__, "%s: ragged or mistyped nested array", what);
    return t;
}

/* The rank-4 shape of a rank-r tensor: 1s prepended (right-aligned, as PyTorch broadcasts). */
static void right_align(const flat *t, int64_t ne4[4])
{
    for (int i = 0; i < 4; i++)
        ne4[i] = i < 4 - t->rank ? 1 : t->ne[i - (4 - t->rank)];
}

static const cJSON *field(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static void compare(const char *name, const char *what, const float *got, int64_t n,
                    const cJSON *want_json, bool relative)
{
    flat want = flatten(want_json, false, what);
    if (want.count != n)
        harness_fail(__FILE__, __LINE__, "%s: %s has %lld values, expected %lld", name, what,
                     (long long)n, (long long)want.count);
    for (int64_t i = 0; i < n; i++) {
        double w = want.f[i], tol = relative ? 1e-6 + 1e-4 * fabs(w) : 1e-5;
        if (!(fabs(got[i] - w) <= tol))
            harness_fail(__FILE__, __LINE__, "%s: %s[%lld] = %.9g, PyTorch %.9g", name, what,
                         (long long)i, (double)got[i], w);
    }
    flat_free(&want);
}

typedef struct forward_job {
    const at_attention_desc *d;
    const at_attention_out *out;
    void *ws;
    at_pool *pool;
    int rc;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} forward_job;

static void forward_job_run(void *arg, int worker)
{
    forward_job *j = arg;
    int rc = at_attention_forward(j->d, j->out, j->ws, j->pool, worker);
    pthread_mutex_lock(&j->mu);
    j->rc = rc;
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* Runs the forward pass as a job on `pool`, as the server does (a worker index belongs to one
 * thread at a time), or on this thread when pool is NULL. */
static int run_forward(at_pool *pool, const at_attention_desc *d, const at_attention_out *out,
                       void *ws)
{
    if (!pool) return at_attention_forward(d, out, ws, NULL, 0);
    forward_job j = {.d = d, .out = out, .ws = ws, .pool = pool};
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    if (at_pool_submit(pool, forward_job_run, &j) != AT_OK) return AT_EBUSY;
    pthread_mutex_lock(&j.mu);
    while (!j.done)
        pthread_cond_wait(&j.cv, &j.mu);
    pthread_mutex_unlock(&j.mu);
    pthread_cond_destroy(&j.cv);
    pthread_mutex_destroy(&j.mu);
    return j.rc;
}

/* Builds the descriptor of one request the way the api layer does, runs it, compares. */
static void replay_case(const cJSON *c, at_pool *pool)
{
    const cJSON *name_json = field(c, "name"), *req = field(c, "request");
    const cJSON *expected = field(c, "expected");
    const char *name = cJSON_IsString(name_json) ? name_json->valuestring : "(unnamed)";
    ASSERT(cJSON_IsObject(req) && cJSON_IsObject(expected));

    flat q = flatten(field(req, "query"), false, "query");
    const cJSON *kj = field(req, "key") ? field(req, "key") : field(req, "query");
    const cJSON *vj = field(req, "value") ? field(req, "value") : kj;
    flat k = flatten(kj, false, "key"), v = flatten(vj, false, "value");
    ASSERT(q.rank >= 2);

    int64_t ne[4];
    at_attention_desc d = {.score = AT_SCORE_SCALED_DOT, .need_weights = true};
    right_align(&q, ne);
    d.query = at_tensor_make(AT_F32, 4, ne, q.f);
    right_align(&k, ne);
    d.key = at_tensor_make(AT_F32, 4, ne, k.f);
    right_align(&v, ne);
    d.value = at_tensor_make(AT_F32, 4, ne, v.f);

    const cJSON *score = field(req, "score"), *scale = field(req, "scale");
    if (cJSON_IsString(score) && strcmp(score->valuestring, "dot") == 0) d.score = AT_SCORE_DOT;
    if (cJSON_IsNumber(scale)) {
        d.has_scale = true;
        d.scale = (float)scale->valuedouble;
    }
    d.causal = cJSON_IsTrue(field(req, "causal"));
    d.need_weights = !cJSON_IsFalse(field(req, "return_weights"));
    d.average_heads = cJSON_IsTrue(field(req, "average_heads"));

    flat m = {0};
    at_tensor mask;
    if (field(req, "mask")) {
        m = flatten(field(req, "mask"), true, "mask");
        right_align(&m, ne);
        mask = at_tensor_make(AT_BOOL, 4, ne, m.b);
        d.mask = &mask;
    }

    char err[256];
    if (at_attention_check(&d, NULL, err, sizeof err) != AT_OK)
        harness_fail(__FILE__, __LINE__, "%s: %s", name, err);
    int64_t b = d.query.ne[0], h = d.query.ne[1], lq = d.query.ne[2], lk = d.key.ne[2];
    int64_t nc = b * h * lq * d.value.ne[3], nw = b * (d.average_heads ? 1 : h) * lq * lk;
    float *context = malloc((size_t)nc * sizeof(float));
    float *weights = d.need_weights ? malloc((size_t)nw * sizeof(float)) : NULL;
    size_t ws_size = at_attention_workspace_size(&d, at_pool_threads(pool));
    void *ws = ws_size ? aligned_alloc(64, (ws_size + 63) / 64 * 64) : NULL;
    ASSERT(context && (weights || !d.need_weights) && (ws || !ws_size));

    at_attention_out out = {.context = context, .weights = weights};
    ASSERT_EQ(run_forward(pool, &d, &out, ws), AT_OK);
    compare(name, "context", context, nc, field(expected, "context"), true);
    if (d.need_weights)
        compare(name, "weights", weights, nw, field(expected, "weights"), false);
    else
        ASSERT(field(expected, "weights") == NULL);

    free(ws);
    free(context);
    free(weights);
    flat_free(&m);
    flat_free(&q);
    flat_free(&k);
    flat_free(&v);
}

static cJSON *load_fixtures(void)
{
    const char *dir = getenv("ATTND_FIXTURES_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/fixtures", FIXTURE_FILE);
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

TEST(fixture_core_attention_basic)
{
    cJSON *doc = load_fixtures();
    const cJSON *cases = field(doc, "cases");
    ASSERT(cJSON_IsArray(cases));
    ASSERT(cJSON_GetArraySize(cases) >= 20);
    for (const cJSON *c = cases->child; c; c = c->next)
        replay_case(c, NULL);
    cJSON_Delete(doc);
}

/* The same cases split over a pool: the same numbers, whatever the thread count. */
TEST(fixture_core_attention_basic_pool)
{
    at_pool *pool = at_pool_new(2, 2);
    ASSERT(pool != NULL);
    cJSON *doc = load_fixtures();
    for (const cJSON *c = field(doc, "cases")->child; c; c = c->next)
        replay_case(c, pool);
    cJSON_Delete(doc);
    at_pool_free(pool);
}
