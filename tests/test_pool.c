/* Tests of core/pool.c: jobs run, the queue bound (EBUSY), shutdown (ESHUTDOWN, queued jobs
 * drained), and parallel_for coverage, helping, nesting and progress when every other worker is
 * busy. Workers are held with gates rather than sleeps, so that outcomes never depend on timing. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "../core/pool.h"
#include "../core/status.h"
#include "harness.h"

/* A gate jobs wait at until the test opens it, counting who has arrived. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived;
    bool open;
} gate;

static void gate_init(gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->arrived = 0;
    g->open = false;
}

static void gate_destroy(gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_pass(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->arrived++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait_arrived(gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    while (g->arrived < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* A counter that a test can wait on. */
typedef struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
} counter;

static void counter_init(counter *c)
{
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->n = 0;
}

static void counter_destroy(counter *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

static void counter_add(counter *c)
{
    pthread_mutex_lock(&c->mu);
    c->n++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void counter_wait(counter *c, int n)
{
    pthread_mutex_lock(&c->mu);
    while (c->n < n)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

static void count_job(void *arg, int worker)
{
    (void)worker;
    counter_add(arg);
}

static void gate_job(void *arg, int worker)
{
    (void)worker;
    gate_pass(arg);
}

TEST(pool_new_invalid_and_accessors)
{
    errno = 0;
    ASSERT(at_pool_new(0, 4) == NULL);
    ASSERT_EQ(errno, EINVAL);
    ASSERT(at_pool_new(2, 0) == NULL);
    ASSERT_EQ(at_pool_threads(NULL), 1);
    at_pool_free(NULL);

    at_pool *pool = at_pool_new(3, 5);
    ASSERT(pool != NULL);
    ASSERT_EQ(at_pool_threads(pool), 3);
    ASSERT_EQ(at_pool_capacity(pool), 5);
    ASSERT_EQ(at_pool_queued(pool), 0);
    ASSERT_EQ(at_pool_running(pool), 0);
    at_pool_free(pool);
}

TEST(pool_submit_runs_every_job)
{
    at_pool *pool = at_pool_new(3, 64);
    ASSERT(pool != NULL);
    counter done;
    counter_init(&done);
    for (int i = 0; i < 1000; i++) {
        int rc;
        while ((rc = at_pool_submit(pool, count_job, &done)) == AT_EBUSY)
            sched_yield();
        ASSERT_EQ(rc, AT_OK);
    }
    counter_wait(&done, 1000);
    at_pool_free(pool);
    ASSERT_EQ(done.n, 1000);
    counter_destroy(&done);
}

TEST(pool_ebusy_when_queue_full)
{
    at_pool *pool = at_pool_new(2, 3);
    ASSERT(pool != NULL);
    gate g;
    gate_init(&g);
    counter done;
    counter_init(&done);

    /* Hold both workers, then fill the queue: jobs that are running do not count. */
    ASSERT_EQ(at_pool_submit(pool, gate_job, &g), AT_OK);
    ASSERT_EQ(at_pool_submit(pool, gate_job, &g), AT_OK);
    gate_wait_arrived(&g, 2);
    ASSERT_EQ(at_pool_running(pool), 2);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(at_pool_submit(pool, count_job, &done), AT_OK);
    ASSERT_EQ(at_pool_queued(pool), 3);
    ASSERT_EQ(at_pool_submit(pool, count_job, &done), AT_EBUSY);
    ASSERT_EQ(at_pool_submit(pool, count_job, &done), AT_EBUSY);
    ASSERT_EQ(at_pool_queued(pool), 3);

    gate_open(&g);
    counter_wait(&done, 3);
    at_pool_free(pool);
    ASSERT_EQ(done.n, 3);
    gate_destroy(&g);
    counter_destroy(&done);
}

/* One worker runs a job that keeps queueing work until the pool refuses with ESHUTDOWN; the
 * jobs it queued wait behind it and must all still run before at_pool_free returns. */
typedef struct shutdown_probe {
    at_pool *pool;
    counter ran;
    gate started;
    int accepted;
    int final_rc;
} shutdown_probe;

static void shutdown_probe_job(void *arg, int worker)
{
    shutdown_probe *p = arg;
    (void)worker;
    /* One job is queued before the test may start freeing the pool, so at least one is
     * accepted whatever the scheduling. */
    if (at_pool_submit(p->pool, count_job, &p->ran) == AT_OK) p->accepted++;
    gate_pass(&p->started);
    for (;;) {
        int rc = at_pool_submit(p->pool, count_job, &p->ran);
        if (rc == AT_OK) p->accepted++;
        if (rc == AT_ESHUTDOWN) {
            p->final_rc = rc;
            return;
        }
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
}

static void *free_pool_thread(void *arg)
{
    at_pool_free(arg);
    return NULL;
}

TEST(pool_shutdown_refuses_new_jobs_and_drains_queue)
{
    shutdown_probe p = {.pool = at_pool_new(1, 4)};
    ASSERT(p.pool != NULL);
    counter_init(&p.ran);
    gate_init(&p.started);
    gate_open(&p.started);
    ASSERT_EQ(at_pool_submit(p.pool, shutdown_probe_job, &p), AT_OK);
    gate_wait_arrived(&p.started, 1);

    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, free_pool_thread, p.pool), 0);
    pthread_join(t, NULL);
    ASSERT_EQ(p.final_rc, AT_ESHUTDOWN);
    ASSERT(p.accepted >= 1 && p.accepted <= 4);
    ASSERT_EQ(p.ran.n, p.accepted);
    counter_destroy(&p.ran);
    gate_destroy(&p.started);
}

/* ---- parallel_for ---- */

typedef struct cover {
    atomic_int *hits;
    int64_t n, grain;
    int threads;
    atomic_int bad; /* chunks that broke the contract */
    pthread_mutex_t mu;
    bool claimed[16];
    pthread_t owner[16]; /* the thread first seen with each worker index */
} cover;

/* A worker index is in range and always belongs to the same thread. */
static void note_worker(cover *c, int worker)
{
    if (worker < 0 || worker >= c->threads) {
        atomic_fetch_add(&c->bad, 1);
        return;
    }
    pthread_mutex_lock(&c->mu);
    if (!c->claimed[worker]) {
        c->claimed[worker] = true;
        c->owner[worker] = pthread_self();
    } else if (!pthread_equal(c->owner[worker], pthread_self())) {
        atomic_fetch_add(&c->bad, 1);
    }
    pthread_mutex_unlock(&c->mu);
}

static void cover_range(void *ctx, int64_t begin, int64_t end, int worker)
{
    cover *c = ctx;
    note_worker(c, worker);
    if (begin < 0 || end > c->n || begin >= end || end - begin > c->grain)
        atomic_fetch_add(&c->bad, 1);
    for (int64_t i = begin; i < end; i++)
        atomic_fetch_add(&c->hits[i], 1);
}

typedef struct cover_job {
    at_pool *pool;
    cover *c;
    counter *done;
} cover_job;

static void cover_job_run(void *arg, int worker)
{
    cover_job *j = arg;
    at_pool_parallel_for(j->pool, worker, j->c->n, j->c->grain, cover_range, j->c);
    counter_add(j->done);
}

static cover *cover_new(int64_t n, int64_t grain, int threads)
{
    cover *c = calloc(1, sizeof *c);
    ASSERT(c != NULL);
    c->hits = calloc((size_t)n, sizeof *c->hits);
    ASSERT(c->hits != NULL);
    c->n = n;
    c->grain = grain;
    c->threads = threads;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void cover_check_and_free(cover *c)
{
    ASSERT_EQ(atomic_load(&c->bad), 0);
    for (int64_t i = 0; i < c->n; i++)
        if (atomic_load(&c->hits[i]) != 1)
            harness_fail(__FILE__, __LINE__, "n=%lld grain=%lld: index %lld hit %d times",
                         (long long)c->n, (long long)c->grain, (long long)i,
                         atomic_load(&c->hits[i]));
    pthread_mutex_destroy(&c->mu);
    free(c->hits);
    free(c);
}

TEST(pool_parallel_for_covers_each_index_once)
{
    at_pool *pool = at_pool_new(4, 8);
    ASSERT(pool != NULL);
    const int64_t ns[] = {1, 2, 7, 100, 10007};
    const int64_t grains[] = {1, 3, 64, 100000, 0};
    counter done;
    counter_init(&done);
    int jobs = 0;
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof grains / sizeof grains[0]; b++) {
            int64_t grain = grains[b] > 0 ? grains[b] : 1;
            cover *c = cover_new(ns[a], grain, 4);
            cover_job j = {.pool = pool, .c = c, .done = &done};
            ASSERT_EQ(at_pool_submit(pool, cover_job_run, &j), AT_OK);
            counter_wait(&done, ++jobs);
            cover_check_and_free(c);
        }
    at_pool_free(pool);
    counter_destroy(&done);
}

TEST(pool_parallel_for_without_pool_runs_inline)
{
    cover *c = cover_new(50, 50, 8);
    at_pool_parallel_for(NULL, 5, 50, 3, cover_range, c);
    cover_check_and_free(c);
    at_pool_parallel_for(NULL, 0, 0, 1, cover_range, NULL); /* n = 0: nothing to call */
}

/* Several jobs open regions at once; each range body also opens a nested region. */
typedef struct nested {
    at_pool *pool;
    cover *inner[8];
    atomic_int outer_hits[8];
} nested;

static void nested_range(void *ctx, int64_t begin, int64_t end, int worker)
{
    nested *n = ctx;
    for (int64_t i = begin; i < end; i++) {
        atomic_fetch_add(&n->outer_hits[i], 1);
        at_pool_parallel_for(n->pool, worker, n->inner[i]->n, n->inner[i]->grain, cover_range,
                             n->inner[i]);
    }
}

typedef struct nested_job {
    nested *n;
    counter *done;
} nested_job;

static void nested_job_run(void *arg, int worker)
{
    nested_job *j = arg;
    at_pool_parallel_for(j->n->pool, worker, 8, 1, nested_range, j->n);
    counter_add(j->done);
}

TEST(pool_concurrent_and_nested_regions)
{
    at_pool *pool = at_pool_new(4, 16);
    ASSERT(pool != NULL);
    nested jobs_data[6];
    nested_job jobs[6];
    counter done;
    counter_init(&done);
    for (int r = 0; r < 20; r++) {
        for (int j = 0; j < 6; j++) {
            jobs_data[j].pool = pool;
            for (int i = 0; i < 8; i++) {
                jobs_data[j].inner[i] = cover_new(500 + 37 * i, 1 + i * 5, 4);
                atomic_init(&jobs_data[j].outer_hits[i], 0);
            }
            jobs[j] = (nested_job){.n = &jobs_data[j], .done = &done};
            ASSERT_EQ(at_pool_submit(pool, nested_job_run, &jobs[j]), AT_OK);
        }
        counter_wait(&done, 6 * (r + 1));
        for (int j = 0; j < 6; j++)
            for (int i = 0; i < 8; i++) {
                ASSERT_EQ(atomic_load(&jobs_data[j].outer_hits[i]), 1);
                cover_check_and_free(jobs_data[j].inner[i]);
            }
    }
    at_pool_free(pool);
    counter_destroy(&done);
}

/* With every other worker stuck in a long job, a region still completes: its caller runs
 * every chunk itself. */
typedef struct lonely {
    at_pool *pool;
    cover *c;
    counter done;
    int worker;
} lonely;

static void lonely_range(void *ctx, int64_t begin, int64_t end, int worker)
{
    lonely *l = ctx;
    if (worker != l->worker) atomic_fetch_add(&l->c->bad, 1);
    cover_range(l->c, begin, end, worker);
}

static void lonely_job(void *arg, int worker)
{
    lonely *l = arg;
    l->worker = worker;
    at_pool_parallel_for(l->pool, worker, l->c->n, l->c->grain, lonely_range, l);
    counter_add(&l->done);
}

TEST(pool_parallel_for_progresses_when_others_busy)
{
    at_pool *pool = at_pool_new(3, 4);
    ASSERT(pool != NULL);
    gate g;
    gate_init(&g);
    ASSERT_EQ(at_pool_submit(pool, gate_job, &g), AT_OK);
    ASSERT_EQ(at_pool_submit(pool, gate_job, &g), AT_OK);
    gate_wait_arrived(&g, 2);

    lonely l = {.pool = pool, .c = cover_new(1000, 1, 3)};
    counter_init(&l.done);
    ASSERT_EQ(at_pool_submit(pool, lonely_job, &l), AT_OK);
    counter_wait(&l.done, 1); /* would hang here if the region waited for busy workers */
    cover_check_and_free(l.c);

    gate_open(&g);
    at_pool_free(pool);
    gate_destroy(&g);
    counter_destroy(&l.done);
}

/* An idle worker helps a region, and passes its own index: both chunks wait until two
 * different threads are inside (or a generous timeout, which then fails the test). */
typedef struct rendezvous {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inside;
    int workers_seen[2];
    bool met;
    counter done;
    at_pool *pool;
} rendezvous;

static void rendezvous_range(void *ctx, int64_t begin, int64_t end, int worker)
{
    rendezvous *r = ctx;
    (void)end;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&r->mu);
    r->workers_seen[begin] = worker;
    r->inside++;
    pthread_cond_broadcast(&r->cv);
    while (r->inside < 2)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) != 0) break;
    r->met = r->inside >= 2;
    pthread_mutex_unlock(&r->mu);
}

static void rendezvous_job(void *arg, int worker)
{
    rendezvous *r = arg;
    at_pool_parallel_for(r->pool, worker, 2, 1, rendezvous_range, r);
    counter_add(&r->done);
}

TEST(pool_idle_worker_helps_with_own_index)
{
    rendezvous r = {.pool = at_pool_new(2, 2)};
    ASSERT(r.pool != NULL);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    counter_init(&r.done);
    ASSERT_EQ(at_pool_submit(r.pool, rendezvous_job, &r), AT_OK);
    counter_wait(&r.done, 1);
    at_pool_free(r.pool);
    ASSERT(r.met);
    ASSERT(r.workers_seen[0] != r.workers_seen[1]);
    ASSERT(r.workers_seen[0] >= 0 && r.workers_seen[0] < 2);
    ASSERT(r.workers_seen[1] >= 0 && r.workers_seen[1] < 2);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    counter_destroy(&r.done);
}

static void signal_mask_job(void *arg, int worker)
{
    sigset_t set;
    (void)worker;
    pthread_sigmask(SIG_BLOCK, NULL, &set);
    int *blocked = arg;
    *blocked = sigismember(&set, SIGINT) == 1 && sigismember(&set, SIGTERM) == 1 &&
               sigismember(&set, SIGHUP) == 1 && sigismember(&set, SIGPIPE) == 1;
}

TEST(pool_workers_block_signals)
{
    sigset_t before, after;
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    at_pool *pool = at_pool_new(1, 1);
    ASSERT(pool != NULL);
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    /* The creating thread's own mask is restored. */
    ASSERT_EQ(sigismember(&before, SIGINT), sigismember(&after, SIGINT));
    int blocked = 0;
    ASSERT_EQ(at_pool_submit(pool, signal_mask_job, &blocked), AT_OK);
    at_pool_free(pool); /* runs the queued job first */
    ASSERT(blocked);
}
