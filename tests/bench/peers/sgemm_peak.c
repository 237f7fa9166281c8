/* OpenBLAS sgemm GFLOP/s at n x n x n (default 1024), repeated for 2 s after a warm-up call: the
 * practical ceiling of the attention core's matrix products. Prints the OpenBLAS core it ran,
 * so a ceiling on the wrong kernels is seen as such. OPENBLAS_NUM_THREADS sets the threads.
 * Usage: sgemm_peak [n]. Build: cc -O2 sgemm_peak.c -lopenblas */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1024;
    if (n < 16 || n > 16384) n = 1024;
    size_t count = (size_t)n * (size_t)n;
    float *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b);
    float *c = malloc(count * sizeof *c);
    if (!a || !b || !c) return 1;
    for (size_t i = 0; i < count; i++) {
        a[i] = (float)(i % 7) / 7.0f;
        b[i] = (float)(i % 5) / 5.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    int reps = 0;
    double t0 = now(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        reps++;
        t = now() - t0;
    } while (t < 2.0);
    printf("n=%d threads=%d core=%s sgemm %.1f GFLOP/s\n", n, openblas_get_num_threads(),
           openblas_get_corename(), 2.0 * n * n * n * reps / t / 1e9);
    free(a);
    free(b);
    free(c);
    return 0;
}
