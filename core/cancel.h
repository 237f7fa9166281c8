/* Cooperative cancellation of a running computation: whoever owns a request (the server, on a
 * deadline or when the client hangs up) sets a status; the kernels read it with one relaxed
 * atomic load at item and tile boundaries, so a cancelled request frees its workers within one
 * tile's time and an uncancelled one pays nothing measurable. */
#ifndef AT_CANCEL_H
#define AT_CANCEL_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct at_cancel {
    atomic_int status; /* AT_OK while the work should go on, else why it should stop */
} at_cancel;

/* Makes *c say "go on". */
static inline void at_cancel_init(at_cancel *c)
{
    atomic_init(&c->status, 0);
}

/* Asks the work watching `c` to stop with `status` (negative, e.g. AT_ETIMEDOUT or
 * AT_ECANCELED). The first request wins; later ones are ignored. Thread-safe. */
static inline void at_cancel_request(at_cancel *c, int status)
{
    int expected = 0;
    atomic_compare_exchange_strong(&c->status, &expected, status);
}

/* AT_OK (0) while the work should go on, else the status given to at_cancel_request. NULL is
 * never cancelled. One relaxed load: cheap enough for every item of a kernel. Thread-safe. */
static inline int at_cancel_status(const at_cancel *c)
{
    return c ? atomic_load_explicit(&((at_cancel *)c)->status, memory_order_relaxed) : 0;
}

#endif
