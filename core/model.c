/* The model's steps around the attention: token ids (vocabulary or hashing, with optional
 * lower-casing), length and id checks, embeddings plus positions, and the built-in default
 * model's deterministic weights. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "embed.h"
#include "rng.h"
#include "status.h"

#define DEFAULT_HEAD_DIM (AT_DEFAULT_EMBED_DIM / AT_DEFAULT_NUM_HEADS)
#define DEFAULT_DA       DEFAULT_HEAD_DIM
/* Rows per chunk of a pool's embedding: a hashing row of E = 64 takes about 0.4 us. */
#define EMBED_GRAIN 32

enum {
    N_IN = 3 * AT_DEFAULT_EMBED_DIM * AT_DEFAULT_EMBED_DIM,
    N_OUT = AT_DEFAULT_EMBED_DIM * AT_DEFAULT_EMBED_DIM,
    N_ADD_W = DEFAULT_DA * 2 * DEFAULT_HEAD_DIM,
    N_ADD_V = DEFAULT_DA,
};

size_t at_model_default_floats(void)
{
    return N_IN + N_OUT + N_ADD_W + N_ADD_V;
}

/* n values uniform in (-bound, bound), a pure function of (tag, index). */
static void fill_uniform(float *out, size_t n, uint64_t tag, double bound)
{
    uint64_t stream = at_rng_mix(AT_DEFAULT_SEED ^ tag);
    for (size_t i = 0; i < n; i++) {
        uint64_t bits = at_rng_mix(stream + (uint64_t)(i + 1) * AT_RNG_GOLDEN);
        double u = ((double)(bits >> 40) + 0.5) * 0x1p-24;
        out[i] = (float)(bound * (2.0 * u - 1.0));
    }
}

void at_model_init_default(at_model *m, float *storage)
{
    const double e = AT_DEFAULT_EMBED_DIM;
    float *in = storage, *out = in + N_IN, *add_w = out + N_OUT, *add_v = add_w + N_ADD_W;
    fill_uniform(in, N_IN, 1, sqrt(6.0 / (e + 3 * e)));
    fill_uniform(out, N_OUT, 2, 1.0 / sqrt(e));
    fill_uniform(add_w, N_ADD_W, 3, sqrt(6.0 / (DEFAULT_DA + 2 * DEFAULT_HEAD_DIM)));
    fill_uniform(add_v, N_ADD_V, 4, 1.0 / sqrt((double)DEFAULT_DA));
    *m = (at_model){
        .mha =
            {
                .embed_dim = AT_DEFAULT_EMBED_DIM,
                .num_heads = AT_DEFAULT_NUM_HEADS,
                .in_proj_weight = in,
                .out_proj_weight = out,
            },
        .unk_id = -1,
        .hash_seed = AT_DEFAULT_SEED,
        .positional = AT_POSITIONAL_SINUSOIDAL,
    };
    m->additive.weight =
        at_tensor_make(AT_F32, 2, (int64_t[]){DEFAULT_DA, 2 * DEFAULT_HEAD_DIM}, add_w);
    m->additive.v = add_v;
    m->mha.additive = &m->additive;
}

int at_model_check_len(const at_model *m, int64_t n, const char *what, char *err, size_t errlen)
{
    if (n < 1) {
        snprintf(err, errlen, "%s: no tokens", what);
        return AT_EINVAL;
    }
    if (m->max_len > 0 && n > m->max_len) {
        snprintf(err, errlen, "%s: %lld tokens, but this model accepts at most %lld", what,
                 (long long)n, (long long)m->max_len);
        return AT_ELIMIT;
    }
    return AT_OK;
}

int at_model_token_ids(const at_model *m, const at_token *tokens, size_t n, uint64_t *ids,
                       size_t *unknown, char *err, size_t errlen)
{
    /* Lower-casing keeps lengths, so one buffer as long as the longest token that can matter
     * serves every token (a token longer than every vocabulary entry is unknown anyway). */
    size_t cap = 0, unk = 0;
    char *folded = NULL;
    if (m->lowercase) {
        size_t limit = m->vocab ? at_vocab_max_token_len(m->vocab) : SIZE_MAX;
        for (size_t i = 0; i < n; i++)
            if (tokens[i].len > cap) cap = tokens[i].len < limit ? tokens[i].len : limit;
        if (cap && !(folded = malloc(cap))) {
            snprintf(err, errlen, "out of memory lower-casing a token of %zu bytes", cap);
            return AT_ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = tokens[i].ptr;
        size_t len = tokens[i].len;
        if (folded && len <= cap) {
            at_utf8_lower(s, len, folded);
            s = folded;
        }
        if (!m->vocab) {
            ids[i] = at_fnv1a64(s, len);
            continue;
        }
        int64_t id = len <= cap || !folded ? at_vocab_find(m->vocab, s, len) : -1;
        if (id < 0) {
            id = m->unk_id;
            unk++;
        }
        ids[i] = (uint64_t)id;
    }
    free(folded);
    if (unknown) *unknown = unk;
    return AT_OK;
}

int at_model_check_ids(const at_model *m, const uint64_t *ids, size_t n, size_t *bad_index,
                       char *err, size_t errlen)
{
    if (!m->embedding) return AT_OK;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= (uint64_t)m->vocab_size) {
            if (bad_index) *bad_index = i;
            snprintf(err, errlen, "ids[%zu]: %llu is not a token id of this model (0..%lld)", i,
                     (unsigned long long)ids[i], (long long)m->vocab_size - 1);
            return AT_ERANGE;
        }
    return AT_OK;
}

void at_model_embed_rows(const at_model *m, const uint64_t *ids, int64_t p0, int64_t p1, float *x)
{
    const int64_t e = m->mha.embed_dim;
    float *rows = x + p0 * e;
    if (m->embedding)
        at_embed_table(m->embedding, e, ids + p0, p1 - p0, rows);
    else
        for (int64_t i = p0; i < p1; i++)
            at_embed_hashed(m->hash_seed, ids[i], e, x + i * e);
    if (m->positional != AT_POSITIONAL_SINUSOIDAL) return;
    if (m->positions)
        at_positions_add(m->positions, rows, p0, p1);
    else
        at_positional_add_rows(rows, p0, p1, e);
}

void at_model_embed(const at_model *m, const uint64_t *ids, int64_t n, float *x)
{
    at_model_embed_rows(m, ids, 0, n, x);
}

typedef struct embed_ctx {
    const at_model *m;
    const uint64_t *ids;
    float *x;
} embed_ctx;

static void embed_range(void *arg, int64_t begin, int64_t end, int worker)
{
    const embed_ctx *c = arg;
    (void)worker;
    at_model_embed_rows(c->m, c->ids, begin, end, c->x);
}

void at_model_embed_pool(const at_model *m, const uint64_t *ids, int64_t n, float *x, at_pool *pool,
                         int worker)
{
    embed_ctx c = {m, ids, x};
    at_pool_parallel_for(pool, worker, n, EMBED_GRAIN, embed_range, &c);
}