/* The only door to OpenBLAS. Everything that multiplies matrices goes through here, so the BLAS
 * library and its threading can be changed in one place. */
#ifndef AT_BLAS_H
#define AT_BLAS_H

#include <stdbool.h>

/* Pins OpenBLAS to one thread (the pool supplies parallelism). Idempotent, thread-safe. */
void at_blas_init(void);

/* C[m x n] = alpha * op(A) * op(B) + beta * C, row-major, single precision.
 * op(X) is X or X^T as trans_a/trans_b say; lda/ldb/ldc are row strides in elements. */
void at_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);

/* Name and version of the BLAS library, e.g. "OpenBLAS 0.3.21 ...". Static storage. */
const char *at_blas_version(void);

#endif
