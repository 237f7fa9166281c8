/* Hard selections of an attention row, the alternatives to the softmax: the k highest scores
 * (top-k), or k distinct keys drawn without replacement from the row's softmax (sampling, by
 * the Gumbel-top-k trick). Both turn a row of scores into weights that are 0 or 1 (or
 * 1/selected with normalize), in place. Internal to core/. */
#ifndef AT_SELECT_H
#define AT_SELECT_H

#include <stdbool.h>
#include <stdint.h>

/* Entries of the `heap` scratch the row functions need for `k` (>= 1) and `n` keys. */
static inline int64_t at_select_heap_len(int64_t k, int64_t n)
{
    return k < n ? k : n;
}

/* Replaces row[0..n) of scores by top-k weights. Entry j is allowed as in at_softmax_row
 * (j < n_allowed, and allow[j * allow_stride] non-zero when `allow` is given), but an allowed
 * entry of score -inf stays a candidate. The min(k, allowed entries) allowed entries with the
 * highest scores are selected, equal scores going to the lower index; each selected entry
 * becomes 1, or 1 / (number selected) with `normalize`, and every other entry exactly 0 (all of
 * them when nothing is allowed). Entries at j >= n_allowed are only written. `heap` holds
 * at_select_heap_len(k, n) entries. Runs in O(n log k); pure and reentrant. */
void at_select_topk_row(float *row, int64_t n, int64_t n_allowed, const uint8_t *allow,
                        int64_t allow_stride, int64_t k, bool normalize, int32_t *heap);

/* Like at_select_topk_row, but selects min(k, allowed entries) distinct allowed entries drawn
 * without replacement from the softmax of the allowed scores: the top k of the perturbed scores
 * row[j] + g_j, where g_j = -log(-log(u_j)) is Gumbel noise and u_j = at_rng_uniform(
 * at_rng_bits(stream, j)) (see rng.h; stream = at_rng_row_stream(seed, b, h, i)). The perturbed
 * scores are computed in float. Pure and reentrant: the same stream gives the same keys. */
void at_select_sample_row(float *row, int64_t n, int64_t n_allowed, const uint8_t *allow,
                          int64_t allow_stride, int64_t k, bool normalize, uint64_t stream,
                          int32_t *heap);

#endif
