/* Logging to stderr in logfmt (key=value) lines, one per event, with a UTC timestamp. The
 * access log is one line per finished request. Thread-safe: each line is a single write(2). */
#ifndef SRV_LOG_H
#define SRV_LOG_H

#include <stddef.h>
#include <stdint.h>

enum { SRV_LOG_ERROR, SRV_LOG_WARN, SRV_LOG_INFO, SRV_LOG_DEBUG };

/* Parses "error", "warn", "info", "debug". Returns the level or -1. */
int srv_log_level_parse(const char *s);

/* Lines above `level` are dropped. Call once at start-up, before threads exist. */
void srv_log_set_level(int level);

/* Logs msg with optional preformatted key=value pairs in `fmt`. */
void srv_log(int level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes s into out (cap bytes, NUL-terminated, cut short when it does not fit) as a logfmt
 * quoted value: quotes, backslashes and control bytes escaped, so that text a client or a file
 * chose can never forge a second log line. Returns the length written. */
size_t srv_log_quote(char *out, size_t cap, const char *s);

/* One access-log line: method, path (quoted and escaped), status, response bytes, seconds, and
 * the request id (server/request_id.h: sane characters only, so it is written as is). */
void srv_log_access(const char *method, const char *path, int status, uint64_t bytes,
                    double seconds, const char *request_id);

#endif
