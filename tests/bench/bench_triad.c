/* `make bench`: the machine's memory bandwidth, measured the way STREAM's triad does
 * (a[i] = b[i] + s * c[i] over arrays far larger than the caches, 12 bytes counted per float
 * element), on N threads that each own a slice. The roofline of a memory-bound kernel such as
 * one query over many keys. Prints one key=value line that tests/bench/run_bench.py reads. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct triad_slice {
    float *a, *b, *c;
    size_t n;
    int passes;
    pthread_barrier_t *start, *done;
    double t0, t1; /* this pass: when this thread began and finished its slice */
} triad_slice;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One thread: first-touches its slice (so its pages are near it), then runs `passes` triads,
 * each between two barriers, timing its own slice: the main thread may be descheduled between
 * a barrier and its clock read (N workers and it share the cores), the workers while they run
 * only (which the figure should show). */
static void *triad_thread(void *arg)
{
    triad_slice *s = arg;
    for (size_t i = 0; i < s->n; i++) {
        s->a[i] = 0.0f;
        s->b[i] = 1.0f;
        s->c[i] = 2.0f;
    }
    for (int p = 0; p < s->passes; p++) {
        pthread_barrier_wait(s->start);
        s->t0 = now();
        const float scalar = 3.0f;
        float *restrict a = s->a;
        const float *restrict b = s->b, *restrict c = s->c;
        for (size_t i = 0; i < s->n; i++)
            a[i] = b[i] + scalar * c[i];
        s->t1 = now();
        pthread_barrier_wait(s->done);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = 1, passes = 10;
    size_t mib = 128; /* per array */
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "threads=", 8) == 0) {
            threads = atoi(argv[i] + 8);
        } else if (strncmp(argv[i], "mib=", 4) == 0) {
            mib = (size_t)atol(argv[i] + 4);
        } else if (strncmp(argv[i], "passes=", 7) == 0) {
            passes = atoi(argv[i] + 7);
        } else {
            fprintf(stderr, "usage: bench_triad [threads=N] [mib=per-array MiB] [passes=N]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 256 || passes < 1 || mib < 1) return 2;
    size_t n = mib * 1024 * 1024 / sizeof(float);
    float *a = aligned_alloc(64, n * sizeof(float)), *b = aligned_alloc(64, n * sizeof(float));
    float *c = aligned_alloc(64, n * sizeof(float));
    triad_slice *s = calloc((size_t)threads, sizeof *s);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    if (!a || !b || !c || !s || !tid) {
        fprintf(stderr, "bench_triad: out of memory\n");
        return 1;
    }
    pthread_barrier_t start, done;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&done, NULL, (unsigned)threads + 1);
    size_t per = (n / (size_t)threads + 15) / 16 * 16;
    for (int t = 0; t < threads; t++) {
        size_t lo = (size_t)t * per, hi = lo + per < n ? lo + per : n;
        s[t] = (triad_slice){.a = a + lo,
                             .b = b + lo,
                             .c = c + lo,
                             .n = hi > lo ? hi - lo : 0,
                             .passes = passes,
                             .start = &start,
                             .done = &done};
        if (pthread_create(&tid[t], NULL, triad_thread, &s[t]) != 0) {
            fprintf(stderr, "bench_triad: cannot start a thread\n");
            return 1;
        }
    }
    double best = 1e30;
    for (int p = 0; p < passes; p++) {
        pthread_barrier_wait(&start);
        pthread_barrier_wait(&done); /* the slices' times are written before it */
        double t0 = s[0].t0, t1 = s[0].t1;
        for (int t = 1; t < threads; t++) {
            t0 = s[t].t0 < t0 ? s[t].t0 : t0;
            t1 = s[t].t1 > t1 ? s[t].t1 : t1;
        }
        if (t1 - t0 < best) best = t1 - t0;
    }
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    /* Reading the result keeps the compiler from dropping the loop. */
    double check = 0;
    for (size_t i = 0; i < n; i += 4096)
        check += a[i];
    double bytes = 3.0 * (double)n * sizeof(float);
    printf("threads=%d mib=%zu passes=%d ms=%.4f gbps=%.3f check=%.0f\n", threads, mib, passes,
           best * 1e3, bytes / best / 1e9, check);
    free(a);
    free(b);
    free(c);
    free(s);
    free(tid);
    return 0;
}
