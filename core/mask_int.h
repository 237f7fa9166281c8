/* Which keys a query row may attend, shared by every kernel of core/: a prefix of the keys
 * (causal and key_lengths both cut the row short) and, within it, the optional mask tensor.
 * Internal to core/. */
#ifndef AT_MASK_INT_H
#define AT_MASK_INT_H

#include <stdint.h>

#include "attention.h"

/* Query row i of batch entry b may only attend keys [0, limit): limit = Lk, cut to i + 1 by
 * causal and to key_lengths[b] by padding. The mask tensor may hide keys inside the prefix. */
static inline int64_t at_row_key_limit(const at_attention_desc *d, int64_t b, int64_t i)
{
    int64_t limit = d->key.ne[2];
    if (d->causal && i + 1 < limit) limit = i + 1;
    if (d->key_lengths && d->key_lengths[b] < limit) limit = d->key_lengths[b];
    return limit < 0 ? 0 : limit;
}

/* Row (b, h, i) of the mask tensor, whose element j is at [j * *stride]; NULL when the
 * descriptor has no mask (every key in the prefix may be attended). Size-1 dimensions are
 * broadcast whatever their stride says. */
static inline const uint8_t *at_mask_row(const at_attention_desc *d, int64_t b, int64_t h,
                                         int64_t i, int64_t *stride)
{
    const at_tensor *m = d->mask;
    if (!m) return NULL;
    const int64_t *ne = m->ne, *nb = m->nb;
    *stride = ne[3] == 1 ? 0 : nb[3];
    return (const uint8_t *)m->data + (ne[0] == 1 ? 0 : b * nb[0]) + (ne[1] == 1 ? 0 : h * nb[1]) +
           (ne[2] == 1 ? 0 : i * nb[2]);
}

#endif
