/* attnd's entry point: reads the configuration, starts the worker pool and the HTTP server,
 * then waits for signals on the main thread: SIGHUP re-reads the API keys and the models,
 * SIGINT/SIGTERM shut down gracefully: stop accepting, let in-flight requests finish (up to
 * --shutdown-timeout), stop, exit 0. With --healthcheck it
 * instead probes a running daemon's /healthz and exits 0 or 1. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/blas.h"
#include "../core/pool.h"
#include "auth.h"
#include "blas_core.h"
#include "config.h"
#include "healthcheck.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "models.h"

#ifndef ATTND_VERSION
#define ATTND_VERSION "dev"
#endif

/* The whole probe of --healthcheck: connect, send, read the status line. */
#define HEALTHCHECK_TIMEOUT_MS 2000

static int signal_pipe[2];

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(signal_pipe[1], &b, 1); /* async-signal-safe; a full pipe is fine */
    (void)w;
    errno = saved;
}

/* The start-up line that says which BLAS kernels run and why, and a warning when they are older
 * than what the CPU supports (a user's OPENBLAS_CORETYPE, or a library that lacks newer ones). */
static void log_blas_core(const srv_blas_core *b)
{
    char library[300], note[200];
    srv_log_quote(library, sizeof library, at_blas_version());
    srv_log_quote(note, sizeof note, b->note);
    srv_log(SRV_LOG_INFO, "blas", "core=%s reason=%s by=%s cpu=%s cpu_level=%s library=%s%s%s",
            b->core, b->reason, b->source, at_cpu_vendor_name(b->cpu.vendor),
            at_cpu_level_name(b->cpu.level), library, b->note[0] ? " note=" : "",
            b->note[0] ? note : "");
    if (b->outdated) {
        const char *cand[1];
        int n = at_blas_core_candidates(&b->cpu, cand, 1);
        srv_log(SRV_LOG_WARN, "blas_core_outdated",
                "core=%s core_level=%s cpu_level=%s by=%s hint=\"kernels older than this CPU "
                "supports; --blas-core %s (or unsetting OPENBLAS_CORETYPE) runs faster ones\"",
                b->core, at_cpu_level_name((at_cpu_level)b->core_level),
                at_cpu_level_name(b->cpu.level), b->source, n ? cand[0] : "auto");
    }
}

/* Removes every "--healthcheck" from argv; returns whether there was one. It is taken out here
 * rather than parsed with the options because it changes what the process does, not how the
 * daemon is configured: the probe reads the same --host/--port and ATTND_* as the daemon. */
static bool take_healthcheck_flag(int *argc, char **argv)
{
    bool found = false;
    int n = 1;
    for (int a = 1; a < *argc; a++) {
        if (strcmp(argv[a], "--healthcheck") == 0)
            found = true;
        else
            argv[n++] = argv[a];
    }
    argv[n] = NULL;
    *argc = n;
    return found;
}

/* SIGHUP: the API key file and every model file read again. What fails to load is logged and
 * the old keys or model keep serving; connections and requests in flight are untouched. */
static void reload(srv_auth *auth, srv_models *models)
{
    srv_log(SRV_LOG_INFO, "reloading", "signal=SIGHUP");
    if (auth) {
        char err[1100], qerr[1200];
        size_t n = 0;
        if (srv_auth_reload(auth, &n, err, sizeof err) == 0) {
            srv_log(SRV_LOG_INFO, "api_keys_reloaded", "keys=%zu", n);
        } else {
            srv_log_quote(qerr, sizeof qerr, err);
            srv_log(SRV_LOG_ERROR, "api_keys_reload_failed", "reason=%s kept_keys=%zu", qerr,
                    srv_auth_count(auth));
        }
    }
    int failed = srv_models_reload(models);
    srv_log(failed ? SRV_LOG_WARN : SRV_LOG_INFO, "reloaded", "models_failed=%d", failed);
}

/* Exit status 0 healthy, 1 not: what a container HEALTHCHECK expects (2 is reserved there,
 * so a configuration error is reported as 1 too). */
static int run_healthcheck(const srv_config *cfg)
{
    char err[512];
    if (srv_healthcheck(cfg->host, cfg->port, *cfg->tls_cert != '\0', HEALTHCHECK_TIMEOUT_MS, err,
                        sizeof err) != 0) {
        fprintf(stderr, "attnd --healthcheck: unhealthy: %s\n", err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    srv_config cfg;
    char err[512];
    bool healthcheck = take_healthcheck_flag(&argc, argv);
    switch (srv_config_load(&cfg, argc, argv, err, sizeof err)) {
    case SRV_CONFIG_EXIT: return 0;
    case SRV_CONFIG_ERROR: fprintf(stderr, "attnd: %s\n", err); return healthcheck ? 1 : 2;
    case SRV_CONFIG_RUN: break;
    }
    if (healthcheck) return run_healthcheck(&cfg);
    srv_log_set_level(cfg.log_level);

    /* Before anything else: this may re-execute the process so that OpenBLAS loads the kernels
     * that fit the CPU (blas_core.h). */
    srv_blas_core blas;
    if (srv_blas_core_setup(cfg.blas_core, cfg.blas_core_from, argv, &blas, err, sizeof err) != 0) {
        fprintf(stderr, "attnd: %s\n", err);
        return 2;
    }

    /* SIGINT/SIGTERM/SIGHUP are caught by a handler that only writes to a pipe the main thread
     * waits on. A signal mask alone would not do: libraries start threads of their own (OpenBLAS
     * does at load time), and a signal delivered to one of them would kill the process. SIGPIPE
     * is ignored: a client hanging up is not fatal. */
    if (pipe(signal_pipe) != 0) {
        perror("attnd: pipe");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Keys and models first: a bad file stops the start before anything listens. */
    srv_auth *auth = NULL;
    if (*cfg.api_key_file) {
        char qerr[1100];
        if (!(auth = srv_auth_new(cfg.api_key_file, err, sizeof err))) {
            srv_log_quote(qerr, sizeof qerr, err);
            srv_log(SRV_LOG_ERROR, "start_failed", "reason=%s", qerr);
            return 1;
        }
        srv_log(SRV_LOG_INFO, "api_keys_loaded", "keys=%zu metrics_auth=%s", srv_auth_count(auth),
                cfg.metrics_auth ? "true" : "false");
    }
    srv_models *models = srv_models_load(&cfg);
    if (!models) {
        srv_auth_free(auth);
        return 1;
    }
    at_blas_init();
    log_blas_core(&blas);
    srv_metrics_init(ATTND_VERSION, at_blas_version(), blas.core, blas.reason,
                     at_cpu_level_name(blas.cpu.level));
    at_pool *pool = at_pool_new(cfg.threads, cfg.queue_depth);
    if (!pool) {
        srv_log(SRV_LOG_ERROR, "start_failed", "reason=\"cannot start %d worker threads\"",
                cfg.threads);
        srv_models_free(models);
        srv_auth_free(auth);
        return 1;
    }
    srv_http *http = srv_http_start(&cfg, pool, models, auth, err, sizeof err);
    if (!http) {
        char qerr[1100];
        srv_log_quote(qerr, sizeof qerr, err);
        srv_log(SRV_LOG_ERROR, "start_failed", "reason=%s", qerr);
        at_pool_free(pool);
        srv_models_free(models);
        srv_auth_free(auth);
        return 1;
    }
    srv_model_set *set = srv_models_acquire(models);
    size_t nmodels = api_model_registry_count(srv_model_set_registry(set));
    srv_models_release(set);
    srv_log(SRV_LOG_INFO, "listening",
            "url=%s://%s%s%s:%d/ version=%s workers=%d http_threads=%d queue_depth=%d "
            "max_body_bytes=%lld models=%zu api_keys=%s cors_origins=%d",
            *cfg.tls_cert ? "https" : "http", strchr(cfg.host, ':') ? "[" : "", cfg.host,
            strchr(cfg.host, ':') ? "]" : "", srv_http_port(http), ATTND_VERSION, cfg.threads,
            cfg.http_threads, cfg.queue_depth, (long long)cfg.max_body_bytes, nmodels,
            auth ? "on" : "off", cfg.cors.count);

    unsigned char sig = 0;
    for (;;) {
        if (read(signal_pipe[0], &sig, 1) != 1) {
            if (errno == EINTR) continue;
            srv_log(SRV_LOG_ERROR, "signal_pipe", "reason=\"%s\"", strerror(errno));
            break;
        }
        if (sig != SIGHUP) break;
        reload(auth, models);
    }
    srv_log(SRV_LOG_INFO, "draining", "signal=%s in_flight=%ld",
            sig == SIGINT ? "SIGINT" : "SIGTERM", srv_metrics_in_flight());
    srv_http_drain(http);
    if (!srv_http_wait_drained(http, cfg.shutdown_timeout)) {
        /* Workers may still resume suspended connections, so the server cannot be torn down
         * under them: leave at once and let the kernel close the sockets. Requests were
         * abandoned, so the exit says so. */
        srv_log(SRV_LOG_WARN, "drain_timeout", "in_flight_abandoned=%ld", srv_metrics_in_flight());
        _exit(1);
    }
    srv_http_stop(http);
    at_pool_free(pool);
    srv_models_free(models);
    srv_auth_free(auth);
    srv_log(SRV_LOG_INFO, "stopped", "in_flight=0");
    return 0;
}
