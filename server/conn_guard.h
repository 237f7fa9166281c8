/* The connection guard: a cap on open connections that closes the oldest idle connection to
 * make room for a new one, and deadlines that a trickle of bytes cannot extend (a whole header
 * block within --header-timeout, a body at --min-body-rate in every window of that length, a
 * keep-alive wait within --idle-timeout). A thread of its own enforces them; libmicrohttpd tells it
 * about connections through the callbacks below, and the request handler about each request's
 * phase. It closes a connection by shutting its socket down; libmicrohttpd then notices and frees
 * it. */
#ifndef SRV_CONN_GUARD_H
#define SRV_CONN_GUARD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct srv_guard srv_guard;

typedef struct srv_guard_config {
    int max_connections;   /* >= 1 */
    double header_timeout; /* seconds; 0: no deadline for headers (the body rate window: 10 s) */
    int64_t min_body_rate; /* bytes/s; 0: none */
    double idle_timeout;   /* seconds; 0: none */
    bool raw_replies;      /* may write a response of its own to a socket (not over TLS) */
} srv_guard_config;

/* Starts the guard's thread, and raises the soft limit of open files towards what the cap
 * needs. Returns NULL with a message in err when the thread cannot start. */
srv_guard *srv_guard_new(const srv_guard_config *cfg, char *err, size_t errlen);

/* Stops the thread and frees the guard. Call after MHD_stop_daemon (no callback may run any
 * more). NULL is a no-op. */
void srv_guard_free(srv_guard *g);

/* The MHD_OPTION_CONNECTION_LIMIT to give libmicrohttpd: above the cap, so that a new
 * connection is accepted (and an idle one closed for it) while closed ones are being freed. */
unsigned srv_guard_mhd_connection_limit(const srv_guard_config *cfg);

/* MHD_OPTION_NOTIFY_CONNECTION (cls is the guard): tracks every connection from its start to
 * its close; a start beyond the cap closes the oldest idle connection, or the new one when
 * every other is busy with a request. */
void srv_guard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode code);

/* MHD_OPTION_URI_LOG_CALLBACK (cls is the guard): a request line arrived, the header block's
 * deadline runs. Returns NULL (the request handler's *con_cls starts NULL). */
void *srv_guard_on_request_line(void *cls, const char *uri, struct MHD_Connection *conn);

/* From the request handler, on the polling thread; no-ops on a connection the guard does not
 * know. The headers are complete and a body follows (its rate is checked from now on). */
void srv_guard_body_started(struct MHD_Connection *conn);
/* `bytes` more of the body arrived. */
void srv_guard_body_progress(struct MHD_Connection *conn, size_t bytes);
/* The request is complete: computing or answering; no deadline of the guard applies. */
void srv_guard_request_busy(struct MHD_Connection *conn);
/* The request is finished; the connection waits for the next one (--idle-timeout). */
void srv_guard_request_done(struct MHD_Connection *conn);

/* Shutdown began: closes every connection that is not in the middle of a request, and from
 * now on each one as soon as its request is done. Thread-safe. */
void srv_guard_drain(srv_guard *g);

/* Connections in the middle of a request (its request line arrived and it is not finished). */
int srv_guard_active(srv_guard *g);

/* Writes a complete HTTP response (`status`, JSON `body`, "Connection: close", and
 * "Retry-After: 1" when retry_after) straight to the connection's socket, for the cases
 * libmicrohttpd cannot queue a response in (the body is still arriving); the caller then
 * returns MHD_NO so that libmicrohttpd closes the connection. Returns whether it was sent:
 * false over TLS (raw_replies off), where the connection is only closed. */
bool srv_guard_reply_raw(struct MHD_Connection *conn, int status, const char *body, size_t len,
                         bool retry_after);

#endif
