/* X-Request-Id: every response carries one, the client's when it sent a sane one, else one made
 * here that is unique within the process and, with its random prefix, across restarts. */
#ifndef SRV_REQUEST_ID_H
#define SRV_REQUEST_ID_H

#include <stdbool.h>
#include <stddef.h>

#define SRV_REQUEST_ID_MAX 128 /* characters of an accepted client id */

/* True when s is 1 to SRV_REQUEST_ID_MAX characters of A-Z a-z 0-9 . _ : - (what can be echoed
 * in a header and a log line without escaping). NULL is not sane. */
bool srv_request_id_sane(const char *s);

/* Writes the id of a request into out (at least SRV_REQUEST_ID_MAX + 1 bytes): `client` (the
 * request's X-Request-Id header, or NULL) when sane, else a new one of 29 characters: 12 hex
 * digits drawn at random once per process, "-", and a 16-hex-digit counter. Thread-safe. */
void srv_request_id_make(const char *client, char *out, size_t cap);

#endif
