/* API keys (--api-key-file): the keys a request may present as "Authorization: Bearer KEY" or
 * "X-Api-Key: KEY", read from a file of one key per line, compared in constant time, and re-read
 * on SIGHUP while requests keep being checked against the keys of the moment. */
#ifndef SRV_AUTH_H
#define SRV_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define SRV_AUTH_KEY_MAX 256 /* bytes in one key */

typedef struct srv_auth srv_auth;

/* Reads the key file at `path` (copied). The file holds one key per line; blank lines and lines
 * whose first non-blank character is '#' are skipped, and blanks around a key are trimmed. A key
 * is 1 to SRV_AUTH_KEY_MAX printable ASCII characters without spaces. Returns NULL with a
 * message in err (naming the file and line, never a key) when the file cannot be read, a line is
 * not a key, or it holds no key. */
srv_auth *srv_auth_new(const char *path, char *err, size_t errlen);

/* Frees the keys. NULL is a no-op. Call once no request is being checked. */
void srv_auth_free(srv_auth *a);

/* Reads the file again. On success the new keys replace the old at once and 0 is returned with
 * the count in *nkeys; on failure the old keys stay and -1 is returned with a message in err.
 * Thread-safe with srv_auth_check. */
int srv_auth_reload(srv_auth *a, size_t *nkeys, char *err, size_t errlen);

/* Number of keys now loaded. */
size_t srv_auth_count(srv_auth *a);

/* True when the request's Authorization header (a "Bearer KEY", scheme case-insensitive) or its
 * X-Api-Key header (either may be NULL) holds one of the keys. The comparison takes the same
 * time whichever key matches, or how much of one: it touches every key, at full
 * SRV_AUTH_KEY_MAX length. Thread-safe. */
bool srv_auth_check(srv_auth *a, const char *authorization, const char *x_api_key);

/* True when `path` is answered without a key: the probes (/healthz, /readyz and everything
 * under /v2/health/), and /metrics unless metrics_auth. One table in auth.c lists them. */
bool srv_auth_open_path(const char *path, bool metrics_auth);

#endif
