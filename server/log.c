/* logfmt lines on stderr. Each line is formatted into a local buffer and written with one
 * write(2), so lines from different threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_level = SRV_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

int srv_log_level_parse(const char *s)
{
    for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]); i++)
        if (strcmp(s, level_names[i]) == 0) return i;
    return -1;
}

void srv_log_set_level(int level)
{
    log_level = level;
}

static size_t stamp(char *buf, size_t len, int level, const char *msg)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(buf, len, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s msg=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), level_names[level], msg);
    return n < 0 ? 0 : ((size_t)n < len ? (size_t)n : len - 1);
}

static void emit(char *line, size_t n, size_t cap)
{
    if (n >= cap - 1) n = cap - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* nowhere to report a failed log write */
}

void srv_log(int level, const char *msg, const char *fmt, ...)
{
    if (level > log_level) return;
    char line[2048];
    size_t n = stamp(line, sizeof line, level, msg);
    if (fmt && *fmt && n < sizeof line - 2) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
        va_end(ap);
        if (m > 0) n += (size_t)m < sizeof line - n ? (size_t)m : sizeof line - n - 1;
    }
    emit(line, n, sizeof line);
}

size_t srv_log_quote(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    if (cap < 3) return 0;
    out[n++] = '"';
    for (; *s && n + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

void srv_log_access(const char *method, const char *path, int status, uint64_t bytes,
                    double seconds, const char *request_id)
{
    if (SRV_LOG_INFO > log_level) return;
    char qpath[600];
    srv_log_quote(qpath, sizeof qpath, path ? path : "");
    char line[1024];
    size_t n = stamp(line, sizeof line, SRV_LOG_INFO, "access");
    int m = snprintf(line + n, sizeof line - n,
                     " method=%s path=%s status=%d bytes=%llu duration_ms=%.3f request_id=%s",
                     method ? method : "-", qpath, status, (unsigned long long)bytes, seconds * 1e3,
                     request_id && *request_id ? request_id : "-");
    if (m > 0) n += (size_t)m < sizeof line - n ? (size_t)m : sizeof line - n - 1;
    emit(line, n, sizeof line);
}
