/* Model sets: a registry plus a reference count. The current set pointer changes only under a
 * mutex, and taking a reference happens under the same mutex, so a set is never freed between a
 * request reading the pointer and counting itself in. Reloading loads outside the lock. */
#include "models.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct srv_model_set {
    api_model_registry *registry;
    atomic_long refs;
};

struct srv_models {
    pthread_mutex_t lock;
    srv_model_set *current;
    char **specs; /* "NAME=PATH" or "PATH", NUL-terminated copies */
    int nspecs;
};

static srv_model_set *set_new(api_model_registry *r)
{
    srv_model_set *s = malloc(sizeof *s);
    if (!s) return NULL;
    s->registry = r;
    atomic_init(&s->refs, 1); /* the srv_models' own reference while it is current */
    return s;
}

void srv_models_release(srv_model_set *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) > 1) return;
    api_model_registry_free(s->registry);
    free(s);
}

srv_model_set *srv_models_acquire(srv_models *m)
{
    pthread_mutex_lock(&m->lock);
    srv_model_set *s = m->current;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&m->lock);
    return s;
}

const api_model_registry *srv_model_set_registry(const srv_model_set *s)
{
    return s->registry;
}

static void log_model(const char *msg, const api_model *model)
{
    api_model_info in;
    char source[600], stamp[32];
    api_model_get_info(model, &in);
    srv_log_quote(source, sizeof source, in.source ? in.source : "built-in");
    struct tm tm;
    gmtime_r(&in.loaded_at, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    srv_log(SRV_LOG_INFO, msg,
            "name=%s source=%s embedding=%s embed_dim=%lld num_heads=%lld vocab_size=%lld "
            "max_len=%lld dtype=%s loaded_at=%s",
            in.name, source, in.embedding, (long long)in.embed_dim, (long long)in.num_heads,
            (long long)in.vocab_size, (long long)in.max_len, in.dtype, stamp);
}

void srv_models_free(srv_models *m)
{
    if (!m) return;
    srv_models_release(m->current);
    for (int i = 0; i < m->nspecs; i++)
        free(m->specs[i]);
    free(m->specs);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

srv_models *srv_models_load(const srv_config *cfg)
{
    srv_models *m = calloc(1, sizeof *m);
    api_model_registry *r = api_model_registry_new();
    if (!m || !r || (cfg->nmodels && !(m->specs = calloc((size_t)cfg->nmodels, sizeof(char *)))))
        goto oom;
    pthread_mutex_init(&m->lock, NULL);
    char berr[1024], qberr[2048];
    if (api_model_registry_add_builtins(r, berr, sizeof berr) != 0) {
        srv_log_quote(qberr, sizeof qberr, berr);
        srv_log(SRV_LOG_ERROR, "start_failed", "reason=%s", qberr);
        goto fail;
    }
    for (int i = 0; i < cfg->nmodels; i++) {
        const srv_model_spec *sp = &cfg->models[i];
        if (!(m->specs[i] = strndup(sp->spec, sp->len))) goto oom;
        m->nspecs++;
        char err[1024], qspec[600], qerr[2048];
        if (api_model_registry_load_spec(r, m->specs[i], err, sizeof err) != 0) {
            srv_log_quote(qspec, sizeof qspec, m->specs[i]);
            srv_log_quote(qerr, sizeof qerr, err);
            srv_log(SRV_LOG_ERROR, "start_failed", "model=%s reason=%s", qspec, qerr);
            goto fail;
        }
    }
    if (!(m->current = set_new(r))) goto oom;
    for (size_t i = 0; i < api_model_registry_count(r); i++)
        log_model("model_loaded", api_model_registry_at(r, i));
    return m;
oom:
    srv_log(SRV_LOG_ERROR, "start_failed", "reason=\"out of memory\"");
fail:
    api_model_registry_free(r);
    srv_models_free(m);
    return NULL;
}

int srv_models_reload(srv_models *m)
{
    /* Only this thread swaps sets, so reading current without the lock is safe here. */
    const api_model_registry *old = m->current->registry;
    api_model_registry *r = api_model_registry_new_empty();
    int failed = 0;
    if (!r) goto oom;
    /* The built-in models (no file: nothing to re-read) are shared as they are. */
    for (size_t i = 0; i < api_model_registry_count(old); i++) {
        api_model_info in;
        api_model_get_info(api_model_registry_at(old, i), &in);
        if (!in.source && api_model_registry_share(r, api_model_registry_at(old, i)) != 0) goto oom;
    }
    for (int i = 0; i < m->nspecs; i++) {
        char err[1024], qspec[600], qerr[2048], name[API_MODEL_NAME_MAX + 2];
        if (api_model_registry_load_spec(r, m->specs[i], err, sizeof err) == 0) {
            log_model("model_reloaded", api_model_registry_at(r, api_model_registry_count(r) - 1));
            continue;
        }
        failed++;
        api_model_spec_name(m->specs[i], name, sizeof name);
        const api_model *prev = api_model_registry_find(old, name);
        srv_log_quote(qspec, sizeof qspec, m->specs[i]);
        srv_log_quote(qerr, sizeof qerr, err);
        srv_log(SRV_LOG_ERROR, "model_reload_failed", "model=%s reason=%s kept=%s", qspec, qerr,
                prev ? "previous" : "none");
        if (prev && api_model_registry_share(r, prev) != 0) goto oom;
    }
    srv_model_set *s = set_new(r);
    if (!s) goto oom;
    pthread_mutex_lock(&m->lock);
    srv_model_set *was = m->current;
    m->current = s;
    pthread_mutex_unlock(&m->lock);
    srv_models_release(was);
    return failed;
oom:
    srv_log(SRV_LOG_ERROR, "model_reload_failed", "reason=\"out of memory\" kept=all");
    api_model_registry_free(r);
    return m->nspecs + 1;
}
