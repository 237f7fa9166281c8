/* The request-body budget: one atomic counter of reserved bytes, raised before a body is read
 * (from its Content-Length, or as a chunked body grows) and lowered when the body is freed. The
 * reservation is the body buffer's capacity, so the budget bounds what malloc holds for bodies. */
#include "admission.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "metrics.h"

struct srv_admission {
    int64_t limit;
    int64_t small_reserve; /* the top of the budget, for reservations <= SRV_SMALL_BODY */
    atomic_llong reserved;
};

srv_admission *srv_admission_new(int64_t max_body_memory, int64_t max_body_bytes)
{
    if (max_body_memory <= 0) return NULL;
    srv_admission *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->limit = max_body_memory;
    a->small_reserve = max_body_memory / 16;
    if (a->small_reserve > max_body_memory - max_body_bytes)
        a->small_reserve = max_body_memory - max_body_bytes;
    if (a->small_reserve < 0) a->small_reserve = 0;
    atomic_init(&a->reserved, 0);
    return a;
}

void srv_admission_free(srv_admission *a)
{
    free(a);
}

bool srv_admission_reserve(srv_admission *a, int64_t bytes)
{
    if (bytes <= 0) return true;
    int64_t limit = bytes <= SRV_SMALL_BODY ? a->limit : a->limit - a->small_reserve;
    long long cur = atomic_load(&a->reserved);
    do {
        if (bytes > limit - cur) return false;
    } while (!atomic_compare_exchange_weak(&a->reserved, &cur, cur + bytes));
    srv_metrics_body_memory_set(cur + bytes);
    return true;
}

void srv_admission_release(srv_admission *a, int64_t bytes)
{
    if (bytes <= 0) return;
    long long now = atomic_fetch_sub(&a->reserved, bytes) - bytes;
    srv_metrics_body_memory_set(now);
}

int64_t srv_admission_limit(const srv_admission *a)
{
    return a->limit;
}

int64_t srv_admission_reserved(srv_admission *a)
{
    return atomic_load(&a->reserved);
}

bool srv_admission_queue_has_room(at_pool *pool)
{
    /* A full queue beside an idle worker is a job about to be taken, not overload: refusing
     * then would turn away requests the pool is about to have room for. */
    return at_pool_queued(pool) < at_pool_capacity(pool) ||
           at_pool_running(pool) < at_pool_threads(pool);
}
