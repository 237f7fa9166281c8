/* Unit tests of the fused few-rows kernel (core/decode.c): at_decode_rows against a double
 * reference over head dims with and without a vector tail, key ranges that cut blocks, per-row
 * limits, flags of every stride, ranges walked in pieces, maxima that keep growing and scores
 * beyond float32; then through at_attention_forward (tiles of 1 to 4 query rows, split keys) on
 * pools of 1 to 3 workers, bit-identical across them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/attention.h"
#include "../core/decode_int.h"
#include "../core/flash.h"
#include "../core/status.h"
#include "core_support.h"
#include "harness.h"

/* Keys and values with `pad` unused floats (NaN, so reading them shows) after each row. */
typedef struct kv_set {
    float *key, *value;
    float query[AT_DECODE_MAX_ROWS][AT_DECODE_MAX_DIM];
    uint8_t *flags; /* lk * 3 flags: strided tests read every third */
    int64_t lk, dk, dv, pad;
} kv_set;

static kv_set make_set(ct_rng *r, int64_t lk, int64_t dk, int64_t dv, int64_t pad)
{
    kv_set s = {.lk = lk, .dk = dk, .dv = dv, .pad = pad};
    s.key = malloc((size_t)(lk * (dk + pad)) * sizeof(float));
    s.value = malloc((size_t)(lk * (dv + pad)) * sizeof(float));
    s.flags = malloc((size_t)(3 * lk));
    ASSERT(s.key && s.value && s.flags);
    for (int64_t j = 0; j < lk; j++) {
        for (int64_t e = 0; e < dk + pad; e++)
            s.key[j * (dk + pad) + e] = e < dk ? ct_rng_float(r) : NAN;
        for (int64_t e = 0; e < dv + pad; e++)
            s.value[j * (dv + pad) + e] = e < dv ? ct_rng_float(r) : NAN;
    }
    for (int64_t j = 0; j < 3 * lk; j++)
        s.flags[j] = ct_rng_int(r, 0, 99) < 70;
    for (int row = 0; row < AT_DECODE_MAX_ROWS; row++)
        for (int64_t e = 0; e < dk; e++)
            s.query[row][e] = ct_rng_float(r);
    return s;
}

static void free_set(kv_set *s)
{
    free(s->key);
    free(s->value);
    free(s->flags);
}

static at_decode_keys keys_of(const kv_set *s, float scale)
{
    return (at_decode_keys){.key = s->key,
                            .value = s->value,
                            .key_stride = s->dk + s->pad,
                            .value_stride = s->dv + s->pad,
                            .keys = s->lk,
                            .dk = s->dk,
                            .dv = s->dv,
                            .scale = scale};
}

/* Checks row's state after keys [j_begin, j_end) against the double reference: its maximum
 * and its context acc / sum (1e-5 absolute plus 1e-4 relative); a row with no allowed key keeps
 * max -inf and sum 0. */
static void check_row(const kv_set *s, const at_decode_keys *kv, const at_decode_row *row,
                      const float *q, int64_t j_begin, int64_t j_end, const char *what)
{
    double m = -INFINITY, sum = 0;
    double *ctx = calloc((size_t)s->dv, sizeof(double)), *sc = malloc((size_t)s->lk * 8);
    ASSERT(ctx && sc);
    int64_t end = row->limit < j_end ? row->limit : j_end;
    for (int64_t j = j_begin; j < end; j++) {
        if (row->allow && !row->allow[j * row->allow_stride]) continue;
        double dot = 0;
        for (int64_t e = 0; e < s->dk; e++)
            dot += (double)q[e] * s->key[j * kv->key_stride + e];
        sc[j] = dot * kv->scale;
        if (sc[j] > m) m = sc[j];
    }
    for (int64_t j = j_begin; j < end; j++) {
        if (row->allow && !row->allow[j * row->allow_stride]) continue;
        double w = exp(sc[j] - m);
        sum += w;
        for (int64_t e = 0; e < s->dv; e++)
            ctx[e] += w * s->value[j * kv->value_stride + e];
    }
    ASSERT(!row->not_finite);
    if (m == -INFINITY) {
        if (!(row->max == -INFINITY && row->sum == 0))
            harness_fail(__FILE__, __LINE__, "%s: no allowed key, got max %g sum %g", what,
                         (double)row->max, (double)row->sum);
    } else {
        if (!(fabs(row->max - m) <= 1e-5 + 1e-5 * fabs(m)))
            harness_fail(__FILE__, __LINE__, "%s: max %.9g, reference %.9g", what, (double)row->max,
                         m);
        for (int64_t e = 0; e < s->dv; e++) {
            double want = ctx[e] / sum, got = (double)row->acc[e] / row->sum;
            if (!(fabs(got - want) <= 1e-5 + 1e-4 * fabs(want)))
                harness_fail(__FILE__, __LINE__, "%s: context[%lld] = %.9g, reference %.9g", what,
                             (long long)e, got, want);
        }
    }
    free(ctx);
    free(sc);
}

/* Runs rows 0..nrows of s over [j_begin, j_end) in `pieces` calls and checks each row. The
 * rows' limits and flags come from `variant`: none, limits growing with the row (causal-like,
 * one of them 0), contiguous flags, one flag per row (stride 0), flags every third byte. */
static void run_and_check(const kv_set *s, int nrows, int variant, float scale, int64_t j_begin,
                          int64_t j_end, int pieces)
{
    at_decode_keys kv = keys_of(s, scale);
    at_decode_row rows[AT_DECODE_MAX_ROWS];
    float *acc = malloc((size_t)(nrows * s->dv) * sizeof(float));
    ASSERT(acc != NULL);
    memset(acc, 0, (size_t)(nrows * s->dv) * sizeof(float));
    for (int r = 0; r < nrows; r++) {
        rows[r] = (at_decode_row){
            .query = s->query[r], .limit = s->lk, .acc = acc + r * s->dv, .max = -INFINITY};
        if (variant == 1) rows[r].limit = r == 0 ? 0 : j_begin + (j_end - j_begin) * r / nrows + r;
        if (variant >= 2) rows[r].allow = s->flags;
        rows[r].allow_stride = variant == 2 ? 1 : variant == 3 ? 0 : 3;
        if (variant == 3) rows[r].allow = s->flags + r; /* some rows' single flag is 0 */
    }
    for (int p = 0; p < pieces; p++) {
        int64_t a = j_begin + (j_end - j_begin) * p / pieces;
        int64_t b = j_begin + (j_end - j_begin) * (p + 1) / pieces;
        at_decode_rows(&kv, rows, nrows, a, b);
    }
    char what[160];
    for (int r = 0; r < nrows; r++) {
        snprintf(what, sizeof what, "dk %lld dv %lld rows %d variant %d keys [%lld, %lld) row %d",
                 (long long)s->dk, (long long)s->dv, nrows, variant, (long long)j_begin,
                 (long long)j_end, r);
        check_row(s, &kv, &rows[r], s->query[r], j_begin, j_end, what);
    }
    free(acc);
}

TEST(decode_rows_vs_reference)
{
    ct_rng r = {0xDEC0DE};
    const int64_t dims[][2] = {{1, 1},    {7, 5},     {16, 16},   {33, 17}, {64, 64},
                               {100, 60}, {128, 128}, {256, 256}, {64, 200}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        kv_set s = make_set(&r, 1000, dims[i][0], dims[i][1], i % 2 ? 3 : 0);
        for (int nrows = 1; nrows <= AT_DECODE_MAX_ROWS; nrows++)
            for (int variant = 0; variant < 5; variant++) {
                run_and_check(&s, nrows, variant, 0.3f, 0, 1000, 1);
                run_and_check(&s, nrows, variant, 1.0f, 5, 999, 3); /* blocks cut */
                run_and_check(&s, nrows, variant, 0.5f, 17, 20, 1); /* one partial block */
            }
        free_set(&s);
    }
}

TEST(decode_applies)
{
    ASSERT(at_decode_applies(1, 64, 64));
    ASSERT(at_decode_applies(AT_DECODE_MAX_ROWS, AT_DECODE_MAX_DIM, 1));
    ASSERT(!at_decode_applies(0, 64, 64));
    ASSERT(!at_decode_applies(AT_DECODE_MAX_ROWS + 1, 64, 64));
    ASSERT(!at_decode_applies(1, AT_DECODE_MAX_DIM + 1, 64));
    ASSERT(!at_decode_applies(1, 64, AT_DECODE_MAX_DIM + 1));
}

/* Scores that grow key after key: the maximum moves in every block, and a kernel that did not
 * rescale the sum and the accumulator would overflow (e^(30 * ...)) or be off. */
TEST(decode_rescales_as_the_maximum_grows)
{
    ct_rng r = {42};
    kv_set s = make_set(&r, 4096, 64, 64, 0);
    for (int64_t e = 0; e < 64; e++)
        s.query[0][e] = 1.0f;
    for (int64_t j = 0; j < s.lk; j++)
        for (int64_t e = 0; e < 64; e++)
            s.key[j * 64 + e] = (float)j / 4096.0f;
    run_and_check(&s, 1, 0, 30.0f, 0, s.lk, 1);
    run_and_check(&s, 1, 0, 30.0f, 0, s.lk, 7);
    free_set(&s);
}

/* A score beyond float32 marks the row (and only it) not finite; the same key past the row's
 * limit is never read, so it does not. */
TEST(decode_marks_scores_that_are_not_finite)
{
    ct_rng r = {7};
    kv_set s = make_set(&r, 300, 8, 8, 0);
    for (int64_t e = 0; e < 8; e++)
        s.key[200 * 8 + e] = 1e30f;
    s.query[0][0] = 1e30f;
    at_decode_keys kv = keys_of(&s, 1.0f);
    float acc[2][8] = {{0}};
    at_decode_row rows[2] = {
        {.query = s.query[0], .limit = 300, .acc = acc[0], .max = -INFINITY},
        {.query = s.query[1], .limit = 300, .acc = acc[1], .max = -INFINITY},
    };
    at_decode_rows(&kv, rows, 2, 0, 300);
    ASSERT(rows[0].not_finite);
    ASSERT(!rows[1].not_finite);
    memset(acc, 0, sizeof acc);
    rows[0] = (at_decode_row){.query = s.query[0], .limit = 200, .acc = acc[0], .max = -INFINITY};
    at_decode_rows(&kv, rows, 1, 0, 300);
    ASSERT(!rows[0].not_finite);
    check_row(&s, &kv, &rows[0], s.query[0], 0, 300, "limit before the key");
    free_set(&s);
}

/* ---- through at_attention_forward ---- */

/* 1 to 4 query rows over keys that are split into chunks, head dims with and without a vector
 * tail, causal, key lengths and a mask: against the reference, and bit-identical on no pool and
 * pools of 1 to 3 workers. */
TEST(decode_forward_few_rows_on_every_pool)
{
    ct_rng r = {1515};
    const int64_t dims[][2] = {{64, 64}, {20, 12}, {128, 128}, {256, 100}};
    at_pool *pools[3] = {at_pool_new(1, 4), at_pool_new(2, 4), at_pool_new(3, 4)};
    ASSERT(pools[0] && pools[1] && pools[2]);
    for (int lq = 1; lq <= AT_DECODE_MAX_ROWS; lq++)
        for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
            int64_t lengths[2] = {9000, 4000 + lq};
            int64_t scores[4] = {2, 2, lq, 9000};
            at_tensor mask = ct_make_mask(&r, scores, 2, true, 60);
            at_attention_desc d = {
                .query = ct_make_view(&r, 2, 2, lq, dims[i][0], CT_BLHD),
                .key = ct_make_view(&r, 2, 2, 9000, dims[i][0], CT_PADDED_ROWS),
                .value = ct_make_view(&r, 2, 2, 9000, dims[i][1], CT_DENSE),
                .key_lengths = i % 2 ? lengths : NULL,
                .causal = lq % 2 == 0,
                .mask = i >= 2 ? &mask : NULL,
            };
            ASSERT(at_flash_applies(&d));
            ct_check_forward(NULL, &d);
            ct_outputs base = ct_forward(NULL, &d);
            for (int p = 0; p < 3; p++) {
                ct_outputs o = ct_forward(pools[p], &d);
                ASSERT(memcmp(o.context, base.context, base.context_n * sizeof(float)) == 0);
                ct_free_outputs(&o);
            }
            ct_free_outputs(&base);
            if (!d.mask) free(mask.data);
            d.key_lengths = NULL; /* on the stack */
            ct_free_desc(&d);
        }
    for (int p = 0; p < 3; p++)
        at_pool_free(pools[p]);
}
