/* The HTTP front of attnd on libmicrohttpd: routes requests, reads and decodes bodies on the
 * polling threads, hands attention jobs (of /v1/attention and /v1/models/{name}/attention) to
 * the core's worker pool with the connection suspended, and resumes it when the worker has
 * encoded the response. */
#ifndef SRV_HTTP_H
#define SRV_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "../api/api.h"
#include "../core/pool.h"
#include "auth.h"
#include "config.h"
#include "models.h"

typedef struct srv_http srv_http;

/* Binds cfg->host:cfg->port and starts serving, over HTTPS when cfg->tls_cert is set; jobs go
 * to `pool`, the model routes serve `models` (each request on the set current when it began),
 * and `auth`, when not NULL, holds the API keys every route but the open ones needs (none is
 * owned: all must outlive the server). Returns NULL with a message in err when the address
 * cannot be resolved or bound, or the certificate or key cannot be read or used. */
srv_http *srv_http_start(const srv_config *cfg, at_pool *pool, srv_models *models, srv_auth *auth,
                         char *err, size_t errlen);

/* The port actually bound (useful with port 0). */
int srv_http_port(const srv_http *h);

/* Stops accepting connections, makes /readyz answer 503 and closes the connections that wait
 * between requests; a request already begun carries on, and its connection is closed after its
 * response ("Connection: close"). Idempotent. */
void srv_http_drain(srv_http *h);

/* After srv_http_drain: waits up to `timeout` seconds until no request is in flight, then
 * closes the gate (a request still arriving is answered 503 rather than suspended). Returns
 * true when nothing is in flight nor suspended, so srv_http_stop is safe; false when requests
 * were still in flight at the timeout (they are abandoned: do not call srv_http_stop, since
 * workers may still resume their connections; exit the process instead). */
bool srv_http_wait_drained(srv_http *h, double timeout);

/* Stops the server (closing idle connections) and frees it. Call only after
 * srv_http_wait_drained returned true. NULL is a no-op. */
void srv_http_stop(srv_http *h);

#endif
