/* `make bench`: decode and encode speed of attnd's JSON codec on large float tensors. Decodes a
 * body holding a [N, N] query (N*N floats, written with %.9g so each reads back to the same
 * float32) through api_v1_decode_attention, then encodes the computed response (its
 * N*N-float context; return_weights is false) with encode_attention. Prints key=value lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../api/api.h"
#include "../../api/v1/v1.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000, reps = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 1 || reps < 1 || reps > 100) {
        fprintf(stderr, "usage: bench_json [N (query is [N, N]) [REPS]]\n");
        return 2;
    }

    /* The body, with values like the peer cjson_speed.c's (rand() in [-1, 1], seed 1). */
    api_buf body = {0};
    srand(1);
    api_buf_puts(&body, "{\"query\": [");
    for (int i = 0; i < n; i++) {
        api_buf_puts(&body, i ? ",[" : "[");
        for (int j = 0; j < n; j++) {
            float x = (float)rand() / (float)RAND_MAX * 2 - 1;
            api_buf_printf(&body, j ? ",%.9g" : "%.9g", (double)x);
        }
        api_buf_puts(&body, "]");
    }
    api_buf_puts(&body, "], \"return_weights\": false}");
    if (body.oom) {
        fprintf(stderr, "bench_json: out of memory\n");
        return 1;
    }

    api_limits limits = {0}; /* no limits: the codec alone is timed */
    api_error err;
    double t[100];
    api_attention_request *req = NULL;
    for (int r = -1; r < reps; r++) { /* r == -1 is the warm-up */
        api_attention_request_free(req);
        req = NULL;
        double t0 = now();
        int rc = api_v1_decode_attention(body.data, body.len, &limits, &req, &err);
        if (r >= 0) t[r] = now() - t0;
        if (rc != 0) {
            fprintf(stderr, "bench_json: decode: %s\n", err.message);
            return 1;
        }
    }
    double dec = median(t, reps);
    double dec_best = t[0];

    if (api_attention_run(req, NULL, 0, &err) != 0) {
        fprintf(stderr, "bench_json: run: %s\n", err.message);
        return 1;
    }
    size_t out_len = 0;
    for (int r = -1; r < reps; r++) {
        api_buf out = {0};
        double t0 = now();
        int rc = api_v1_encode_attention(req, &out, &err);
        if (r >= 0) t[r] = now() - t0;
        if (rc != 0 || out.oom) {
            fprintf(stderr, "bench_json: encode: %s\n", err.message);
            return 1;
        }
        out_len = out.len;
        api_buf_free(&out);
    }
    double enc = median(t, reps);
    double enc_best = t[0];
    double floats = (double)n * (double)n;
    printf("op=decode floats=%.0f bytes=%zu reps=%d median_ms=%.2f best_ms=%.2f mbps=%.1f "
           "mfloats=%.2f\n",
           floats, body.len, reps, dec * 1e3, dec_best * 1e3, (double)body.len / dec / 1e6,
           floats / dec / 1e6);
    printf("op=encode floats=%.0f bytes=%zu reps=%d median_ms=%.2f best_ms=%.2f mbps=%.1f "
           "mfloats=%.2f\n",
           floats, out_len, reps, enc * 1e3, enc_best * 1e3, (double)out_len / enc / 1e6,
           floats / enc / 1e6);
    api_attention_request_free(req);
    api_buf_free(&body);
    return 0;
}
