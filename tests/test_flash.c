/* Unit tests of the tiled attention path (core/flash.c): its context against the double-precision
 * reference and against the weights path over shapes that cross tile boundaries, causal and
 * padded prefixes, every mask broadcast pattern, fully masked rows; bit-identical results on any
 * pool; and a workspace that does not grow with the sequence lengths. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../core/attention.h"
#include "../core/flash.h"
#include "../core/overflow_int.h"
#include "../core/status.h"
#include "core_support.h"
#include "harness.h"

/* A random descriptor the tiled path applies to: ct_random_desc's without weights. */
static at_attention_desc random_desc(ct_rng *r, int64_t max_b, int64_t max_h, int64_t max_l,
                                     int64_t max_d, ct_extras *x)
{
    at_attention_desc d = ct_random_desc(r, max_b, max_h, max_l, max_d, x);
    d.need_weights = d.average_heads = false;
    return d;
}

typedef struct flash_call {
    const at_attention_desc *d;
    float *context;
    void *ws;
} flash_call;

/* The tiled path and then the overflow fix, as at_attention_forward runs them. */
static int flash_call_run(void *ctx, at_pool *pool, int worker)
{
    flash_call *c = ctx;
    int rc = at_flash_forward(c->d, c->context, c->ws, pool, worker);
    at_attention_out out = {.context = c->context};
    return rc == AT_OK ? at_attention_fix_overflow(c->d, &out) : rc;
}

/* Runs the tiled path as a job on `pool` (the way the server does), or inline for NULL, with
 * the workspace at_flash_workspace_size asks for (allocated to the byte, so ASan sees any
 * overrun). Called directly: at_attention_forward leaves keys that fit one block to the blocked
 * path. The context is poisoned with NaN first, so every element must be written. */
static ct_outputs run_flash(at_pool *pool, const at_attention_desc *d)
{
    char err[256];
    if (at_attention_check(d, NULL, err, sizeof err) != AT_OK)
        harness_fail(__FILE__, __LINE__, "check failed: %s", err);
    ASSERT(at_flash_applies(d));
    ct_outputs o = ct_alloc_outputs(d);
    size_t ws_size = at_flash_workspace_size(d, at_pool_threads(pool));
    void *ws = ws_size ? aligned_alloc(64, (ws_size + 63) / 64 * 64) : NULL;
    if (ws_size) ASSERT(ws != NULL);
    flash_call c = {d, o.context, ws};
    ASSERT_EQ(ct_run_on_pool(pool, flash_call_run, &c), AT_OK);
    free(ws);
    return o;
}

/* Runs the tiled path on `pool` and compares its context with the reference: 1e-5 absolute
 * plus 1e-4 relative. Key lengths are checked twice: by the reference's own and folded into
 * its mask. A ct_check_fn. */
static void check_flash(at_pool *pool, const at_attention_desc *d)
{
    ct_outputs o = run_flash(pool, d);
    ct_check_soft_outputs(d, &o, d, "");
    if (d->key_lengths) {
        at_tensor full;
        at_attention_desc e = ct_lengths_as_mask(d, &full);
        ct_check_soft_outputs(d, &o, &e, " (lengths as a mask)");
        free(full.data);
    }
    ct_free_outputs(&o);
}

/* Compares the tiled path with at_attention_forward asked for the weights (which takes the
 * path that holds every score): 1e-5 absolute on every context element. */
static void check_vs_weights_path(at_pool *pool, const at_attention_desc *d)
{
    char what[512], err[256];
    ct_outputs got = run_flash(pool, d);
    at_attention_desc e = *d;
    e.need_weights = true;
    e.average_heads = false;
    ASSERT(!at_flash_applies(&e));
    if (at_attention_check(&e, NULL, err, sizeof err) != AT_OK)
        harness_fail(__FILE__, __LINE__, "check failed: %s", err);
    ct_outputs want = ct_forward(NULL, &e);
    for (size_t i = 0; i < got.context_n; i++)
        if (!(fabs(got.context[i] - want.context[i]) <= 1e-5))
            harness_fail(__FILE__, __LINE__, "%s: context[%zu] = %.9g, weights path %.9g",
                         ct_describe(d, what, sizeof what), i, (double)got.context[i],
                         (double)want.context[i]);
    ct_free_outputs(&want);
    ct_free_outputs(&got);
}

/* ---- against the reference ---- */

TEST(flash_random_shapes_vs_reference)
{
    ct_rng r = {0x9E3779B97F4A7C15ull};
    for (int n = 0; n < 200; n++) {
        ct_extras x;
        at_attention_desc d = random_desc(&r, 3, 4, n % 4 ? 40 : 300, 33, &x);
        check_flash(NULL, &d);
        ct_free_desc(&d);
    }
}

TEST(flash_tiny_1x1)
{
    float q = 0.5f, k = -2.0f, v = 3.0f;
    for (int causal = 0; causal <= 1; causal++) {
        at_attention_desc d = ct_tiny_desc(&q, &k, &v, causal);
        float c = NAN;
        _Alignas(64) float ws[64];
        ASSERT(at_flash_workspace_size(&d, 1) <= sizeof ws);
        ASSERT_EQ(at_flash_forward(&d, &c, ws, NULL, 0), AT_OK);
        ASSERT_NEAR(c, 3.0, 0);
    }
}

/* Lengths on either side of the query tile (up to 256 rows) and the key tile (up to 512 keys), so
 * that the last tiles are partial, with and without a causal mask. */
TEST(flash_tile_boundaries)
{
    ct_rng r = {4711};
    const int64_t lqs[] = {1, 15, 255, 256, 257, 600};
    const int64_t lks[] = {1, 17, 511, 512, 513, 1100};
    for (size_t a = 0; a < sizeof lqs / sizeof lqs[0]; a++)
        for (size_t c = 0; c < sizeof lks / sizeof lks[0]; c++)
            for (int causal = 0; causal <= 1; causal++) {
                at_attention_desc d = {
                    .query = ct_make_view(&r, 1, 2, lqs[a], 8, CT_DENSE),
                    .key = ct_make_view(&r, 1, 2, lks[c], 8, CT_PADDED_ROWS),
                    .value = ct_make_view(&r, 1, 2, lks[c], 5, CT_BLHD),
                    .causal = causal,
                };
                check_flash(NULL, &d);
                ct_free_desc(&d);
            }
}

/* Head dims that differ, and large ones, which shrink the key tile (several per row). */
TEST(flash_head_dims)
{
    ct_rng r = {8080};
    const int64_t dims[][2] = {{1, 1}, {1, 7}, {7, 1}, {64, 32}, {32, 64}, {200, 300}, {513, 3}};
    for (size_t n = 0; n < sizeof dims / sizeof dims[0]; n++) {
        at_attention_desc d = {
            .query = ct_make_view(&r, 2, 1, 70, dims[n][0], CT_PADDED_ROWS),
            .key = ct_make_view(&r, 2, 1, 600, dims[n][0], CT_DENSE),
            .value = ct_make_view(&r, 2, 1, 600, dims[n][1], CT_PADDED_ROWS),
            .causal = n % 2,
        };
        check_flash(NULL, &d);
        ct_free_desc(&d);
    }
}

/* Causal attention is top-left aligned whatever Lq and Lk are; key tiles past a query tile's
 * last row are skipped. */
TEST(flash_causal_lq_vs_lk)
{
    ct_rng r = {777};
    const int64_t shapes[][2] = {{5, 9},     {9, 5},     {1, 7},    {7, 1},
                                 {130, 700}, {700, 130}, {600, 600}};
    for (size_t n = 0; n < sizeof shapes / sizeof shapes[0]; n++) {
        int64_t lq = shapes[n][0], lk = shapes[n][1];
        at_attention_desc d = {
            .query = ct_make_view(&r, 2, 2, lq, 8, CT_DENSE),
            .key = ct_make_view(&r, 2, 2, lk, 8, CT_PADDED_ROWS),
            .value = ct_make_view(&r, 2, 2, lk, 3, CT_SHARED_HEAD),
            .causal = true,
        };
        check_flash(NULL, &d);
        ct_free_desc(&d);
    }
}

/* Every broadcast pattern of the mask, with stride-0 or size-1 dims, with and without causal,
 * over more keys than one tile holds. */
TEST(flash_mask_every_broadcast_pattern)
{
    ct_rng r = {4242};
    ct_check_mask_patterns(&r, (const int64_t[]){2, 3, 40, 600}, false, check_flash);
}

/* A mask with a strided innermost dim (every other byte). */
TEST(flash_mask_strided_keys)
{
    ct_rng r = {99};
    ct_check_strided_mask(&r, 4, 530, false, check_flash);
}

/* Padding by key_lengths, alone and with a mask and causal: lengths 0, inside the first key
 * tile, inside a later one and the whole row. */
TEST(flash_key_lengths)
{
    ct_rng r = {1234};
    int64_t lengths[4] = {0, 3, 600, 1100};
    int64_t scores[4] = {4, 2, 150, 1100};
    for (int variant = 0; variant < 4; variant++) {
        at_tensor mask = ct_make_mask(&r, scores, 2, true, 70);
        at_attention_desc d = {
            .query = ct_make_view(&r, 4, 2, 150, 8, CT_BLHD),
            .key = ct_make_view(&r, 4, 2, 1100, 8, CT_DENSE),
            .value = ct_make_view(&r, 4, 2, 1100, 6, CT_DENSE),
            .key_lengths = lengths,
            .causal = variant & 1,
            .mask = variant & 2 ? &mask : NULL,
        };
        check_flash(NULL, &d);
        ct_outputs o = run_flash(NULL, &d);
        for (int64_t i = 0; i < 2 * 150 * 6; i++) /* batch entry 0 has no key */
            ASSERT_EQ(o.context[i], 0);
        ct_free_outputs(&o);
        if (!d.mask) free(mask.data);
        d.key_lengths = NULL; /* on the stack: keep ct_free_desc away from it */
        ct_free_desc(&d);
    }
}

/* Rows with no allowed key get exactly 0, never NaN: by the mask, by a single broadcast false
 * flag, by a zero length, and by a causal prefix whose only key the mask hides. */
TEST(flash_fully_masked_rows_are_zero)
{
    ct_rng r = {5};
    ct_extras x;
    at_attention_desc d = ct_empty_rows_desc(&r, 700, &x); /* head 0 row 1, head 1 row 3 */
    check_flash(NULL, &d);
    ct_outputs o = run_flash(NULL, &d);
    for (int e = 0; e < 5; e++) {
        ASSERT_EQ(o.context[(0 * 4 + 1) * 5 + e], 0);
        ASSERT_EQ(o.context[(1 * 4 + 3) * 5 + e], 0);
    }
    ct_free_outputs(&o);

    /* Row 0 under causal sees key 0 only; hide it. Row 1 keeps key 1. */
    ((uint8_t *)x.mask.data)[0] = 0;
    d.causal = true;
    check_flash(NULL, &d);
    o = run_flash(NULL, &d);
    for (int e = 0; e < 5; e++)
        ASSERT_EQ(o.context[e], 0);
    ct_free_outputs(&o);

    /* The whole mask false as one broadcast flag, and a zero key length. */
    uint8_t no = 0;
    at_tensor none = {.dtype = AT_BOOL, .rank = 4, .ne = {1, 2, 4, 700}, .data = &no};
    int64_t zero = 0;
    const at_tensor *masks[2] = {&none, NULL};
    const int64_t *lengths[2] = {NULL, &zero};
    for (int c = 0; c < 2; c++) {
        d.mask = masks[c];
        d.key_lengths = lengths[c];
        o = run_flash(NULL, &d);
        for (size_t i = 0; i < o.context_n; i++)
            ASSERT_EQ(o.context[i], 0);
        ct_free_outputs(&o);
    }
    d.mask = &x.mask;
    d.key_lengths = NULL; /* on the stack */
    ct_free_desc(&d);
}

TEST(flash_dot_scaled_dot_and_scale_override)
{
    ct_rng r = {12345};
    at_attention_desc d = {
        .query = ct_make_view(&r, 2, 3, 70, 16, CT_DENSE),
        .key = ct_make_view(&r, 2, 3, 900, 16, CT_DENSE),
        .value = ct_make_view(&r, 2, 3, 900, 5, CT_DENSE),
    };
    check_flash(NULL, &d);
    ct_outputs scaled = run_flash(NULL, &d);
    d.score = AT_SCORE_DOT;
    check_flash(NULL, &d);

    /* "dot" with the scale 1/sqrt(d) given explicitly is exactly "scaled_dot". */
    d.has_scale = true;
    d.scale = 0.25f;
    ct_outputs dot = run_flash(NULL, &d);
    ASSERT(memcmp(dot.context, scaled.context, dot.context_n * sizeof(float)) == 0);

    /* An override replaces either default, including 0 (uniform weights), < 0 and a sharp one
     * whose running maximum jumps between tiles and whose small weights underflow. */
    const float scales[] = {0.0f, -0.5f, 3.0f, 40.0f};
    for (int s = 0; s < 4; s++)
        for (int score = 0; score < 2; score++) {
            d.score = score ? AT_SCORE_DOT : AT_SCORE_SCALED_DOT;
            d.scale = scales[s];
            check_flash(NULL, &d);
        }
    ct_free_outputs(&scaled);
    ct_free_outputs(&dot);
    ct_free_desc(&d);
}

/* ---- against the weights path ---- */

TEST(flash_vs_weights_path)
{
    ct_rng r = {0xC0FFEEull};
    for (int n = 0; n < 60; n++) {
        ct_extras x;
        at_attention_desc d = random_desc(&r, 3, 4, n % 3 ? 60 : 1200, 70, &x);
        check_vs_weights_path(NULL, &d);
        ct_free_desc(&d);
    }
}

/* Without weights, keys that fit one block (at most 512) and more than 64 query rows take the
 * blocked path in at_attention_forward, scores in per-worker scratch: it agrees with the
 * reference (masks, lengths and causal included) and with the tiled path to 1e-5, on any pool. */
TEST(flash_short_keys_blocked_path_agrees)
{
    ct_rng r = {0xB10Cull};
    at_pool *pool = at_pool_new(3, 4);
    ASSERT(pool != NULL);
    int checked = 0;
    for (int n = 0; n < 400 && checked < 16; n++) {
        ct_extras x;
        at_attention_desc d = random_desc(&r, 2, 3, 512, 40, &x);
        if (d.query.ne[2] > 64 && d.key.ne[2] <= 512) {
            ct_outputs flash = run_flash(NULL, &d);
            for (int p = 0; p < 2; p++) {
                ct_outputs got = ct_forward(p ? pool : NULL, &d);
                ct_check_soft_outputs(&d, &got, &d, " (blocked path)");
                for (size_t i = 0; i < got.context_n; i++)
                    if (!(fabs(got.context[i] - flash.context[i]) <= 1e-5))
                        harness_fail(__FILE__, __LINE__, "context[%zu] = %.9g, tiled path %.9g", i,
                                     (double)got.context[i], (double)flash.context[i]);
                ct_free_outputs(&got);
            }
            ct_free_outputs(&flash);
            checked++;
        }
        ct_free_desc(&d);
    }
    ASSERT_EQ(checked, 16);
    at_pool_free(pool);
}

TEST(flash_large_vs_weights_path)
{
    ct_rng r = {4096};
    at_attention_desc d = {
        .query = ct_make_view(&r, 1, 1, 4096, 64, CT_DENSE),
        .key = ct_make_view(&r, 1, 1, 4096, 64, CT_DENSE),
        .value = ct_make_view(&r, 1, 1, 4096, 64, CT_DENSE),
    };
    at_pool *pool = at_pool_new(2, 4);
    ASSERT(pool != NULL);
    check_vs_weights_path(pool, &d);
    d.causal = true;
    check_vs_weights_path(pool, &d);
    at_pool_free(pool);
    ct_free_desc(&d);
}

/* ---- split over keys (flash-decoding) ---- */

/* Shapes only: the sizes never read the data. */
static at_attention_desc shape_desc(int64_t b, int64_t h, int64_t lq, int64_t lk, int64_t d)
{
    at_attention_desc desc = {
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){b, h, lq, d}, NULL),
        .key = at_tensor_make(AT_F32, 4, (int64_t[]){b, h, lk, d}, NULL),
        .value = at_tensor_make(AT_F32, 4, (int64_t[]){b, h, lk, d}, NULL),
    };
    return desc;
}

/* Whether the keys of d are split into chunks: only then does the workspace hold something
 * besides the per-worker tiles (the partials), so it is not linear in the thread count. */
static bool keys_split(const at_attention_desc *d)
{
    return at_flash_workspace_size(d, 2) < 2 * at_flash_workspace_size(d, 1);
}

/* check_flash on no pool and on pools of 1, 2 and 3 workers, which must all give the same bits. */
static void check_split_on_pools(at_pool *pool, const at_attention_desc *d)
{
    (void)pool;
    ASSERT(keys_split(d));
    check_flash(NULL, d);
    ct_outputs base = run_flash(NULL, d);
    for (int threads = 1; threads <= 3; threads++) {
        at_pool *p = at_pool_new(threads, 4);
        ASSERT(p != NULL);
        check_flash(p, d);
        ct_outputs o = run_flash(p, d);
        ASSERT(memcmp(o.context, base.context, base.context_n * sizeof(float)) == 0);
        ct_free_outputs(&o);
        at_pool_free(p);
    }
    ct_free_outputs(&base);
}

/* One query over 65,536 keys: a single (batch, head, query tile) item, so the keys are split,
 * and the merged partials must agree with the reference on every pool size, to the bit across
 * them. */
TEST(flash_split_one_query_65536_keys)
{
    ct_rng r = {65536};
    at_attention_desc d = {
        .query = ct_make_view(&r, 1, 1, 1, 64, CT_DENSE),
        .key = ct_make_view(&r, 1, 1, 65536, 64, CT_DENSE),
        .value = ct_make_view(&r, 1, 1, 65536, 64, CT_PADDED_ROWS),
    };
    check_split_on_pools(NULL, &d);
    /* A sharp scale: the chunks' maxima differ by far more than float's exponent range, so a
     * merge that does not rescale by the log-sum-exp is off. */
    d.has_scale = true;
    d.scale = 30.0f;
    check_split_on_pools(NULL, &d);
    ct_free_desc(&d);
}

/* Split chunks under causal masks, key lengths (0, inside a chunk, all) and a mask, alone and
 * together; a chunk with no allowed key takes no part in the merge. */
TEST(flash_split_causal_lengths_and_mask)
{
    ct_rng r = {31337};
    int64_t lengths[3] = {0, 7000, 30000};
    int64_t scores[4] = {3, 2, 4, 30000};
    for (int variant = 0; variant < 4; variant++) {
        at_tensor mask = ct_make_mask(&r, scores, 2, true, 50);
        at_attention_desc d = {
            .query = ct_make_view(&r, 3, 2, 4, 8, CT_BLHD),
            .key = ct_make_view(&r, 3, 2, 30000, 8, CT_DENSE),
            .value = ct_make_view(&r, 3, 2, 30000, 6, CT_DENSE),
            .key_lengths = lengths,
            .causal = variant & 1,
            .mask = variant & 2 ? &mask : NULL,
        };
        check_split_on_pools(NULL, &d);
        ct_outputs o = run_flash(NULL, &d);
        for (int64_t i = 0; i < 2 * 4 * 6; i++) /* batch entry 0 has no key */
            ASSERT_EQ(o.context[i], 0);
        ct_free_outputs(&o);
        if (!d.mask) free(mask.data);
        d.key_lengths = NULL; /* on the stack: keep ct_free_desc away from it */
        ct_free_desc(&d);
    }
}

/* Every mask broadcast pattern and a strided mask over split keys. */
TEST(flash_split_mask_patterns)
{
    ct_rng r = {2024};
    ct_check_mask_patterns(&r, (const int64_t[]){1, 2, 3, 20000}, false, check_split_on_pools);
    ct_check_strided_mask(&r, 4, 20000, false, check_split_on_pools);
}

/* Fully masked rows stay exactly 0 when their keys are split. */
TEST(flash_split_fully_masked_rows_are_zero)
{
    ct_rng r = {77};
    ct_extras x;
    at_attention_desc d = ct_empty_rows_desc(&r, 20000, &x); /* head 0 row 1, head 1 row 3 */
    check_split_on_pools(NULL, &d);
    ct_outputs o = run_flash(NULL, &d);
    for (int e = 0; e < 5; e++) {
        ASSERT_EQ(o.context[(0 * 4 + 1) * 5 + e], 0);
        ASSERT_EQ(o.context[(1 * 4 + 3) * 5 + e], 0);
    }
    ct_free_outputs(&o);
    ct_free_desc(&d);
}

/* Scores beyond float32 over split keys (the kernel's own check, no bound over the keys): one
 * key's score overflows to +inf, or every score to -inf under a huge negative scale; the
 * rows are redone in double and agree with the reference, never NaN or zeros. */
TEST(flash_split_overflowing_scores_are_redone)
{
    ct_rng r = {0xF100D};
    at_attention_desc d = {
        .query = ct_make_view(&r, 1, 2, 3, 8, CT_DENSE),
        .key = ct_make_view(&r, 1, 2, 20000, 8, CT_DENSE),
        .value = ct_make_view(&r, 1, 2, 20000, 4, CT_DENSE),
    };
    ASSERT(keys_split(&d) && at_flash_checks_scores(&d));
    float *q = d.query.data, *k = d.key.data;
    for (int e = 0; e < 8; e++) {
        q[e] *= 1e30f;                     /* head 0, row 0 */
        k[(size_t)12345 * 8 + e] *= 1e30f; /* head 0, key 12345 */
    }
    check_split_on_pools(NULL, &d);
    d.has_scale = true;
    d.scale = -1e30f;
    check_split_on_pools(NULL, &d);
    ct_free_desc(&d);
    /* Long query rows keep the bound instead. */
    at_attention_desc tall = shape_desc(1, 1, 65, 10, 8);
    ASSERT(at_flash_applies(&tall) && !at_flash_checks_scores(&tall));
}

/* Enough (batch, head, query tile) items, or too few keys to be worth a chunk: no split. */
TEST(flash_split_only_when_items_are_few)
{
    at_attention_desc few = {
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1, 64}, NULL),
        .key = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1 << 20, 64}, NULL),
        .value = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1 << 20, 64}, NULL),
    };
    ASSERT(keys_split(&few));
    /* The partials of one query over 1M keys stay small: a context row per chunk. */
    ASSERT(at_flash_workspace_size(&few, 1) < 2 * 1024 * 1024);
    few.key.ne[2] = few.value.ne[2] = 4096;
    ASSERT(!keys_split(&few));
    at_attention_desc many = {
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){2, 8, 1, 64}, NULL),
        .key = at_tensor_make(AT_F32, 4, (int64_t[]){2, 8, 1 << 20, 64}, NULL),
        .value = at_tensor_make(AT_F32, 4, (int64_t[]){2, 8, 1 << 20, 64}, NULL),
    };
    ASSERT(!keys_split(&many));
}

/* ---- threads, workspace, applicability ---- */

/* The split depends only on the shapes, so any pool gives the same bits as no pool. */
TEST(flash_pool_sizes_bit_identical)
{
    ct_rng r = {2718};
    at_pool *pools[3] = {NULL, at_pool_new(2, 4), at_pool_new(4, 4)};
    ASSERT(pools[1] != NULL && pools[2] != NULL);
    for (int n = 0; n < 12; n++) {
        ct_extras x;
        at_attention_desc d = random_desc(&r, 2, 4, n % 2 ? 100 : 1000, 40, &x);
        ct_outputs o[3];
        for (int p = 0; p < 3; p++)
            o[p] = run_flash(pools[p], &d);
        for (int p = 1; p < 3; p++)
            ASSERT(memcmp(o[p].context, o[0].context, o[0].context_n * sizeof(float)) == 0);
        for (int p = 0; p < 3; p++)
            ct_free_outputs(&o[p]);
        ct_free_desc(&d);
    }
    at_pool_free(pools[1]);
    at_pool_free(pools[2]);
}

TEST(flash_applies)
{
    at_attention_desc d = {.score = AT_SCORE_SCALED_DOT, .selection = AT_SELECT_SOFT};
    ASSERT(at_flash_applies(&d));
    d.score = AT_SCORE_DOT;
    d.causal = true;
    d.key_lengths = (const int64_t[]){1};
    ASSERT(at_flash_applies(&d));
    d.need_weights = true;
    ASSERT(!at_flash_applies(&d));
    d.average_heads = true;
    ASSERT(!at_flash_applies(&d));
    d.need_weights = d.average_heads = false;
    d.score = AT_SCORE_ADDITIVE;
    ASSERT(!at_flash_applies(&d));
    d.score = AT_SCORE_DOT;
    d.selection = AT_SELECT_TOPK;
    ASSERT(!at_flash_applies(&d));
    d.selection = AT_SELECT_SAMPLE;
    ASSERT(!at_flash_applies(&d));
}

TEST(flash_workspace_does_not_grow_with_lengths)
{
    at_attention_desc a = shape_desc(1, 8, 1024, 1024, 64);
    at_attention_desc b = shape_desc(1, 8, 1024, 16384, 64);
    at_attention_desc c = shape_desc(1, 8, 16384, 16384, 64);
    at_attention_desc e = shape_desc(4, 16, 16384, 16384, 64);
    size_t one = at_flash_workspace_size(&a, 1);
    ASSERT(one > 0);
    /* Long key rows get thinner tiles (short items), so the tiles may only shrink. */
    ASSERT(at_flash_workspace_size(&b, 1) <= one);
    ASSERT(at_flash_workspace_size(&c, 1) <= one);
    ASSERT_EQ(at_flash_workspace_size(&e, 1), at_flash_workspace_size(&c, 1));
    ASSERT(one <= 1024 * 1024); /* a few tiles, not a row of scores per query */
    ASSERT_EQ(at_flash_workspace_size(&c, 4), 4 * at_flash_workspace_size(&c, 1));
    ASSERT_EQ(at_flash_workspace_size(&c, 0), at_flash_workspace_size(&c, 1));
    /* Small problems need smaller tiles. */
    at_attention_desc s = shape_desc(1, 1, 3, 5, 64);
    ASSERT(at_flash_workspace_size(&s, 1) < one);
}
