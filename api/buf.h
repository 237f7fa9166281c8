/* A growable byte buffer for encoding responses. The bytes are handed to the HTTP layer whole
 * (api_buf_release), so a response is built once and never copied. */
#ifndef API_BUF_H
#define API_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct api_buf {
    char *data;
    size_t len;
    size_t cap;
    bool oom; /* set once an append failed; later appends are no-ops */
} api_buf;

/* Makes sure `extra` more bytes fit. Returns false (and sets oom) when memory runs out. */
bool api_buf_reserve(api_buf *b, size_t extra);

/* Appends n bytes / a NUL-terminated string / printf output. Errors set b->oom. */
void api_buf_append(api_buf *b, const void *p, size_t n);
void api_buf_puts(api_buf *b, const char *s);
void api_buf_printf(api_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Gives the bytes to the caller (who frees them with free()) and resets b. NULL when oom. */
char *api_buf_release(api_buf *b, size_t *len);

/* Frees the bytes and resets b. */
void api_buf_free(api_buf *b);

#endif
