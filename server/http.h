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
#include "config.h"

typedef struct srv_http srv_http;

/* Binds cfg->host:cfg->port and starts serving; jobs go to `pool` and the model routes serve
 * `models` (neither owned: both must outlive the server). Returns NULL with a message in err
 * when the address cannot be resolved or bound. */
srv_http *srv_http_start(const srv_config *cfg, at_pool *pool, const api_model_registry *models,
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
