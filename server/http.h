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

/* Stops accepting connections and makes /readyz answer 503; requests already received carry
 * on. Idempotent. */
void srv_http_drain(srv_http *h);

/* Stops the server (closing idle connections) and frees it. Call once no request is in flight
 * (srv_metrics_in_flight() == 0) or the drain timeout passed. NULL is a no-op. */
void srv_http_stop(srv_http *h);

#endif
