/* Layer normalisation over the last dimension, as torch.nn.LayerNorm computes it: each row is
 * shifted to mean 0 and scaled to variance 1 (the biased variance, with eps inside the square
 * root), then multiplied by a gain and shifted by a bias. */
#ifndef AT_LAYERNORM_H
#define AT_LAYERNORM_H

#include <stdint.h>

/* out[r, :] = (x[r, :] - mean_r) / sqrt(var_r + eps) * gamma + beta for rows r < rows of
 * dim >= 1 floats, in float, 16 lanes at a time (each lane's partial sums added in double). gamma
 * and beta are [dim] (NULL: ones and zeros). out may be x. Pure. */
void at_layernorm(const float *x, int64_t rows, int64_t dim, const float *gamma, const float *beta,
                  float eps, float *out);

/* The double-precision reference of at_layernorm, for tests. */
void at_ref_layernorm(const float *x, int64_t rows, int64_t dim, const float *gamma,
                      const float *beta, double eps, double *out);

#endif
