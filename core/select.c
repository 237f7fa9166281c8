/* Top-k and sampled selection of an attention row. Both keep the best k allowed entries in a
 * binary min-heap whose root is the worst of them, so a row costs O(n log k); a vector pass
 * first bounds the k-th score from below so that few keys reach the heap. Sampling first adds
 * Gumbel noise from the counter-based generator of rng.h, sixteen keys per vector step. */
#include "select.h"

#include <math.h>
#include <string.h>

#include "rng.h"
#include "simd_int.h"

/* Entry a ranks below entry b: a lower score, or the same score at a higher index. */
AT_INLINE bool ranks_below(const float *row, int32_t a, int32_t b)
{
    return row[a] < row[b] || (row[a] == row[b] && a > b);
}

AT_INLINE void sift_up(const float *row, int32_t *heap, int64_t pos)
{
    while (pos > 0) {
        int64_t parent = (pos - 1) / 2;
        if (!ranks_below(row, heap[pos], heap[parent])) break;
        int32_t t = heap[pos];
        heap[pos] = heap[parent];
        heap[parent] = t;
        pos = parent;
    }
}

AT_INLINE void sift_down(const float *row, int32_t *heap, int64_t len)
{
    int64_t pos = 0;
    for (;;) {
        int64_t least = pos, l = 2 * pos + 1, r = l + 1;
        if (l < len && ranks_below(row, heap[l], heap[least])) least = l;
        if (r < len && ranks_below(row, heap[r], heap[least])) least = r;
        if (least == pos) return;
        int32_t t = heap[pos];
        heap[pos] = heap[least];
        heap[least] = t;
        pos = least;
    }
}

/* The largest of p[0..n), n a multiple of VL, over entries the contiguous flags (if any)
 * allow; -inf when none is. */
AT_INLINE float masked_max(const float *p, int64_t n, const uint8_t *allow)
{
    vfloat acc = vsplat(-INFINITY);
    for (int64_t j = 0; j < n; j += VL) {
        vfloat v = vload(p + j);
        vint take = v > acc;
        if (allow) {
            vbyte b;
            memcpy(&b, allow + j, sizeof b);
            take &= __builtin_convertvector(b, vint) != 0;
        }
        acc = VSELECT(take, v, acc);
    }
    float max = acc[0];
    for (int l = 1; l < VL; l++)
        max = acc[l] > max ? acc[l] : max;
    return max;
}

/* A score that at least k allowed entries of row[0..n) reach, so nothing below it can be among
 * the top k: the least of the maxima of k disjoint segments. -inf when that bound is useless or
 * too costly (short rows, strided flags, a segment with nothing allowed). */
AT_INLINE float top_k_bar(const float *row, int64_t n, const uint8_t *allow, int64_t allow_stride,
                          int64_t k)
{
    int64_t seg = n / k / VL * VL;
    if (seg < 2 * VL || (allow && allow_stride != 1)) return -INFINITY;
    float bar = INFINITY;
    for (int64_t s = 0; s < k && bar > -INFINITY; s++) {
        float max = masked_max(row + s * seg, seg, allow ? allow + s * seg : NULL);
        bar = max < bar ? max : bar;
    }
    return bar;
}

/* Collects the indices of the best min(k, allowed) allowed entries of row[0..n_allowed) into
 * heap (in heap order) and returns how many. Keys are scanned in increasing order, so a later
 * key with the same score as the root never displaces it: ties go to the lower index. A vector
 * pre-pass finds a bar that the top k reach, so that only the few keys at or above it go
 * through the heap. */
AT_SIMD_CLONES
static int64_t best_k(const float *row, int64_t n_allowed, const uint8_t *allow,
                      int64_t allow_stride, int64_t k, int32_t *heap)
{
    if (k < 1) return 0; /* an empty row */
    const float bar = top_k_bar(row, n_allowed, allow, allow_stride, k);
    int64_t len = 0, j = 0;
    for (; j < n_allowed && len < k; j++)
        if ((bar == -INFINITY || row[j] >= bar) && (!allow || allow[j * allow_stride])) {
            heap[len] = (int32_t)j;
            sift_up(row, heap, len++);
        }
    if (len < k) return len;
    float worst = row[heap[0]];
    for (; j < n_allowed; j++)
        if (row[j] > worst && (!allow || allow[j * allow_stride])) {
            heap[0] = (int32_t)j;
            sift_down(row, heap, len);
            worst = row[heap[0]];
        }
    return len;
}

/* The selection given by heap[0..len) as weights over row[0..n). */
static void write_weights(float *row, int64_t n, const int32_t *heap, int64_t len, bool normalize)
{
    memset(row, 0, (size_t)n * sizeof(float));
    float w = normalize && len > 0 ? 1.0f / (float)len : 1.0f;
    for (int64_t e = 0; e < len; e++)
        row[heap[e]] = w;
}

/* A single flag for the whole row (stride 0) is resolved once: either nothing is allowed or
 * only the prefix limits the row. */
static void resolve_row_flag(int64_t *n_allowed, const uint8_t **allow, int64_t allow_stride)
{
    if (*allow && allow_stride == 0) {
        if (!(*allow)[0]) *n_allowed = 0;
        *allow = NULL;
    }
}

void at_select_topk_row(float *row, int64_t n, int64_t n_allowed, const uint8_t *allow,
                        int64_t allow_stride, int64_t k, bool normalize, int32_t *heap)
{
    resolve_row_flag(&n_allowed, &allow, allow_stride);
    int64_t len = best_k(row, n_allowed, allow, allow_stride, at_select_heap_len(k, n), heap);
    write_weights(row, n, heap, len, normalize);
}

/* ---- Gumbel noise ---- */

typedef uint64_t vu64 __attribute__((vector_size(VL * sizeof(uint64_t))));

/* p[0..VL) += -log(-log(u_j)) for keys j = j0 .. j0 + VL - 1 of the stream: at_rng_bits and
 * at_rng_uniform of rng.h, lane by lane, with the same exact integer and float operations. */
AT_INLINE void add_gumbel(float *p, uint64_t stream, int64_t j0)
{
    /* splitmix64's counter (j + 1) * golden, the product for lane l folded at compile time. */
    const vu64 lane = (vu64){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16} * AT_RNG_GOLDEN;
    /* The scalar is cast to the lanes' own type: clang refuses to splat an unsigned long long
     * into a vector of uint64_t (unsigned long), whatever their equal widths. */
    vu64 z = (uint64_t)(stream + (uint64_t)j0 * AT_RNG_GOLDEN) + lane;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    vint m = __builtin_convertvector(z >> (64 - AT_RNG_UNIFORM_BITS), vint);
    vfloat u =
        (__builtin_convertvector(m, vfloat) + 0.5f) * (1.0f / (float)(1u << AT_RNG_UNIFORM_BITS));
    vfloat e = -vlog_positive(&u); /* Exp(1): in [6e-8, 16.7], never 0 */
    vfloat g = vload(p) - vlog_positive(&e);
    vstore(p, &g);
}

AT_SIMD_CLONES
static void perturb_row(float *row, int64_t n, uint64_t stream)
{
    _Static_assert(VL == 16, "add_gumbel's lane indices assume 16 lanes");
    int64_t j = 0;
    for (; j + VL <= n; j += VL)
        add_gumbel(row + j, stream, j);
    if (j < n) {
        float tail[VL] = {0};
        size_t rest = (size_t)(n - j);
        memcpy(tail, row + j, rest * sizeof(float));
        add_gumbel(tail, stream, j);
        memcpy(row + j, tail, rest * sizeof(float));
    }
}

void at_select_sample_row(float *row, int64_t n, int64_t n_allowed, const uint8_t *allow,
                          int64_t allow_stride, int64_t k, bool normalize, uint64_t stream,
                          int32_t *heap)
{
    resolve_row_flag(&n_allowed, &allow, allow_stride);
    /* Keys drawn one after another without replacement, each with probability proportional to
     * exp(score) among those left, are exactly the top k of score + Gumbel noise. */
    perturb_row(row, n_allowed, stream);
    int64_t len = best_k(row, n_allowed, allow, allow_stride, at_select_heap_len(k, n), heap);
    write_weights(row, n, heap, len, normalize);
}
