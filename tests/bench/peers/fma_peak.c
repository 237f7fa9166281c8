/* The machine's arithmetic peak in single precision: each thread runs independent chains of
 * fused multiply-adds in the widest vector registers the CPU has, enough chains to cover the FMA
 * latency on every port. Prints GFLOP/s per width tried and the best, for 1..N threads.
 * Usage: fma_peak [threads] [seconds]. Build: cc -O2 -pthread fma_peak.c */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12 /* >= latency (4) x ports (2), and few enough to stay in registers */

/* The chains are fully unrolled so that the compiler keeps each in a register. */
#define UNROLL12(S) S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7) S(8) S(9) S(10) S(11)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Each function returns FLOPs done in `iters` iterations and leaves a sum so nothing is dead. */
__attribute__((target("avx512f"))) static double fma512(long iters, float *sink)
{
    __m512 acc[CHAINS];
    const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm512_set1_ps((float)c);
    for (long i = 0; i < iters; i++) {
#define STEP(c) acc[c] = _mm512_fmadd_ps(acc[c], m, a);
        UNROLL12(STEP)
#undef STEP
    }
    for (int c = 1; c < CHAINS; c++)
        acc[0] = _mm512_add_ps(acc[0], acc[c]);
    *sink += _mm512_reduce_add_ps(acc[0]);
    return 2.0 * 16 * CHAINS * (double)iters;
}

__attribute__((target("avx2,fma"))) static double fma256(long iters, float *sink)
{
    __m256 acc[CHAINS];
    const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm256_set1_ps((float)c);
    for (long i = 0; i < iters; i++) {
#define STEP(c) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
        UNROLL12(STEP)
#undef STEP
    }
    float out[8];
    for (int c = 1; c < CHAINS; c++)
        acc[0] = _mm256_add_ps(acc[0], acc[c]);
    _mm256_storeu_ps(out, acc[0]);
    for (int j = 0; j < 8; j++)
        *sink += out[j];
    return 2.0 * 8 * CHAINS * (double)iters;
}

static double mul_add128(long iters, float *sink) /* SSE2 has no FMA: a multiply and an add */
{
    __m128 acc[CHAINS];
    const __m128 m = _mm_set1_ps(0.999999f), a = _mm_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm_set1_ps((float)c);
    for (long i = 0; i < iters; i++) {
#define STEP(c) acc[c] = _mm_add_ps(_mm_mul_ps(acc[c], m), a);
        UNROLL12(STEP)
#undef STEP
    }
    float out[4];
    for (int c = 1; c < CHAINS; c++)
        acc[0] = _mm_add_ps(acc[0], acc[c]);
    _mm_storeu_ps(out, acc[0]);
    for (int j = 0; j < 4; j++)
        *sink += out[j];
    return 2.0 * 4 * CHAINS * (double)iters;
}

typedef double (*kernel)(long, float *);

typedef struct job {
    kernel fn;
    double seconds, flops, elapsed;
    float sink;
} job;

static void *run(void *p)
{
    job *j = p;
    long iters = 1 << 16;
    j->fn(iters, &j->sink); /* warm-up: clocks up, code in cache */
    double t0 = now(), t;
    j->flops = 0;
    do {
        j->flops += j->fn(iters, &j->sink);
        t = now() - t0;
    } while (t < j->seconds);
    j->elapsed = t;
    return NULL;
}

/* GFLOP/s of `fn` on `threads` threads at once (the sum of their rates). */
static double measure(kernel fn, int threads, double seconds)
{
    pthread_t tid[64];
    job jobs[64];
    double total = 0;
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job){fn, seconds, 0, 0, 0};
        pthread_create(&tid[i], NULL, run, &jobs[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        total += jobs[i].flops / jobs[i].elapsed / 1e9;
        if (jobs[i].sink == 12345.0f) printf(" "); /* keeps the sums alive */
    }
    return total;
}

int main(int argc, char **argv)
{
    int maxthreads = argc > 1 ? atoi(argv[1]) : 1;
    double seconds = argc > 2 ? atof(argv[2]) : 0.5;
    if (maxthreads < 1 || maxthreads > 64) maxthreads = 1;
    __builtin_cpu_init();
    struct {
        const char *name;
        kernel fn;
        int ok;
    } widths[] = {
        {"avx512", fma512, __builtin_cpu_supports("avx512f")},
        {"avx2", fma256, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")},
        {"sse", mul_add128, 1},
    };
    for (int t = 1; t <= maxthreads; t++) {
        double best = 0;
        const char *best_name = "";
        printf("threads=%d", t);
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            if (!widths[w].ok) continue;
            double g = measure(widths[w].fn, t, seconds);
            printf(" %s=%.1f", widths[w].name, g);
            if (g > best) {
                best = g;
                best_name = widths[w].name;
            }
        }
        printf(" peak=%.1f width=%s\n", best, best_name);
    }
    return 0;
}
