/* Multi-head attention: a fused in-projection with BLAS over blocks of output columns (of rows,
 * for cross-attention), the per-head attention on strided views of the projections (no copies:
 * head h of q is columns h*hd..(h+1)*hd of each projected row), and an out-projection that sums
 * each head's contribution, so the heads are never concatenated in memory. */
#include "mha.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "blas.h"
#include "packed.h"
#include "status.h"

#define WS_ALIGN  64
#define ROW_GRAIN 32 /* rows per projection chunk handed to a worker (cross-attention) */
/* Output columns per chunk of a self-attention projection: every row at once, so each worker
 * packs only its slice of the weights, once, instead of the whole matrix per block of rows.
 * Each chunk also packs all of x again: 384 (E = 768: two chunks, one per worker of two) packs
 * it a third as often as 128 did, 3-5% of BERT-base's forward at L 128. */
#define COL_GRAIN 384
_Static_assert(COL_GRAIN % PACK_NR == 0, "column blocks start on panels of packed weights");
/* Every size below becomes an int for BLAS; bounding elements keeps byte counts in size_t. */
#define MHA_MAX_ELEMENTS ((int64_t)INT_MAX)

static size_t align_up(size_t n)
{
    return (n + WS_ALIGN - 1) / WS_ALIGN * WS_ALIGN;
}

/* Where the projections lie in the workspace: q, k and v rows with their row strides. */
typedef struct mha_layout {
    size_t proj_bytes, heads_bytes;
    int64_t q_off, k_off, v_off; /* offsets in floats from the projection base */
    int64_t q_ld, kv_ld;         /* row strides in floats */
} mha_layout;

/* With `kv_given` (at_mha_forward_projected), only q is projected: the keys and values are the
 * caller's. */
static mha_layout make_layout(const at_mha_weights *w, int64_t len, int64_t src_len, bool kv_given)
{
    const int64_t e = w->embed_dim;
    mha_layout l = {0};
    if (kv_given) { /* q [L, E] alone */
        l.proj_bytes = align_up((size_t)(len * e) * sizeof(float));
        l.q_ld = e;
    } else if (src_len == 0) { /* self: one [L, 3E] block, q | k | v side by side */
        l.proj_bytes = align_up((size_t)(len * 3 * e) * sizeof(float));
        l.q_off = 0, l.k_off = e, l.v_off = 2 * e;
        l.q_ld = l.kv_ld = 3 * e;
    } else { /* cross: q [L, E], then k | v [S, 2E] */
        int64_t q_floats = (int64_t)(align_up((size_t)(len * e) * sizeof(float)) / sizeof(float));
        l.proj_bytes =
            (size_t)q_floats * sizeof(float) + align_up((size_t)(src_len * 2 * e) * sizeof(float));
        l.q_off = 0, l.k_off = q_floats, l.v_off = q_floats + e;
        l.q_ld = e, l.kv_ld = 2 * e;
    }
    l.heads_bytes = align_up((size_t)(len * e) * sizeof(float));
    return l;
}

/* Rank-4 view [1, H, rows, hd] of head-interleaved rows with stride ld. */
static at_tensor head_view(const float *base, int64_t heads, int64_t rows, int64_t hd, int64_t ld)
{
    at_tensor t = {.dtype = AT_F32, .rank = 4, .data = (void *)base};
    t.ne[0] = 1, t.ne[1] = heads, t.ne[2] = rows, t.ne[3] = hd;
    t.nb[0] = rows * ld, t.nb[1] = hd, t.nb[2] = ld, t.nb[3] = 1;
    return t;
}

/* The stand-in that views made before the projections exist point at (never read). */
static const float stand_in[1];

/* The per-head descriptor over the projections at `proj`, or, with proj NULL (checking and
 * sizing, before they exist), over views of the right shapes that point at a stand-in. */
static at_attention_desc make_desc(const at_mha_weights *w, int64_t len, int64_t src_len,
                                   const at_attention_desc *opts, const mha_layout *l,
                                   const float *proj)
{
    const int64_t h = w->num_heads, hd = w->embed_dim / h, s = src_len ? src_len : len;
    at_attention_desc d = *opts;
    d.query = head_view(proj ? proj + l->q_off : stand_in, h, len, hd, l->q_ld);
    d.key = head_view(proj ? proj + l->k_off : stand_in, h, s, hd, l->kv_ld);
    d.value = head_view(proj ? proj + l->v_off : stand_in, h, s, hd, l->kv_ld);
    d.additive = opts->score == AT_SCORE_ADDITIVE ? w->additive : NULL;
    return d;
}

static int fail(const char **field, const char *name, char *err, size_t errlen, int rc,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail(const char **field, const char *name, char *err, size_t errlen, int rc,
                const char *fmt, ...)
{
    if (field) *field = name;
    if (errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int at_mha_check(const at_mha_weights *w, int64_t len, int64_t src_len,
                 const at_attention_desc *opts, const char **field, char *err, size_t errlen)
{
    const int64_t e = w->embed_dim, h = w->num_heads;
    if (errlen) err[0] = '\0';
    if (e < 1 || h < 1 || e % h != 0 || e > MHA_MAX_ELEMENTS / 3)
        return fail(field, "embed_dim", err, errlen, AT_EINVAL,
                    "embed_dim: %lld must be >= 1 and divisible by num_heads %lld", (long long)e,
                    (long long)h);
    bool separate = !w->in_proj_weight && w->qkv_weight[0] && w->qkv_weight[1] && w->qkv_weight[2];
    if ((!w->in_proj_weight && !separate) || !w->out_proj_weight)
        return fail(field, "weights", err, errlen, AT_EINVAL,
                    "weights: in_proj_weight (or query, key and value weights) and "
                    "out_proj_weight are required (E %lld, H %lld)",
                    (long long)e, (long long)h);
    if ((separate || w->conv1d) && src_len != 0)
        return fail(field, "src_len", err, errlen, AT_EINVAL,
                    "src_len: this layer's weights support self-attention only");
    if (len < 1 || len > MHA_MAX_ELEMENTS / (3 * e))
        return fail(field, "len", err, errlen, AT_EINVAL,
                    "len: the sequence has %lld tokens, expected 1 to %lld", (long long)len,
                    (long long)(MHA_MAX_ELEMENTS / (3 * e)));
    if (src_len < 0 || src_len > MHA_MAX_ELEMENTS / (2 * e))
        return fail(field, "src_len", err, errlen, AT_EINVAL,
                    "src_len: the source has %lld tokens, expected 0 (self-attention) to %lld",
                    (long long)src_len, (long long)(MHA_MAX_ELEMENTS / (2 * e)));
    if (opts->score == AT_SCORE_ADDITIVE && !w->additive)
        return fail(field, "additive", err, errlen, AT_EINVAL,
                    "additive: this model has no additive score parameters (additive.weight "
                    "[da, %lld]); use score scaled_dot or dot",
                    (long long)(2 * (e / h)));
    /* The per-head attention checks the rest on views with the real shapes. */
    mha_layout l = make_layout(w, len, src_len, false);
    at_attention_desc d = make_desc(w, len, src_len, opts, &l, NULL);
    return at_attention_check(&d, field, err, errlen);
}

size_t at_mha_workspace_size(const at_mha_weights *w, int64_t len, int64_t src_len,
                             const at_attention_desc *opts, int threads)
{
    mha_layout l = make_layout(w, len, src_len, false);
    at_attention_desc d = make_desc(w, len, src_len, opts, &l, NULL);
    return l.proj_bytes + l.heads_bytes + align_up(at_attention_workspace_size(&d, threads));
}

/* ---- the projections, over blocks of rows ---- */

typedef struct proj_ctx {
    const at_mha_weights *w;
    const float *x, *src;
    int64_t len, src_len;
    int64_t q_blocks; /* cross-attention: items 0..q_blocks-1 are blocks of x, the rest of src */
    float *proj;
    const mha_layout *l;
    const float *heads; /* out-projection: per-head context [H, L, hd] */
    float *concat;      /* self-attention's out-projection: the heads side by side [L, E] */
    float *context;     /* out-projection: [L, E] */
    const at_cancel *cancel;
} proj_ctx;

/* out[r, 0..n) = bias[0..n) (or 0) + in[r, :] W^T for rows r < rows, W [n, E]. */
static void project(const float *in, int64_t rows, int64_t e, const float *weight,
                    const float *bias, int64_t n, float *out, int64_t ld)
{
    for (int64_t r = 0; r < rows; r++)
        if (bias)
            memcpy(out + r * ld, bias, (size_t)n * sizeof(float));
        else
            memset(out + r * ld, 0, (size_t)n * sizeof(float));
    at_sgemm(false, true, (int)rows, (int)n, (int)e, 1.0f, in, (int)e, weight, (int)e, 1.0f, out,
             (int)ld);
}

/* Cross-attention: item i < q_blocks projects rows [i G, (i + 1) G) of x into q, item
 * q_blocks + j rows [j G, (j + 1) G) of src into k | v (G = ROW_GRAIN, the last block of each
 * shorter). Each sequence is cut from its own first row, so a source's k | v are the same
 * products, hence the same bits, whatever the query (at_mha_project_source makes them alone).
 * (Self-attention goes by blocks of columns, qkv_columns.) */
static void in_projection_item(const proj_ctx *c, int64_t item)
{
    const at_mha_weights *w = c->w;
    const int64_t e = w->embed_dim;
    const float *b = w->in_proj_bias;
    if (item < c->q_blocks) {
        int64_t r0 = item * ROW_GRAIN, r1 = r0 + ROW_GRAIN < c->len ? r0 + ROW_GRAIN : c->len;
        project(c->x + r0 * e, r1 - r0, e, w->in_proj_weight, b, e, c->proj + c->l->q_off + r0 * e,
                e);
        return;
    }
    int64_t s0 = (item - c->q_blocks) * ROW_GRAIN;
    int64_t s1 = s0 + ROW_GRAIN < c->src_len ? s0 + ROW_GRAIN : c->src_len;
    /* k | v: rows E..3E-1 of W */
    project(c->src + s0 * e, s1 - s0, e, w->in_proj_weight + e * e, b ? b + e : NULL, 2 * e,
            c->proj + c->l->k_off + s0 * 2 * e, 2 * e);
}

static void in_projection(void *arg, int64_t begin, int64_t end, int worker)
{
    const proj_ctx *c = arg;
    (void)worker;
    for (int64_t item = begin; item < end && !at_cancel_status(c->cancel); item++)
        in_projection_item(c, item);
}

/* Calls fn on the ROW_GRAIN-aligned blocks that make up [begin, end): every product then has
 * the same shape however the pool split the range (and with no pool at all), so the results
 * are bit-identical on any number of threads. */
static void aligned_blocks(const proj_ctx *c, int64_t begin, int64_t end,
                           void (*fn)(const proj_ctx *, int64_t, int64_t))
{
    while (begin < end) {
        int64_t next = (begin / ROW_GRAIN + 1) * ROW_GRAIN;
        if (next > end) next = end;
        fn(c, begin, next);
        begin = next;
    }
}

/* Cross-attention, rows [begin, end): context[r] = out_bias + sum over heads h of
 * heads[h, r, :] W_o[:, h*hd..(h+1)*hd]^T. */
static void out_projection_block(const proj_ctx *c, int64_t begin, int64_t end)
{
    const at_mha_weights *w = c->w;
    const int64_t e = w->embed_dim, hd = e / w->num_heads, rows = end - begin;
    for (int64_t r = begin; r < end; r++)
        if (w->out_proj_bias)
            memcpy(c->context + r * e, w->out_proj_bias, (size_t)e * sizeof(float));
        else
            memset(c->context + r * e, 0, (size_t)e * sizeof(float));
    for (int64_t h = 0; h < w->num_heads; h++)
        at_sgemm(false, true, (int)rows, (int)e, (int)hd, 1.0f,
                 c->heads + (h * c->len + begin) * hd, (int)hd, w->out_proj_weight + h * hd, (int)e,
                 1.0f, c->context + begin * e, (int)e);
}

static void out_projection(void *arg, int64_t begin, int64_t end, int worker)
{
    const proj_ctx *c = arg;
    (void)worker;
    if (!at_cancel_status(c->cancel)) aligned_blocks(c, begin, end, out_projection_block);
}

/* ---- self-attention: the projections over blocks of output columns, all rows at once ---- */

/* Columns [c0, c1) of q | k | v (0..3E) for every row of x, in pieces that stay within one of
 * the three matrices. */
static void qkv_columns(const proj_ctx *c, int64_t c0, int64_t c1)
{
    const at_mha_weights *w = c->w;
    const int64_t e = w->embed_dim, rows = c->len;
    if (w->packed_qkv) { /* c0 is a multiple of COL_GRAIN, so of PACK_NR */
        at_packed_gemm(w->packed_qkv, 3 * e, e, c->x, e, rows, c0, c1, w->packed_qkv_bias, false,
                       c->proj, 3 * e);
        return;
    }
    while (c0 < c1) {
        const int64_t m = c0 / e, end = c1 < (m + 1) * e ? c1 : (m + 1) * e, n = end - c0;
        const float *weight, *bias;
        int64_t wld;
        bool trans = true;
        if (!w->in_proj_weight) { /* BERT: rows of query, key or value [E, E] */
            weight = w->qkv_weight[m] + (c0 - m * e) * e, wld = e;
            bias = w->qkv_bias[m] ? w->qkv_bias[m] + (c0 - m * e) : NULL;
        } else if (w->conv1d) { /* GPT-2: columns of [E, 3E] */
            weight = w->in_proj_weight + c0, wld = 3 * e, trans = false;
            bias = w->in_proj_bias ? w->in_proj_bias + c0 : NULL;
        } else { /* rows of in_proj_weight [3E, E] */
            weight = w->in_proj_weight + c0 * e, wld = e;
            bias = w->in_proj_bias ? w->in_proj_bias + c0 : NULL;
        }
        float *out = c->proj + c0;
        for (int64_t r = 0; r < rows; r++)
            if (bias)
                memcpy(out + r * 3 * e, bias, (size_t)n * sizeof(float));
            else
                memset(out + r * 3 * e, 0, (size_t)n * sizeof(float));
        at_sgemm(false, trans, (int)rows, (int)n, (int)e, 1.0f, c->x, (int)e, weight, (int)wld,
                 1.0f, out, (int)(3 * e));
        c0 = end;
    }
}

/* Rows [begin, end) of the heads side by side, cat[r, h*hd..(h+1)*hd) = heads[h, r, :], so that
 * the out-projection is one product with k = E rather than H products with k = hd, each of
 * which would read and write the whole output block. */
static void concat_rows(const proj_ctx *c, int64_t begin, int64_t end)
{
    const at_mha_weights *w = c->w;
    const int64_t e = w->embed_dim, hd = e / w->num_heads;
    for (int64_t r = begin; r < end; r++)
        for (int64_t h = 0; h < w->num_heads; h++)
            memcpy(c->concat + r * e + h * hd, c->heads + (h * c->len + r) * hd,
                   (size_t)hd * sizeof(float));
}

static void concat_heads(void *arg, int64_t begin, int64_t end, int worker)
{
    const proj_ctx *c = arg;
    (void)worker;
    if (!at_cancel_status(c->cancel)) concat_rows(c, begin, end);
}

/* Columns [c0, c1) of context = out_bias + cat W_o^T, cat the heads side by side [L, E]. */
static void out_columns(const proj_ctx *c, int64_t c0, int64_t c1)
{
    const at_mha_weights *w = c->w;
    const int64_t e = w->embed_dim, rows = c->len, n = c1 - c0;
    if (w->packed_out) {
        at_packed_gemm(w->packed_out, e, e, c->concat, e, rows, c0, c1, w->out_proj_bias, false,
                       c->context, e);
        return;
    }
    for (int64_t r = 0; r < rows; r++)
        if (w->out_proj_bias)
            memcpy(c->context + r * e + c0, w->out_proj_bias + c0, (size_t)n * sizeof(float));
        else
            memset(c->context + r * e + c0, 0, (size_t)n * sizeof(float));
    if (w->conv1d) /* columns c0..c1 of W [E, E] */
        at_sgemm(false, false, (int)rows, (int)n, (int)e, 1.0f, c->concat, (int)e,
                 w->out_proj_weight + c0, (int)e, 1.0f, c->context + c0, (int)e);
    else /* rows c0..c1 of W [E, E] */
        at_sgemm(false, true, (int)rows, (int)n, (int)e, 1.0f, c->concat, (int)e,
                 w->out_proj_weight + c0 * e, (int)e, 1.0f, c->context + c0, (int)e);
}

/* Calls fn on the COL_GRAIN-aligned blocks of [begin, end) (item = block index), so the
 * products have the same shapes however the pool split them. */
static void column_blocks(const proj_ctx *c, int64_t begin, int64_t end, int64_t total,
                          void (*fn)(const proj_ctx *, int64_t, int64_t))
{
    for (int64_t b = begin; b < end; b++) {
        int64_t c1 = (b + 1) * COL_GRAIN;
        fn(c, b * COL_GRAIN, c1 < total ? c1 : total);
    }
}

static void qkv_projection(void *arg, int64_t begin, int64_t end, int worker)
{
    const proj_ctx *c = arg;
    (void)worker;
    if (!at_cancel_status(c->cancel))
        column_blocks(c, begin, end, 3 * c->w->embed_dim, qkv_columns);
}

static void out_projection_columns(void *arg, int64_t begin, int64_t end, int worker)
{
    const proj_ctx *c = arg;
    (void)worker;
    if (!at_cancel_status(c->cancel)) column_blocks(c, begin, end, c->w->embed_dim, out_columns);
}

static int64_t blocks_of(int64_t n)
{
    return (n + COL_GRAIN - 1) / COL_GRAIN;
}

static int64_t row_blocks(int64_t n)
{
    return (n + ROW_GRAIN - 1) / ROW_GRAIN;
}

/* Rank-4 view [1, H, rows, hd] of per-head contiguous data [H, rows, hd]. */
static at_tensor per_head_view(const float *base, int64_t heads, int64_t rows, int64_t hd)
{
    at_tensor t = {.dtype = AT_F32, .rank = 4, .data = (void *)base};
    t.ne[0] = 1, t.ne[1] = heads, t.ne[2] = rows, t.ne[3] = hd;
    t.nb[0] = heads * rows * hd, t.nb[1] = rows * hd, t.nb[2] = hd, t.nb[3] = 1;
    return t;
}

/* The per-head attention of `d` (queries already projected), then the out-projection. */
static int attend_and_project_out(const at_mha_weights *w, proj_ctx *c, const mha_layout *l,
                                  bool self, const at_attention_desc *d,
                                  const at_attention_desc *opts, const at_mha_out *out,
                                  void *workspace, at_pool *pool, int worker)
{
    float *heads = (float *)((char *)workspace + l->proj_bytes);
    void *attn_ws = (char *)workspace + l->proj_bytes + l->heads_bytes;
    at_attention_out ao = {.context = heads, .weights = opts->need_weights ? out->weights : NULL};
    int rc = at_attention_forward(d, &ao, attn_ws, pool, worker);
    if (rc != AT_OK) return rc;

    const int64_t e = w->embed_dim;
    c->heads = heads;
    c->context = out->context;
    if (self) {
        c->concat = c->proj; /* q | k | v [L, 3E] are no longer needed */
        at_pool_parallel_for(pool, worker, c->len, ROW_GRAIN, concat_heads, c);
        at_pool_parallel_for(pool, worker, blocks_of(e), 1, out_projection_columns, c);
    } else
        at_pool_parallel_for(pool, worker, c->len, ROW_GRAIN, out_projection, c);
    return at_cancel_status(opts->cancel);
}

int at_mha_forward(const at_mha_weights *w, const float *x, int64_t len, const float *src,
                   int64_t src_len, const at_attention_desc *opts, const at_mha_out *out,
                   void *workspace, at_pool *pool, int worker)
{
    if (!src) src_len = 0;
    mha_layout l = make_layout(w, len, src_len, false);
    float *proj = workspace;
    proj_ctx c = {.w = w,
                  .x = x,
                  .src = src,
                  .len = len,
                  .src_len = src_len,
                  .q_blocks = row_blocks(len),
                  .proj = proj,
                  .l = &l,
                  .cancel = opts->cancel};
    const int64_t e = w->embed_dim;
    if (src_len == 0)
        at_pool_parallel_for(pool, worker, blocks_of(3 * e), 1, qkv_projection, &c);
    else
        at_pool_parallel_for(pool, worker, c.q_blocks + row_blocks(src_len), 1, in_projection, &c);
    if (at_cancel_status(opts->cancel)) return at_cancel_status(opts->cancel);

    at_attention_desc d = make_desc(w, len, src_len, opts, &l, proj);
    return attend_and_project_out(w, &c, &l, src_len == 0, &d, opts, out, workspace, pool, worker);
}

/* ---- a source projected once, attended to many times ---- */

int at_mha_check_source(const at_mha_weights *w, int64_t src_len, char *err, size_t errlen)
{
    at_attention_desc soft = {.score = AT_SCORE_SCALED_DOT};
    if (src_len < 1)
        return fail(NULL, "src_len", err, errlen, AT_EINVAL,
                    "src_len: the source has %lld tokens, expected at least 1", (long long)src_len);
    return at_mha_check(w, 1, src_len, &soft, NULL, err, errlen);
}

size_t at_mha_source_workspace_size(const at_mha_weights *w, int64_t src_len)
{
    return align_up((size_t)(src_len * 2 * w->embed_dim) * sizeof(float));
}

int at_mha_project_source(const at_mha_weights *w, const float *src, int64_t src_len, float *key,
                          float *value, const at_cancel *cancel, void *workspace, at_pool *pool,
                          int worker)
{
    const int64_t e = w->embed_dim, h = w->num_heads, hd = e / h;
    /* The layout of a cross-attention's k | v, which then starts at the workspace. */
    mha_layout l = {.k_off = 0, .v_off = e, .kv_ld = 2 * e};
    float *kv = workspace;
    proj_ctx c = {.w = w,
                  .src = src,
                  .src_len = src_len,
                  .q_blocks = 0,
                  .proj = kv,
                  .l = &l,
                  .cancel = cancel};
    at_pool_parallel_for(pool, worker, row_blocks(src_len), 1, in_projection, &c);
    if (at_cancel_status(cancel)) return at_cancel_status(cancel);
    for (int64_t hh = 0; hh < h; hh++)
        for (int64_t s = 0; s < src_len; s++) {
            memcpy(key + (hh * src_len + s) * hd, kv + s * 2 * e + hh * hd,
                   (size_t)hd * sizeof(float));
            memcpy(value + (hh * src_len + s) * hd, kv + s * 2 * e + e + hh * hd,
                   (size_t)hd * sizeof(float));
        }
    return AT_OK;
}

size_t at_mha_projected_workspace_size(const at_mha_weights *w, int64_t len, int64_t src_len,
                                       const at_attention_desc *opts, int threads)
{
    const int64_t h = w->num_heads, hd = w->embed_dim / h;
    mha_layout l = make_layout(w, len, src_len, true);
    at_attention_desc d = make_desc(w, len, src_len, opts, &l, NULL);
    d.key = per_head_view(stand_in, h, src_len, hd);
    d.value = d.key;
    return l.proj_bytes + l.heads_bytes + align_up(at_attention_workspace_size(&d, threads));
}

int at_mha_forward_projected(const at_mha_weights *w, const float *x, int64_t len,
                             const at_mha_kv *kv, const at_attention_desc *opts,
                             const at_mha_out *out, void *workspace, at_pool *pool, int worker)
{
    const int64_t h = w->num_heads, hd = w->embed_dim / h;
    mha_layout l = make_layout(w, len, kv->len, true);
    float *proj = workspace;
    proj_ctx c = {.w = w,
                  .x = x,
                  .len = len,
                  .q_blocks = row_blocks(len),
                  .proj = proj,
                  .l = &l,
                  .cancel = opts->cancel};
    at_pool_parallel_for(pool, worker, c.q_blocks, 1, in_projection, &c);
    if (at_cancel_status(opts->cancel)) return at_cancel_status(opts->cancel);

    at_attention_desc d = make_desc(w, len, kv->len, opts, &l, proj);
    d.key = per_head_view(kv->key, h, kv->len, hd);
    d.value = per_head_view(kv->value, h, kv->len, hd);
    return attend_and_project_out(w, &c, &l, false, &d, opts, out, workspace, pool, worker);
}
