/* LayerNorm of rows: two passes over each row (mean, then variance of the centred values, which
 * is more accurate than E[x^2] - E[x]^2 for rows with a large mean), then the affine map. */
#include "layernorm.h"

#include <math.h>

void at_layernorm(const float *x, int64_t rows, int64_t dim, const float *gamma, const float *beta,
                  float eps, float *out)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *in = x + r * dim;
        float *o = out + r * dim;
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < dim; i++)
            sum += in[i];
        const double mean = sum / (double)dim;
        for (int64_t i = 0; i < dim; i++) {
            double d = in[i] - mean;
            sq += d * d;
        }
        const double inv = 1.0 / sqrt(sq / (double)dim + (double)eps);
        for (int64_t i = 0; i < dim; i++) {
            double v = (in[i] - mean) * inv;
            o[i] = (float)(v * (gamma ? gamma[i] : 1.0f) + (beta ? beta[i] : 0.0f));
        }
    }
}

void at_ref_layernorm(const float *x, int64_t rows, int64_t dim, const float *gamma,
                      const float *beta, double eps, double *out)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *in = x + r * dim;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < dim; i++)
            mean += in[i];
        mean /= (double)dim;
        for (int64_t i = 0; i < dim; i++)
            var += (in[i] - mean) * (in[i] - mean);
        var /= (double)dim;
        for (int64_t i = 0; i < dim; i++)
            out[r * dim + i] = (in[i] - mean) / sqrt(var + eps) * (gamma ? gamma[i] : 1.0) +
                               (beta ? beta[i] : 0.0);
    }
}
