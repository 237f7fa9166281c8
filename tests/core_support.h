/* Helpers shared by the unit tests of core/'s attention (test_core.c, test_flash.c,
 * test_select.c, test_additive.c, test_fixtures.c): random inputs in every memory layout, running
 * the forward pass the way the server does, checking it against the double-precision reference,
 * and the families of cases that the full and the tiled path are both put through. Prefix ct_
 * ("core test"). */
#ifndef TESTS_CORE_SUPPORT_H
#define TESTS_CORE_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/attention.h"

/* ---- random numbers (xorshift64; the tests' own, unrelated to core/rng.h) ---- */

typedef struct ct_rng {
    uint64_t s;
} ct_rng;

uint64_t ct_rng_next(ct_rng *r);
int64_t ct_rng_int(ct_rng *r, int64_t lo, int64_t hi); /* inclusive */
float ct_rng_float(ct_rng *r);                         /* [-1, 1) */

/* ---- inputs ---- */

/* How a [B, H, L, d] view lies in memory. */
typedef enum ct_layout {
    CT_DENSE,       /* [B, H, L, d] */
    CT_PADDED_ROWS, /* [B, H, L, d + pad]: nb[2] > d */
    CT_BLHD,        /* [B, L, H, d + pad] viewed as [B, H, L, d], as a fused projection gives */
    CT_SHARED_HEAD, /* one [B, 1, L, d + pad] block seen by every head: nb[1] = 0 */
    CT_LAYOUT_COUNT
} ct_layout;

/* A float view with its own allocation (free its data). Padding is NaN so that reading it
 * poisons the output. */
at_tensor ct_make_view(ct_rng *r, int64_t b, int64_t h, int64_t l, int64_t d, ct_layout lay);

/* A random BOOL mask for scores [B, H, Lq, Lk] with its own allocation. Bit a of `bcast`
 * broadcasts dim a; with `unit_dims` a broadcast dim is given as size 1, otherwise as the full
 * size with stride 0. */
at_tensor ct_make_mask(ct_rng *r, const int64_t scores[4], unsigned bcast, bool unit_dims,
                       int percent_true);

/* Storage for what a test descriptor points at. */
typedef struct ct_extras {
    at_tensor mask;
    at_additive additive;
} ct_extras;

/* Random key lengths 0..lk for `batch` entries (malloc'd), mostly near lk, sometimes 0. */
int64_t *ct_make_key_lengths(ct_rng *r, int64_t batch, int64_t lk);

/* Turns d into an additive-score descriptor with hidden width da: the key is redrawn with
 * width dk when that differs from its own, the weight [da, dq + dk], bias and v (each optional)
 * are drawn into x->additive, which d then points at. */
void ct_make_additive(ct_rng *r, at_attention_desc *d, ct_extras *x, int64_t dk, int64_t da,
                      bool bias, bool v);

/* A random dot or scaled-dot, soft descriptor: shapes, layouts, scale, causal, weights,
 * average_heads, sometimes a mask (in x) and key lengths. */
at_attention_desc ct_random_desc(ct_rng *r, int64_t max_b, int64_t max_h, int64_t max_l,
                                 int64_t max_d, ct_extras *x);

/* One query, key and value of one element each: [1, 1, 1, 1] views of *q, *k and *v. */
at_attention_desc ct_tiny_desc(float *q, float *k, float *v, bool causal);

/* q [1, 2, 4, 3], k [1, 2, lk, 3] and v [1, 2, lk, 5], dense and random, with a [1, 2, 4, lk]
 * mask (in x) that allows every key except in two rows, which allow none: row 1 of head 0 and
 * row 3 of head 1. */
at_attention_desc ct_empty_rows_desc(ct_rng *r, int64_t lk, ct_extras *x);

/* Frees every allocation the descriptor points at: tensor data, mask data, key lengths and the
 * additive parameters. Set a pointer to NULL first when it is not on the heap. */
void ct_free_desc(at_attention_desc *d);

/* ---- running ---- */

/* fn(ctx, pool, worker): a kernel call that runs on worker `worker` of `pool` (or inline). */
typedef int (*ct_pool_fn)(void *ctx, at_pool *pool, int worker);

/* Runs fn as one job of `pool` and waits for it (the way the server runs a request), or inline
 * as worker 0 when pool is NULL. Returns fn's status, or at_pool_submit's when it refused. */
int ct_run_on_pool(at_pool *pool, ct_pool_fn fn, void *ctx);

/* Runs the forward pass as a job on `pool` (the way the server does), or inline for NULL, with
 * a workspace of exactly at_attention_workspace_size bytes. Returns its status. */
int ct_run_forward(at_pool *pool, const at_attention_desc *d, const at_attention_out *out);

typedef struct ct_outputs {
    float *context, *weights;
    size_t context_n, weights_n;
} ct_outputs;

/* Outputs sized for d, poisoned with NaN so that every element must be written. */
ct_outputs ct_alloc_outputs(const at_attention_desc *d);
void ct_free_outputs(ct_outputs *o);

/* Runs d and returns the outputs (free them); fails the test on a non-OK status. */
ct_outputs ct_forward(at_pool *pool, const at_attention_desc *d);

/* ---- checking ---- */

/* A one-line description of d for failure messages. */
char *ct_describe(const at_attention_desc *d, char *buf, size_t len);

/* May query row i of head (b, h) attend key j? The tests' own reading of causal, key_lengths
 * and the mask. */
bool ct_allowed(const at_attention_desc *d, int64_t b, int64_t h, int64_t i, int64_t j);

/* d with its key lengths folded into a full [B, H, Lq, Lk] BOOL mask in *full (with its own
 * allocation: free full->data; {0} when d has no key lengths), so that an implementation can be
 * checked against the reference's handling of lengths and of masks alike. Causal stays a flag. */
at_attention_desc ct_lengths_as_mask(const at_attention_desc *d, at_tensor *full);

/* Element (b, h, j, e) of a rank-4 float view. */
double ct_at(const at_tensor *t, int64_t b, int64_t h, int64_t j, int64_t e);

/* Gumbel noise of key j of row (b, h, i) for `seed`, in double, from core/rng.h's generator. */
double ct_gumbel(uint64_t seed, int64_t b, int64_t h, int64_t i, int64_t j);

/* Compares outputs o of the soft-selection descriptor d with what the reference computes for
 * `ref` (d itself, or a descriptor that must compute the same, such as ct_lengths_as_mask's):
 * weights to 1e-5 absolute, context to 1e-4 relative (1e-5 absolute floor). Failure messages
 * describe d and add `note` after the word "reference". */
void ct_check_soft_outputs(const at_attention_desc *d, const ct_outputs *o,
                           const at_attention_desc *ref, const char *note);

/* Runs d on `pool` and compares with the reference. Soft selection: weights to 1e-5 absolute,
 * context to 1e-4 relative (1e-5 absolute floor). Top-k and sampling: the keys selected must be
 * the reference's, except where the reference's (perturbed) scores of the two keys at the
 * boundary are within 1e-4 (float and double may order near-ties differently); each row selects
 * min(k, allowed) allowed keys with weight 1 or 1/selected; averaged weights and the context
 * follow from the per-head selection. Every output must be finite. */
void ct_check_forward(at_pool *pool, const at_attention_desc *d);

/* Checks that at_attention_check refuses d with `status`, names `field` in *field, and writes a
 * message that starts with the field and contains `needle`. */
void ct_expect_bad_at(const at_attention_desc *d, const char *field, const char *needle, int status,
                      const char *file, int line);
#define CT_EXPECT_BAD(d, field, needle, status)                                                    \
    ct_expect_bad_at((d), (field), (needle), (status), __FILE__, __LINE__)

/* ---- families of cases (the full and the tiled path go through the same ones) ---- */

/* A check of one descriptor run on `pool`, such as ct_check_forward. */
typedef void (*ct_check_fn)(at_pool *pool, const at_attention_desc *d);

/* Every broadcast pattern of a mask over `scores` [B, H, Lq, Lk] (60% true), given with
 * stride-0 dims and with size-1 dims, with and without causal: 64 descriptors over random
 * q, k and v (head dims 5 and 4, the key in the [B, L, H, d] layout), each passed to
 * check(NULL, d). With need_weights they ask for the weights, averaged over the heads when the
 * pattern broadcasts the batch dim. */
void ct_check_mask_patterns(ct_rng *r, const int64_t scores[4], bool need_weights,
                            ct_check_fn check);

/* A [2, 1, lq, lk] mask whose innermost dim has stride 2 (every other byte, the bytes between
 * are 0) and whose head dim has stride 0, over random dense q [2, 3, lq, 6], k [2, 3, lk, 6]
 * and v [2, 3, lk, 2]: passed to check(NULL, d), asking for the weights with need_weights. */
void ct_check_strided_mask(ct_rng *r, int64_t lq, int64_t lk, bool need_weights, ct_check_fn check);

#endif
