/* CORS (--cors-origin): which browser origins may call attnd, the headers that tell a browser
 * so, and the answer to a preflight OPTIONS request. Off unless an origin is configured. */
#ifndef SRV_CORS_H
#define SRV_CORS_H

#include <stdbool.h>
#include <stddef.h>

#define SRV_CORS_MAX_ORIGINS 32
#define SRV_CORS_ORIGIN_MAX  255 /* bytes in one origin */

typedef struct srv_cors {
    /* "*" allows every origin; otherwise origins as a browser sends them,
     * "scheme://host[:port]", compared exactly. Empty: CORS is off. */
    char origins[SRV_CORS_MAX_ORIGINS][SRV_CORS_ORIGIN_MAX + 1];
    int count;
} srv_cors;

/* What a preflight allows (Access-Control-Allow-Methods and -Headers). */
#define SRV_CORS_ALLOW_METHODS  "GET, HEAD, POST, OPTIONS"
#define SRV_CORS_ALLOW_HEADERS  "Authorization, X-Api-Key, Content-Type, X-Request-Id"
#define SRV_CORS_EXPOSE_HEADERS "X-Request-Id"
#define SRV_CORS_MAX_AGE        "600"

/* Adds `origin` (len bytes, not NUL-terminated) to c: "*" or scheme://host[:port] with the
 * scheme http or https and no path. Returns 0, or -1 with a message naming `source` (the flag
 * or variable) in err. */
int srv_cors_add(srv_cors *c, const char *source, const char *origin, size_t len, char *err,
                 size_t errlen);

/* True when CORS is on. */
bool srv_cors_enabled(const srv_cors *c);

/* The Access-Control-Allow-Origin value for a request's Origin header (NULL: none sent): "*"
 * when every origin is allowed, the origin itself when it is listed, else NULL (send no CORS
 * headers). The result points into c or origin. */
const char *srv_cors_allow(const srv_cors *c, const char *origin);

#endif
