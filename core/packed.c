/* Dense layers whose weights are packed once, when the model loads, into the order the product
 * reads them: panels of PACK_NR output columns, each k rows of PACK_NR contiguous floats. A
 * request then streams every weight from memory once, in order, instead of having sgemm gather
 * and repack the weight matrix on every call (a third of BERT-base's time at L 128). */
#include "packed.h"

#include <string.h>

#include "simd_int.h"

#define NR PACK_NR /* columns per panel: two vectors */
#define MR 6       /* rows per micro-tile: 12 accumulators */
#define KC 256     /* depth per pass: a panel's slice of 32 KB stays in L1 across rows */

size_t at_packed_floats(int64_t n, int64_t k)
{
    return (size_t)((n + NR - 1) / NR) * (size_t)k * NR;
}

void at_pack_weights(const float *w, int64_t n, int64_t k, bool input_major, float *out)
{
    const int64_t panels = (n + NR - 1) / NR;
    for (int64_t p = 0; p < panels; p++)
        for (int64_t kk = 0; kk < k; kk++) {
            float *dst = out + (p * k + kk) * NR;
            for (int j = 0; j < NR; j++) {
                int64_t c = p * NR + j;
                dst[j] = c >= n ? 0.0f : input_major ? w[kk * n + c] : w[c * k + kk];
            }
        }
}

/* acc[i] (MR rows x 2 vectors) += x rows [kb, ke) times the panel slice; named accumulators,
 * so that they live in registers. */
AT_INLINE void micro(const float *const *x, const float *panel, int64_t kb, int64_t ke,
                     vfloat acc[MR][2])
{
    vfloat a00 = acc[0][0], a01 = acc[0][1], a10 = acc[1][0], a11 = acc[1][1];
    vfloat a20 = acc[2][0], a21 = acc[2][1], a30 = acc[3][0], a31 = acc[3][1];
    vfloat a40 = acc[4][0], a41 = acc[4][1], a50 = acc[5][0], a51 = acc[5][1];
    const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4], *x5 = x[5];
    const float *b = panel + kb * NR;
    for (int64_t kk = kb; kk < ke; kk++, b += NR) {
        vfloat b0 = vload(b), b1 = vload(b + VL), a;
        a = vsplat(x0[kk]), a00 += a * b0, a01 += a * b1;
        a = vsplat(x1[kk]), a10 += a * b0, a11 += a * b1;
        a = vsplat(x2[kk]), a20 += a * b0, a21 += a * b1;
        a = vsplat(x3[kk]), a30 += a * b0, a31 += a * b1;
        a = vsplat(x4[kk]), a40 += a * b0, a41 += a * b1;
        a = vsplat(x5[kk]), a50 += a * b0, a51 += a * b1;
    }
    acc[0][0] = a00, acc[0][1] = a01, acc[1][0] = a10, acc[1][1] = a11;
    acc[2][0] = a20, acc[2][1] = a21, acc[3][0] = a30, acc[3][1] = a31;
    acc[4][0] = a40, acc[4][1] = a41, acc[5][0] = a50, acc[5][1] = a51;
}

AT_SIMD_CLONES
void at_packed_gemm(const float *packed, int64_t n, int64_t k, const float *x, int64_t ldx,
                    int64_t rows, int64_t c0, int64_t c1, const float *bias, bool accumulate,
                    float *out, int64_t ldo)
{
    for (int64_t p = c0 / NR; p * NR < c1; p++) {
        const float *panel = packed + p * k * NR;
        const int64_t col = p * NR, cols = (c1 - col < NR ? c1 - col : NR);
        (void)n;
        for (int64_t kb = 0; kb < k; kb += KC) {
            const int64_t ke = kb + KC < k ? kb + KC : k;
            for (int64_t r0 = 0; r0 < rows; r0 += MR) {
                const int mr = rows - r0 < MR ? (int)(rows - r0) : MR;
                const float *xr[MR];
                for (int i = 0; i < MR; i++) /* missing rows repeat the last (never stored) */
                    xr[i] = x + (r0 + (i < mr ? i : mr - 1)) * ldx;
                vfloat acc[MR][2];
                float tile[MR][NR];
                const bool load = kb > 0 || accumulate, add_bias = kb == 0 && bias;
                vfloat bias0 = vsplat(0.0f), bias1 = vsplat(0.0f);
                if (add_bias && cols == NR) {
                    bias0 = vload(bias + col);
                    bias1 = vload(bias + col + VL);
                }
                for (int i = 0; i < MR; i++) {
                    acc[i][0] = vsplat(0.0f);
                    acc[i][1] = vsplat(0.0f);
                    if (i >= mr) continue;
                    const float *o = out + (r0 + i) * ldo + col;
                    if (cols == NR) {
                        if (load) acc[i][0] = vload(o), acc[i][1] = vload(o + VL);
                        acc[i][0] += bias0;
                        acc[i][1] += bias1;
                        continue;
                    }
                    for (int j = 0; j < NR; j++)
                        tile[i][j] = j >= cols
                                         ? 0.0f
                                         : (load ? o[j] : 0.0f) + (add_bias ? bias[col + j] : 0.0f);
                    acc[i][0] = vload(tile[i]);
                    acc[i][1] = vload(tile[i] + VL);
                }
                micro(xr, panel, kb, ke, acc);
                for (int i = 0; i < mr; i++) {
                    float *o = out + (r0 + i) * ldo + col;
                    if (cols == NR) {
                        vstore(o, &acc[i][0]);
                        vstore(o + VL, &acc[i][1]);
                    } else {
                        vstore(tile[i], &acc[i][0]);
                        vstore(tile[i] + VL, &acc[i][1]);
                        memcpy(o, tile[i], (size_t)cols * sizeof(float));
                    }
                }
            }
        }
    }
}
