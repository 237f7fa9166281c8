/* `attnd --healthcheck`: a probe for container HEALTHCHECKs that needs no curl or wget in the
 * image. It asks a running attnd for GET /healthz, over HTTPS when the daemon serves it, and
 * reports the answer. */
#ifndef SRV_HEALTHCHECK_H
#define SRV_HEALTHCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* The loopback address to probe when the daemon listens on `host`: "0.0.0.0" and "" become
 * "127.0.0.1", "::" and "[::]" become "::1", anything else is returned unchanged (a name or a
 * literal; brackets around an IPv6 literal are kept for the caller to strip). The result points
 * into `host` or to a string literal. */
const char *srv_healthcheck_target(const char *host);

/* Connects to srv_healthcheck_target(host):port (every address the name resolves to, in turn),
 * with tls a TLS handshake (the certificate is not verified: the probe asks its own daemon on
 * loopback), sends GET /healthz and reads the status line, all within timeout_ms milliseconds
 * in total. Returns 0 when the answer is HTTP 200, else -1 with a message in err saying what
 * happened (refused, timed out, the handshake failed, the status received). Blocking; uses no
 * global state. */
int srv_healthcheck(const char *host, int port, bool tls, int timeout_ms, char *err, size_t errlen);

#endif
