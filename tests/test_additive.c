/* Unit tests of the additive (Bahdanau) score (core/additive.c and its use by the forward
 * pass): a hand-computed case, the vectorised tanh against libm, the forward pass against the
 * double-precision reference with and without bias and v, dq != dk, every selection, masks,
 * key lengths and output modes, bit-identical results on any pool, and validation. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/additive.h"
#include "../core/attention.h"
#include "../core/status.h"
#include "core_support.h"
#include "harness.h"

TEST(additive_hand_checked)
{
    /* dq = 2, dk = 1, da = 2, two keys. W = [[1, 0, 2], [0, -1, 1]], bias = [0.5, 0],
     * v = [1, -2], scale 0.5. */
    float q[2] = {0.25f, -0.5f}, k[2] = {1.0f, -1.0f}, v[4] = {1, 0, 0, 1};
    float w[6] = {1, 0, 2, 0, -1, 1}, bias[2] = {0.5f, 0}, vv[2] = {1, -2};
    at_additive add = {
        .weight = at_tensor_make(AT_F32, 2, (int64_t[]){2, 3}, w), .bias = bias, .v = vv};
    at_attention_desc d = {
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1, 2}, q),
        .key = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 2, 1}, k),
        .value = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 2, 2}, v),
        .score = AT_SCORE_ADDITIVE,
        .additive = &add,
        .has_scale = true,
        .scale = 0.5f,
        .need_weights = true,
    };
    double s[2];
    for (int j = 0; j < 2; j++) {
        double h0 = 1 * 0.25 + 0 * -0.5 + 2 * k[j] + 0.5, h1 = 0 * 0.25 + -1 * -0.5 + 1 * k[j];
        s[j] = 0.5 * (1 * tanh(h0) - 2 * tanh(h1));
    }
    double p0 = 1 / (1 + exp(s[1] - s[0]));
    float context[2], weights[2];
    at_attention_out out = {.context = context, .weights = weights};
    ASSERT_EQ(at_attention_check(&d, NULL, NULL, 0), AT_OK);
    ASSERT_EQ(ct_run_forward(NULL, &d, &out), AT_OK);
    ASSERT_NEAR(weights[0], p0, 1e-6);
    ASSERT_NEAR(weights[1], 1 - p0, 1e-6);
    ASSERT_NEAR(context[0], p0, 1e-6);
    ASSERT_NEAR(context[1], 1 - p0, 1e-6);
    /* The default scale of the additive score is 1. */
    d.has_scale = false;
    ASSERT_NEAR(at_attention_scale(&d), 1.0, 0);
}

/* The row kernel with da = 1, pq = 0 and v = NULL is tanh itself. */
TEST(additive_tanh_accuracy)
{
    /* Finely over [-2, 2], where both branches meet, then coarsely out to +-20. */
    enum { FINE = 40001, N = FINE + 4000 };
    static float x[N + 16], s[N];
    for (int j = 0; j < FINE; j++)
        x[j] = -2.0f + 4.0f * (float)j / (FINE - 1);
    for (int j = FINE; j < N; j++)
        x[j] = -20.0f + 40.0f * (float)(j - FINE) / (N - FINE - 1);
    const float special[] = {0.0f,   -0.0f,   1e-30f,     -1e-20f, 1e-7f,  0.6249999f,
                             0.625f, -0.625f, 0.6250001f, 43.0f,   -44.0f, 88.0f,
                             -1e30f, 1e30f,   3.0e-3f,    -0.3f};
    memcpy(x, special, sizeof special); /* replace a few grid points */
    for (int j = N; j < N + 16; j++)
        x[j] = 0.0f; /* the padding at_additive_keys would leave */
    float zero = 0.0f;
    at_additive_row(s, N, &zero, x, N + 16, NULL, 1, 1.0f);
    for (int j = 0; j < N; j++) {
        double want = tanh((double)x[j]);
        double err = fabs(s[j] - want) / (fabs(want) > 1e-30 ? fabs(want) : 1.0);
        if (!(err <= 2e-7))
            harness_fail(__FILE__, __LINE__, "tanh(%.9g) = %.9g, want %.9g (rel %.3g)",
                         (double)x[j], (double)s[j], want, err);
    }
    ASSERT(s[0] == 0.0f && s[6] != 0.0f);
    ASSERT(s[10] == -1.0f && s[11] == 1.0f && s[12] == -1.0f && s[13] == 1.0f);
    /* v and scale multiply; pq shifts every key. */
    float v = -2.0f, shift = 0.5f;
    at_additive_row(s, N, &shift, x, N + 16, &v, 1, 0.25f);
    for (int j = 0; j < N; j++)
        ASSERT_NEAR(s[j], -0.5 * tanh((double)x[j] + 0.5), 1e-6);
}

static void random_additive(uint64_t seed, int count, at_pool *pool)
{
    ct_rng r = {seed};
    for (int n = 0; n < count; n++) {
        ct_extras x;
        at_attention_desc d = ct_random_desc(&r, 3, 3, 30, 20, &x);
        int64_t dk = ct_rng_int(&r, 0, 2) ? ct_rng_int(&r, 1, 20) : d.query.ne[3];
        int64_t da = ct_rng_int(&r, 0, 1) ? ct_rng_int(&r, 1, 20) : ct_rng_int(&r, 15, 40);
        ct_make_additive(&r, &d, &x, dk, da, ct_rng_int(&r, 0, 1), ct_rng_int(&r, 0, 1));
        int sel = (int)ct_rng_int(&r, 0, 5);
        d.selection = sel < 4 ? AT_SELECT_SOFT : sel == 4 ? AT_SELECT_TOPK : AT_SELECT_SAMPLE;
        d.k = ct_rng_int(&r, 1, 5);
        d.normalize = ct_rng_int(&r, 0, 1);
        d.seed = ct_rng_next(&r);
        ct_check_forward(n % 3 == 0 ? pool : NULL, &d);
        ct_free_desc(&d);
    }
}

TEST(additive_random_vs_reference)
{
    at_pool *pool = at_pool_new(2, 4);
    ASSERT(pool != NULL);
    random_additive(0xADD1, 150, pool);
    at_pool_free(pool);
}

/* Every mask broadcast pattern and key lengths (including 0) on one shape, in every mode. */
TEST(additive_masks_lengths_and_modes)
{
    ct_rng r = {0xADD2};
    int64_t scores[4] = {2, 3, 7, 19};
    for (unsigned bcast = 0; bcast < 16; bcast++) {
        ct_extras x;
        at_attention_desc d = {
            .query = ct_make_view(&r, 2, 3, 7, 5, CT_BLHD),
            .key = ct_make_view(&r, 2, 3, 19, 5, CT_DENSE),
            .value = ct_make_view(&r, 2, 3, 19, 4, CT_PADDED_ROWS),
            .causal = bcast % 3 == 0,
            .need_weights = bcast % 4 != 3,
            .average_heads = bcast % 2,
        };
        x.mask = ct_make_mask(&r, scores, bcast, bcast & 1, 70);
        d.mask = &x.mask;
        int64_t *lengths = malloc(2 * sizeof(int64_t));
        ASSERT(lengths != NULL);
        lengths[0] = bcast % 5 == 0 ? 0 : 19 - bcast;
        lengths[1] = bcast;
        d.key_lengths = lengths;
        ct_make_additive(&r, &d, &x, bcast % 2 ? 3 : 5, 17, bcast & 2, bcast & 4);
        ct_check_forward(NULL, &d);
        ct_free_desc(&d);
    }
}

/* Larger than one block per head, split over four workers: same bits as no pool, and right. */
TEST(additive_pool_sizes_bit_identical)
{
    ct_rng r = {0xADD3};
    at_pool *pools[4] = {NULL, at_pool_new(2, 4), at_pool_new(3, 4), at_pool_new(4, 4)};
    for (int p = 1; p < 4; p++)
        ASSERT(pools[p] != NULL);
    for (int n = 0; n < 4; n++) {
        ct_extras x;
        at_attention_desc d = {
            .query = ct_make_view(&r, 1, 2, 150 + n * 40, 16, CT_BLHD),
            .key = ct_make_view(&r, 1, 2, 130 - n * 20, 8, CT_PADDED_ROWS),
            .value = ct_make_view(&r, 1, 2, 130 - n * 20, 6, CT_DENSE),
            .causal = n % 2,
            .need_weights = n != 3,
            .average_heads = n == 2,
            .selection = n == 1 ? AT_SELECT_SAMPLE : AT_SELECT_SOFT,
            .k = 4,
            .seed = 99,
        };
        ct_make_additive(&r, &d, &x, 8, 24, n != 1, n != 2);
        ct_outputs o[4];
        for (int p = 0; p < 4; p++)
            o[p] = ct_forward(pools[p], &d);
        for (int p = 1; p < 4; p++) {
            ASSERT(memcmp(o[p].context, o[0].context, o[0].context_n * sizeof(float)) == 0);
            if (d.need_weights)
                ASSERT(memcmp(o[p].weights, o[0].weights, o[0].weights_n * sizeof(float)) == 0);
        }
        for (int p = 0; p < 4; p++)
            ct_free_outputs(&o[p]);
        ct_check_forward(pools[3], &d);
        ct_free_desc(&d);
    }
    for (int p = 1; p < 4; p++)
        at_pool_free(pools[p]);
}

TEST(additive_check_errors)
{
    float buf[4096];
    at_additive add = {.weight = at_tensor_make(AT_F32, 2, (int64_t[]){16, 96}, buf)};
    const at_attention_desc good = {
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){2, 3, 5, 64}, buf),
        .key = at_tensor_make(AT_F32, 4, (int64_t[]){2, 3, 7, 32}, buf),
        .value = at_tensor_make(AT_F32, 4, (int64_t[]){2, 3, 7, 16}, buf),
        .score = AT_SCORE_ADDITIVE,
        .additive = &add,
    };
    ASSERT_EQ(at_attention_check(&good, NULL, NULL, 0), AT_OK);

    /* Only the additive score lets the key width differ from the query's. */
    at_attention_desc d = good;
    d.score = AT_SCORE_DOT;
    CT_EXPECT_BAD(&d, "key", "key: expected last dim 64 to match query's, got 32", AT_ESHAPE);

    d = good;
    d.additive = NULL;
    CT_EXPECT_BAD(&d, "additive", "required by the additive score", AT_EINVAL);

    at_additive bad = add;
    d.additive = &bad;
    bad.weight = at_tensor_make(AT_F32, 2, (int64_t[]){16, 64}, buf);
    CT_EXPECT_BAD(&d, "additive",
                  "additive.weight: expected [da, 96] (query dim 64 + key dim 32) with da >= 1, "
                  "got [16, 64]",
                  AT_ESHAPE);
    bad.weight = at_tensor_make(AT_F32, 2, (int64_t[]){0, 96}, buf);
    CT_EXPECT_BAD(&d, "additive", "got [0, 96]", AT_ESHAPE);
    bad.weight = at_tensor_make(AT_F32, 3, (int64_t[]){1, 16, 96}, buf);
    CT_EXPECT_BAD(&d, "additive", "additive.weight: expected a float32 matrix [da, 96]", AT_EINVAL);
    bad.weight = at_tensor_make(AT_BOOL, 2, (int64_t[]){16, 96}, buf);
    CT_EXPECT_BAD(&d, "additive", "got a bool tensor of rank 2", AT_EINVAL);
    bad.weight = at_tensor_make(AT_F32, 2, (int64_t[]){16, 96}, buf);
    bad.weight.nb[0] = 100;
    CT_EXPECT_BAD(&d, "additive", "contiguous", AT_EINVAL);
    bad.weight = at_tensor_make(AT_F32, 2, (int64_t[]){16, 96}, NULL);
    CT_EXPECT_BAD(&d, "additive", "no data", AT_EINVAL);
    bad.weight = at_tensor_make(AT_F32, 2, (int64_t[]){(int64_t)1 << 40, 96}, buf);
    CT_EXPECT_BAD(&d, "additive", "too large", AT_EINVAL);

    /* A descriptor whose other score ignores `additive` is not refused for it. */
    d = good;
    d.score = AT_SCORE_DOT;
    d.key = at_tensor_make(AT_F32, 4, (int64_t[]){2, 3, 7, 64}, buf);
    d.additive = &bad;
    ASSERT_EQ(at_attention_check(&d, NULL, NULL, 0), AT_OK);
}
