/* The stored sources' figures in /metrics (api/source_store.h): how many, their bytes against
 * the budget, evictions, expirations, and lookups that found or missed their source. */
#ifndef SRV_SOURCE_METRICS_H
#define SRV_SOURCE_METRICS_H

#include "../api/buf.h"
#include "../api/source_store.h"

/* Appends the attnd_sources_* families to out (Prometheus text format). NULL store: nothing.
 * Thread-safe. */
void srv_source_metrics_render(api_buf *out, api_source_store *store);

#endif
