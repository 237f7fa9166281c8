/* Plain double-precision reference implementations of the kernels, written for clarity and
 * used only by the tests to check the fast paths (tests/, so never linked into attnd). Slow on
 * purpose: loops, no BLAS. */
#ifndef TESTS_REFERENCE_H
#define TESTS_REFERENCE_H

#include "../core/attention.h"

/* Computes the same outputs as at_attention_forward, in double precision, from the same
 * descriptor. context: [B, H, Lq, dv]; weights (may be NULL): [B, H, Lq, Lk], or [B, Lq, Lk]
 * when d->average_heads. Returns AT_OK or AT_ENOMEM. */
int at_ref_attention(const at_attention_desc *d, double *context, double *weights);

#endif
