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

/* True when the tiled path applies to `d` and checks every score it computes: a query row that
 * meets a score that is not finite (float32 overflow of finite inputs) gets a context of NaN,
 * which at_attention_fix_overflow's finiteness check then redoes in double, so that it needs no
 * bound from a pass over the keys. Done for short query lengths (decoding), where that pass
 * would read the keys a second time for little work; longer ones keep the bound, whose pass is
 * small beside their work, and no check in the loop. Depends only on the shapes. */
bool at_flash_checks_scores(const at_attention_desc *d);

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
