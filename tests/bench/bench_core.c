/* `make bench`: times at_attention_forward on a pool of N workers for one shape and variant, the
 * way the daemon runs it (inside a pool job, on that job's worker). Prints one key=value line
 * that tests/bench/run_bench.py reads: the mean time of a call and 4*B*H*Lq*Lk*d GFLOP/s.
 * out=PATH also writes the context, so that a peer's answer can be compared with it. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/attention.h"
#include "../../core/blas.h"
#include "../../core/pool.h"
#include "../../core/status.h"

typedef struct bench_opts {
    int64_t threads, rounds;
    double seconds; /* each round calls the kernel for at least this long */
    const char *score, *selection;
    int64_t b, h, lq, lk, d, da, k;
    bool weights;
    const char *out; /* when set: the context is written there as raw float32 [B, H, Lq, dv] */
} bench_opts;

typedef struct bench_job {
    const at_attention_desc *desc;
    const at_attention_out *out;
    void *workspace;
    at_pool *pool;
    const bench_opts *opts;
    double best_mean; /* seconds per call, best round */
    long calls;       /* calls in the best round */
    int rc;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} bench_job;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Deterministic values in [-1, 1): the figures must not depend on the run. */
static void fill(float *x, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
}

/* Runs on a pool worker, as the daemon's jobs do: a warm-up call, then `rounds` rounds of calls
 * lasting at least `seconds` each; keeps the round with the lowest mean. */
static void bench_run(void *arg, int worker)
{
    bench_job *j = arg;
    j->rc = at_attention_forward(j->desc, j->out, j->workspace, j->pool, worker);
    j->best_mean = 1e30;
    for (int r = 0; r < j->opts->rounds && j->rc == AT_OK; r++) {
        long n = 0;
        double t0 = now(), t;
        do {
            j->rc = at_attention_forward(j->desc, j->out, j->workspace, j->pool, worker);
            n++;
            t = now() - t0;
        } while (t < j->opts->seconds && j->rc == AT_OK);
        if (t / (double)n < j->best_mean) {
            j->best_mean = t / (double)n;
            j->calls = n;
        }
    }
    pthread_mutex_lock(&j->mu);
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_core [threads=N] [score=scaled_dot|dot|additive] "
                    "[selection=soft|topk] [B=N] [H=N] [L=N | Lq=N Lk=N] [d=N] [da=N] [k=N] "
                    "[weights=0|1] [seconds=S] [rounds=N] [out=PATH]\n");
    return 2;
}

/* Reads key=value arguments into *o. Returns false on an unknown key or a size below 1. */
static bool parse_args(int argc, char **argv, bench_opts *o)
{
    struct {
        const char *name;
        int64_t *dst;
    } ints[] = {{"threads", &o->threads},
                {"rounds", &o->rounds},
                {"B", &o->b},
                {"H", &o->h},
                {"Lq", &o->lq},
                {"Lk", &o->lk},
                {"d", &o->d},
                {"da", &o->da},
                {"k", &o->k}};
    for (int i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq) return false;
        size_t klen = (size_t)(eq - argv[i]);
        const char *val = eq + 1;
        bool known = false;
        for (size_t j = 0; j < sizeof ints / sizeof ints[0]; j++) {
            if (strlen(ints[j].name) == klen && strncmp(argv[i], ints[j].name, klen) == 0) {
                *ints[j].dst = atoll(val);
                known = true;
            }
        }
        if (known) continue;
        if (strncmp(argv[i], "L=", 2) == 0) {
            o->lq = o->lk = atoll(val);
        } else if (strncmp(argv[i], "weights=", 8) == 0) {
            o->weights = atoi(val) != 0;
        } else if (strncmp(argv[i], "seconds=", 8) == 0) {
            o->seconds = atof(val);
        } else if (strncmp(argv[i], "score=", 6) == 0) {
            o->score = val;
        } else if (strncmp(argv[i], "selection=", 10) == 0) {
            o->selection = val;
        } else if (strncmp(argv[i], "out=", 4) == 0) {
            o->out = val;
        } else {
            return false;
        }
    }
    return o->threads >= 1 && o->threads <= 256 && o->rounds >= 1 && o->b >= 1 && o->h >= 1 &&
           o->lq >= 1 && o->lk >= 1 && o->d >= 1 && o->da >= 1 && o->k >= 1;
}

int main(int argc, char **argv)
{
    bench_opts o = {.threads = 1,
                    .rounds = 2,
                    .seconds = 1.0,
                    .score = "scaled_dot",
                    .selection = "soft",
                    .b = 1,
                    .h = 8,
                    .lq = 512,
                    .lk = 512,
                    .d = 64,
                    .da = 64,
                    .k = 8,
                    .weights = true};
    if (!parse_args(argc, argv, &o)) return usage();

    at_attention_desc desc = {0};
    if (strcmp(o.score, "scaled_dot") == 0) {
        desc.score = AT_SCORE_SCALED_DOT;
    } else if (strcmp(o.score, "dot") == 0) {
        desc.score = AT_SCORE_DOT;
    } else if (strcmp(o.score, "additive") == 0) {
        desc.score = AT_SCORE_ADDITIVE;
    } else {
        return usage();
    }
    if (strcmp(o.selection, "soft") == 0) {
        desc.selection = AT_SELECT_SOFT;
    } else if (strcmp(o.selection, "topk") == 0) {
        desc.selection = AT_SELECT_TOPK;
    } else {
        return usage();
    }
    desc.k = o.k;
    desc.need_weights = o.weights;

    int64_t nq = o.b * o.h * o.lq * o.d, nk = o.b * o.h * o.lk * o.d;
    int64_t nw = o.weights ? o.b * o.h * o.lq * o.lk : 0;
    float *q = malloc(sizeof(float) * (size_t)nq), *k = malloc(sizeof(float) * (size_t)nk);
    float *v = malloc(sizeof(float) * (size_t)nk), *ctx = malloc(sizeof(float) * (size_t)nq);
    float *w = nw ? malloc(sizeof(float) * (size_t)nw) : NULL;
    float *aw = malloc(sizeof(float) * (size_t)(o.da * 2 * o.d));
    float *ab = malloc(sizeof(float) * (size_t)o.da), *av = malloc(sizeof(float) * (size_t)o.da);
    if (!q || !k || !v || !ctx || (nw && !w) || !aw || !ab || !av) {
        fprintf(stderr, "bench_core: out of memory\n");
        return 1;
    }
    fill(q, nq, 1);
    fill(k, nk, 2);
    fill(v, nk, 3);
    fill(aw, o.da * 2 * o.d, 4);
    fill(ab, o.da, 5);
    fill(av, o.da, 6);

    int64_t qne[4] = {o.b, o.h, o.lq, o.d}, kne[4] = {o.b, o.h, o.lk, o.d};
    desc.query = at_tensor_make(AT_F32, 4, qne, q);
    desc.key = at_tensor_make(AT_F32, 4, kne, k);
    desc.value = at_tensor_make(AT_F32, 4, kne, v);
    at_additive add = {.bias = ab, .v = av};
    if (desc.score == AT_SCORE_ADDITIVE) {
        int64_t wne[2] = {o.da, 2 * o.d};
        add.weight = at_tensor_make(AT_F32, 2, wne, aw);
        desc.additive = &add;
    }
    char err[256];
    const char *field = NULL;
    if (at_attention_check(&desc, &field, err, sizeof err) != AT_OK) {
        fprintf(stderr, "bench_core: %s\n", err);
        return 1;
    }

    at_pool *pool = at_pool_new((int)o.threads, 4);
    size_t ws = at_attention_workspace_size(&desc, (int)o.threads);
    void *work = ws ? aligned_alloc(64, (ws + 63) / 64 * 64) : NULL;
    if (!pool || (ws && !work)) {
        fprintf(stderr, "bench_core: cannot start the pool or allocate %zu bytes\n", ws);
        return 1;
    }
    at_attention_out out = {.context = ctx, .weights = w};
    bench_job job = {.desc = &desc, .out = &out, .workspace = work, .pool = pool, .opts = &o};
    pthread_mutex_init(&job.mu, NULL);
    pthread_cond_init(&job.cv, NULL);
    if (at_pool_submit(pool, bench_run, &job) != AT_OK) {
        fprintf(stderr, "bench_core: submit failed\n");
        return 1;
    }
    pthread_mutex_lock(&job.mu);
    while (!job.done)
        pthread_cond_wait(&job.cv, &job.mu);
    pthread_mutex_unlock(&job.mu);
    at_pool_free(pool);
    if (job.rc != AT_OK) {
        fprintf(stderr, "bench_core: at_attention_forward: %s\n", at_strerror(job.rc));
        return 1;
    }

    if (o.out) {
        FILE *f = fopen(o.out, "wb");
        if (!f || fwrite(ctx, sizeof(float), (size_t)nq, f) != (size_t)nq || fclose(f) != 0) {
            fprintf(stderr, "bench_core: cannot write %s\n", o.out);
            return 1;
        }
    }

    double flops = 4.0 * (double)o.b * (double)o.h * (double)o.lq * (double)o.lk * (double)o.d;
    printf("threads=%lld score=%s selection=%s B=%lld H=%lld Lq=%lld Lk=%lld d=%lld da=%lld k=%lld "
           "weights=%d calls=%ld ms=%.4f gflops=%.2f core=%s\n",
           (long long)o.threads, o.score, o.selection, (long long)o.b, (long long)o.h,
           (long long)o.lq, (long long)o.lk, (long long)o.d, (long long)o.da, (long long)o.k,
           o.weights ? 1 : 0, job.calls, job.best_mean * 1e3, flops / job.best_mean / 1e9,
           at_blas_core());
    free(work);
    free(q);
    free(k);
    free(v);
    free(ctx);
    free(w);
    free(aw);
    free(ab);
    free(av);
    return 0;
}
