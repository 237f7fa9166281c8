/* Client-side shapes: printing them for error messages and counting their elements without
 * overflow (the sizes come from a client, so products may not fit in 64 bits). */
#include "shape.h"

#include <stdio.h>
#include <string.h>

char *api_shape_str(const api_shape *s, int star, char *buf, size_t buflen)
{
    if (!buflen) return buf;
    size_t len = 0;
    int shown = s->rank < API_SHAPE_MAX_RANK ? s->rank : API_SHAPE_MAX_RANK;
    buf[0] = '\0';
    for (int i = 0; i <= shown; i++) {
        char item[32];
        if (i == shown)
            snprintf(item, sizeof item, "%s]", s->rank > shown ? ", ..." : "");
        else if (i == star)
            snprintf(item, sizeof item, "%s*", i ? ", " : "[");
        else
            snprintf(item, sizeof item, "%s%lld", i ? ", " : "[", (long long)s->ne[i]);
        if (i == 0 && shown == 0) snprintf(item, sizeof item, "[]");
        size_t n = strlen(item);
        if (len + n >= buflen) {
            if (buflen >= 4) memcpy(buf + buflen - 4, "...", 4);
            return buf;
        }
        memcpy(buf + len, item, n + 1);
        len += n;
    }
    return buf;
}

int64_t api_mul_sat(int64_t a, int64_t b)
{
    if (a == 0 || b == 0) return 0;
    if (a > INT64_MAX / b) return INT64_MAX;
    return a * b;
}

int64_t api_add_sat(int64_t a, int64_t b)
{
    if (a > INT64_MAX - b) return INT64_MAX;
    return a + b;
}

int64_t api_shape_elements(const api_shape *s)
{
    int64_t n = 1;
    int shown = s->rank < API_SHAPE_MAX_RANK ? s->rank : API_SHAPE_MAX_RANK;
    for (int i = 0; i < shown; i++)
        n = api_mul_sat(n, s->ne[i]);
    return n;
}
