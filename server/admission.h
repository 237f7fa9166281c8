/* Admission at the headers: the global budget for buffered request bodies (--max-body-memory)
 * and the worker queue's room, both decided before a body is read, so that no client can make
 * attnd hold more body bytes than configured and an overloaded server refuses at once instead
 * of after an upload and a decode. */
#ifndef SRV_ADMISSION_H
#define SRV_ADMISSION_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/pool.h"

typedef struct srv_admission srv_admission;

/* Bodies of at most this many bytes may use the budget's small-body reserve. */
#define SRV_SMALL_BODY (64 * 1024)

/* A budget of `max_body_memory` bytes (> 0, >= max_body_bytes), none reserved. Its last
 * min(max_body_memory / 16, max_body_memory - max_body_bytes) bytes are kept for reservations
 * of at most SRV_SMALL_BODY, so that clients holding large bodies half-sent cannot lock out
 * small requests. NULL when out of memory. */
srv_admission *srv_admission_new(int64_t max_body_memory, int64_t max_body_bytes);

/* Frees the budget. NULL is a no-op. */
void srv_admission_free(srv_admission *a);

/* Reserves `bytes` (>= 0) of the budget; returns false, reserving nothing, when they do not fit
 * beside what is reserved already (for more than SRV_SMALL_BODY bytes, in the budget less its
 * small-body reserve). Thread-safe, lock-free. */
bool srv_admission_reserve(srv_admission *a, int64_t bytes);

/* Returns `bytes` reserved earlier. Thread-safe. */
void srv_admission_release(srv_admission *a, int64_t bytes);

/* The budget and what is reserved now (a snapshot). */
int64_t srv_admission_limit(const srv_admission *a);
int64_t srv_admission_reserved(srv_admission *a);

/* Whether a new job would find room in `pool` now: the queue has room, or a worker is idle (a
 * snapshot: the job is still refused later if the queue fills while its body arrives). */
bool srv_admission_queue_has_room(at_pool *pool);

#endif
