/* One Transformer layer: multi-head self-attention (core/mha.c) and the feed-forward sublayer,
 * with residual connections and LayerNorm after each sublayer (BERT, post-LN) or before it
 * (GPT-2, pre-LN). The norms and residuals run over fixed blocks of rows on the pool; the two
 * feed-forward products over fixed blocks of output columns with every row at once, so each
 * weight matrix is packed by OpenBLAS once per layer rather than once per block of rows. */
#include "transformer.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "layernorm.h"
#include "packed.h"
#include "status.h"

#define WS_ALIGN  64
#define ROW_GRAIN 32  /* rows per chunk of the row-local steps (LayerNorm, residuals) */
#define COL_GRAIN 384 /* output columns per chunk of the feed-forward products (see mha.c) */
_Static_assert(COL_GRAIN % PACK_NR == 0, "column blocks start on panels of packed weights");

static size_t align_up(size_t n)
{
    return (n + WS_ALIGN - 1) / WS_ALIGN * WS_ALIGN;
}

/* The per-head attention the layer runs: scaled dot product (1/sqrt(head_dim), unless the
 * config turns scaling off or divides by the layer number too), causal for GPT-2. */
static at_attention_desc layer_desc(const at_transformer *t, int64_t index, bool need_weights)
{
    at_attention_desc d = {.score = AT_SCORE_SCALED_DOT, .causal = t->causal};
    d.need_weights = need_weights;
    if (!t->scale_attn || t->scale_inverse) {
        double s = t->scale_attn ? 1.0 / sqrt((double)(t->embed_dim / t->num_heads)) : 1.0;
        if (t->scale_inverse) s /= (double)(index + 1);
        d.has_scale = true;
        d.scale = (float)s;
    }
    return d;
}

/* Scratch: the attention's output [L, E], the normed input (pre-LN) [L, E], the feed-forward
 * activations [L, I], then at_mha_forward's own workspace. */
typedef struct layer_layout {
    size_t attn_out, normed, inner, mha;
} layer_layout;

static layer_layout make_layout(const at_transformer *t, int64_t len, bool need_weights,
                                int threads)
{
    layer_layout l;
    l.attn_out = align_up((size_t)(len * t->embed_dim) * sizeof(float));
    l.normed = l.attn_out;
    l.inner = align_up((size_t)(len * t->inner_dim) * sizeof(float));
    at_attention_desc d = layer_desc(t, 0, need_weights);
    l.mha = align_up(at_mha_workspace_size(&t->layers[0].attn, len, 0, &d, threads));
    return l;
}

size_t at_tf_layer_workspace_size(const at_transformer *t, int64_t len, bool need_weights,
                                  int threads)
{
    layer_layout l = make_layout(t, len, need_weights, threads);
    return l.attn_out + l.normed + l.inner + l.mha;
}

typedef struct layer_ctx {
    const at_transformer *t;
    const at_tf_layer *w;
    int64_t len;
    float *x, *attn_out, *normed, *inner;
} layer_ctx;

/* Columns [c0, c1) of out [L, n] (+)= in [L, k] W + b for a dense layer of the model's
 * layout: W [n, k] Linear (rows c0..c1) or [k, n] Conv1D (columns c0..c1). Every row at once,
 * so each worker packs its slice of the weights once. With `accumulate`, adds to out. */
static void dense_columns(const layer_ctx *c, const float *in, int64_t k, const float *w,
                          const float *packed, const float *b, int64_t n, float *out,
                          bool accumulate, int64_t c0, int64_t c1)
{
    const int64_t rows = c->len, m = c1 - c0;
    if (packed) { /* c0 is a multiple of COL_GRAIN, so of PACK_NR */
        at_packed_gemm(packed, n, k, in, k, rows, c0, c1, b, accumulate, out, n);
        return;
    }
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + r * n + c0;
        if (accumulate)
            for (int64_t i = 0; i < m; i++)
                o[i] += b[c0 + i];
        else
            memcpy(o, b + c0, (size_t)m * sizeof(float));
    }
    const bool conv = c->t->conv1d;
    at_sgemm(false, !conv, (int)rows, (int)m, (int)k, 1.0f, in, (int)k, conv ? w + c0 : w + c0 * k,
             conv ? (int)n : (int)k, 1.0f, out + c0, (int)n);
}

/* The normed input of the feed-forward sublayer, rows [begin, end): GPT-2 x += attn, h =
 * ln_2(x); BERT x = LN1(attn + x), which is both the feed-forward's input and the residual its
 * output adds to. */
static void ffn_in_block(const layer_ctx *c, int64_t begin, int64_t end)
{
    const at_transformer *t = c->t;
    const at_tf_layer *w = c->w;
    const int64_t e = t->embed_dim, rows = end - begin;
    float *x = c->x + begin * e, *a = c->attn_out + begin * e;
    if (t->arch == AT_TF_GPT2) {
        for (int64_t i = 0; i < rows * e; i++)
            x[i] += a[i];
        at_layernorm(x, rows, e, w->ln2_w, w->ln2_b, t->eps, c->normed + begin * e);
        return;
    }
    for (int64_t i = 0; i < rows * e; i++)
        a[i] += x[i];
    at_layernorm(a, rows, e, w->ln1_w, w->ln1_b, t->eps, x);
}

/* BERT's output.LayerNorm, rows [begin, end). */
static void ffn_out_block(const layer_ctx *c, int64_t begin, int64_t end)
{
    const int64_t e = c->t->embed_dim;
    at_layernorm(c->x + begin * e, end - begin, e, c->w->ln2_w, c->w->ln2_b, c->t->eps,
                 c->x + begin * e);
}

/* Column blocks of the two feed-forward products: act(h W1 + b1) into inner, x += inner W2 +
 * b2. */
static void up_block(const layer_ctx *c, int64_t c0, int64_t c1)
{
    const at_transformer *t = c->t;
    const int64_t in = t->inner_dim;
    const float *h = t->arch == AT_TF_BERT ? c->x : c->normed;
    dense_columns(c, h, t->embed_dim, c->w->ffn_in_w, c->w->ffn_in_packed, c->w->ffn_in_b, in,
                  c->inner, false, c0, c1);
    for (int64_t r = 0; r < c->len; r++)
        at_activation_apply(t->act, c->inner + r * in + c0, c1 - c0);
}

static void down_block(const layer_ctx *c, int64_t c0, int64_t c1)
{
    const at_transformer *t = c->t;
    dense_columns(c, c->inner, t->inner_dim, c->w->ffn_out_w, c->w->ffn_out_packed, c->w->ffn_out_b,
                  t->embed_dim, c->x, true, c0, c1);
}

/* GPT-2's ln_1 before the attention. */
static void pre_norm_block(const layer_ctx *c, int64_t begin, int64_t end)
{
    const int64_t e = c->t->embed_dim;
    at_layernorm(c->x + begin * e, end - begin, e, c->w->ln1_w, c->w->ln1_b, c->t->eps,
                 c->normed + begin * e);
}

/* Calls fn on the ROW_GRAIN-aligned blocks of [begin, end) (or, for column steps, the
 * COL_GRAIN-aligned column blocks of items [begin, end)), so every product has the same shape
 * however the pool split the range: bit-identical results on any number of threads. */
static void aligned(const layer_ctx *c, int64_t begin, int64_t end,
                    void (*fn)(const layer_ctx *, int64_t, int64_t))
{
    while (begin < end) {
        int64_t next = (begin / ROW_GRAIN + 1) * ROW_GRAIN;
        if (next > end) next = end;
        fn(c, begin, next);
        begin = next;
    }
}

static void columns(const layer_ctx *c, int64_t begin, int64_t end, int64_t total,
                    void (*fn)(const layer_ctx *, int64_t, int64_t))
{
    for (int64_t b = begin; b < end; b++)
        fn(c, b * COL_GRAIN, (b + 1) * COL_GRAIN < total ? (b + 1) * COL_GRAIN : total);
}

static void run_ffn_in(void *arg, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    aligned(arg, begin, end, ffn_in_block);
}

static void run_ffn_out(void *arg, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    aligned(arg, begin, end, ffn_out_block);
}

static void run_up(void *arg, int64_t begin, int64_t end, int worker)
{
    const layer_ctx *c = arg;
    (void)worker;
    columns(c, begin, end, c->t->inner_dim, up_block);
}

static void run_down(void *arg, int64_t begin, int64_t end, int worker)
{
    const layer_ctx *c = arg;
    (void)worker;
    columns(c, begin, end, c->t->embed_dim, down_block);
}

static void run_pre_norm(void *arg, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    aligned(arg, begin, end, pre_norm_block);
}

static int64_t col_blocks(int64_t n)
{
    return (n + COL_GRAIN - 1) / COL_GRAIN;
}

int at_tf_layer_forward(const at_transformer *t, int64_t index, float *x, int64_t len,
                        float *weights, void *workspace, at_pool *pool, int worker)
{
    layer_layout l = make_layout(t, len, weights != NULL, at_pool_threads(pool));
    char *ws = workspace;
    layer_ctx c = {.t = t, .w = &t->layers[index], .x = x, .len = len};
    c.attn_out = (float *)ws;
    c.normed = (float *)(ws + l.attn_out);
    c.inner = (float *)(ws + l.attn_out + l.normed);
    void *mha_ws = ws + l.attn_out + l.normed + l.inner;

    const float *attn_in = x;
    if (t->arch == AT_TF_GPT2) {
        at_pool_parallel_for(pool, worker, len, ROW_GRAIN, run_pre_norm, &c);
        attn_in = c.normed;
    }
    at_attention_desc d = layer_desc(t, index, weights != NULL);
    at_mha_out out = {.context = c.attn_out, .weights = weights};
    int rc = at_mha_forward(&c.w->attn, attn_in, len, NULL, 0, &d, &out, mha_ws, pool, worker);
    if (rc != AT_OK) return rc;
    at_pool_parallel_for(pool, worker, len, ROW_GRAIN, run_ffn_in, &c);
    at_pool_parallel_for(pool, worker, col_blocks(t->inner_dim), 1, run_up, &c);
    at_pool_parallel_for(pool, worker, col_blocks(t->embed_dim), 1, run_down, &c);
    if (t->arch == AT_TF_BERT) at_pool_parallel_for(pool, worker, len, ROW_GRAIN, run_ffn_out, &c);
    return AT_OK;
}
