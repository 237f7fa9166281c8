/* The watcher of running jobs: one thread that cancels a job when its deadline passes or when
 * its client hangs up. libmicrohttpd does not poll a suspended connection, so nobody else
 * would notice the hang-up until the job finished; this thread polls the sockets of every
 * suspended request for POLLRDHUP and sleeps until the next deadline in between. */
#ifndef SRV_WATCH_H
#define SRV_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/cancel.h"

typedef struct srv_watch srv_watch;

/* One watched job; embedded in the request it belongs to (no allocation), owned by the
 * watcher between srv_watch_add and srv_watch_remove. */
typedef struct srv_watch_entry {
    int fd;          /* the client's socket, or -1 to watch the deadline only */
    double deadline; /* CLOCK_MONOTONIC seconds, or 0 for none */
    at_cancel *cancel;
    uint64_t id;
    bool fired; /* cancel was requested: nothing more to watch */
    struct srv_watch_entry *prev, *next;
} srv_watch_entry;

/* Starts the watcher thread. Returns NULL with a message in err on failure. */
srv_watch *srv_watch_new(char *err, size_t errlen);

/* Stops the thread and frees the watcher; every entry must have been removed. NULL is a no-op. */
void srv_watch_free(srv_watch *w);

/* Seconds on CLOCK_MONOTONIC, the clock of deadlines. */
double srv_watch_now(void);

/* Watches `e` from now on: at_cancel_request(cancel, AT_ETIMEDOUT) once `deadline` (0: never)
 * passes, AT_ECANCELED when the peer of socket `fd` (-1: none) closes its side or resets.
 * `e` and `cancel` must stay valid until srv_watch_remove(e) returns. Thread-safe. */
void srv_watch_add(srv_watch *w, srv_watch_entry *e, int fd, double deadline, at_cancel *cancel);

/* Stops watching `e`; after it returns the watcher touches neither `e` nor its cancel, and
 * the socket may be closed. Thread-safe. */
void srv_watch_remove(srv_watch *w, srv_watch_entry *e);

#endif
