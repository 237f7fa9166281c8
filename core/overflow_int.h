/* Attention whose float32 scores or context leave float32's range: found after the forward
 * pass, and those rows recomputed in double. Internal to core/. */
#ifndef AT_OVERFLOW_INT_H
#define AT_OVERFLOW_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "attention.h"

/* Called by at_attention_forward once `out` holds the fast pass's results. Finds every query
 * row whose scores may have overflowed float32 (a bound from the largest |q| of the row, the
 * largest |k| of its head, the scale and, for the additive score, the norms of its weights: it
 * costs one pass over the inputs, and nothing more when the bound holds for the whole request;
 * skipped when at_flash_checks_scores says the tiled path checked its scores itself)
 * and every row whose context is not finite, and recomputes those rows in double: their
 * weights, their context and, with average_heads, the average over the heads. Returns AT_OK,
 * AT_ERANGE when such a row's context is beyond float32's range even in double (the sum of
 * the k values top-k or sampling selects, say), or AT_ENOMEM. Reentrant; single-threaded
 * (the rows it recomputes are few in any request that is not built to overflow). */
int at_attention_fix_overflow(const at_attention_desc *d, const at_attention_out *out);

/* True when at_attention_fix_overflow could redo any of rows [i0, i0 + rows) of head (b, h)
 * once `out` holds them: their context is not finite, or (unless `bound_safe` or
 * at_flash_checks_scores) the bound from the block's largest |q| and the head's largest |k| is
 * not safe. Pass bound_safe = true only when at_attention_bound_safe held for the largest |q|
 * and |k| of the whole request. False means those rows are certainly left alone, so a forward
 * pass whose every block says false need not call at_attention_fix_overflow at all. A pure
 * function of the block: run it inside the work item that wrote the block, while the block is
 * in cache, on any worker. */
bool at_attention_rows_at_risk(const at_attention_desc *d, const at_attention_out *out, int64_t b,
                               int64_t h, int64_t i0, int64_t rows, bool bound_safe);

/* The largest |element| of head (b, h) of the query (*mq) and of the key (*mk). Pure. */
void at_attention_head_maxabs(const at_attention_desc *d, int64_t b, int64_t h, float *mq,
                              float *mk);

/* True when no score of queries of largest |element| mq against keys of largest |element| mk
 * can leave float32's range (the bound at_attention_fix_overflow uses). Pure. */
bool at_attention_bound_safe(const at_attention_desc *d, float mq, float mk);

#endif
