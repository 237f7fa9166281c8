/* The growable response buffer of buf.h. Capacity doubles, so appending n bytes one piece at a
 * time costs O(n); the data stays NUL-terminated so a finished buffer is also a C string. */
#include "buf.h"

#include "big_alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 256

bool api_buf_reserve(api_buf *b, size_t extra)
{
    if (b->oom) return false;
    /* +1 keeps room for the terminating NUL. */
    if (extra > SIZE_MAX - b->len - 1) goto fail;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = api_big_realloc(b->data, cap);
    if (!p) goto fail;
    b->data = p;
    b->cap = cap;
    return true;
fail:
    b->oom = true;
    return false;
}

void api_buf_append(api_buf *b, const void *p, size_t n)
{
    if (!api_buf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void api_buf_puts(api_buf *b, const char *s)
{
    api_buf_append(b, s, strlen(s));
}

void api_buf_printf(api_buf *b, const char *fmt, ...)
{
    if (!api_buf_reserve(b, 0)) return;
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->data[b->len] = '\0';
        b->oom = true; /* an encoding error: treat like any failed append */
        return;
    }
    if ((size_t)n >= room) {
        if (!api_buf_reserve(b, (size_t)n)) {
            b->data[b->len] = '\0';
            return;
        }
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

char *api_buf_release(api_buf *b, size_t *len)
{
    if (!b->oom && !b->data) api_buf_reserve(b, 0); /* NULL must mean "out of memory" */
    if (b->oom) {
        api_buf_free(b);
        if (len) *len = 0;
        return NULL;
    }
    char *data = b->data;
    data[b->len] = '\0';
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return data;
}

void api_buf_free(api_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}
