/* The CORS origin list: validated when configured, matched exactly (browsers send the origin
 * serialised, so no normalisation is needed beyond refusing what no browser would send). */
#include "cors.h"

#include <stdio.h>
#include <string.h>

int srv_cors_add(srv_cors *c, const char *source, const char *origin, size_t len, char *err,
                 size_t errlen)
{
    if (c->count == SRV_CORS_MAX_ORIGINS) {
        snprintf(err, errlen, "%s: more than %d origins", source, SRV_CORS_MAX_ORIGINS);
        return -1;
    }
    if (len == 1 && origin[0] == '*') {
        memcpy(c->origins[c->count++], "*", 2);
        return 0;
    }
    size_t scheme = len > 8 && !strncmp(origin, "https://", 8)  ? 8
                    : len > 7 && !strncmp(origin, "http://", 7) ? 7
                                                                : 0;
    bool ok = scheme && len <= SRV_CORS_ORIGIN_MAX;
    for (size_t i = scheme; ok && i < len; i++) {
        char ch = origin[i];
        ok = ch > ' ' && ch <= '~' && ch != '/' && ch != ',' && ch != '*';
    }
    if (!ok) {
        snprintf(err, errlen,
                 "%s: expected * or an origin scheme://host[:port] (http or https, no path, at "
                 "most %d characters), got \"%.*s\"",
                 source, SRV_CORS_ORIGIN_MAX, (int)(len > 300 ? 300 : len), origin);
        return -1;
    }
    memcpy(c->origins[c->count], origin, len);
    c->origins[c->count][len] = '\0';
    c->count++;
    return 0;
}

bool srv_cors_enabled(const srv_cors *c)
{
    return c->count > 0;
}

const char *srv_cors_allow(const srv_cors *c, const char *origin)
{
    for (int i = 0; i < c->count; i++) {
        if (strcmp(c->origins[i], "*") == 0) return "*";
        if (origin && strcmp(c->origins[i], origin) == 0) return origin;
    }
    return NULL;
}
