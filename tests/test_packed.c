/* Unit tests of core/packed.c: the products of packed weights against a double reference, for
 * both layouts, ragged sizes, bias and accumulation, and column ranges split anywhere a panel
 * starts (which must not change a bit). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/packed.h"
#include "harness.h"

static float value(uint64_t i, uint64_t salt)
{
    uint64_t z = (i + 1) * 0x9E3779B97F4A7C15ull ^ salt;
    z ^= z >> 29, z *= 0xBF58476D1CE4E5B9ull, z ^= z >> 32;
    return (float)((double)(z >> 40) / (double)(1 << 24) - 0.5);
}

TEST(packed_gemm_matches_reference)
{
    static const int64_t shapes[][3] = {/* rows, n, k */
                                        {1, 1, 1},    {5, 7, 3},      {6, 32, 16},  {7, 33, 300},
                                        {13, 64, 64}, {128, 96, 257}, {3, 100, 513}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int layout = 0; layout < 2; layout++)
            for (int mode = 0; mode < 3; mode++) { /* 0 plain, 1 bias, 2 bias + accumulate */
                const int64_t rows = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                const bool input_major = layout == 1;
                float *w = malloc((size_t)(n * k) * sizeof(float));
                float *p = malloc(at_packed_floats(n, k) * sizeof(float));
                float *x = malloc((size_t)(rows * (k + 3)) * sizeof(float)); /* ldx = k + 3 */
                float *b = malloc((size_t)n * sizeof(float));
                float *out = malloc((size_t)(rows * (n + 5)) * sizeof(float)); /* ldo = n + 5 */
                float *out2 = malloc((size_t)(rows * (n + 5)) * sizeof(float));
                ASSERT(w && p && x && b && out && out2);
                for (int64_t i = 0; i < n * k; i++)
                    w[i] = value((uint64_t)i, 1);
                for (int64_t i = 0; i < rows * (k + 3); i++)
                    x[i] = value((uint64_t)i, 2);
                for (int64_t i = 0; i < n; i++)
                    b[i] = value((uint64_t)i, 3);
                for (int64_t i = 0; i < rows * (n + 5); i++)
                    out[i] = out2[i] = value((uint64_t)i, 4);
                at_pack_weights(w, n, k, input_major, p);
                const float *bias = mode ? b : NULL;
                const bool acc = mode == 2;
                at_packed_gemm(p, n, k, x, k + 3, rows, 0, n, bias, acc, out, n + 5);
                for (int64_t r = 0; r < rows; r++) {
                    for (int64_t c = 0; c < n; c++) {
                        double ref = acc ? (double)value((uint64_t)(r * (n + 5) + c), 4) : 0.0;
                        double mag = fabs(ref);
                        if (bias) ref += b[c], mag += fabs(b[c]);
                        for (int64_t i = 0; i < k; i++) {
                            double wi = input_major ? w[i * n + c] : w[c * k + i];
                            ref += (double)x[r * (k + 3) + i] * wi;
                            mag += fabs((double)x[r * (k + 3) + i] * wi);
                        }
                        ASSERT_NEAR(out[r * (n + 5) + c], ref, 1e-6 * mag + 1e-7);
                    }
                    /* The padding between rows is never written. */
                    for (int64_t c = n; c < n + 5; c++)
                        ASSERT(out[r * (n + 5) + c] == value((uint64_t)(r * (n + 5) + c), 4));
                }
                /* The same columns in ranges starting on panels: the same bits. */
                for (int64_t c0 = 0; c0 < n; c0 += 2 * PACK_NR) {
                    int64_t c1 = c0 + 2 * PACK_NR < n ? c0 + 2 * PACK_NR : n;
                    at_packed_gemm(p, n, k, x, k + 3, rows, c0, c1, bias, acc, out2, n + 5);
                }
                ASSERT(memcmp(out, out2, (size_t)(rows * (n + 5)) * sizeof(float)) == 0);
                free(w), free(p), free(x), free(b), free(out), free(out2);
            }
}
