/* Finite inputs whose float32 scores overflow (core/overflow.c): every score, selection and
 * path (weights or not, averaged, masks, key lengths, causal) must give the double-precision
 * reference's answer, never infinity or NaN; a context beyond float32 even in double is
 * AT_ERANGE. And over the API: the reproducers of issue 10 give numbers, or a clear 400. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/attention.h"
#include "../core/pool.h"
#include "../core/status.h"
#include "api_support.h"
#include "core_support.h"
#include "harness.h"

/* Multiplies about `percent`% of the rows of view t by `factor` (each row once, whatever the
 * layout: a head dim of stride 0 is one head). */
static void blow_up(ct_rng *r, at_tensor *t, float factor, int percent)
{
    float *data = t->data;
    for (int64_t b = 0; b < t->ne[0]; b++)
        for (int64_t h = 0; h < (t->nb[1] ? t->ne[1] : 1); h++)
            for (int64_t i = 0; i < t->ne[2]; i++) {
                if (ct_rng_int(r, 0, 99) >= percent) continue;
                float *row = data + b * t->nb[0] + h * t->nb[1] + i * t->nb[2];
                for (int64_t e = 0; e < t->ne[3]; e++)
                    row[e] *= factor;
            }
}

static const float factors[] = {1e19f, 1e30f, 3e37f, FLT_MAX};

static void random_overflowing(uint64_t seed, int count, at_pool *pool, bool additive)
{
    ct_rng r = {seed};
    for (int n = 0; n < count; n++) {
        ct_extras x;
        at_attention_desc d = ct_random_desc(&r, 2, 3, 12, 6, &x);
        if (additive)
            ct_make_additive(&r, &d, &x, ct_rng_int(&r, 1, 6), ct_rng_int(&r, 1, 5),
                             ct_rng_int(&r, 0, 1), ct_rng_int(&r, 0, 1));
        int sel = ct_rng_int(&r, 0, 2);
        d.selection = sel == 0 ? AT_SELECT_SOFT : sel == 1 ? AT_SELECT_TOPK : AT_SELECT_SAMPLE;
        if (d.selection != AT_SELECT_SOFT) {
            d.k = ct_rng_int(&r, 1, 4);
            d.normalize = true; /* k values of 1 each still fit */
            d.seed = ct_rng_next(&r);
        }
        float f = factors[ct_rng_int(&r, 0, 3)];
        blow_up(&r, &d.query, f, 50);
        blow_up(&r, &d.key, ct_rng_int(&r, 0, 1) ? f : 1.0f, 70);
        if (ct_rng_int(&r, 0, 3) == 0) { /* or a scale that overflows them */
            d.has_scale = true;
            d.scale = ct_rng_int(&r, 0, 1) ? 3e38f : -1e30f;
        }
        if (additive && ct_rng_int(&r, 0, 1)) { /* weights that overflow the projections */
            float *w = (float *)x.additive.weight.data;
            for (int64_t e = 0; e < x.additive.weight.ne[0] * x.additive.weight.ne[1]; e++)
                w[e] *= 1e36f;
        }
        ct_check_forward(n % 3 == 0 ? pool : NULL, &d);
        ct_free_desc(&d);
    }
}

TEST(overflow_dot_scores_match_reference)
{
    at_pool *pool = at_pool_new(2, 4);
    random_overflowing(0x0f10a7, 300, pool, false);
    at_pool_free(pool);
}

TEST(overflow_additive_scores_match_reference)
{
    at_pool *pool = at_pool_new(2, 4);
    random_overflowing(0xadd17e, 200, pool, true);
    at_pool_free(pool);
}

/* Head dims of 16 and more go through the vector loops of the bound check: one element of a
 * row blown up, at any position (vector body or tail), must still get the row redone, also
 * where nothing non-finite shows in the output (top-k picks among tied infinities). */
TEST(overflow_wide_rows_match_reference)
{
    ct_rng r = {0x5eed16};
    for (int n = 0; n < 60; n++) {
        ct_extras x;
        at_attention_desc d = ct_random_desc(&r, 2, 2, 10, 70, &x);
        if (ct_rng_int(&r, 0, 1)) { /* top-k: an overflow there leaves the context finite */
            d.selection = AT_SELECT_TOPK;
            d.k = ct_rng_int(&r, 1, 3);
            d.normalize = true;
        }
        d.has_scale = true; /* 3e37 * |k| * 1e3 overflows float32 */
        d.scale = 1e3f;
        at_tensor *t = ct_rng_int(&r, 0, 1) ? &d.query : &d.key;
        float *data = t->data;
        for (int64_t b = 0; b < t->ne[0]; b++)
            for (int64_t h = 0; h < (t->nb[1] ? t->ne[1] : 1); h++)
                for (int64_t i = 0; i < t->ne[2]; i++)
                    if (ct_rng_int(&r, 0, 2) == 0)
                        data[b * t->nb[0] + h * t->nb[1] + i * t->nb[2] +
                             ct_rng_int(&r, 0, t->ne[3] - 1)] =
                            ct_rng_int(&r, 0, 1) ? 3e37f : -3e37f;
        ct_check_forward(NULL, &d);
        ct_free_desc(&d);
    }
}

/* The reproducer: two equal scores of +inf in float32 are an even split, with or without the
 * weights (the tiled path), and a score that overflows picks the right key for top-k. */
TEST(overflow_even_split_and_topk)
{
    float q[2] = {3e38f, 3e38f}, k[4] = {3e38f, 3e38f, 3e38f, 3e38f}, v[2] = {1.0f, 2.0f};
    const int64_t qn[4] = {1, 1, 1, 2}, kn[4] = {1, 1, 2, 2}, vn[4] = {1, 1, 2, 1};
    for (int weights = 0; weights < 2; weights++) {
        at_attention_desc d = {
            .query = at_tensor_make(AT_F32, 4, qn, q),
            .key = at_tensor_make(AT_F32, 4, kn, k),
            .value = at_tensor_make(AT_F32, 4, vn, v),
            .score = AT_SCORE_DOT,
            .need_weights = weights,
        };
        ct_outputs o = ct_forward(NULL, &d);
        ASSERT_NEAR(o.context[0], 1.5, 1e-6);
        if (weights) ASSERT(o.weights[0] == 0.5f && o.weights[1] == 0.5f);
        ct_free_outputs(&o);
    }
    /* Top-k: key 1's score 3e38 * 3e38 beats key 0's 3e38 * 1e38; float32 sees +inf twice. */
    float k2[4] = {1e38f, 0.0f, 3e38f, 0.0f}, q2[2] = {3e38f, 0.0f};
    at_attention_desc d = {
        .query = at_tensor_make(AT_F32, 4, qn, q2),
        .key = at_tensor_make(AT_F32, 4, kn, k2),
        .value = at_tensor_make(AT_F32, 4, vn, v),
        .score = AT_SCORE_DOT,
        .selection = AT_SELECT_TOPK,
        .k = 1,
        .need_weights = true,
    };
    ct_outputs o = ct_forward(NULL, &d);
    ASSERT(o.weights[0] == 0.0f && o.weights[1] == 1.0f);
    ASSERT_NEAR(o.context[0], 2.0, 0);
    ct_free_outputs(&o);
    /* Top-k of 2 without normalize adds two values of 3e38: beyond float32 even in double. */
    float big[2] = {3e38f, 3e38f};
    d.value = at_tensor_make(AT_F32, 4, vn, big);
    d.k = 2;
    o = ct_alloc_outputs(&d);
    ASSERT_EQ(ct_run_forward(NULL, &d, &(at_attention_out){o.context, o.weights}), AT_ERANGE);
    ct_free_outputs(&o);
}

/* Over the API, both endpoints: numbers where there were nulls, or a 400 naming the cause. */
TEST(overflow_api_answers_are_numbers)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{\"query\": [[3e38, 3e38]], \"score\": \"dot\"}", "{\"context\":[[3e38,3e38]],"
                                                            "\"weights\":[[1]]"},
        {"{\"query\": [[1, 2], [3, 4]], \"scale\": 3e38}", "{\"context\":[[3,4],[3,4]],"
                                                           "\"weights\":[[0,1],[0,1]]"},
        {"{\"query\": [[1, 2], [3, 4]], \"scale\": 3e38, \"return_weights\": false}",
         "{\"context\":[[3,4],[3,4]],\"meta\""},
        {"{\"query\": [[3e38, 3e38]], \"key\": [[3e38, 3e38], [3e38, 3e38]], \"value\": [[1], "
         "[2]], \"score\": \"dot\", \"return_weights\": false}",
         "{\"context\":[[1.5]],\"meta\""},
        {"{\"query\": [[3e38, 0]], \"key\": [[1e38, 0], [3e38, 0]], \"value\": [[1], [2]], "
         "\"score\": \"dot\", \"selection\": \"topk\", \"k\": 1}",
         "{\"context\":[[2]],\"weights\":[[0,1]]"},
        {"{\"query\": [[3e38, 3e38]], \"key\": [[3e38, 3e38], [3e38, 3e38]], \"value\": [[1], "
         "[2]], \"score\": \"additive\", \"additive\": {\"weight\": [[3e38, 3e38, -3e38, -3e38]]}}",
         "{\"context\":[[1.5]],\"weights\":[[0.5,0.5]]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text = api_test_compute_text(cases[i].body);
        if (strncmp(text, cases[i].want, strlen(cases[i].want)) != 0)
            harness_fail(__FILE__, __LINE__, "%s\n  gave %.300s\n  want %s...", cases[i].body, text,
                         cases[i].want);
        ASSERT(!strstr(text, "null"));
        free(text);
    }
    api_attention_request *req = NULL;
    api_error err;
    ASSERT_EQ(api_test_decode("{\"query\": [[1, 2]], \"key\": [[1, 0], [0, 1]], \"value\": "
                              "[[3e38], [3e38]], \"selection\": \"topk\", \"k\": 2}",
                              NULL, &req, &err),
              0);
    ASSERT_EQ(api_attention_run(req, NULL, 0, &err), 400);
    ASSERT_EQ(err.kind, API_ERR_INVALID_VALUE);
    ASSERT_CONTAINS(err.message, "does not fit in float32");
    api_attention_request_free(req);
}
