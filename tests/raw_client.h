/* Test support: raw TCP clients for what libcurl will not send (two Content-Length headers, an
 * endless chunked body, a header line now and then, sockets that never send anything), from a
 * chosen loopback source address so that per-address caps can be told apart. */
#ifndef TESTS_RAW_CLIENT_H
#define TESTS_RAW_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* Connects to 127.0.0.1:port from `source` (e.g. "127.0.0.2"; NULL: any). Returns a blocking
 * fd with 10 s send/receive timeouts, or -1. */
int raw_connect(int port, const char *source);

/* Sends all of s (n bytes; n == 0: strlen). Returns 0, or -1 when the peer closed or reset. */
int raw_send(int fd, const char *s, size_t n);

/* Whether fd has something to read (data or the end of the stream) within timeout_ms. */
bool raw_readable(int fd, int timeout_ms);

/* Reads until the end of the stream, a reset, or timeout_ms; NUL-terminates buf. Returns the
 * bytes read. *closed (when not NULL) tells whether the stream ended (or was reset). */
size_t raw_read_until_close(int fd, char *buf, size_t cap, int timeout_ms, bool *closed);

/* Monotonic seconds. */
double raw_now(void);

#endif
