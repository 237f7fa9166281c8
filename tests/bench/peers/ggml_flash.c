/* ggml's CPU flash attention (ggml_flash_attn_ext, the kernel behind llama.cpp on CPUs) timed the
 * way bench_core times attnd: the same shapes, the same deterministic inputs, a warm-up call, then
 * rounds of calls lasting at least `seconds`, the best round's mean. softmax(Q K^T * scale) V with
 * scale = 1/sqrt(d) and no mask. K and V are F32 when this ggml's CPU kernel accepts them, else
 * F16 (converted once, before timing, as a KV cache would hold them); the line says which.
 * Built by `make bench GGML_DIR=...` against that checkout; nothing of ggml is in this repository.
 * Usage: ggml_flash [threads=N] [B=N] [H=N] [L=N | Lq=N Lk=N] [d=N] [seconds=S] [rounds=N]
 *                   [kv=auto|f32|f16] [out=PATH]
 * out=PATH writes the context as raw float32 in attnd's [B, H, Lq, d] order (to compare). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-cpu.h"
#include "ggml.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* bench_core's fill: the same seeds give the same Q (1), K (2) and V (3). */
static void fill(float *x, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
}

/* True when this ggml's CPU flash attention takes F32 keys and values: it converts Q to the
 * key type's dot-product type (from_float) and values to float (to_float); releases that lack
 * either abort on F32. */
static bool f32_kv_supported(void)
{
    return ggml_get_type_traits_cpu(GGML_TYPE_F32)->from_float != NULL &&
           ggml_get_type_traits(GGML_TYPE_F32)->to_float != NULL;
}

int main(int argc, char **argv)
{
    long threads = 1, rounds = 2, b = 1, h = 8, lq = 512, lk = 512, d = 64;
    double seconds = 1.0;
    const char *kv = "auto", *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "threads=", 8) == 0)
            threads = atol(a + 8);
        else if (strncmp(a, "rounds=", 7) == 0)
            rounds = atol(a + 7);
        else if (strncmp(a, "B=", 2) == 0)
            b = atol(a + 2);
        else if (strncmp(a, "H=", 2) == 0)
            h = atol(a + 2);
        else if (strncmp(a, "L=", 2) == 0)
            lq = lk = atol(a + 2);
        else if (strncmp(a, "Lq=", 3) == 0)
            lq = atol(a + 3);
        else if (strncmp(a, "Lk=", 3) == 0)
            lk = atol(a + 3);
        else if (strncmp(a, "d=", 2) == 0)
            d = atol(a + 2);
        else if (strncmp(a, "seconds=", 8) == 0)
            seconds = atof(a + 8);
        else if (strncmp(a, "kv=", 3) == 0)
            kv = a + 3;
        else if (strncmp(a, "out=", 4) == 0)
            out_path = a + 4;
        else {
            fprintf(stderr, "ggml_flash: unknown argument %s\n", a);
            return 2;
        }
    }
    if (threads < 1 || rounds < 1 || b < 1 || h < 1 || lq < 1 || lk < 1 || d < 1) return 2;
    bool f32 = strcmp(kv, "f32") == 0 || (strcmp(kv, "auto") == 0 && f32_kv_supported());
    enum ggml_type kv_type = f32 ? GGML_TYPE_F32 : GGML_TYPE_F16;

    size_t nq = (size_t)(b * h * lq * d), nk = (size_t)(b * h * lk * d);
    size_t mem = (nq * 3 + nk * 2) * sizeof(float) + 64 * 1024 * 1024;
    struct ggml_init_params ip = {.mem_size = mem, .mem_buffer = NULL, .no_alloc = false};
    struct ggml_context *ctx = ggml_init(ip);
    if (!ctx) {
        fprintf(stderr, "ggml_flash: ggml_init failed\n");
        return 1;
    }
    /* ggml's dims run innermost first: q [d, Lq, H, B] is attnd's [B, H, Lq, d] row-major. */
    struct ggml_tensor *q = ggml_new_tensor_4d(ctx, GGML_TYPE_F32, d, lq, h, b);
    struct ggml_tensor *k = ggml_new_tensor_4d(ctx, kv_type, d, lk, h, b);
    struct ggml_tensor *v = ggml_new_tensor_4d(ctx, kv_type, d, lk, h, b);
    float *tmp = malloc(nk * sizeof(float));
    if (!tmp) return 1;
    fill(q->data, (int64_t)nq, 1);
    for (int which = 0; which < 2; which++) {
        struct ggml_tensor *t = which ? v : k;
        fill(tmp, (int64_t)nk, which ? 3 : 2);
        if (f32)
            memcpy(t->data, tmp, nk * sizeof(float));
        else
            ggml_fp32_to_fp16_row(tmp, t->data, (int64_t)nk);
    }
    free(tmp);

    struct ggml_tensor *o =
        ggml_flash_attn_ext(ctx, q, k, v, NULL, 1.0f / sqrtf((float)d), 0.0f, 0.0f);
    ggml_flash_attn_ext_set_prec(o, GGML_PREC_F32);
    struct ggml_cgraph *gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, o);

    /* One thread pool for every call, as a server keeps its threads. */
    struct ggml_threadpool_params tpp = ggml_threadpool_params_default((int)threads);
    struct ggml_threadpool *tp = ggml_threadpool_new(&tpp);
    struct ggml_cplan plan = ggml_graph_plan(gf, (int)threads, tp);
    void *work = plan.work_size ? malloc(plan.work_size) : NULL;
    if (!tp || (plan.work_size && !work)) {
        fprintf(stderr, "ggml_flash: cannot start the thread pool\n");
        return 1;
    }
    plan.work_data = work;

    if (ggml_graph_compute(gf, &plan) != GGML_STATUS_SUCCESS) {
        fprintf(stderr, "ggml_flash: compute failed\n");
        return 1;
    }
    double best = 1e30;
    long best_calls = 0;
    for (long r = 0; r < rounds; r++) {
        long n = 0;
        double t0 = now(), t;
        do {
            ggml_graph_compute(gf, &plan);
            n++;
            t = now() - t0;
        } while (t < seconds);
        if (t / (double)n < best) {
            best = t / (double)n;
            best_calls = n;
        }
    }

    if (out_path) {
        /* The result is [d, H, Lq, B] (heads and queries swapped): written back as [B, H, Lq, d].
         */
        FILE *f = fopen(out_path, "wb");
        if (!f) {
            perror(out_path);
            return 1;
        }
        const float *res = o->data;
        for (long ib = 0; ib < b; ib++)
            for (long ih = 0; ih < h; ih++)
                for (long i = 0; i < lq; i++)
                    fwrite(res + ((ib * lq + i) * h + ih) * d, sizeof(float), (size_t)d, f);
        fclose(f);
    }

    double flops = 4.0 * (double)b * (double)h * (double)lq * (double)lk * (double)d;
    printf("threads=%ld B=%ld H=%ld Lq=%ld Lk=%ld d=%ld kv=%s calls=%ld ms=%.4f gflops=%.2f\n",
           threads, b, h, lq, lk, d, f32 ? "f32" : "f16", best_calls, best * 1e3,
           flops / best / 1e9);
    ggml_threadpool_free(tp);
    free(work);
    ggml_free(ctx);
    return 0;
}
