/* Unit tests of core/: the attention forward pass against the double-precision reference over
 * many shapes, layouts, masks and pool sizes; a hand-checked case; the row softmax; descriptor
 * validation; and the small helpers (status names, shapes, BLAS). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/attention.h"
#include "../core/blas.h"
#include "../core/softmax.h"
#include "../core/status.h"
#include "core_support.h"
#include "harness.h"
#include "reference.h"

/* ---- the hand-checked case ---- */

TEST(core_hand_checked_weights)
{
    /* One query, three keys with dot scores ln 5, ln 3, ln 2: softmax gives 5/10, 3/10, 2/10.
     * The values are one-hot vectors for the words 欢迎, 来 and 北京, so the context is the
     * weights: half of "welcome", 0.3 of "come", 0.2 of "Beijing". */
    static const char *const words[] = {"欢迎", "来", "北京"};
    float q[1] = {1.0f};
    float k[3] = {logf(5.0f), logf(3.0f), logf(2.0f)};
    float v[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    at_attention_desc d = {
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1, 1}, q),
        .key = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 3, 1}, k),
        .value = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 3, 3}, v),
        .score = AT_SCORE_DOT,
        .need_weights = true,
    };
    float context[3], weights[3];
    at_attention_out out = {.context = context, .weights = weights};
    ASSERT_EQ(at_attention_check(&d, NULL, NULL, 0), AT_OK);
    ASSERT_EQ(at_attention_forward(&d, &out, NULL, NULL, 0), AT_OK);
    const double want[3] = {0.5, 0.3, 0.2};
    for (int j = 0; j < 3; j++) {
        if (fabs(weights[j] - want[j]) > 1e-6 || fabs(context[j] - want[j]) > 1e-6)
            harness_fail(__FILE__, __LINE__, "%s: weight %.9g, context %.9g, want %.1f", words[j],
                         (double)weights[j], (double)context[j], want[j]);
    }
}

/* ---- the forward pass against the reference ---- */

TEST(core_random_shapes_vs_reference)
{
    ct_rng r = {0x9E3779B97F4A7C15ull};
    for (int n = 0; n < 300; n++) {
        ct_extras x;
        at_attention_desc d = ct_random_desc(&r, 3, 4, 40, 33, &x);
        ct_check_forward(NULL, &d);
        ct_free_desc(&d);
    }
}

TEST(core_tiny_1x1)
{
    float q = 0.5f, k = -2.0f, v = 3.0f;
    for (int causal = 0; causal <= 1; causal++) {
        at_attention_desc d = ct_tiny_desc(&q, &k, &v, causal);
        d.need_weights = true;
        float c = 0, w = 0;
        at_attention_out out = {.context = &c, .weights = &w};
        ASSERT_EQ(at_attention_forward(&d, &out, NULL, NULL, 0), AT_OK);
        ASSERT_NEAR(w, 1.0, 0);
        ASSERT_NEAR(c, 3.0, 1e-6);
    }
}

TEST(core_dot_scaled_dot_and_scale_override)
{
    ct_rng r = {12345};
    at_attention_desc d = {
        .query = ct_make_view(&r, 2, 3, 7, 16, CT_DENSE),
        .key = ct_make_view(&r, 2, 3, 9, 16, CT_DENSE),
        .value = ct_make_view(&r, 2, 3, 9, 5, CT_DENSE),
        .need_weights = true,
    };
    ASSERT_NEAR(at_attention_scale(&d), 0.25, 0);
    ct_check_forward(NULL, &d);
    ct_outputs scaled = ct_alloc_outputs(&d);
    at_attention_out so = {.context = scaled.context, .weights = scaled.weights};
    ASSERT_EQ(ct_run_forward(NULL, &d, &so), AT_OK);

    d.score = AT_SCORE_DOT;
    ASSERT_NEAR(at_attention_scale(&d), 1.0, 0);
    ct_check_forward(NULL, &d);

    /* "dot" with the scale 1/sqrt(d) given explicitly is exactly "scaled_dot". */
    d.has_scale = true;
    d.scale = 0.25f;
    ct_outputs dot = ct_alloc_outputs(&d);
    at_attention_out dout = {.context = dot.context, .weights = dot.weights};
    ASSERT_EQ(ct_run_forward(NULL, &d, &dout), AT_OK);
    ASSERT(memcmp(dot.context, scaled.context, dot.context_n * sizeof(float)) == 0);
    ASSERT(memcmp(dot.weights, scaled.weights, dot.weights_n * sizeof(float)) == 0);

    /* An override replaces either score's default, including 0 (uniform weights) and < 0. */
    const float scales[] = {0.0f, -0.5f, 3.0f};
    for (int s = 0; s < 3; s++)
        for (int score = 0; score < 2; score++) {
            d.score = score ? AT_SCORE_DOT : AT_SCORE_SCALED_DOT;
            d.scale = scales[s];
            ASSERT_NEAR(at_attention_scale(&d), scales[s], 0);
            ct_check_forward(NULL, &d);
        }
    ct_free_outputs(&scaled);
    ct_free_outputs(&dot);
    ct_free_desc(&d);
}

/* Causal attention is top-left aligned: query i sees keys 0..i, whatever Lq and Lk are. */
TEST(core_causal_lq_lt_eq_gt_lk)
{
    ct_rng r = {777};
    const int64_t shapes[][2] = {{5, 9}, {9, 9}, {9, 5}, {1, 7}, {7, 1}, {130, 70}, {70, 130}};
    for (size_t n = 0; n < sizeof shapes / sizeof shapes[0]; n++) {
        int64_t lq = shapes[n][0], lk = shapes[n][1];
        at_attention_desc d = {
            .query = ct_make_view(&r, 2, 2, lq, 8, CT_DENSE),
            .key = ct_make_view(&r, 2, 2, lk, 8, CT_PADDED_ROWS),
            .value = ct_make_view(&r, 2, 2, lk, 3, CT_DENSE),
            .causal = true,
            .need_weights = true,
        };
        ct_check_forward(NULL, &d);
        ct_outputs o = ct_alloc_outputs(&d);
        at_attention_out out = {.context = o.context, .weights = o.weights};
        ASSERT_EQ(ct_run_forward(NULL, &d, &out), AT_OK);
        for (int64_t bh = 0; bh < 4; bh++)
            for (int64_t i = 0; i < lq; i++)
                for (int64_t j = i + 1; j < lk; j++)
                    ASSERT_EQ(o.weights[(bh * lq + i) * lk + j], 0);
        ct_free_outputs(&o);
        ct_free_desc(&d);
    }
}

/* Every broadcast pattern of a [B, H, Lq, Lk] mask, given with stride-0 dims or size-1 dims,
 * with and without a causal mask on top. */
TEST(core_mask_every_broadcast_pattern)
{
    ct_rng r = {4242};
    ct_check_mask_patterns(&r, (const int64_t[]){2, 3, 6, 11}, true, ct_check_forward);
}

/* A mask with a strided innermost dim (every other byte) is read correctly too. */
TEST(core_mask_strided_keys)
{
    ct_rng r = {99};
    ct_check_strided_mask(&r, 4, 7, true, ct_check_forward);
}

TEST(core_fully_masked_rows_are_zero)
{
    ct_rng r = {5};
    ct_extras x;
    at_attention_desc d = ct_empty_rows_desc(&r, 6, &x); /* head 0 row 1, head 1 row 3 */
    for (int variant = 0; variant < 3; variant++) {
        d.need_weights = variant != 2;
        d.average_heads = variant == 1;
        ct_check_forward(NULL, &d);
        ct_outputs o = ct_alloc_outputs(&d);
        at_attention_out out = {.context = o.context, .weights = o.weights};
        ASSERT_EQ(ct_run_forward(NULL, &d, &out), AT_OK);
        for (int e = 0; e < 5; e++) {
            ASSERT_EQ(o.context[(0 * 4 + 1) * 5 + e], 0);
            ASSERT_EQ(o.context[(1 * 4 + 3) * 5 + e], 0);
        }
        if (variant == 0)
            for (int j = 0; j < 6; j++) {
                ASSERT_EQ(o.weights[(0 * 4 + 1) * 6 + j], 0);
                ASSERT_EQ(o.weights[(1 * 4 + 3) * 6 + j], 0);
            }
        ct_free_outputs(&o);
    }

    /* The whole mask false, given as one broadcast flag: everything is zero, nothing NaN. */
    uint8_t no = 0;
    at_tensor none = {.dtype = AT_BOOL, .rank = 4, .ne = {1, 2, 4, 6}, .data = &no};
    d.mask = &none;
    d.need_weights = true;
    d.average_heads = false;
    ct_outputs o = ct_alloc_outputs(&d);
    at_attention_out out = {.context = o.context, .weights = o.weights};
    ASSERT_EQ(ct_run_forward(NULL, &d, &out), AT_OK);
    for (size_t i = 0; i < o.context_n; i++)
        ASSERT_EQ(o.context[i], 0);
    for (size_t i = 0; i < o.weights_n; i++)
        ASSERT_EQ(o.weights[i], 0);
    ct_free_outputs(&o);
    d.mask = &x.mask;
    ct_free_desc(&d);
}

TEST(core_average_heads_and_no_weights)
{
    ct_rng r = {31337};
    for (int n = 0; n < 6; n++) {
        int64_t h = 1 + n;
        at_attention_desc d = {
            .query = ct_make_view(&r, 2, h, 9, 12, CT_BLHD),
            .key = ct_make_view(&r, 2, h, 13, 12, CT_DENSE),
            .value = ct_make_view(&r, 2, h, 13, 7, CT_SHARED_HEAD),
            .causal = n % 2,
            .need_weights = true,
            .average_heads = true,
        };
        ct_check_forward(NULL, &d);
        d.need_weights = false;
        ct_check_forward(NULL, &d);
        ct_free_desc(&d);
    }
}

/* Padding: key j of batch entry b is masked from key_lengths[b] on, combined with causal and
 * the mask; a length of 0 masks the whole entry (zero weights and context, never NaN). */
TEST(core_key_lengths_vs_reference)
{
    ct_rng r = {60221};
    at_pool *pool = at_pool_new(2, 4);
    ASSERT(pool != NULL);
    const int64_t shapes[][2] = {{5, 9}, {9, 5}, {1, 1}, {33, 17}, {70, 130}};
    for (size_t n = 0; n < sizeof shapes / sizeof shapes[0]; n++)
        for (int variant = 0; variant < 8; variant++) {
            int64_t lq = shapes[n][0], lk = shapes[n][1];
            int64_t lengths[3] = {lk, 0, ct_rng_int(&r, 1, lk)};
            at_tensor mask;
            at_attention_desc d = {
                .query = ct_make_view(&r, 3, 2, lq, 8, CT_DENSE),
                .key = ct_make_view(&r, 3, 2, lk, 8, CT_BLHD),
                .value = ct_make_view(&r, 3, 2, lk, 5, CT_PADDED_ROWS),
                .key_lengths = lengths,
                .causal = variant & 1,
                .need_weights = variant != 6,
                .average_heads = variant >= 4,
            };
            if (variant & 2) {
                int64_t scores[4] = {3, 2, lq, lk};
                mask = ct_make_mask(&r, scores, 2, false, 70);
                d.mask = &mask;
            }
            ct_check_forward(variant & 1 ? pool : NULL, &d);
            ct_outputs o = ct_forward(NULL, &d);
            /* Batch entry 1 has no keys at all. */
            for (int64_t e = 0; e < 2 * lq * 5; e++)
                ASSERT_EQ(o.context[2 * lq * 5 + e], 0);
            if (d.need_weights) {
                int64_t heads = d.average_heads ? 1 : 2;
                for (int64_t e = 0; e < heads * lq * lk; e++)
                    ASSERT_EQ(o.weights[heads * lq * lk + e], 0);
                for (int64_t e = 0; e < 3 * heads * lq; e++)
                    for (int64_t j = (e / (heads * lq) == 2 ? lengths[2] : lk); j < lk; j++)
                        ASSERT_EQ(o.weights[e * lk + j], 0);
            }
            ct_free_outputs(&o);
            d.key_lengths = NULL;
            ct_free_desc(&d);
        }
    at_pool_free(pool);
}

TEST(core_workspace_sizes)
{
    ct_rng r = {1};
    at_attention_desc d = {
        .query = ct_make_view(&r, 2, 4, 100, 8, CT_DENSE),
        .key = ct_make_view(&r, 2, 4, 300, 8, CT_DENSE),
        .value = ct_make_view(&r, 2, 4, 300, 8, CT_DENSE),
        .need_weights = true,
    };
    /* Weights returned per head: the scores are computed in place; blocks this small (50 rows
     * of 300 keys, d 8) multiply a transposed copy of the head's keys, one per worker. */
    ASSERT_EQ(at_attention_workspace_size(&d, 4), 4 * ((300 * 8 * sizeof(float) + 63) / 64 * 64));
    /* Blocks beyond AT_SGEMM_SMALL_MNK (300 rows of 3000 keys): no workspace at all. */
    d.query.ne[2] = 300;
    d.key.ne[2] = d.value.ne[2] = 3000;
    ASSERT_EQ(at_attention_workspace_size(&d, 4), 0);
    d.query.ne[2] = 100;
    d.key.ne[2] = d.value.ne[2] = 300;
    /* Averaged: every head's weights, whatever the thread count, and the keys per worker. */
    d.average_heads = true;
    ASSERT(at_attention_workspace_size(&d, 1) >= 2 * 4 * 100 * 300 * sizeof(float));
    ASSERT_EQ(at_attention_workspace_size(&d, 8) - at_attention_workspace_size(&d, 1),
              7 * 300 * 8 * sizeof(float));
    /* No weights, soft: the tiled path's tiles per worker, whatever Lq and Lk are. */
    d.need_weights = false;
    d.average_heads = false;
    size_t flash = at_attention_workspace_size(&d, 1);
    ASSERT(flash > 0);
    ASSERT_EQ(at_attention_workspace_size(&d, 3), 3 * flash);

    /* Top-k and sampling without weights: one block of scores per worker plus one row's heap
     * (64-byte aligned), which holds at most Lk entries even for a huge k. */
    d.selection = AT_SELECT_TOPK;
    d.k = 1;
    size_t one = at_attention_workspace_size(&d, 1);
    ASSERT(one >= 300 * sizeof(float) + sizeof(int32_t));
    d.k = 5;
    size_t topk = at_attention_workspace_size(&d, 1);
    ASSERT(topk >= 300 * sizeof(float) + 5 * sizeof(int32_t));
    ASSERT_EQ(at_attention_workspace_size(&d, 3), 3 * topk);
    d.k = INT64_MAX;
    ASSERT(at_attention_workspace_size(&d, 1) >= one - 64 + 300 * sizeof(int32_t));
    ASSERT(at_attention_workspace_size(&d, 1) < one + 400 * sizeof(int32_t) + 64);
    d.selection = AT_SELECT_SAMPLE;
    ASSERT(at_attention_workspace_size(&d, 1) >= one - 64 + 300 * sizeof(int32_t));
    d.need_weights = true;
    d.selection = AT_SELECT_TOPK;
    d.k = 5;
    ASSERT(at_attention_workspace_size(&d, 4) >= 4 * 5 * sizeof(int32_t));

    /* The additive score: every head's key projections (shared) plus a block of query
     * projections per worker. */
    float w[7 * 16];
    at_additive add = {.weight = at_tensor_make(AT_F32, 2, (int64_t[]){7, 16}, w)};
    d.selection = AT_SELECT_SOFT;
    d.average_heads = false;
    d.score = AT_SCORE_ADDITIVE;
    d.additive = &add;
    size_t keys = 2 * 4 * 7 * 300 * sizeof(float);
    size_t a1 = at_attention_workspace_size(&d, 1), a2 = at_attention_workspace_size(&d, 2);
    ASSERT(a1 >= keys + 7 * sizeof(float));
    ASSERT(a2 > a1);
    ASSERT(a2 - a1 < a1 - keys + 64);
    d.additive = NULL; /* on the stack */
    ct_free_desc(&d);
}

/* The split depends only on the shapes, so any pool gives the same bits as no pool. */
TEST(core_pool_sizes_bit_identical)
{
    ct_rng r = {2718};
    at_pool *pools[4] = {NULL, at_pool_new(2, 4), at_pool_new(3, 4), at_pool_new(4, 4)};
    for (int p = 1; p < 4; p++)
        ASSERT(pools[p] != NULL);
    for (int n = 0; n < 12; n++) {
        ct_extras x;
        at_attention_desc d = ct_random_desc(&r, 2, 4, 200, 40, &x);
        if (n < 3) { /* the three modes at least once: per head, averaged, no weights */
            d.need_weights = n < 2;
            d.average_heads = n == 1;
        }
        ct_outputs o[4];
        for (int p = 0; p < 4; p++) {
            o[p] = ct_alloc_outputs(&d);
            at_attention_out out = {.context = o[p].context, .weights = o[p].weights};
            ASSERT_EQ(ct_run_forward(pools[p], &d, &out), AT_OK);
        }
        for (int p = 1; p < 4; p++) {
            ASSERT(memcmp(o[p].context, o[0].context, o[0].context_n * sizeof(float)) == 0);
            if (d.need_weights)
                ASSERT(memcmp(o[p].weights, o[0].weights, o[0].weights_n * sizeof(float)) == 0);
        }
        ct_check_forward(pools[3], &d);
        for (int p = 0; p < 4; p++)
            ct_free_outputs(&o[p]);
        ct_free_desc(&d);
    }
    for (int p = 1; p < 4; p++)
        at_pool_free(pools[p]);
}

/* Big enough to be split into many (head, row block) items over the workers. */
TEST(core_large_split_across_workers)
{
    ct_rng r = {161803};
    at_pool *pool = at_pool_new(4, 4);
    ASSERT(pool != NULL);
    int64_t scores[4] = {1, 4, 300, 700};
    at_tensor mask = ct_make_mask(&r, scores, 1 | 2, false, 90);
    at_attention_desc d = {
        .query = ct_make_view(&r, 1, 4, 300, 32, CT_BLHD),
        .key = ct_make_view(&r, 1, 4, 700, 32, CT_PADDED_ROWS),
        .value = ct_make_view(&r, 1, 4, 700, 48, CT_DENSE),
        .mask = &mask,
        .need_weights = true,
    };
    ct_check_forward(pool, &d);
    d.causal = true;
    d.average_heads = true;
    ct_check_forward(pool, &d);
    d.need_weights = false;
    ct_check_forward(pool, &d);
    ct_free_desc(&d);
    at_pool_free(pool);
}

/* ---- the row softmax ---- */

static void softmax_vs_double(const float *in, int64_t n, int64_t allowed, const uint8_t *allow,
                              int64_t stride)
{
    float row[200];
    double want[200], max = -INFINITY, sum = 0;
    memcpy(row, in, (size_t)n * sizeof(float));
    for (int64_t j = 0; j < allowed; j++)
        if ((!allow || allow[j * stride]) && in[j] > max) max = in[j];
    for (int64_t j = 0; j < n; j++) {
        bool ok = j < allowed && (!allow || allow[j * stride]) && in[j] != -INFINITY;
        want[j] = ok ? exp((double)in[j] - max) : 0.0;
        sum += want[j];
    }
    at_softmax_row(row, n, allowed, allow, stride);
    for (int64_t j = 0; j < n; j++) {
        double w = sum > 0 ? want[j] / sum : 0.0;
        if (!(fabs(row[j] - w) <= 1e-6 * (w > 1 ? w : 1)))
            harness_fail(__FILE__, __LINE__, "n=%lld allowed=%lld stride=%lld: [%lld] %.9g vs %.9g",
                         (long long)n, (long long)allowed, (long long)stride, (long long)j,
                         (double)row[j], w);
    }
}

TEST(core_softmax_row)
{
    ct_rng r = {8};
    float in[200];
    uint8_t allow[600];
    for (int64_t n = 1; n <= 70; n++) {
        for (int64_t j = 0; j < n; j++)
            in[j] = ct_rng_float(&r) * 30.0f;
        for (size_t j = 0; j < sizeof allow; j++)
            allow[j] = ct_rng_int(&r, 0, 3) != 0;
        int64_t allowed = ct_rng_int(&r, 0, n);
        softmax_vs_double(in, n, n, NULL, 0);
        softmax_vs_double(in, n, allowed, NULL, 0);
        softmax_vs_double(in, n, n, allow, 1);
        softmax_vs_double(in, n, allowed, allow, 1);
        softmax_vs_double(in, n, n, allow, 3);
        softmax_vs_double(in, n, n, allow, 0);
    }
    /* -inf entries get 0; huge differences underflow to exactly 0, not to NaN. */
    float row[5] = {-INFINITY, 0.0f, -200.0f, 1e4f, -INFINITY};
    at_softmax_row(row, 5, 5, NULL, 0);
    ASSERT_EQ(row[0], 0);
    ASSERT_EQ(row[1], 0);
    ASSERT_EQ(row[2], 0);
    ASSERT_NEAR(row[3], 1.0, 0);
    ASSERT_EQ(row[4], 0);
    /* Nothing allowed: zeros. */
    float all_inf[3] = {-INFINITY, -INFINITY, -INFINITY};
    at_softmax_row(all_inf, 3, 3, NULL, 0);
    for (int j = 0; j < 3; j++)
        ASSERT_EQ(all_inf[j], 0);
    uint8_t zero = 0;
    float some[4] = {1, 2, 3, 4};
    at_softmax_row(some, 4, 4, &zero, 0);
    for (int j = 0; j < 4; j++)
        ASSERT_EQ(some[j], 0);
    /* Entries from n_allowed on are written, never read. */
    float tail[4] = {1.0f, NAN, NAN, NAN};
    at_softmax_row(tail, 4, 1, NULL, 0);
    ASSERT_NEAR(tail[0], 1.0, 0);
    for (int j = 1; j < 4; j++)
        ASSERT_EQ(tail[j], 0);
}

/* The block form gives every row exactly what the row form gives it, and leaves the stride's
 * gap between rows, and the rows past `count`, alone. 9 rows: two groups of four rows softmaxed
 * side by side, one row on its own; every third block has a row of -inf (overflowed) scores in
 * its second group, which the group hands back to the row form. */
TEST(core_softmax_rows_match_row)
{
    ct_rng r = {9};
    enum { ROWS = 10, MAXN = 300 }; /* rows of more than 256 keys are softmaxed one by one */
    static float block[ROWS * (MAXN + 3)], copy[ROWS * (MAXN + 3)];
    for (int64_t n = 1; n <= MAXN; n += n < 40 ? 1 : 23) {
        int64_t ld = n + ct_rng_int(&r, 0, 3), allowed = n % 3 ? ct_rng_int(&r, 0, n) : n;
        for (int64_t j = 0; j < ROWS * ld; j++)
            block[j] = j % ld < n ? ct_rng_float(&r) * 30.0f : 1234.5f;
        if (n % 3 == 1)
            for (int64_t j = 0; j < n; j++)
                block[6 * ld + j] = -INFINITY;
        memcpy(copy, block, sizeof block);
        at_softmax_rows(block, ROWS - 1, ld, n, allowed);
        for (int64_t k = 0; k < ROWS - 1; k++)
            at_softmax_row(copy + k * ld, n, allowed, NULL, 0);
        for (int64_t j = 0; j < ROWS * ld; j++)
            if (memcmp(&block[j], &copy[j], sizeof(float)) != 0)
                harness_fail(__FILE__, __LINE__, "n=%lld ld=%lld allowed=%lld: [%lld] %.9g vs %.9g",
                             (long long)n, (long long)ld, (long long)allowed, (long long)j,
                             (double)block[j], (double)copy[j]);
    }
}

/* ---- validation ---- */

/* `good` changed by `change` must be refused with `status`, naming `field` and saying `needle`;
 * a failure reports the line of the case. */
#define EXPECT_BAD(change, field, needle, status)                                                  \
    do {                                                                                           \
        d = good;                                                                                  \
        m2 = mask;                                                                                 \
        change;                                                                                    \
        ct_expect_bad_at(&d, field, needle, status, __FILE__, __LINE__);                           \
    } while (0)

TEST(core_check_errors_name_the_tensor)
{
    float buf[4096];
    uint8_t mbuf[256];
    at_tensor mask = at_tensor_make(AT_BOOL, 4, (int64_t[]){2, 1, 5, 7}, mbuf), m2;
    const at_attention_desc good = {
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){2, 3, 5, 64}, buf),
        .key = at_tensor_make(AT_F32, 4, (int64_t[]){2, 3, 7, 64}, buf),
        .value = at_tensor_make(AT_F32, 4, (int64_t[]){2, 3, 7, 16}, buf),
        .mask = &mask,
    };
    char err[256];
    const char *field = "unchanged";
    ASSERT_EQ(at_attention_check(&good, &field, err, sizeof err), AT_OK);
    ASSERT_STREQ(field, "unchanged");

    at_attention_desc d;
    EXPECT_BAD(d.key.ne[3] = 32, "key", "key: expected last dim 64 to match query's, got 32",
               AT_ESHAPE);
    EXPECT_BAD(d.key.ne[0] = 1, "key", "batch size 2", AT_ESHAPE);
    EXPECT_BAD(d.key.ne[1] = 4, "key", "head count 3", AT_ESHAPE);
    EXPECT_BAD(d.value.ne[2] = 6, "value", "got 6", AT_ESHAPE);
    EXPECT_BAD(d.value.ne[1] = 1, "value", "head count 3", AT_ESHAPE);
    EXPECT_BAD(d.query.rank = 3, "query", "rank 3", AT_ESHAPE);
    EXPECT_BAD(d.value.dtype = AT_BOOL, "value", "float32", AT_EINVAL);
    EXPECT_BAD(d.query.ne[2] = 0, "query", "[2, 3, 0, 64]", AT_ESHAPE);
    EXPECT_BAD(d.key.nb[3] = 2, "key", "innermost stride", AT_EINVAL);
    EXPECT_BAD(d.query.nb[2] = 63, "query", "row stride 63", AT_EINVAL);
    EXPECT_BAD(d.value.nb[0] = -1, "value", "strides", AT_EINVAL);
    EXPECT_BAD(d.key.data = NULL, "key", "no data", AT_EINVAL);
    EXPECT_BAD((d.query.ne[3] = d.key.ne[3] = d.query.nb[2] = (int64_t)1 << 33), "query", "exceeds",
               AT_EINVAL);
    EXPECT_BAD(d.query.ne[0] = (int64_t)1 << 58, "query", "too many", AT_EINVAL);

    EXPECT_BAD((d.mask = &m2, m2.ne[1] = 2), "mask",
               "[2, 2, 5, 7] does not broadcast to the scores' shape [2, 3, 5, 7]", AT_ESHAPE);
    EXPECT_BAD((d.mask = &m2, m2.dtype = AT_F32), "mask", "bool", AT_EINVAL);
    EXPECT_BAD((d.mask = &m2, m2.rank = 2), "mask", "rank 2", AT_ESHAPE);

    EXPECT_BAD((d.has_scale = true, d.scale = INFINITY), "scale", "finite", AT_EINVAL);
    EXPECT_BAD((d.has_scale = true, d.scale = NAN), "scale", "finite", AT_EINVAL);
    EXPECT_BAD(d.score = (at_score)7, "score", "unknown", AT_EINVAL);
    EXPECT_BAD(d.selection = (at_selection)9, "selection", "unknown selection 9", AT_EINVAL);

    /* key_lengths: one per batch entry, each 0..Lk. */
    int64_t ok_lengths[2] = {7, 0}, too_long[2] = {7, 8}, negative[2] = {7, -1};
    d = good;
    d.key_lengths = ok_lengths;
    ASSERT_EQ(at_attention_check(&d, NULL, err, sizeof err), AT_OK);
    EXPECT_BAD(d.key_lengths = too_long, "key_lengths", "entry 1 is 8, expected 0..7", AT_EINVAL);
    EXPECT_BAD(d.key_lengths = negative, "key_lengths", "entry 1 is -1", AT_EINVAL);

    /* field may be NULL; a short buffer is truncated, never overrun. */
    char tiny[8];
    d = good;
    d.key.ne[3] = 32;
    ASSERT_EQ(at_attention_check(&d, NULL, tiny, sizeof tiny), AT_ESHAPE);
    ASSERT_STREQ(tiny, "key: ex");
}

/* ---- small helpers ---- */

TEST(core_status_names_and_messages)
{
    ASSERT_STREQ(at_status_name(AT_OK), "AT_OK");
    ASSERT_STREQ(at_status_name(AT_EINVAL), "AT_EINVAL");
    ASSERT_STREQ(at_status_name(AT_EBUSY), "AT_EBUSY");
    ASSERT_STREQ(at_status_name(AT_EIO), "AT_EIO");
    ASSERT_STREQ(at_status_name(12345), "AT_UNKNOWN");
    ASSERT_STREQ(at_strerror(AT_OK), "success");
    ASSERT_STREQ(at_strerror(AT_ESHUTDOWN), "shutting down");
    ASSERT_STREQ(at_strerror(AT_ENOMEM), "out of memory");
    ASSERT_STREQ(at_strerror(-999), "unknown status");
}

TEST(core_tensor_helpers)
{
    char buf[64];
    ASSERT_STREQ(at_shape_str(3, (int64_t[]){2, 3, 4}, buf, sizeof buf), "[2, 3, 4]");
    ASSERT_STREQ(at_shape_str(0, NULL, buf, sizeof buf), "[]");
    ASSERT_STREQ(at_shape_str(1, (int64_t[]){-7}, buf, sizeof buf), "[-7]");
    ASSERT_STREQ(at_shape_str(3, (int64_t[]){123, 456, 789}, buf, 8), "[123, 4");
    ASSERT_STREQ(at_shape_str(2, (int64_t[]){1, 2}, buf, 1), "");

    float data[24];
    at_tensor t = at_tensor_make(AT_F32, 3, (int64_t[]){2, 3, 4}, data);
    ASSERT_EQ(t.rank, 3);
    ASSERT_EQ(t.nb[0], 12);
    ASSERT_EQ(t.nb[1], 4);
    ASSERT_EQ(t.nb[2], 1);
    ASSERT_EQ(t.ne[3], 1);
    ASSERT_EQ(at_tensor_elements(&t), 24);
    at_tensor s = at_tensor_make(AT_F32, 0, NULL, data);
    ASSERT_EQ(at_tensor_elements(&s), 1);

    int64_t n = -1;
    ASSERT(at_shape_elements_checked(3, (int64_t[]){2, 3, 4}, 24, &n));
    ASSERT_EQ(n, 24);
    ASSERT(!at_shape_elements_checked(3, (int64_t[]){2, 3, 4}, 23, &n));
    ASSERT(!at_shape_elements_checked(2, (int64_t[]){2, 0}, 100, &n));
    ASSERT(!at_shape_elements_checked(2, (int64_t[]){-2, -3}, 100, &n));
    ASSERT(!at_shape_elements_checked(3, (int64_t[]){INT64_MAX / 2, 4, 4}, INT64_MAX, &n));
    ASSERT(at_shape_elements_checked(0, NULL, 1, &n));
    ASSERT_EQ(n, 1);
}

TEST(core_blas)
{
    at_blas_init();
    at_blas_init(); /* idempotent */
    ASSERT_CONTAINS(at_blas_version(), "OpenBLAS");
    /* [2x3] * [3x2]^T with strided rows. */
    float a[2 * 4] = {1, 2, 3, 99, 4, 5, 6, 99};
    float b[2 * 3] = {1, 0, 1, 0, 1, 0};
    float c[2 * 2];
    at_sgemm(false, true, 2, 2, 3, 2.0f, a, 4, b, 3, 0.0f, c, 2);
    ASSERT_NEAR(c[0], 8, 0);
    ASSERT_NEAR(c[1], 4, 0);
    ASSERT_NEAR(c[2], 20, 0);
    ASSERT_NEAR(c[3], 10, 0);
}
