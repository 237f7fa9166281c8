/* Memory-efficient soft attention without weights: a tiled online softmax (the FlashAttention
 * recurrence: running max, running sum, rescaled accumulator) that never holds an Lq x Lk
 * matrix, only one tile of scores per worker. Internal to core/: at_attention_forward uses it
 * whenever it applies. */
#ifndef AT_FLASH_H
#define AT_FLASH_H

#include <stdbool.h>
#include <stddef.h>

#include "attention.h"

/* True when the tiled path computes `d`: soft selection, no weights wanted, and a dot or
 * scaled-dot score. */
bool at_flash_applies(const at_attention_desc *d);

/* Scratch bytes at_flash_forward needs on a pool of `threads` workers: a few tiles each, plus,
 * when one query tile's keys are split into chunks (too few (batch, head, query tile) items for
 * the cores, as for one query over many keys), one partial context per chunk. */
size_t at_flash_workspace_size(const at_attention_desc *d, int threads);

/* Writes the context [B, H, Lq, dv] of `d` into `context`. Same contract as
 * at_attention_forward: `d` has passed at_attention_check and at_flash_applies, `worker` is the
 * caller's index in `pool` (or 0 with pool NULL), fully masked rows give zeros. Agrees with
 * the weights path to about 1e-6. */
int at_flash_forward(const at_attention_desc *d, float *context, void *workspace, at_pool *pool,
                     int worker);

#endif
