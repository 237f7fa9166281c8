/* LayerNorm of rows: two passes over each row (mean, then variance of the centred values, which
 * is more accurate than E[x^2] - E[x]^2 for rows with a large mean), then the affine map. The
 * passes run 16 lanes at a time, each lane summing in float and the lanes added in double. */
#include "layernorm.h"

#include <math.h>

#include "simd_int.h"

/* The sum of a vector's lanes, in double. */
AT_INLINE double lane_total(const vfloat *acc)
{
    double t = 0;
    for (int l = 0; l < VL; l++)
        t += (*acc)[l];
    return t;
}

AT_SIMD_CLONES
void at_layernorm(const float *x, int64_t rows, int64_t dim, const float *gamma, const float *beta,
                  float eps, float *out)
{
    const int64_t body = dim / VL * VL;
    for (int64_t r = 0; r < rows; r++) {
        const float *in = x + r * dim;
        float *o = out + r * dim;
        /* Sums of x - x[0]: their rounding errors scale with the row's spread, not with its
         * mean, which may be far larger. */
        const float shift = in[0];
        vfloat acc = vsplat(0.0f);
        for (int64_t i = 0; i < body; i += VL)
            acc += vload(in + i) - shift;
        double sum = lane_total(&acc);
        for (int64_t i = body; i < dim; i++)
            sum += (double)in[i] - shift;
        /* The mean as a float and its rounding error: x - hi is exact for x near the mean, so
         * (x - hi) - lo keeps the centred values precise for rows with a large mean. */
        const double mean = shift + sum / (double)dim;
        const float hi = (float)mean, lo = (float)(mean - hi);
        acc = vsplat(0.0f);
        for (int64_t i = 0; i < body; i += VL) {
            vfloat d = (vload(in + i) - hi) - lo;
            acc += d * d;
        }
        double sq = lane_total(&acc);
        for (int64_t i = body; i < dim; i++) {
            double d = (double)in[i] - mean;
            sq += d * d;
        }
        const float inv = (float)(1.0 / sqrt(sq / (double)dim + (double)eps));
        for (int64_t i = 0; i < body; i += VL) {
            vfloat v = ((vload(in + i) - hi) - lo) * inv;
            if (gamma) v *= vload(gamma + i);
            if (beta) v += vload(beta + i);
            vstore(o + i, &v);
        }
        for (int64_t i = body; i < dim; i++) {
            float v = (float)((double)in[i] - mean) * inv;
            o[i] = v * (gamma ? gamma[i] : 1.0f) + (beta ? beta[i] : 0.0f);
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
