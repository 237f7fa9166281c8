/* The job watcher (watch.h). The thread builds a poll set from the entries under the mutex,
 * polls without it, and takes it again to act: entries are matched by id, never by pointer or
 * fd, so an entry removed (and its socket closed, its fd reused) while the thread polled is
 * simply not found. While it has entries it rebuilds the set every WATCH_TICK_MS, which picks
 * up new sockets; a pipe wakes it early only when an entry arrives to an empty watcher or
 * with a deadline before its next wake-up, so a stream of small requests costs no wake-ups. */
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/status.h"

/* How often the set is rebuilt while requests are watched: the delay before a hang-up of a
 * newly added request can be seen. */
#define WATCH_TICK_MS 20

struct srv_watch {
    pthread_mutex_t mu;
    srv_watch_entry *entries;
    uint64_t next_id;
    bool stopping;
    double wake_at; /* when the thread wakes up next (CLOCK_MONOTONIC), or 0: not before a poke */
    int wake[2];    /* read end polled by the thread, write end poked by add and free */
    pthread_t thread;
};

double srv_watch_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void poke(srv_watch *w)
{
    char c = 1;
    ssize_t n = write(w->wake[1], &c, 1); /* a full pipe already means "wake up" */
    (void)n;
}

static srv_watch_entry *find(srv_watch *w, uint64_t id)
{
    for (srv_watch_entry *e = w->entries; e; e = e->next)
        if (e->id == id) return e;
    return NULL;
}

static void *watch_main(void *arg)
{
    srv_watch *w = arg;
    struct pollfd *fds = NULL;
    uint64_t *ids = NULL;
    size_t cap = 0;

    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        /* The poll set: the wake pipe, then the socket of every entry still to watch. */
        size_t n = 1;
        for (srv_watch_entry *e = w->entries; e; e = e->next)
            n++;
        if (n > cap) {
            size_t want = n * 2;
            struct pollfd *f = realloc(fds, want * sizeof *f);
            if (f) fds = f;
            uint64_t *i = realloc(ids, want * sizeof *i);
            if (i) ids = i;
            if (f && i) cap = want;
        }
        double now = srv_watch_now(), next = 0;
        size_t k = 0;
        if (cap) fds[k++] = (struct pollfd){.fd = w->wake[0], .events = POLLIN};
        for (srv_watch_entry *e = w->entries; e; e = e->next) {
            if (e->fired) continue;
            if (e->deadline > 0 && (next == 0 || e->deadline < next)) next = e->deadline;
            if (e->fd >= 0 && k < cap) {
                ids[k] = e->id;
                fds[k++] = (struct pollfd){.fd = e->fd, .events = POLLRDHUP};
            }
        }

        int timeout = -1;
        if (next > 0) timeout = next <= now ? 0 : (int)((next - now) * 1000.0) + 1;
        /* Ticking also covers a set that could not be allocated (the pipe is then unpolled). */
        if ((w->entries || !cap) && (timeout < 0 || timeout > WATCH_TICK_MS))
            timeout = WATCH_TICK_MS;
        w->wake_at = timeout < 0 ? 0 : now + timeout / 1000.0;
        pthread_mutex_unlock(&w->mu);

        int ready = k ? poll(fds, (nfds_t)k, timeout) : poll(NULL, 0, timeout);
        if (ready > 0 && (fds[0].revents & POLLIN)) {
            char buf[64];
            while (read(w->wake[0], buf, sizeof buf) > 0) {
            }
        }

        pthread_mutex_lock(&w->mu);
        for (size_t i = 1; ready > 0 && i < k; i++) {
            /* POLLNVAL: the socket was closed after its entry left; nothing to do. */
            if (!(fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR))) continue;
            srv_watch_entry *e = find(w, ids[i]);
            if (!e || e->fired) continue;
            at_cancel_request(e->cancel, AT_ECANCELED);
            e->fired = true;
        }
        now = srv_watch_now();
        for (srv_watch_entry *e = w->entries; e; e = e->next)
            if (!e->fired && e->deadline > 0 && now >= e->deadline) {
                at_cancel_request(e->cancel, AT_ETIMEDOUT);
                e->fired = true;
            }
    }
    pthread_mutex_unlock(&w->mu);
    free(fds);
    free(ids);
    return NULL;
}

srv_watch *srv_watch_new(char *err, size_t errlen)
{
    srv_watch *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (pipe2(w->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot make the watcher's pipe: %s", strerror(errno));
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    /* Like the workers, the thread blocks every signal: they go to the server's signal thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, watch_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the watcher thread: %s", strerror(rc));
        pthread_mutex_destroy(&w->mu);
        close(w->wake[0]);
        close(w->wake[1]);
        free(w);
        return NULL;
    }
    return w;
}

void srv_watch_free(srv_watch *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_mutex_unlock(&w->mu);
    poke(w);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    close(w->wake[0]);
    close(w->wake[1]);
    free(w);
}

void srv_watch_add(srv_watch *w, srv_watch_entry *e, int fd, double deadline, at_cancel *cancel)
{
    pthread_mutex_lock(&w->mu);
    bool early = !w->entries || w->wake_at == 0 || (deadline > 0 && deadline < w->wake_at);
    *e = (srv_watch_entry){
        .fd = fd, .deadline = deadline, .cancel = cancel, .id = ++w->next_id, .next = w->entries};
    if (w->entries) w->entries->prev = e;
    w->entries = e;
    pthread_mutex_unlock(&w->mu);
    if (early) poke(w);
}

void srv_watch_remove(srv_watch *w, srv_watch_entry *e)
{
    pthread_mutex_lock(&w->mu);
    if (e->prev)
        e->prev->next = e->next;
    else
        w->entries = e->next;
    if (e->next) e->next->prev = e->prev;
    e->prev = e->next = NULL;
    pthread_mutex_unlock(&w->mu);
}
