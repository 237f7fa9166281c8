/* A model's sinusoidal position table, grown on demand and read without locks: readers load
 * the current table with acquire; a grower fills a bigger copy under a mutex and publishes it
 * with release, keeping the old ones (at most half the size each) until the table is freed. */
#include "positions.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"

typedef struct pos_table {
    int64_t rows;
    struct pos_table *older; /* the table this one replaced */
    double v[];              /* [rows, dim] */
} pos_table;

struct at_positions {
    int64_t dim, cap_rows;
    pthread_mutex_t lock; /* held by a grower */
    _Atomic(pos_table *) cur;
    atomic_size_t bytes;
};

at_positions *at_positions_new(int64_t dim, int64_t max_rows)
{
    if (dim < 1) return NULL;
    at_positions *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    int64_t cap = (int64_t)(AT_POSITIONS_MAX_BYTES / ((size_t)dim * sizeof(double)));
    p->dim = dim;
    p->cap_rows = max_rows > 0 && max_rows < cap ? max_rows : cap;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    atomic_init(&p->cur, NULL);
    atomic_init(&p->bytes, 0);
    return p;
}

void at_positions_free(at_positions *p)
{
    if (!p) return;
    pos_table *t = atomic_load_explicit(&p->cur, memory_order_relaxed);
    while (t) {
        pos_table *older = t->older;
        free(t);
        t = older;
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

size_t at_positions_bytes(const at_positions *p)
{
    return p ? atomic_load_explicit(&((at_positions *)p)->bytes, memory_order_relaxed) : 0;
}

/* A table of at least `want` rows (<= cap_rows), or the current one if memory runs out. */
static pos_table *grow(at_positions *p, int64_t want)
{
    pthread_mutex_lock(&p->lock);
    pos_table *t = atomic_load_explicit(&p->cur, memory_order_relaxed);
    if (!t || t->rows < want) {
        /* At least doubling, and straight to the cap past half of it: the tables replaced
         * then sum to less than the cap. */
        int64_t rows = t && 2 * t->rows > want ? 2 * t->rows : want;
        if (rows > p->cap_rows / 2) rows = p->cap_rows;
        size_t size = sizeof(pos_table) + (size_t)(rows * p->dim) * sizeof(double);
        pos_table *n = malloc(size);
        if (n) {
            n->rows = rows;
            n->older = t;
            int64_t have = t ? t->rows : 0;
            if (have) memcpy(n->v, t->v, (size_t)(have * p->dim) * sizeof(double));
            at_positional_values(n->v + have * p->dim, have, rows, p->dim);
            atomic_fetch_add_explicit(&p->bytes, size, memory_order_relaxed);
            atomic_store_explicit(&p->cur, n, memory_order_release);
            t = n;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return t;
}

void at_positions_add(at_positions *p, float *x, int64_t p0, int64_t p1)
{
    const int64_t dim = p->dim, want = p1 < p->cap_rows ? p1 : p->cap_rows;
    pos_table *t = atomic_load_explicit(&p->cur, memory_order_acquire);
    if (!t || t->rows < want) t = grow(p, want);
    int64_t end = t ? (t->rows < p1 ? t->rows : p1) : 0; /* the table covers p0..end-1 */
    if (end < p0) end = p0;
    const double *v = end > p0 ? t->v + p0 * dim : NULL;
    for (int64_t i = 0; i < (end - p0) * dim; i++)
        x[i] = (float)((double)x[i] + v[i]);
    if (end < p1) at_positional_add_rows(x + (end - p0) * dim, end, p1, dim);
}
