/* Embedding lookups and the sinusoidal positional encoding. The hashing embedding draws each
 * component from core/rng.h's counter-based mixer, so a vector is a pure function of the token
 * and never needs a table. */
#include "embed.h"

#include <math.h>
#include <string.h>

#include "rng.h"

#define TWO_PI 6.283185307179586476925286766559

void at_embed_hashed(uint64_t seed, uint64_t id, int64_t dim, float *out)
{
    uint64_t stream = at_rng_mix(seed ^ id);
    for (int64_t e = 0; e < dim; e++) {
        uint64_t bits = at_rng_mix(stream + (uint64_t)(e + 1) * AT_RNG_GOLDEN);
        /* Each half to (k + 1/2) / 2^32, in (0, 1): log never sees 0. */
        double u1 = ((double)(uint32_t)(bits >> 32) + 0.5) * 0x1p-32;
        double u2 = ((double)(uint32_t)bits + 0.5) * 0x1p-32;
        out[e] = (float)(sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2));
    }
}

void at_embed_table(const float *table, int64_t dim, const uint64_t *ids, int64_t n, float *out)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(out + i * dim, table + (int64_t)ids[i] * dim, (size_t)dim * sizeof(float));
}

void at_positional_add_sinusoidal(float *x, int64_t n, int64_t dim)
{
    for (int64_t i2 = 0; i2 < dim; i2 += 2) {
        double freq = exp(-log(10000.0) * (double)i2 / (double)dim);
        for (int64_t pos = 0; pos < n; pos++) {
            double a = (double)pos * freq;
            float *row = x + pos * dim;
            row[i2] = (float)((double)row[i2] + sin(a));
            if (i2 + 1 < dim) row[i2 + 1] = (float)((double)row[i2 + 1] + cos(a));
        }
    }
}
