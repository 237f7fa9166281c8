/* The worker pool: N threads, a bounded FIFO of jobs, and parallel-for "regions" that a running
 * job opens so that idle workers help it. One mutex guards the queue and the list of open
 * regions; chunks of a region are handed out with an atomic counter, so taking work is cheap.
 *
 * Fairness: a queued job never waits for a running one to finish. Between two chunks, a worker
 * that helps a region leaves it when a job is queued and takes the job; when every worker is
 * running a job of its own (nobody helps, nobody idles), the owner of a region runs one queued
 * job inline, between two of its own chunks, and then goes on. So a tiny request waits at most
 * about one chunk (one item of a big request) however big the running requests are. */
#include "pool.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "blas.h"
#include "status.h"

typedef struct pool_job {
    at_job_fn fn;
    void *arg;
} pool_job;

/* One at_pool_parallel_for call. Lives on its caller's stack; it stays reachable from the pool
 * only while it is in the open list, and the caller waits for every helper to leave before
 * returning. */
typedef struct pool_region {
    at_range_fn fn;
    void *ctx;
    int64_t n, grain, nchunks;
    atomic_int_fast64_t next_chunk; /* the next chunk anyone may take */
    int helpers;                    /* workers inside the region (pool mutex) */
    pthread_cond_t helpers_left;    /* signalled when helpers drops to 0 */
    struct pool_region *prev, *next;
} pool_region;

typedef struct pool_worker {
    at_pool *pool;
    int index;
    int depth; /* jobs on this worker's stack: 0 idle or helping, 2 when one runs inline */
    pthread_t thread;
} pool_worker;

struct at_pool {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* a job was queued, a region opened, or shutdown began */
    pool_job *queue;     /* ring buffer of `capacity` jobs */
    int capacity, head, queued;
    int running;
    bool stopping;
    pool_region *regions; /* open regions, oldest first */
    int threads, started;
    pool_worker *workers;
    /* Read between chunks without the mutex (written under it): jobs waiting, and workers
     * with no job of their own (idle or helping), who will take a queued job themselves. */
    atomic_int queued_hint;
    atomic_int spare;
};

/* Takes the oldest queued job and runs it on `self`. Caller holds the mutex, which is released
 * while the job runs and held again on return. */
static void run_queued_job(at_pool *pool, pool_worker *self)
{
    pool_job job = pool->queue[pool->head];
    pool->head = (pool->head + 1) % pool->capacity;
    pool->queued--;
    pool->running++;
    atomic_store_explicit(&pool->queued_hint, pool->queued, memory_order_relaxed);
    if (self->depth++ == 0) atomic_fetch_sub_explicit(&pool->spare, 1, memory_order_relaxed);
    pthread_mutex_unlock(&pool->mu);
    job.fn(job.arg, self->index);
    pthread_mutex_lock(&pool->mu);
    if (--self->depth == 0) atomic_fetch_add_explicit(&pool->spare, 1, memory_order_relaxed);
    pool->running--;
}

/* Between two chunks: true when a job waits that this worker should take now. A helper
 * (owner false) leaves the region for it; an owner takes it inline only when no worker is
 * spare and it has not done so already (one job inline at most, so stacks stay shallow). */
static bool job_waits(at_pool *pool, pool_worker *self, bool owner)
{
    if (atomic_load_explicit(&pool->queued_hint, memory_order_relaxed) == 0) return false;
    if (!owner) return true;
    return self->depth < 2 && atomic_load_explicit(&pool->spare, memory_order_relaxed) == 0;
}

/* Runs chunks of `r` until none is left to take or, for a helper, until a job is queued. */
static void run_chunks(at_pool *pool, pool_region *r, pool_worker *self, bool owner)
{
    for (;;) {
        int64_t c = atomic_fetch_add(&r->next_chunk, 1);
        if (c >= r->nchunks) return;
        int64_t begin = c * r->grain;
        int64_t end = r->n - begin < r->grain ? r->n : begin + r->grain;
        r->fn(r->ctx, begin, end, self->index);
        if (!job_waits(pool, self, owner)) continue;
        if (!owner) return;
        pthread_mutex_lock(&pool->mu);
        if (pool->queued > 0) run_queued_job(pool, self);
        pthread_mutex_unlock(&pool->mu);
    }
}

/* An open region with chunks left to take, or NULL. Caller holds the mutex. */
static pool_region *region_with_work(at_pool *pool)
{
    for (pool_region *r = pool->regions; r; r = r->next)
        if (atomic_load(&r->next_chunk) < r->nchunks) return r;
    return NULL;
}

static void *worker_main(void *arg)
{
    pool_worker *self = arg;
    at_pool *pool = self->pool;

    pthread_mutex_lock(&pool->mu);
    for (;;) {
        /* A waiting job first: it starts now instead of after the running ones, which go on
         * on their own workers. Then help a running request. */
        if (pool->queued > 0) {
            run_queued_job(pool, self);
            continue;
        }
        pool_region *r = region_with_work(pool);
        if (r) {
            r->helpers++;
            pthread_mutex_unlock(&pool->mu);
            run_chunks(pool, r, self, false);
            pthread_mutex_lock(&pool->mu);
            if (--r->helpers == 0) pthread_cond_signal(&r->helpers_left);
            continue;
        }
        if (pool->stopping) break;
        pthread_cond_wait(&pool->wake, &pool->mu);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

/* Asks the workers to finish the queue, then joins the ones started. */
static void stop_and_join(at_pool *pool)
{
    pthread_mutex_lock(&pool->mu);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->started; i++)
        pthread_join(pool->workers[i].thread, NULL);
}

at_pool *at_pool_new(int threads, int queue_depth)
{
    at_pool *pool = NULL;
    bool mu_ok = false, wake_ok = false;
    int err = EINVAL;

    if (threads < 1 || queue_depth < 1) goto fail;
    at_blas_init();

    err = ENOMEM;
    pool = calloc(1, sizeof *pool);
    if (!pool) goto fail;
    pool->threads = threads;
    pool->capacity = queue_depth;
    atomic_init(&pool->queued_hint, 0);
    atomic_init(&pool->spare, threads);
    pool->queue = calloc((size_t)queue_depth, sizeof *pool->queue);
    pool->workers = calloc((size_t)threads, sizeof *pool->workers);
    if (!pool->queue || !pool->workers) goto fail;
    if ((err = pthread_mutex_init(&pool->mu, NULL))) goto fail;
    mu_ok = true;
    if ((err = pthread_cond_init(&pool->wake, NULL))) goto fail;
    wake_ok = true;

    /* Workers inherit a mask blocking every signal, so that signals go to the thread the
     * server dedicates to them; setting it in the new thread instead would leave a window. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < threads; i++) {
        pool->workers[i] = (pool_worker){.pool = pool, .index = i};
        err = pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i]);
        if (err) break;
        pool->started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) goto fail;
    return pool;

fail:
    if (pool) {
        if (pool->started) stop_and_join(pool);
        if (wake_ok) pthread_cond_destroy(&pool->wake);
        if (mu_ok) pthread_mutex_destroy(&pool->mu);
        free(pool->queue);
        free(pool->workers);
        free(pool);
    }
    errno = err;
    return NULL;
}

void at_pool_free(at_pool *pool)
{
    if (!pool) return;
    stop_and_join(pool);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mu);
    free(pool->queue);
    free(pool->workers);
    free(pool);
}

int at_pool_submit(at_pool *pool, at_job_fn fn, void *arg)
{
    int rc = AT_OK;
    pthread_mutex_lock(&pool->mu);
    if (pool->stopping) {
        rc = AT_ESHUTDOWN;
    } else if (pool->queued == pool->capacity) {
        rc = AT_EBUSY;
    } else {
        int tail = (pool->head + pool->queued) % pool->capacity;
        pool->queue[tail] = (pool_job){.fn = fn, .arg = arg};
        pool->queued++;
        atomic_store_explicit(&pool->queued_hint, pool->queued, memory_order_relaxed);
        pthread_cond_signal(&pool->wake);
    }
    pthread_mutex_unlock(&pool->mu);
    return rc;
}

void at_pool_parallel_for(at_pool *pool, int worker, int64_t n, int64_t grain, at_range_fn fn,
                          void *ctx)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int64_t nchunks = (n - 1) / grain + 1;
    if (!pool || pool->threads == 1 || nchunks == 1) {
        fn(ctx, 0, n, worker);
        return;
    }
    assert(worker >= 0 && worker < pool->threads);

    pool_region r = {.fn = fn, .ctx = ctx, .n = n, .grain = grain, .nchunks = nchunks};
    atomic_init(&r.next_chunk, 0);
    pthread_cond_init(&r.helpers_left, NULL);

    /* Appended, so that helpers serve the oldest request first. The list stays short: each
     * open region has its caller blocked in here (a nested call adds one per level). */
    pthread_mutex_lock(&pool->mu);
    pool_region **link = &pool->regions;
    while (*link) {
        r.prev = *link;
        link = &(*link)->next;
    }
    *link = &r;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);

    /* The caller works too, and runs every chunk nobody else took: a busy pool only means
     * this region runs on one thread, never that it waits. */
    run_chunks(pool, &r, &pool->workers[worker], true);

    pthread_mutex_lock(&pool->mu);
    if (r.prev)
        r.prev->next = r.next;
    else
        pool->regions = r.next;
    if (r.next) r.next->prev = r.prev;
    /* Unlisted, so nobody new can join; the helpers inside are finishing their last chunks. */
    while (r.helpers > 0)
        pthread_cond_wait(&r.helpers_left, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
    pthread_cond_destroy(&r.helpers_left);
}

int at_pool_threads(const at_pool *pool)
{
    return pool ? pool->threads : 1;
}

int at_pool_queued(at_pool *pool)
{
    pthread_mutex_lock(&pool->mu);
    int n = pool->queued;
    pthread_mutex_unlock(&pool->mu);
    return n;
}

int at_pool_running(at_pool *pool)
{
    pthread_mutex_lock(&pool->mu);
    int n = pool->running;
    pthread_mutex_unlock(&pool->mu);
    return n;
}

int at_pool_capacity(const at_pool *pool)
{
    return pool->capacity;
}
