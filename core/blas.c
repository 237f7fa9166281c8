/* The one file that talks to OpenBLAS. The pool supplies all parallelism, so OpenBLAS runs
 * single-threaded inside whichever worker calls it; at_sgemm is a thin row-major wrapper. */
#include "blas.h"

#include <cblas.h>
#include <pthread.h>
#include <stddef.h>
#include <strings.h>

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_pin_one_thread(void)
{
    openblas_set_num_threads(1);
}

void at_blas_init(void)
{
    pthread_once(&blas_once, blas_pin_one_thread);
}

void at_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void at_transpose(int rows, int cols, const float *a, int lda, float *b, int ldb)
{
    cblas_somatcopy(CblasRowMajor, CblasTrans, rows, cols, 1.0f, a, lda, b, ldb);
}

void at_sgemv(bool trans, int m, int n, float alpha, const float *a, int lda, const float *x,
              float beta, float *y)
{
    cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, m, n, alpha, a, lda, x, 1, beta,
                y, 1);
}

const char *at_blas_version(void)
{
    /* "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64": name, version, build
     * options and the kernel chosen for this CPU. */
    return openblas_get_config();
}

const char *at_blas_core(void)
{
    return openblas_get_corename();
}

int at_blas_core_candidates(const at_cpu *cpu, const char **out, int max)
{
    /* Cooperlake is SkylakeX plus BF16 kernels; Zen has Haswell's kernels with AMD's cache
     * blocking. Each list ends with a core that older OpenBLAS releases already have, so a
     * library that lacks the first name still gets kernels of the right width. */
    static const char *const avx512_bf16[] = {"Cooperlake", "SkylakeX", "Haswell"};
    static const char *const avx512[] = {"SkylakeX", "Haswell"};
    static const char *const avx2_amd[] = {"Zen", "Haswell"};
    static const char *const avx2[] = {"Haswell"};
    static const char *const avx[] = {"Sandybridge"};
    const char *const *list = NULL;
    int n = 0;
    switch (cpu->level) {
    case AT_CPU_AVX512:
        list = cpu->avx512_bf16 ? avx512_bf16 : avx512;
        n = cpu->avx512_bf16 ? 3 : 2;
        break;
    case AT_CPU_AVX2:
        list = cpu->vendor == AT_CPU_VENDOR_AMD ? avx2_amd : avx2;
        n = cpu->vendor == AT_CPU_VENDOR_AMD ? 2 : 1;
        break;
    case AT_CPU_AVX:
        list = avx;
        n = 1;
        break;
    case AT_CPU_BASELINE: break;
    }
    if (n > max) n = max;
    for (int i = 0; i < n; i++)
        out[i] = list[i];
    return n;
}

int at_blas_core_level(const char *core)
{
    /* The x86-64 cores of OpenBLAS's DYNAMIC_ARCH builds (driver/others/dynamic.c). */
    static const struct {
        const char *name;
        at_cpu_level level;
    } cores[] = {
        {"SapphireRapids", AT_CPU_AVX512},
        {"Cooperlake", AT_CPU_AVX512},
        {"SkylakeX", AT_CPU_AVX512},
        {"Haswell", AT_CPU_AVX2},
        {"Zen", AT_CPU_AVX2},
        {"Excavator", AT_CPU_AVX2},
        {"Sandybridge", AT_CPU_AVX},
        {"Bulldozer", AT_CPU_AVX},
        {"Piledriver", AT_CPU_AVX},
        {"Steamroller", AT_CPU_AVX},
        {"Prescott", AT_CPU_BASELINE},
        {"Core2", AT_CPU_BASELINE},
        {"Penryn", AT_CPU_BASELINE},
        {"Dunnington", AT_CPU_BASELINE},
        {"Nehalem", AT_CPU_BASELINE},
        {"Atom", AT_CPU_BASELINE},
        {"Opteron", AT_CPU_BASELINE},
        {"Opteron(SSE3)", AT_CPU_BASELINE},
        {"Barcelona", AT_CPU_BASELINE},
        {"Nano", AT_CPU_BASELINE},
        {"Bobcat", AT_CPU_BASELINE},
        {"Katmai", AT_CPU_BASELINE},
        {"Coppermine", AT_CPU_BASELINE},
        {"Northwood", AT_CPU_BASELINE},
        {"Banias", AT_CPU_BASELINE},
        {"Athlon", AT_CPU_BASELINE},
    };
    for (size_t i = 0; core && i < sizeof cores / sizeof cores[0]; i++)
        if (strcasecmp(core, cores[i].name) == 0) return (int)cores[i].level;
    return -1;
}
