/* Embedding lookups and the sinusoidal positional encoding. The hashing embedding draws each
 * component from core/rng.h's counter-based mixer, so a vector is a pure function of the token
 * and never needs a table. */
#include "embed.h"

#include <math.h>
#include <string.h>

#include "box_muller_int.h"
#include "rng.h"

#define TWO_PI 6.283185307179586476925286766559

void at_embed_hashed(uint64_t seed, uint64_t id, int64_t dim, float *out)
{
    uint64_t stream = at_rng_mix(seed ^ id);
    uint64_t bits[64];
    for (int64_t e0 = 0; e0 < dim; e0 += 64) {
        int64_t n = dim - e0 < 64 ? dim - e0 : 64;
        for (int64_t e = 0; e < n; e++)
            bits[e] = at_rng_mix(stream + (uint64_t)(e0 + e + 1) * AT_RNG_GOLDEN);
        at_box_muller(bits, n, out + e0);
    }
}

void at_embed_table(const float *table, int64_t dim, const uint64_t *ids, int64_t n, float *out)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(out + i * dim, table + (int64_t)ids[i] * dim, (size_t)dim * sizeof(float));
}

/* Frequency of features i2 and i2 + 1 (i2 even): 10000^(-i2 / dim). */
static double frequency(int64_t i2, int64_t dim)
{
    return exp(-log(10000.0) * (double)i2 / (double)dim);
}

void at_positional_add_rows(float *x, int64_t p0, int64_t p1, int64_t dim)
{
    for (int64_t i2 = 0; i2 < dim; i2 += 2) {
        double freq = frequency(i2, dim);
        for (int64_t pos = p0; pos < p1; pos++) {
            double a = (double)pos * freq;
            float *row = x + (pos - p0) * dim;
            row[i2] = (float)((double)row[i2] + sin(a));
            if (i2 + 1 < dim) row[i2 + 1] = (float)((double)row[i2 + 1] + cos(a));
        }
    }
}

void at_positional_add_sinusoidal(float *x, int64_t n, int64_t dim)
{
    at_positional_add_rows(x, 0, n, dim);
}

void at_positional_values(double *out, int64_t p0, int64_t p1, int64_t dim)
{
    for (int64_t i2 = 0; i2 < dim; i2 += 2) {
        double freq = frequency(i2, dim);
        for (int64_t pos = p0; pos < p1; pos++) {
            double a = (double)pos * freq;
            double *row = out + (pos - p0) * dim;
            row[i2] = sin(a);
            if (i2 + 1 < dim) row[i2 + 1] = cos(a);
        }
    }
}
