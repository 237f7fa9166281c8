/* The fused few-rows kernel (decoding): per block of 16 keys, the rows' scores (16 dot products
 * folded into one vector), one online-softmax step per row, then p * v over the same 16 value
 * rows, so K and V are read once, side by side, with no score tile between two BLAS passes. On
 * x86-64 with GCC it is cloned per ISA (AVX-512, AVX2+FMA, SSE2) and chosen at load time. */
#include "decode_int.h"

#include <math.h>
#include <string.h>

#include "simd_int.h"

/* Vectors per row of the largest head dimension. */
#define MAXV (AT_DECODE_MAX_DIM / VL)

/* How far ahead of the block being read its key and value rows are prefetched, in keys (one
 * 64-byte line at a time). The hardware prefetchers stop at each 4 KiB page, which at d 64 is
 * every 16 keys of K and of V; one query over 1M keys (d 64) on one core measured 26 ms with
 * 16-64 keys ahead against 36 ms without (28 ms at 128, 43 ms at 1024, from DRAM). */
#define DECODE_PREFETCH_KEYS 32

/* fold1..fold4 halve the lanes per key: a's and b's halves, quarters, pairs, then single lanes
 * side by side, each summed with its partner. Four levels turn 16 vectors (one per key) into
 * one whose lane j is the sum of key j's vector: 15 two-source shuffles and adds for 16 keys. */
#define LO1 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define HI1 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define LO2 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27
#define HI2 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31
#define LO3 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29
#define HI3 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31
#define LO4 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define HI4 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31

AT_INLINE vfloat fold1(vfloat a, vfloat b)
{
    return VSHUFFLE2(a, b, LO1) + VSHUFFLE2(a, b, HI1);
}

AT_INLINE vfloat fold2(vfloat a, vfloat b)
{
    return VSHUFFLE2(a, b, LO2) + VSHUFFLE2(a, b, HI2);
}

AT_INLINE vfloat fold3(vfloat a, vfloat b)
{
    return VSHUFFLE2(a, b, LO3) + VSHUFFLE2(a, b, HI3);
}

AT_INLINE vfloat fold4(vfloat a, vfloat b)
{
    return VSHUFFLE2(a, b, LO4) + VSHUFFLE2(a, b, HI4);
}

/* Lane j of the result is the sum of part[j]'s lanes. */
AT_INLINE vfloat fold_keys(const vfloat *part)
{
    vfloat a[8], b[4], c[2];
    for (int i = 0; i < 8; i++)
        a[i] = fold1(part[2 * i], part[2 * i + 1]);
    for (int i = 0; i < 4; i++)
        b[i] = fold2(a[2 * i], a[2 * i + 1]);
    for (int i = 0; i < 2; i++)
        c[i] = fold3(b[2 * i], b[2 * i + 1]);
    return fold4(c[0], c[1]);
}

AT_INLINE bool any_lane(vint m)
{
    int32_t lanes[VL], any = 0;
    memcpy(lanes, &m, sizeof lanes);
    for (int l = 0; l < VL; l++)
        any |= lanes[l];
    return any != 0;
}

/* p[0..VL) when fewer than VL floats remain in the row: the first n, zeros after. */
AT_INLINE vfloat load_upto(const float *p, int64_t n)
{
    if (n >= VL) return vload(p);
    vfloat v = {0};
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}

/* Flags of 16 keys widened to a lane mask (as core/softmax.c does it: one vpmovsxbd). */
typedef uint8_t vbyte_unaligned __attribute__((vector_size(VL), aligned(1), may_alias));
typedef int8_t vsbyte __attribute__((vector_size(VL)));

AT_INLINE vint flag_lanes(const uint8_t *flags)
{
    vbyte b = *(const vbyte_unaligned *)flags;
    return __builtin_convertvector((vsbyte)(b != 0), vint);
}

/* The lanes of keys [j0, j0 + valid) that row may attend: all of them without flags. */
AT_INLINE vint allowed_lanes(const at_decode_row *row, int64_t j0, int64_t valid, vint in)
{
    if (!row->allow) return in;
    if (row->allow_stride == 1 && valid == VL) return flag_lanes(row->allow + j0);
    uint8_t flags[VL] = {0};
    for (int64_t l = 0; l < valid; l++)
        flags[l] = row->allow[(j0 + l) * row->allow_stride];
    return in & flag_lanes(flags);
}

/* One row's online-softmax step over the block's scores s (keys j0 + lane, n of them): the
 * weights e^(s - max) go to p, zeros where the row may not attend. */
AT_INLINE void softmax_step(at_decode_row *row, vfloat s, int64_t j0, int64_t n, float *p,
                            vfloat *acc, int64_t nv)
{
    const vint iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    int64_t valid = row->limit - j0 < n ? row->limit - j0 : n;
    memset(p, 0, VL * sizeof(float));
    if (row->not_finite || valid <= 0) return;
    vint in = iota < (int32_t)valid;
    /* A score of +-inf or NaN (all-ones exponent) among the row's keys: float32 overflowed. */
    vint bad = ((vint)((vuint)s & 0x7f800000u) == 0x7f800000) & in;
    if (any_lane(bad)) {
        row->not_finite = true;
        return;
    }
    vfloat x = VSELECT(allowed_lanes(row, j0, valid, in), s, vsplat(-INFINITY));
    float block_max = hmax(x);
    if (block_max == -INFINITY) return;
    if (block_max > row->max) {
        /* Rare once the first keys are seen: exp of the old maximum (-inf at first: 0). */
        vfloat d = vsplat(row->max - block_max);
        float correction = vexp_nonpositive(&d)[0];
#pragma GCC unroll 16
        for (int64_t e = 0; e < nv; e++)
            acc[e] *= correction;
        row->sum *= correction;
        row->max = block_max;
    }
    x -= row->max;
    vfloat w = vexp_nonpositive(&x);
    row->sum += hsum(w);
    vstore(p, &w);
}

/* Keys [j0, j0 + n), n <= 16, for rows[0..nrows) with head dimensions dk and dv: scores,
 * softmax steps, then p * v. Inlined with constant nrows, dk and dv for the common shapes, so
 * that the loops unroll and the tail tests fold away. */
AT_INLINE void decode_block(const at_decode_keys *kv, at_decode_row *rows, int nrows, int64_t dk,
                            int64_t dv, vfloat (*q)[MAXV], vfloat (*acc)[MAXV], int64_t j0,
                            int64_t n)
{
    const int64_t nk = (dk + VL - 1) / VL, nv = (dv + VL - 1) / VL;
    const float *k = kv->key + j0 * kv->key_stride;
    const float *v = kv->value + j0 * kv->value_stride;
    float p[AT_DECODE_MAX_ROWS][VL];
    if (j0 + VL + DECODE_PREFETCH_KEYS <= kv->keys) {
        for (int64_t j = 0; j < VL; j++)
            for (int64_t e = 0; e < dk; e += VL)
                __builtin_prefetch(k + (j + DECODE_PREFETCH_KEYS) * kv->key_stride + e);
        for (int64_t j = 0; j < VL; j++)
            for (int64_t e = 0; e < dv; e += VL)
                __builtin_prefetch(v + (j + DECODE_PREFETCH_KEYS) * kv->value_stride + e);
    }
    for (int r = 0; r < nrows; r++) {
        vfloat part[VL];
#pragma GCC unroll 16
        for (int64_t j = 0; j < VL; j++) {
            vfloat dot = {0};
            if (j < n)
#pragma GCC unroll 16
                for (int64_t e = 0; e < nk; e++)
                    dot += load_upto(k + j * kv->key_stride + e * VL, dk - e * VL) * q[r][e];
            part[j] = dot;
        }
        vfloat s = fold_keys(part) * kv->scale;
        softmax_step(&rows[r], s, j0, n, p[r], acc[r], nv);
    }
    for (int64_t j = 0; j < n; j++) {
        const float *vr = v + j * kv->value_stride;
#pragma GCC unroll 16
        for (int64_t e = 0; e < nv; e++) {
            vfloat x = load_upto(vr + e * VL, dv - e * VL);
            for (int r = 0; r < nrows; r++)
                acc[r][e] += p[r][j] * x;
        }
    }
}

/* Keys [j_begin, j_end) for rows[0..nrows), with the queries and accumulators in local arrays
 * of each inlined copy: with constant shapes they index with constants only and stay in
 * registers (a shared array indexed by variables kept them in memory). */
AT_INLINE void decode_walk(const at_decode_keys *kv, at_decode_row *rows, int nrows, int64_t dk,
                           int64_t dv, int64_t j_begin, int64_t j_end)
{
    const int64_t nk = (dk + VL - 1) / VL, nv = (dv + VL - 1) / VL;
    vfloat q[AT_DECODE_MAX_ROWS][MAXV], acc[AT_DECODE_MAX_ROWS][MAXV];
    for (int r = 0; r < nrows; r++) {
        for (int64_t e = 0; e < nk; e++)
            q[r][e] = load_upto(rows[r].query + e * VL, dk - e * VL);
        for (int64_t e = 0; e < nv; e++)
            acc[r][e] = load_upto(rows[r].acc + e * VL, dv - e * VL);
    }
    for (int64_t j0 = j_begin; j0 < j_end; j0 += VL)
        decode_block(kv, rows, nrows, dk, dv, q, acc, j0, j_end - j0 < VL ? j_end - j0 : VL);
    for (int r = 0; r < nrows; r++)
        memcpy(rows[r].acc, acc[r], (size_t)dv * sizeof(float));
}

bool at_decode_applies(int64_t rows, int64_t dk, int64_t dv)
{
    return rows >= 1 && rows <= AT_DECODE_MAX_ROWS && dk >= 1 && dk <= AT_DECODE_MAX_DIM &&
           dv >= 1 && dv <= AT_DECODE_MAX_DIM;
}

AT_SIMD_CLONES
void at_decode_rows(const at_decode_keys *kv, at_decode_row *rows, int nrows, int64_t j_begin,
                    int64_t j_end)
{
    /* Keys past every row's limit are never read (the limits of a tile grow with the row). */
    int64_t end = j_begin;
    for (int r = 0; r < nrows; r++) {
        int64_t limit = rows[r].limit < j_end ? rows[r].limit : j_end;
        if (limit > end) end = limit;
    }
    if (nrows == 1 && kv->dk == 64 && kv->dv == 64) /* one query, d 64: the decoder's step */
        decode_walk(kv, rows, 1, 64, 64, j_begin, end);
    else if (nrows == 1 && kv->dk == 128 && kv->dv == 128)
        decode_walk(kv, rows, 1, 128, 128, j_begin, end);
    else
        decode_walk(kv, rows, nrows, kv->dk, kv->dv, j_begin, end);
}
