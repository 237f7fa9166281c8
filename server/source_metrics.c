/* The attnd_sources_* families of /metrics, from one snapshot of the source store. */
#include "source_metrics.h"

static void family(api_buf *out, const char *name, const char *type, const char *help,
                   long long value)
{
    api_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name,
                   value);
}

void srv_source_metrics_render(api_buf *out, api_source_store *store)
{
    if (!store) return;
    api_source_stats st;
    api_source_store_stats(store, &st);
    family(out, "attnd_sources", "gauge", "Stored key/value sets (PUT /v1/sources/{id}).",
           (long long)st.count);
    family(out, "attnd_sources_bytes", "gauge", "Bytes the stored sources hold.",
           (long long)st.bytes);
    family(out, "attnd_sources_budget_bytes", "gauge",
           "Bytes the stored sources may hold (--source-memory).", (long long)st.budget);
    family(out, "attnd_sources_evictions_total", "counter",
           "Sources evicted, least recently used first, to stay within --source-memory.",
           (long long)st.evictions);
    family(out, "attnd_sources_expirations_total", "counter",
           "Sources dropped after --source-ttl seconds unused.", (long long)st.expirations);
    family(out, "attnd_sources_hits_total", "counter",
           "Attention requests whose source_id named a stored source.", (long long)st.hits);
    family(out, "attnd_sources_misses_total", "counter",
           "Attention requests whose source_id named no stored source (404).",
           (long long)st.misses);
}
