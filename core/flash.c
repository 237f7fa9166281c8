/* The tiled attention path (FlashAttention's online softmax on the CPU): per (batch, head) and
 * tile of query rows, walk the keys one tile at a time, keeping each row's running maximum, sum
 * and rescaled context accumulator. When that gives too few items (one query over many keys), the
 * keys are split into chunks as well (flash-decoding) and the chunks' partial softmaxes merged by
 * their log-sum-exp. Tiles of a few query rows go through core/decode.c's fused pass instead of
 * BLAS. Memory is a few tiles per worker plus the partials, and the split depends only on the
 * shapes, so every pool size gives bit-identical results. */
#include "flash.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "decode_int.h"
#include "mask_int.h"
#include "softmax.h"
#include "status.h"

/* Query rows per tile and keys per step. sgemm packs each key and value tile once per query
 * tile and the query tile once per key tile, so both want to be large; the score tile (rows x
 * keys) must stay in L2 while it is exponentiated and multiplied with V. 256 x 512 (a 512 KiB
 * score tile, 832 KiB with the Q, K and V tiles at d = 64) measured 99 GFLOP/s on one core for
 * B1 H8 L2048 d64, against 93 for 128 x 512, 88 for 128 x 256, and no gain beyond. */
#define FLASH_TILE_ROWS 256
#define FLASH_TILE_KEYS 512
/* Bytes the key and value tiles of one step may take together: with large head dims the key
 * tile shrinks so that K, V and the score tile still fit about 1 MiB. */
#define FLASH_KV_BYTES (256 * 1024)
/* As in attention.c: a constant number of items to aim for when the tiles give fewer (so the
 * split never depends on the thread count), without making tiles thinner than the minimum. */
#define FLASH_TARGET_ITEMS 16
#define FLASH_MIN_ROWS     16
/* Scores one item may compute (query rows x keys): with long key rows the item gets fewer
 * query rows (not fewer than FLASH_MIN_ROWS), so that an item takes a few ms whatever Lk is.
 * The pool hands out work and checks for cancellation between items, so this bounds how long a
 * tiny request waits behind a big one and how long a cancelled one keeps its worker. 256 rows
 * of up to 8192 keys keep the tile size measured best above for the usual lengths; 16384 keys
 * get 128 rows (no slower within the noise of a shared machine), 64 rows were 15% slower. */
#define FLASH_ITEM_SCORES (256 * 8192)
/* Split over keys: when (batch, head, query tile) gives fewer than FLASH_TARGET_ITEMS items,
 * each tile's keys are cut into chunks of whole key tiles, never fewer than this many keys (a
 * chunk of 4096 keys at d = 64 reads 2 MiB of K and V, about 0.2 ms: below that the partial and
 * the merge cost more than the second core gives). */
#define FLASH_SPLIT_MIN_KEYS 4096
/* Query rows per (batch, head) up to which the kernel checks its scores for overflow itself
 * (at_flash_checks_scores): the bound's pass over the keys costs about 1/(4 Lq) of the work. */
#define FLASH_CHECK_MAX_LQ 64
/* Alignment of every buffer carved out of the workspace. */
#define FLASH_ALIGN 64

/* The shapes and the tiling of one forward pass. */
typedef struct flash_plan {
    int64_t batch, heads, lq, lk, dk, dv;
    int64_t tile_rows;    /* query rows per item */
    int64_t tile_keys;    /* keys per step */
    int64_t ntiles;       /* query tiles per (batch, head) */
    int64_t nsplit;       /* key chunks per query tile; 1 when the keys are not split */
    int64_t chunk_keys;   /* keys per chunk (a multiple of tile_keys unless there is one chunk) */
    size_t worker_floats; /* one worker's scratch: scores, then running max and sum per row */
    size_t part_floats;   /* with nsplit > 1, one chunk's partial: context rows, max, sum */
    size_t shared_floats; /* with nsplit > 1, every partial: items * nsplit * part_floats */
} flash_plan;

/* Everything a range of items needs; shared read-only by all workers. */
typedef struct flash_ctx {
    const at_attention_desc *d;
    flash_plan plan;
    float scale;
    float *context;
    float *scratch;    /* the per-worker slices */
    float *partials;   /* with a split, every chunk's partial (plan.shared_floats) */
    bool check_scores; /* at_flash_checks_scores */
} flash_ctx;

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static size_t align_floats(size_t n)
{
    const size_t per = FLASH_ALIGN / sizeof(float);
    return (n + per - 1) / per * per;
}

static flash_plan make_plan(const at_attention_desc *d)
{
    flash_plan p = {
        .batch = d->query.ne[0],
        .heads = d->query.ne[1],
        .lq = d->query.ne[2],
        .lk = d->key.ne[2],
        .dk = d->query.ne[3],
        .dv = d->value.ne[3],
    };
    int64_t rows = FLASH_TILE_ROWS, bh = p.batch * p.heads;
    if (rows * p.lk > FLASH_ITEM_SCORES)
        rows = max64(FLASH_MIN_ROWS, FLASH_ITEM_SCORES / p.lk / FLASH_MIN_ROWS * FLASH_MIN_ROWS);
    if (bh * ceil_div(p.lq, rows) < FLASH_TARGET_ITEMS) {
        int64_t want_tiles = ceil_div(FLASH_TARGET_ITEMS, bh);
        rows = min64(rows, max64(FLASH_MIN_ROWS, ceil_div(p.lq, want_tiles)));
    }
    int64_t keys = FLASH_KV_BYTES / ((p.dk + p.dv) * (int64_t)sizeof(float));
    keys = max64(16, min64(FLASH_TILE_KEYS, keys / 16 * 16));
    p.tile_rows = min64(rows, p.lq);
    p.tile_keys = min64(keys, p.lk);
    p.ntiles = ceil_div(p.lq, p.tile_rows);
    p.worker_floats =
        align_floats((size_t)(p.tile_rows * p.tile_keys)) + 2 * align_floats((size_t)p.tile_rows);

    /* Too few items for the cores: split each tile's keys too, into as many chunks as make
     * FLASH_TARGET_ITEMS, of whole key tiles and at least FLASH_SPLIT_MIN_KEYS keys each. */
    int64_t items = bh * p.ntiles;
    p.nsplit = 1;
    p.chunk_keys = p.lk;
    if (items < FLASH_TARGET_ITEMS && p.lk >= 2 * FLASH_SPLIT_MIN_KEYS) {
        int64_t want = min64(ceil_div(FLASH_TARGET_ITEMS, items), p.lk / FLASH_SPLIT_MIN_KEYS);
        int64_t chunk = ceil_div(ceil_div(p.lk, want), p.tile_keys) * p.tile_keys;
        p.nsplit = ceil_div(p.lk, chunk);
        if (p.nsplit > 1) {
            p.chunk_keys = chunk;
            p.part_floats =
                align_floats((size_t)(p.tile_rows * p.dv)) + 2 * align_floats((size_t)p.tile_rows);
            p.shared_floats = (size_t)(items * p.nsplit) * p.part_floats;
        }
    }
    return p;
}

bool at_flash_applies(const at_attention_desc *d)
{
    return d->selection == AT_SELECT_SOFT && !d->need_weights &&
           (d->score == AT_SCORE_DOT || d->score == AT_SCORE_SCALED_DOT);
}

bool at_flash_checks_scores(const at_attention_desc *d)
{
    return at_flash_applies(d) && d->query.ne[2] <= FLASH_CHECK_MAX_LQ;
}

size_t at_flash_workspace_size(const at_attention_desc *d, int threads)
{
    flash_plan p = make_plan(d);
    if (threads < 1) threads = 1;
    return (p.shared_floats + (size_t)threads * p.worker_floats) * sizeof(float);
}

/* row[0..n) *= factor, 16 columns at a time with a fixed-length inner loop, which the compiler
 * vectorises even at -O2. */
static void scale_row(float *restrict row, int64_t n, float factor)
{
    enum { W = 16 };
    int64_t j = 0;
    for (; j + W <= n; j += W)
        for (int k = 0; k < W; k++)
            row[j + k] *= factor;
    for (; j < n; j++)
        row[j] *= factor;
}

/* True when x[0..n) holds no infinity or NaN: an OR of the exponent fields plus one, whose top
 * bit only an all-ones exponent sets; 16 at a time with a fixed-length inner loop, which the
 * compiler vectorises. */
static bool row_finite(const float *restrict x, int64_t n)
{
    enum { W = 16 };
    uint32_t bad[W] = {0}, any = 0;
    int64_t j = 0;
    for (; j + W <= n; j += W)
        for (int k = 0; k < W; k++) {
            uint32_t u;
            memcpy(&u, &x[j + k], sizeof u);
            bad[k] |= (u & 0x7f800000u) + 0x00800000u;
        }
    for (; j < n; j++) {
        uint32_t u;
        memcpy(&u, &x[j], sizeof u);
        any |= (u & 0x7f800000u) + 0x00800000u;
    }
    for (int k = 0; k < W; k++)
        any |= bad[k];
    return !(any >> 31);
}

/* flash_tile for a few query rows (at_decode_applies): core/decode.c's fused pass, which reads
 * each key and value row once, in steps of one key tile between cancellation checks. */
static void flash_decode_tile(const flash_ctx *c, int64_t b, int64_t h, int64_t i0, int64_t rows,
                              int64_t j_begin, int64_t j_end, float *acc, float *run_max,
                              float *run_sum)
{
    const at_attention_desc *d = c->d;
    const flash_plan *p = &c->plan;
    const at_tensor *q = &d->query, *k = &d->key, *v = &d->value;
    const float *qt = (const float *)q->data + b * q->nb[0] + h * q->nb[1] + i0 * q->nb[2];
    at_decode_keys kv = {
        .key = (const float *)k->data + b * k->nb[0] + h * k->nb[1],
        .value = (const float *)v->data + b * v->nb[0] + h * v->nb[1],
        .key_stride = k->nb[2],
        .value_stride = v->nb[2],
        .keys = p->lk,
        .dk = p->dk,
        .dv = p->dv,
        .scale = c->scale,
    };
    at_decode_row state[AT_DECODE_MAX_ROWS];
    memset(acc, 0, (size_t)(rows * p->dv) * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        int64_t stride = 0;
        const uint8_t *allow = at_mask_row(d, b, h, i0 + r, &stride);
        state[r] = (at_decode_row){
            .query = qt + r * q->nb[2],
            .limit = at_row_key_limit(d, b, i0 + r),
            .allow = allow,
            .allow_stride = stride,
            .acc = acc + r * p->dv,
            .max = -INFINITY,
        };
    }
    int64_t keys = min64(j_end, at_row_key_limit(d, b, i0 + rows - 1));
    for (int64_t j0 = j_begin; j0 < keys && !at_cancel_status(d->cancel); j0 += p->tile_keys)
        at_decode_rows(&kv, state, (int)rows, j0, min64(keys, j0 + p->tile_keys));
    for (int64_t r = 0; r < rows; r++) {
        run_max[r] = state[r].max;
        /* A score beyond float32: NaN context for at_attention_fix_overflow, as below. */
        run_sum[r] = state[r].not_finite ? NAN : state[r].sum;
    }
}

/* One item: query rows [i0, i0 + rows) of head (b, h) over keys [j_begin, j_end), accumulated
 * in `acc` (rows x dv, unnormalised) with each row's running maximum and sum in run_max and
 * run_sum. Keys past a row's limit are skipped; a chunk with no allowed key leaves max -inf and
 * sum 0. */
static void flash_tile(const flash_ctx *c, int64_t b, int64_t h, int64_t i0, int64_t rows,
                       int64_t j_begin, int64_t j_end, float *acc, float *scores, float *run_max,
                       float *run_sum)
{
    const at_attention_desc *d = c->d;
    const flash_plan *p = &c->plan;
    const at_tensor *q = &d->query, *k = &d->key, *v = &d->value;
    const float *qt = (const float *)q->data + b * q->nb[0] + h * q->nb[1] + i0 * q->nb[2];
    const float *kb = (const float *)k->data + b * k->nb[0] + h * k->nb[1];
    const float *vb = (const float *)v->data + b * v->nb[0] + h * v->nb[1];
    const int64_t ld = p->tile_keys;

    if (at_decode_applies(rows, p->dk, p->dv)) {
        flash_decode_tile(c, b, h, i0, rows, j_begin, j_end, acc, run_max, run_sum);
        return;
    }
    memset(acc, 0, (size_t)(rows * p->dv) * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        run_max[r] = -INFINITY;
        run_sum[r] = 0.0f;
    }
    /* The prefix limit grows with the row (causal) or is the same for all (key_lengths), so the
     * last row's is the tile's: key tiles past it are all masked and never computed. */
    int64_t keys = min64(j_end, at_row_key_limit(d, b, i0 + rows - 1));

    for (int64_t j0 = j_begin; j0 < keys && !at_cancel_status(d->cancel); j0 += ld) {
        int64_t cols = min64(ld, keys - j0);
        /* One query row whose head dims core/decode.c does not take: matrix-vector products,
         * which stream K and V once; sgemm would pack each tile and run its kernel for a block
         * of rows on one. */
        if (rows == 1)
            at_sgemv(false, (int)cols, (int)p->dk, c->scale, kb + j0 * k->nb[2], (int)k->nb[2], qt,
                     0.0f, scores);
        else
            at_sgemm(false, true, (int)rows, (int)cols, (int)p->dk, c->scale, qt, (int)q->nb[2],
                     kb + j0 * k->nb[2], (int)k->nb[2], 0.0f, scores, (int)ld);
        for (int64_t r = 0; r < rows; r++) {
            int64_t i = i0 + r, stride = 0;
            int64_t allowed = min64(cols, max64(0, at_row_key_limit(d, b, i) - j0));
            const uint8_t *allow = at_mask_row(d, b, h, i, &stride);
            if (allow) allow += j0 * stride;
            bool finite = !c->check_scores || row_finite(scores + r * ld, cols);
            float correction = at_softmax_online_row(scores + r * ld, cols, allowed, allow, stride,
                                                     &run_max[r], &run_sum[r]);
            if (correction != 1.0f) scale_row(acc + r * p->dv, p->dv, correction);
            /* A score beyond float32: the row's sum becomes NaN and stays so, and the row's
             * context NaN, for at_attention_fix_overflow to redo in double. */
            if (!finite) run_sum[r] = NAN;
        }
        if (rows == 1)
            at_sgemv(true, (int)cols, (int)p->dv, 1.0f, vb + j0 * v->nb[2], (int)v->nb[2], scores,
                     1.0f, acc);
        else
            at_sgemm(false, false, (int)rows, (int)p->dv, (int)cols, 1.0f, scores, (int)ld,
                     vb + j0 * v->nb[2], (int)v->nb[2], 1.0f, acc, (int)p->dv);
    }
}

/* Divides each context row by its sum; a row with no allowed key at all gets zeros, whatever a
 * masked value row held. */
static void flash_normalise(const flash_plan *p, float *acc, int64_t rows, const float *run_sum)
{
    for (int64_t r = 0; r < rows; r++) {
        float *row = acc + r * p->dv;
        if (isnan(run_sum[r]))
            for (int64_t e = 0; e < p->dv; e++)
                row[e] = NAN;
        else if (run_sum[r] > 0.0f)
            scale_row(row, p->dv, 1.0f / run_sum[r]);
        else
            memset(row, 0, (size_t)p->dv * sizeof(float));
    }
}

/* The query tile of item number `tile` (counted over (b, h, query tile)): t counts query tiles
 * from the last one, so that under a causal mask the costliest items are handed out first. */
static void tile_of(const flash_plan *p, int64_t tile, int64_t *b, int64_t *h, int64_t *i0,
                    int64_t *rows)
{
    int64_t bh = tile / p->ntiles;
    *b = bh / p->heads;
    *h = bh % p->heads;
    *i0 = (p->ntiles - 1 - tile % p->ntiles) * p->tile_rows;
    *rows = min64(p->tile_rows, p->lq - *i0);
}

/* Items [begin, end) without a split: item = (b * H + h) * ntiles + t, normalised in place. */
static void flash_items(void *arg, int64_t begin, int64_t end, int worker)
{
    const flash_ctx *c = arg;
    const flash_plan *p = &c->plan;
    float *scores = c->scratch + (size_t)worker * p->worker_floats;
    float *run_max = scores + align_floats((size_t)(p->tile_rows * p->tile_keys));
    float *run_sum = run_max + align_floats((size_t)p->tile_rows);

    for (int64_t item = begin; item < end && !at_cancel_status(c->d->cancel); item++) {
        int64_t b, h, i0, rows;
        tile_of(p, item, &b, &h, &i0, &rows);
        float *acc = c->context + ((b * p->heads + h) * p->lq + i0) * p->dv;
        flash_tile(c, b, h, i0, rows, 0, p->lk, acc, scores, run_max, run_sum);
        flash_normalise(p, acc, rows, run_sum);
    }
}

/* Where chunk `chunk` of query tile `tile` keeps its partial: context rows, then max and sum. */
static float *partial_of(const flash_ctx *c, int64_t tile, int64_t chunk)
{
    return c->partials + (size_t)(tile * c->plan.nsplit + chunk) * c->plan.part_floats;
}

/* Items [begin, end) of a split: item = tile * nsplit + chunk, each writing its own partial. */
static void flash_chunk_items(void *arg, int64_t begin, int64_t end, int worker)
{
    const flash_ctx *c = arg;
    const flash_plan *p = &c->plan;
    float *scores = c->scratch + (size_t)worker * p->worker_floats;

    for (int64_t item = begin; item < end && !at_cancel_status(c->d->cancel); item++) {
        int64_t tile = item / p->nsplit, chunk = item % p->nsplit, b, h, i0, rows;
        tile_of(p, tile, &b, &h, &i0, &rows);
        float *acc = partial_of(c, tile, chunk);
        float *run_max = acc + align_floats((size_t)(p->tile_rows * p->dv));
        float *run_sum = run_max + align_floats((size_t)p->tile_rows);
        int64_t j0 = chunk * p->chunk_keys;
        flash_tile(c, b, h, i0, rows, j0, min64(p->lk, j0 + p->chunk_keys), acc, scores, run_max,
                   run_sum);
    }
}

/* Query tiles [begin, end) of a split: each row's partials merged by their log-sum-exp, in
 * chunk order (so the result does not depend on which worker ran which chunk). With M the
 * largest partial maximum, the row is sum_c acc_c e^(m_c - M) / sum_c s_c e^(m_c - M); chunks
 * with no allowed key (s_c = 0) take no part, and a row with none at all gets zeros. */
static void flash_merge(void *arg, int64_t begin, int64_t end, int worker)
{
    const flash_ctx *c = arg;
    const flash_plan *p = &c->plan;
    const size_t max_at = align_floats((size_t)(p->tile_rows * p->dv));
    const size_t sum_at = max_at + align_floats((size_t)p->tile_rows);
    (void)worker;

    for (int64_t tile = begin; tile < end; tile++) {
        int64_t b, h, i0, rows;
        tile_of(p, tile, &b, &h, &i0, &rows);
        float *out = c->context + ((b * p->heads + h) * p->lq + i0) * p->dv;
        for (int64_t r = 0; r < rows; r++) {
            float *row = out + r * p->dv, m = -INFINITY, sum = 0.0f;
            bool poisoned = false;
            for (int64_t ch = 0; ch < p->nsplit; ch++) {
                const float *part = partial_of(c, tile, ch);
                poisoned |= isnan(part[sum_at + r]);
                if (part[sum_at + r] > 0.0f && part[max_at + r] > m) m = part[max_at + r];
            }
            memset(row, 0, (size_t)p->dv * sizeof(float));
            if (poisoned) { /* a chunk met a score beyond float32: see flash_tile */
                for (int64_t e = 0; e < p->dv; e++)
                    row[e] = NAN;
                continue;
            }
            if (m == -INFINITY) continue;
            for (int64_t ch = 0; ch < p->nsplit; ch++) {
                const float *part = partial_of(c, tile, ch);
                if (!(part[sum_at + r] > 0.0f)) continue;
                float w = expf(part[max_at + r] - m);
                const float *acc = part + r * p->dv;
                sum += part[sum_at + r] * w;
                for (int64_t e = 0; e < p->dv; e++)
                    row[e] += acc[e] * w;
            }
            scale_row(row, p->dv, 1.0f / sum);
        }
    }
}

int at_flash_forward(const at_attention_desc *d, float *context, void *workspace, at_pool *pool,
                     int worker)
{
    flash_ctx c = {
        .d = d,
        .plan = make_plan(d),
        .scale = at_attention_scale(d),
        .context = context,
        .check_scores = at_flash_checks_scores(d),
    };
    const flash_plan *p = &c.plan;
    c.partials = workspace;
    c.scratch = (float *)workspace + p->shared_floats;
    if (!pool) worker = 0;
    int64_t tiles = p->batch * p->heads * p->ntiles;
    if (p->nsplit == 1) {
        at_pool_parallel_for(pool, worker, tiles, 1, flash_items, &c);
        return at_cancel_status(d->cancel);
    }
    at_pool_parallel_for(pool, worker, tiles * p->nsplit, 1, flash_chunk_items, &c);
    int rc = at_cancel_status(d->cancel);
    if (rc != AT_OK) return rc;
    at_pool_parallel_for(pool, worker, tiles, 1, flash_merge, &c);
    return AT_OK;
}
