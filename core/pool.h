/* A fixed pool of worker threads with a bounded job queue. Requests become jobs; a job that is
 * large can split itself into ranges with at_pool_parallel_for, which idle workers help with.
 * The pool owns the parallelism of the whole process: OpenBLAS is pinned to one thread. */
#ifndef AT_POOL_H
#define AT_POOL_H

#include <stdint.h>

typedef struct at_pool at_pool;

/* A job: runs on one worker; `worker` is that worker's index, 0..threads-1. */
typedef void (*at_job_fn)(void *arg, int worker);

/* A range body: processes items [begin, end) on worker `worker` (0..threads-1). */
typedef void (*at_range_fn)(void *ctx, int64_t begin, int64_t end, int worker);

/* Starts `threads` workers (>= 1) and a queue holding at most `queue_depth` (>= 1) jobs that
 * wait for a worker. Returns NULL (errno set) on failure. */
at_pool *at_pool_new(int threads, int queue_depth);

/* Runs every job already queued to completion, joins the workers and frees the pool. NULL is a
 * no-op. Must not be called from a worker. */
void at_pool_free(at_pool *pool);

/* Queues fn(arg) to run on a worker. Returns AT_OK, AT_EBUSY when queue_depth jobs are already
 * waiting (the caller should answer "try later"), or AT_ESHUTDOWN after at_pool_free began.
 * Thread-safe. Ownership of `arg` stays with the caller; the job must release it. */
int at_pool_submit(at_pool *pool, at_job_fn fn, void *arg);

/* Splits [0, n) into chunks of at most `grain` items and runs fn over them on the calling worker
 * plus any idle workers; returns when all chunks are done. `worker` is the caller's index. Idle
 * workers help, so a big request uses every core while nothing else waits; the caller itself
 * runs every chunk nobody took, so this never waits on a busy pool. Between two chunks, a
 * queued job goes first: a helper leaves to take it, and when no worker is spare the caller
 * runs one queued job itself (fn's `worker` index is the same for it; its own chunks resume
 * after). So a new request waits about one chunk, not for the running ones to finish. With
 * pool == NULL it runs fn(ctx, 0, n, worker) inline (used by tests and tools that have no
 * pool). */
void at_pool_parallel_for(at_pool *pool, int worker, int64_t n, int64_t grain, at_range_fn fn,
                          void *ctx);

/* Number of worker threads; 1 for NULL. */
int at_pool_threads(const at_pool *pool);

/* Jobs waiting for a worker now (a snapshot, for metrics). */
int at_pool_queued(at_pool *pool);

/* Jobs running now (a snapshot, for metrics): at most 2 per worker, since a worker may run a
 * queued job between two chunks of its own. */
int at_pool_running(at_pool *pool);

/* The queue's capacity (queue_depth given to at_pool_new). */
int at_pool_capacity(const at_pool *pool);

#endif
