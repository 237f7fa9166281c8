/* Tests of the pool's fairness (issue 10): a job queued while big jobs hold every worker starts
 * before they finish, whether a worker only helps a big job (it leaves at the next chunk) or
 * every worker owns a big job of its own (one of them runs the tiny job between two chunks).
 * The big jobs here have 100k chunks of 0.2 ms, which end at once when the tiny job has run
 * (or after 10 s); the assertions are about order, never about time, so that a slow machine
 * cannot fail them. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "../core/pool.h"
#include "../core/status.h"
#include "harness.h"

typedef struct fair {
    at_pool *pool;
    atomic_bool tiny_done;
    atomic_int big_started, big_done;
    atomic_int big_done_before_tiny; /* big jobs that finished while the tiny one had not run */
    atomic_bool tiny_seen_mid_work;  /* a big chunk found the tiny job done before giving up */
    atomic_int tiny_worker;
    double give_up; /* CLOCK_MONOTONIC seconds after which the big jobs stop anyway */
} fair;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A chunk of a big job: short, and nothing once the tiny job has run. */
static void big_chunk(void *ctx, int64_t begin, int64_t end, int worker)
{
    fair *f = ctx;
    (void)begin, (void)end, (void)worker;
    if (now() > f->give_up) return;
    if (atomic_load(&f->tiny_done)) {
        atomic_store(&f->tiny_seen_mid_work, true);
        return;
    }
    struct timespec ts = {0, 200 * 1000};
    nanosleep(&ts, NULL);
}

static void big_job(void *arg, int worker)
{
    fair *f = arg;
    atomic_fetch_add(&f->big_started, 1);
    at_pool_parallel_for(f->pool, worker, 100000, 1, big_chunk, f);
    if (!atomic_load(&f->tiny_done)) atomic_fetch_add(&f->big_done_before_tiny, 1);
    atomic_fetch_add(&f->big_done, 1);
}

static void tiny_job(void *arg, int worker)
{
    fair *f = arg;
    atomic_store(&f->tiny_worker, worker);
    atomic_store(&f->tiny_done, true);
}

/* Runs `bigs` big jobs on a 2-worker pool, then the tiny one once they all run. */
static void run_case(int bigs)
{
    fair f = {.give_up = now() + 10.0};
    atomic_init(&f.tiny_worker, -1);
    f.pool = at_pool_new(2, 8);
    ASSERT(f.pool != NULL);
    for (int i = 0; i < bigs; i++)
        ASSERT_EQ(at_pool_submit(f.pool, big_job, &f), AT_OK);
    while (atomic_load(&f.big_started) < bigs && now() < f.give_up) {
        struct timespec ts = {0, 100 * 1000};
        nanosleep(&ts, NULL);
    }
    ASSERT_EQ(atomic_load(&f.big_started), bigs);
    ASSERT_EQ(at_pool_submit(f.pool, tiny_job, &f), AT_OK);
    at_pool_free(f.pool); /* runs everything to completion */
    ASSERT(atomic_load(&f.tiny_done));
    ASSERT_EQ(atomic_load(&f.big_done), bigs);
    ASSERT_EQ(atomic_load(&f.big_done_before_tiny), 0);
    ASSERT(atomic_load(&f.tiny_seen_mid_work));
    int w = atomic_load(&f.tiny_worker);
    ASSERT(w == 0 || w == 1);
}

TEST(pool_fair_helper_leaves_big_job_for_queued_one)
{
    run_case(1); /* one worker owns the big job, the other helps it */
}

TEST(pool_fair_owner_runs_queued_job_between_chunks)
{
    run_case(2); /* both workers own a big job: nobody is spare */
}
