/* The only door to OpenBLAS. Everything that multiplies matrices goes through here, so the BLAS
 * library and its threading can be changed in one place. */
#ifndef AT_BLAS_H
#define AT_BLAS_H

#include <stdbool.h>

#include "cpu.h"

/* Pins OpenBLAS to one thread (the pool supplies parallelism). Idempotent, thread-safe. */
void at_blas_init(void);

/* C[m x n] = alpha * op(A) * op(B) + beta * C, row-major, single precision.
 * op(X) is X or X^T as trans_a/trans_b say; lda/ldb/ldc are row strides in elements. */
void at_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);

/* B = A^T for a row-major A [rows x cols] with row stride lda: B [cols x rows], row stride ldb
 * (>= rows). A and B must not overlap. */
void at_transpose(int rows, int cols, const float *a, int lda, float *b, int ldb);

/* Largest m * n * k for which a product of row-major A [m x k] and B [k x n] (no transposes) is
 * faster than A times a row-major B^T: OpenBLAS's small-matrix kernels (SkylakeX-class cores,
 * 0.3.17 and later) multiply such products without packing, but not the A B^T form at the
 * shapes attention makes. */
#define AT_SGEMM_SMALL_MNK 1000000

/* y = alpha * op(A) * x + beta * y, row-major A [m x n] with row stride lda, single precision;
 * x and y contiguous (y has m elements, or n with `trans`). One row against many is memory-bound,
 * where sgemm would run its kernels for a block of rows on one and pack the other side first. */
void at_sgemv(bool trans, int m, int n, float alpha, const float *a, int lda, const float *x,
              float beta, float *y);

/* The OpenBLAS core (kernel set) the library chose when it loaded, e.g. "SkylakeX", "Haswell",
 * "Prescott". OpenBLAS picks it once, in a constructor, from OPENBLAS_CORETYPE if set, else from
 * its table of CPU models. Static storage. */
const char *at_blas_core(void);

/* The OpenBLAS cores whose kernels fit `cpu`, best first: at most `max` names written to out
 * (static strings), their count returned. 0 means the CPU has nothing beyond the baseline and
 * the library's own choice is as good as any. Depends only on the feature bits and the vendor. */
int at_blas_core_candidates(const at_cpu *cpu, const char **out, int max);

/* The vector level an OpenBLAS core's kernels are written for ("Haswell": AVX2, "Prescott":
 * baseline), or -1 for a name this table does not know. Case-insensitive. */
int at_blas_core_level(const char *core);

/* Name and version of the BLAS library, e.g. "OpenBLAS 0.3.21 ...". Static storage. */
const char *at_blas_version(void);

#endif
