/* Unit tests of the hard selections (core/select.c and their use by the forward pass): top-k
 * against the true top k with exact ties, masking and short rows; sampling's determinism over
 * pools, runs and seeds, and its distribution against the exact softmax probabilities; the
 * counter-based generator; validation of k. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/attention.h"
#include "../core/rng.h"
#include "../core/select.h"
#include "../core/status.h"
#include "core_support.h"
#include "harness.h"

/* ---- against the reference ---- */

static void random_hard(uint64_t seed, at_selection sel, int count, at_pool *pool)
{
    ct_rng r = {seed};
    for (int n = 0; n < count; n++) {
        ct_extras x;
        at_attention_desc d = ct_random_desc(&r, 3, 4, 40, 20, &x);
        d.selection = sel;
        d.k = ct_rng_int(&r, 0, 3) == 0 ? ct_rng_int(&r, 1, d.key.ne[2] + 3) : ct_rng_int(&r, 1, 4);
        d.normalize = ct_rng_int(&r, 0, 1);
        d.seed = ct_rng_next(&r);
        ct_check_forward(n % 4 == 0 ? pool : NULL, &d);
        ct_free_desc(&d);
    }
}

TEST(select_topk_random_vs_reference)
{
    at_pool *pool = at_pool_new(3, 4);
    ASSERT(pool != NULL);
    random_hard(0xC0FFEE, AT_SELECT_TOPK, 200, pool);
    at_pool_free(pool);
}

TEST(select_sample_random_vs_reference)
{
    at_pool *pool = at_pool_new(3, 4);
    ASSERT(pool != NULL);
    random_hard(0xBADC0DE, AT_SELECT_SAMPLE, 200, pool);
    at_pool_free(pool);
}

/* ---- top-k, exactly ---- */

/* Inputs that are small multiples of 1/4 in a few dims make every dot product exact in float
 * and double alike, and make equal scores common: the fast path must then pick exactly the
 * true top k, ties going to the lower key index. */
static float quarter(ct_rng *r)
{
    return (float)ct_rng_int(r, -4, 4) / 4.0f;
}

TEST(select_topk_is_the_true_topk_with_exact_ties)
{
    ct_rng r = {31};
    for (int n = 0; n < 60; n++) {
        int64_t b = ct_rng_int(&r, 1, 2), h = ct_rng_int(&r, 1, 3);
        int64_t lq = ct_rng_int(&r, 1, 30), lk = ct_rng_int(&r, 1, 70), dk = ct_rng_int(&r, 1, 3);
        ct_extras x;
        at_attention_desc d = {
            .query = ct_make_view(&r, b, h, lq, dk, CT_DENSE),
            .key = ct_make_view(&r, b, h, lk, dk, CT_PADDED_ROWS),
            .value = ct_make_view(&r, b, h, lk, 3, CT_DENSE),
            .score = AT_SCORE_DOT,
            .selection = AT_SELECT_TOPK,
            .k = ct_rng_int(&r, 1, 9),
            .normalize = n % 2,
            .causal = n % 3 == 0,
            .need_weights = true,
        };
        float *qd = d.query.data, *kd = d.key.data;
        for (int64_t e = 0; e < b * h * lq * dk; e++)
            qd[e] = quarter(&r);
        for (int64_t row = 0; row < b * h * lk; row++)
            for (int64_t e = 0; e < dk; e++)
                kd[row * d.key.nb[2] + e] = quarter(&r);
        if (n % 4 == 1) {
            int64_t scores[4] = {b, h, lq, lk};
            x.mask = ct_make_mask(&r, scores, 1, false, 60);
            d.mask = &x.mask;
        }
        if (n % 5 == 2) d.key_lengths = ct_make_key_lengths(&r, b, lk);

        ct_outputs o = ct_forward(NULL, &d);
        double *s = malloc((size_t)lk * sizeof(double));
        bool *taken = malloc((size_t)lk);
        ASSERT(s && taken);
        for (int64_t bb = 0; bb < b; bb++)
            for (int64_t hh = 0; hh < h; hh++)
                for (int64_t i = 0; i < lq; i++) {
                    /* The true top k, one pass per pick: the highest allowed score not taken
                     * yet, scanning keys upwards so that a tie keeps the lower index. */
                    int64_t picked = 0;
                    for (int64_t j = 0; j < lk; j++) {
                        double dot = 0;
                        for (int64_t e = 0; e < dk; e++)
                            dot += ct_at(&d.query, bb, hh, i, e) * ct_at(&d.key, bb, hh, j, e);
                        s[j] = dot;
                        taken[j] = false;
                    }
                    for (int64_t pass = 0; pass < d.k; pass++) {
                        int64_t best = -1;
                        for (int64_t j = 0; j < lk; j++)
                            if (ct_allowed(&d, bb, hh, i, j) && !taken[j] &&
                                (best < 0 || s[j] > s[best]))
                                best = j;
                        if (best < 0) break;
                        taken[best] = true;
                        picked++;
                    }
                    const float *w = o.weights + ((bb * h + hh) * lq + i) * lk;
                    float one = d.normalize && picked ? 1.0f / (float)picked : 1.0f;
                    for (int64_t j = 0; j < lk; j++)
                        if (w[j] != (taken[j] ? one : 0.0f))
                            harness_fail(
                                __FILE__, __LINE__,
                                "case %d row (%lld,%lld,%lld) key %lld: weight %g, want %g", n,
                                (long long)bb, (long long)hh, (long long)i, (long long)j,
                                (double)w[j], taken[j] ? (double)one : 0.0);
                }
        free(s);
        free(taken);
        ct_free_outputs(&o);
        ct_free_desc(&d);
    }
}

/* Keys 0..7 with scores 1, 3, 3, 0, 3, -inf-ish (masked), 3, 2: the four keys scoring 3 tie. */
static at_attention_desc tie_desc(float *q, float *k, float *v, at_tensor *mask, uint8_t *m)
{
    static const float scores[8] = {1, 3, 3, 0, 3, 9, 3, 2};
    *q = 1.0f;
    for (int j = 0; j < 8; j++) {
        k[j] = scores[j];
        v[2 * j] = (float)j;
        v[2 * j + 1] = 1.0f;
        m[j] = j != 5; /* key 5 would win, but it is masked */
    }
    *mask = at_tensor_make(AT_BOOL, 4, (int64_t[]){1, 1, 1, 8}, m);
    return (at_attention_desc){
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 1, 1}, q),
        .key = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 8, 1}, k),
        .value = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 8, 2}, v),
        .mask = mask,
        .score = AT_SCORE_DOT,
        .selection = AT_SELECT_TOPK,
        .need_weights = true,
    };
}

TEST(select_topk_ties_masks_and_short_rows)
{
    float q, k[8], v[16], context[2], weights[8];
    uint8_t m[8];
    at_tensor mask;
    at_attention_desc d = tie_desc(&q, k, v, &mask, m);
    at_attention_out out = {.context = context, .weights = weights};
    /* k, normalize, then the keys expected: ties among the 3s go to 1, 2, 4, 6 in that order. */
    static const struct {
        int64_t k;
        bool normalize;
        const char *want;
    } cases[] = {
        {1, false, "01000000"}, {2, false, "01100000"},  {3, true, "01101000"},
        {4, true, "01101010"},  {5, false, "01101011"},  {6, true, "11101011"},
        {7, false, "11111011"}, {100, true, "11111011"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        d.k = cases[c].k;
        d.normalize = cases[c].normalize;
        ASSERT_EQ(at_attention_check(&d, NULL, NULL, 0), AT_OK);
        ASSERT_EQ(ct_run_forward(NULL, &d, &out), AT_OK);
        int picked = 0;
        double sum = 0;
        for (int j = 0; j < 8; j++)
            if (cases[c].want[j] == '1') {
                picked++;
                sum += j;
            }
        float one = cases[c].normalize ? 1.0f / (float)picked : 1.0f;
        for (int j = 0; j < 8; j++)
            if (weights[j] != (cases[c].want[j] == '1' ? one : 0.0f))
                harness_fail(__FILE__, __LINE__, "k=%lld: weight[%d] = %g, want keys %s",
                             (long long)d.k, j, (double)weights[j], cases[c].want);
        /* The context is the sum (or mean) of the selected values. */
        ASSERT_NEAR(context[0], sum * one, 1e-6);
        ASSERT_NEAR(context[1], picked * one, 1e-6);
    }

    /* Key lengths and causal cut the row short: with 3 keys, only keys 0..2 remain. */
    int64_t len = 3;
    d.key_lengths = &len;
    d.k = 5;
    d.normalize = true;
    ASSERT_EQ(ct_run_forward(NULL, &d, &out), AT_OK);
    for (int j = 0; j < 8; j++)
        ASSERT_NEAR(weights[j], j < 3 ? 1.0 / 3 : 0.0, 1e-7);
    /* Nothing allowed: zero weights and context whatever k and normalize say. */
    len = 0;
    ASSERT_EQ(ct_run_forward(NULL, &d, &out), AT_OK);
    for (int j = 0; j < 8; j++)
        ASSERT(weights[j] == 0);
    ASSERT(context[0] == 0 && context[1] == 0);
    d.key_lengths = NULL;
    memset(m, 0, sizeof m);
    ASSERT_EQ(ct_run_forward(NULL, &d, &out), AT_OK);
    for (int j = 0; j < 8; j++)
        ASSERT(weights[j] == 0);
}

/* The row function directly: a single flag for the whole row, strided flags, and n beyond the
 * allowed prefix (written, never read). */
TEST(select_row_functions)
{
    float row[10];
    int32_t heap[10];
    uint8_t flags[20];
    for (int j = 0; j < 20; j++)
        flags[j] = j % 4 != 0; /* at stride 2: keys 0, 2, 4, ... masked */
    float in[10] = {5, 1, 4, 1, 5, 9, 2, 6, NAN, NAN};

    memcpy(row, in, sizeof row);
    at_select_topk_row(row, 10, 8, NULL, 0, 2, false, heap); /* 9 (key 5), 6 (key 7) */
    for (int j = 0; j < 10; j++)
        ASSERT(row[j] == (float)(j == 5 || j == 7));
    memcpy(row, in, sizeof row);
    at_select_topk_row(row, 10, 8, flags, 2, 2, true, heap); /* odd keys: 9 (5), 6 (7) */
    for (int j = 0; j < 10; j++)
        ASSERT_NEAR(row[j], j == 5 || j == 7 ? 0.5 : 0.0, 0);
    memcpy(row, in, sizeof row);
    at_select_topk_row(row, 10, 8, flags, 2, 3, false, heap); /* then 1 (key 1 before 3) */
    for (int j = 0; j < 10; j++)
        ASSERT(row[j] == (float)(j == 1 || j == 5 || j == 7));
    uint8_t no = 0, yes = 1;
    memcpy(row, in, sizeof row);
    at_select_topk_row(row, 10, 8, &no, 0, 3, false, heap);
    for (int j = 0; j < 10; j++)
        ASSERT(row[j] == (float)(0));
    memcpy(row, in, sizeof row);
    at_select_topk_row(row, 10, 8, &yes, 0, 1, false, heap);
    for (int j = 0; j < 10; j++)
        ASSERT(row[j] == (float)(j == 5));
    memcpy(row, in, sizeof row);
    at_select_sample_row(row, 10, 0, NULL, 0, 4, true, 7, heap);
    for (int j = 0; j < 10; j++)
        ASSERT(row[j] == (float)(0));
    ASSERT_EQ(at_select_heap_len(3, 10), 3);
    ASSERT_EQ(at_select_heap_len(INT64_MAX, 10), 10);
}

/* The row function against a brute-force top k on long rows, where a vector pre-pass bounds
 * the k-th score: few distinct values (many ties, some at the bound), -inf entries, contiguous
 * and strided flags, a prefix shorter than the row. */
TEST(select_topk_row_long_rows_vs_brute_force)
{
    enum { MAXN = 1100 };
    static float in[MAXN], row[MAXN];
    static uint8_t flags[2 * MAXN];
    static bool taken[MAXN];
    int32_t heap[MAXN];
    ct_rng r = {2024};
    const int64_t ks[] = {1, 2, 3, 5, 8, 20, 64, 300};
    for (int n = 0; n < 400; n++) {
        int64_t len = ct_rng_int(&r, 0, MAXN), k = ks[n % 8];
        int64_t prefix = n % 3 ? len : ct_rng_int(&r, 0, len);
        int levels = (int)ct_rng_int(&r, 2, 50);
        bool masked = n % 2;
        int64_t stride = n % 4 == 3 ? 2 : 1;
        for (int64_t j = 0; j < 2 * len; j++)
            flags[j] = ct_rng_int(&r, 0, 9) < 7;
        for (int64_t j = 0; j < len; j++) {
            in[j] = (float)ct_rng_int(&r, 0, levels) - (n % 5 == 0 ? 1000.0f : 0.0f);
            if (ct_rng_int(&r, 0, 40) == 0) in[j] = -INFINITY;
            if (masked && !flags[j * stride]) in[j] = (float)levels + 100.0f; /* bait */
            taken[j] = false;
        }
        for (int64_t pass = 0; pass < k; pass++) {
            int64_t best = -1;
            for (int64_t j = 0; j < prefix; j++)
                if ((!masked || flags[j * stride]) && !taken[j] && (best < 0 || in[j] > in[best]))
                    best = j;
            if (best < 0) break;
            taken[best] = true;
        }
        memcpy(row, in, (size_t)len * sizeof(float));
        at_select_topk_row(row, len, prefix, masked ? flags : NULL, stride, k, false, heap);
        for (int64_t j = 0; j < len; j++)
            if (row[j] != (float)taken[j])
                harness_fail(__FILE__, __LINE__,
                             "case %d (n %lld, prefix %lld, k %lld): key %lld got %g, want %d", n,
                             (long long)len, (long long)prefix, (long long)k, (long long)j,
                             (double)row[j], taken[j]);
    }
    /* An empty row. */
    at_select_topk_row(row, 0, 0, NULL, 0, 3, true, heap);
    at_select_sample_row(row, 0, 0, NULL, 0, 3, true, 1, heap);
}

/* ---- the generator ---- */

/* The generator is part of the specification (the same seed draws the same keys in every
 * release): these values pin it. */
TEST(select_rng_is_pinned)
{
    uint64_t s = at_rng_row_stream(42, 1, 2, 3);
    ASSERT(s == 0x77b39c8a16bce8fbull);
    ASSERT(at_rng_bits(s, 0) == 0xdcdf170dba659568ull);
    ASSERT(at_rng_bits(s, 1) == 0x3b3b06e5463d0858ull);
    ASSERT(at_rng_bits(s, 2) == 0x67e33ebe28603922ull);
    ASSERT(at_rng_row_stream(0, 0, 0, 0) == 0x3e4e44b4a926063cull);
    /* The open interval (0, 1), endpoints 2^-24 and 1 - 2^-24, with 1 - u exact. */
    ASSERT(at_rng_uniform(0) == 0x1p-24f);
    ASSERT(at_rng_uniform(~0ull) == 1.0f - 0x1p-24f);
    ASSERT(at_rng_uniform(0x8000000000000000ull) == 0.5f + 0x1p-24f);
    /* Every coordinate matters. */
    uint64_t base = at_rng_row_stream(9, 1, 1, 1);
    ASSERT(at_rng_row_stream(8, 1, 1, 1) != base);
    ASSERT(at_rng_row_stream(9, 0, 1, 1) != base);
    ASSERT(at_rng_row_stream(9, 1, 0, 1) != base);
    ASSERT(at_rng_row_stream(9, 1, 1, 0) != base);
    ASSERT(at_rng_row_stream(9, 1, 0, 1) != at_rng_row_stream(9, 0, 1, 1));
}

/* With equal scores, sampling one key picks the largest Gumbel noise, i.e. the largest u: the
 * vectorised noise (16 keys a step, plus a tail) must use the scalar generator's numbers. */
TEST(select_sample_row_uses_the_generator)
{
    float row[53];
    int32_t heap[53];
    for (int64_t n = 1; n <= 53; n += 13)
        for (uint64_t stream = 1; stream < 400; stream++) {
            for (int64_t j = 0; j < n; j++)
                row[j] = 0.5f;
            at_select_sample_row(row, n, n, NULL, 0, 1, false, stream, heap);
            int64_t best = 0;
            for (int64_t j = 1; j < n; j++)
                if (at_rng_uniform(at_rng_bits(stream, j)) >
                    at_rng_uniform(at_rng_bits(stream, best)))
                    best = j;
            for (int64_t j = 0; j < n; j++)
                if (row[j] != (j == best))
                    harness_fail(__FILE__, __LINE__,
                                 "n=%lld stream %llu: key %lld got %g, want key %lld", (long long)n,
                                 (unsigned long long)stream, (long long)j, (double)row[j],
                                 (long long)best);
        }
}

/* ---- sampling: determinism ---- */

static at_attention_desc sample_desc(ct_rng *r, ct_extras *x)
{
    at_attention_desc d = {
        .query = ct_make_view(r, 2, 3, 150, 16, CT_BLHD),
        .key = ct_make_view(r, 2, 3, 90, 16, CT_DENSE),
        .value = ct_make_view(r, 2, 3, 90, 4, CT_SHARED_HEAD),
        .selection = AT_SELECT_SAMPLE,
        .k = 3,
        .seed = 1234,
        .need_weights = true,
    };
    int64_t scores[4] = {2, 3, 150, 90};
    x->mask = ct_make_mask(r, scores, 2, false, 80);
    d.mask = &x->mask;
    return d;
}

TEST(select_sample_same_keys_on_any_pool_and_run)
{
    ct_rng r = {77};
    ct_extras x;
    at_attention_desc d = sample_desc(&r, &x);
    at_pool *pools[4] = {NULL, at_pool_new(1, 4), at_pool_new(2, 4), at_pool_new(4, 4)};
    for (int p = 1; p < 4; p++)
        ASSERT(pools[p] != NULL);
    for (int mode = 0; mode < 3; mode++) {
        d.need_weights = mode != 2;
        d.average_heads = mode == 1;
        ct_outputs first = ct_forward(NULL, &d);
        for (int run = 0; run < 2; run++)
            for (int p = 0; p < 4; p++) {
                ct_outputs o = ct_forward(pools[p], &d);
                ASSERT(memcmp(o.context, first.context, o.context_n * sizeof(float)) == 0);
                if (d.need_weights)
                    ASSERT(memcmp(o.weights, first.weights, o.weights_n * sizeof(float)) == 0);
                ct_free_outputs(&o);
            }
        ct_free_outputs(&first);
    }
    for (int p = 1; p < 4; p++)
        at_pool_free(pools[p]);
    ct_free_desc(&d);
}

TEST(select_sample_seeds_differ_and_sets_are_distinct)
{
    ct_rng r = {78};
    ct_extras x;
    at_attention_desc d = sample_desc(&r, &x);
    ct_outputs a = ct_forward(NULL, &d);
    d.seed = 1235;
    ct_outputs b = ct_forward(NULL, &d);
    int64_t rows = 2 * 3 * 150, lk = 90, differ = 0;
    for (int64_t row = 0; row < rows; row++) {
        int64_t i = row % 150, h = row / 150 % 3, bb = row / 450;
        int64_t allowed = 0, na = 0, nb = 0;
        for (int64_t j = 0; j < lk; j++) {
            bool ok = ct_allowed(&d, bb, h, i, j);
            allowed += ok;
            na += a.weights[row * lk + j] != 0;
            nb += b.weights[row * lk + j] != 0;
            if (!ok) ASSERT(a.weights[row * lk + j] == 0 && b.weights[row * lk + j] == 0);
        }
        /* Exactly min(k, allowed) distinct keys: weights are 0 or 1, one per key. */
        ASSERT_EQ(na, allowed < 3 ? allowed : 3);
        ASSERT_EQ(nb, allowed < 3 ? allowed : 3);
        differ +=
            memcmp(a.weights + row * lk, b.weights + row * lk, (size_t)lk * sizeof(float)) != 0;
    }
    /* About 80 of 90 keys are allowed: two seeds almost never draw the same 3 keys. */
    ASSERT(differ > rows * 9 / 10);
    ct_free_outputs(&a);
    ct_free_outputs(&b);
    ct_free_desc(&d);
}

/* ---- sampling: distribution ---- */

/* B * H * Lq identical query rows over six keys whose softmax probabilities are p (the sixth,
 * the highest score of all, masked): every row draws from its own stream, so the rows are
 * independent draws from the same distribution. Returns how often each key was selected. */
static void count_draws(int64_t k, const double p[5], int64_t counts[6], int64_t *rows)
{
    enum { B = 2, H = 4, LQ = 2500, LK = 6 };
    float *q = malloc(B * H * LQ * sizeof(float));
    float kv[LK], v[LK];
    uint8_t m[LK] = {1, 1, 1, 1, 1, 0};
    ASSERT(q != NULL);
    for (int i = 0; i < B * H * LQ; i++)
        q[i] = 1.0f;
    for (int j = 0; j < LK; j++) {
        kv[j] = j < 5 ? (float)log(p[j]) : 5.0f;
        v[j] = (float)j;
    }
    at_tensor mask = at_tensor_make(AT_BOOL, 4, (int64_t[]){1, 1, 1, LK}, m);
    at_attention_desc d = {
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){B, H, LQ, 1}, q),
        .key = {.dtype = AT_F32, .rank = 4, .ne = {B, H, LK, 1}, .nb = {0, 0, 1, 1}, .data = kv},
        .value = {.dtype = AT_F32, .rank = 4, .ne = {B, H, LK, 1}, .nb = {0, 0, 1, 1}, .data = v},
        .mask = &mask,
        .score = AT_SCORE_DOT,
        .selection = AT_SELECT_SAMPLE,
        .k = k,
        .seed = 20240611,
        .need_weights = true,
    };
    ASSERT_EQ(at_attention_check(&d, NULL, NULL, 0), AT_OK);
    ct_outputs o = ct_forward(NULL, &d);
    memset(counts, 0, 6 * sizeof(int64_t));
    *rows = B * H * LQ;
    for (int64_t row = 0; row < *rows; row++) {
        int64_t picked = 0;
        double sum = 0;
        for (int j = 0; j < LK; j++)
            if (o.weights[row * LK + j] != 0) {
                counts[j]++;
                picked++;
                sum += j;
            }
        ASSERT_EQ(picked, k);
        ASSERT_NEAR(o.context[row], sum, 1e-6);
    }
    ct_free_outputs(&o);
    free(q);
}

static void expect_frequency(int64_t count, int64_t n, double prob, int key)
{
    double sigma = sqrt((double)n * prob * (1 - prob));
    if (!(fabs((double)count - (double)n * prob) <= 4 * sigma))
        harness_fail(__FILE__, __LINE__, "key %d: drawn %lld times of %lld, expected %.1f +- %.1f",
                     key, (long long)count, (long long)n, (double)n * prob, 4 * sigma);
}

TEST(select_sample_k1_follows_the_softmax)
{
    const double p[5] = {0.4, 0.25, 0.2, 0.1, 0.05};
    int64_t counts[6], rows;
    count_draws(1, p, counts, &rows);
    ASSERT_EQ(counts[5], 0); /* masked */
    for (int j = 0; j < 5; j++)
        expect_frequency(counts[j], rows, p[j], j);
}

TEST(select_sample_k2_inclusion_probabilities)
{
    const double p[5] = {0.4, 0.25, 0.2, 0.1, 0.05};
    int64_t counts[6], rows;
    count_draws(2, p, counts, &rows);
    ASSERT_EQ(counts[5], 0);
    /* Key j is in the pair if drawn first, or second after some a != j was drawn first:
     * p_j + sum over a != j of p_a p_j / (1 - p_a). */
    for (int j = 0; j < 5; j++) {
        double incl = p[j];
        for (int a = 0; a < 5; a++)
            if (a != j) incl += p[a] * p[j] / (1 - p[a]);
        expect_frequency(counts[j], rows, incl, j);
    }
}

/* ---- validation ---- */

TEST(select_check_k)
{
    float buf[64];
    at_attention_desc d = {
        .query = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 2, 4}, buf),
        .key = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 3, 4}, buf),
        .value = at_tensor_make(AT_F32, 4, (int64_t[]){1, 1, 3, 4}, buf),
        .selection = AT_SELECT_TOPK,
    };
    CT_EXPECT_BAD(&d, "k", "k: must be >= 1 for top-k selection, got 0", AT_EINVAL);
    d.selection = AT_SELECT_SAMPLE;
    d.k = -3;
    CT_EXPECT_BAD(&d, "k", "sampled selection, got -3", AT_EINVAL);
    d.k = 1;
    ASSERT_EQ(at_attention_check(&d, NULL, NULL, 0), AT_OK);
    d.k = INT64_MAX; /* more than the keys: every allowed key */
    ASSERT_EQ(at_attention_check(&d, NULL, NULL, 0), AT_OK);
    d.selection = AT_SELECT_SOFT;
    d.k = 0; /* ignored by the softmax */
    ASSERT_EQ(at_attention_check(&d, NULL, NULL, 0), AT_OK);
}
