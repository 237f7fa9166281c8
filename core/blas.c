/* The one file that talks to OpenBLAS. The pool supplies all parallelism, so OpenBLAS runs
 * single-threaded inside whichever worker calls it; at_sgemm is a thin row-major wrapper. */
#include "blas.h"

#include <cblas.h>
#include <pthread.h>

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

const char *at_blas_version(void)
{
    /* "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64": name, version, build
     * options and the kernel chosen for this CPU. */
    return openblas_get_config();
}
