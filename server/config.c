/* Command-line and environment configuration of attnd. Every option has a flag and an ATTND_*
 * variable; the flag wins. Values are validated here so the daemon never starts half-configured. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#ifndef ATTND_VERSION
#define ATTND_VERSION "dev"
#endif

typedef enum {
    OPT_STR,
    OPT_INT,
    OPT_I64,
    OPT_LEVEL,
    OPT_SECONDS,
    OPT_BLAS_CORE,
    OPT_PATH,
    OPT_BOOL
} opt_kind;

typedef struct opt {
    const char *flag; /* "--port" */
    const char *env;  /* "ATTND_PORT" */
    opt_kind kind;
    size_t offset;
    int64_t min, max;
    const char *help;
} opt;

#define OFF(f) offsetof(srv_config, f)

static const opt options[] = {
    {"--host", "ATTND_HOST", OPT_STR, OFF(host), 0, 0, "address to listen on (default 127.0.0.1)"},
    {"--port", "ATTND_PORT", OPT_INT, OFF(port), 0, 65535,
     "TCP port, 0 = any free port (default 8080)"},
    {"--threads", "ATTND_THREADS", OPT_INT, OFF(threads), 1, 1024,
     "attention worker threads (default: online CPUs)"},
    {"--http-threads", "ATTND_HTTP_THREADS", OPT_INT, OFF(http_threads), 1, 64,
     "HTTP polling threads (default 2, at most the CPUs)"},
    {"--queue-depth", "ATTND_QUEUE_DEPTH", OPT_INT, OFF(queue_depth), 1, 1000000,
     "requests that may wait for a worker; beyond it 503 (default 64)"},
    {"--max-body-bytes", "ATTND_MAX_BODY_BYTES", OPT_I64, OFF(max_body_bytes), 64, INT64_C(1) << 40,
     "largest request body accepted, else 413 (default 67108864)"},
    {"--max-elements", "ATTND_MAX_ELEMENTS", OPT_I64, OFF(max_elements), 1, INT64_C(1) << 40,
     "input + output tensor elements per request, else 413 (default 67108864)"},
    {"--max-score-elements", "ATTND_MAX_SCORE_ELEMENTS", OPT_I64, OFF(max_score_elements), 1,
     INT64_C(1) << 40, "B*H*Lq*Lk of returned weights, else 413 (default 67108864)"},
    {"--max-request-flops", "ATTND_MAX_REQUEST_FLOPS", OPT_I64, OFF(max_request_flops), 1,
     INT64_C(1) << 60,
     "estimated floating-point operations per request, else 413 (default 100000000000)"},
    {"--inline-max-flops", "ATTND_INLINE_MAX_FLOPS", OPT_I64, OFF(inline_max_flops), 0,
     INT64_C(1) << 40,
     "estimated work below which a request is computed on the HTTP thread that read it, not "
     "handed to a worker; 0 = never (default 8192)"},
    {"--request-timeout", "ATTND_REQUEST_TIMEOUT", OPT_SECONDS, OFF(request_timeout), 0, 86400,
     "seconds a request may take, else 504; 0 = none (default 30)"},
    {"--log-level", "ATTND_LOG_LEVEL", OPT_LEVEL, OFF(log_level), 0, 0,
     "error, warn, info (default; one access line per request) or debug"},
    {"--shutdown-timeout", "ATTND_SHUTDOWN_TIMEOUT", OPT_SECONDS, OFF(shutdown_timeout), 0, 3600,
     "seconds in-flight requests get to finish on SIGTERM (default 30)"},
    {"--blas-core", "ATTND_BLAS_CORE", OPT_BLAS_CORE, OFF(blas_core), 0, 0,
     "OpenBLAS kernels: auto (default: OPENBLAS_CORETYPE if set, else the best for this CPU's "
     "features), library (OpenBLAS's own choice) or a core name such as SkylakeX, Haswell"},
    {"--api-key-file", "ATTND_API_KEY_FILE", OPT_PATH, OFF(api_key_file), 0, 0,
     "file of API keys, one per line (# comments); requests then need Authorization: Bearer "
     "KEY or X-Api-Key: KEY, except /healthz, /readyz and /metrics; re-read on SIGHUP"},
    {"--metrics-auth", "ATTND_METRICS_AUTH", OPT_BOOL, OFF(metrics_auth), 0, 0,
     "with --api-key-file, /metrics needs a key too (flag alone, or true/false)"},
    {"--tls-cert", "ATTND_TLS_CERT", OPT_PATH, OFF(tls_cert), 0, 0,
     "PEM certificate (chain) file: serve HTTPS instead of HTTP (needs --tls-key)"},
    {"--tls-key", "ATTND_TLS_KEY", OPT_PATH, OFF(tls_key), 0, 0,
     "PEM private key file of --tls-cert"},
    {"--max-body-memory", "ATTND_MAX_BODY_MEMORY", OPT_I64, OFF(max_body_memory), 64,
     INT64_C(1) << 44,
     "request body bytes buffered at once over all connections, else 503 (default 268435456)"},
    {"--max-connections", "ATTND_MAX_CONNECTIONS", OPT_INT, OFF(max_connections), 1, 1000000,
     "open connections; a new one closes the oldest idle one, else is refused (default 1024)"},
    {"--connection-memory", "ATTND_CONNECTION_MEMORY", OPT_I64, OFF(connection_memory), 16384,
     INT64_C(64) << 20,
     "bytes of each connection's buffer: the largest header block, and each read of a body; "
     "cleared after every request (default 65536)"},
    {"--max-connections-per-ip", "ATTND_MAX_CONNECTIONS_PER_IP", OPT_INT,
     OFF(max_connections_per_ip), 0, 1000000,
     "open connections from one client address, 0 = no cap (default 256)"},
    {"--header-timeout", "ATTND_HEADER_TIMEOUT", OPT_SECONDS, OFF(header_timeout), 0, 3600,
     "seconds to send a whole request header block, 0 = none (default 10)"},
    {"--min-body-rate", "ATTND_MIN_BODY_RATE", OPT_I64, OFF(min_body_rate), 0, INT64_C(1) << 40,
     "bytes/s a body must average after --header-timeout seconds, 0 = none (default 1024)"},
    {"--idle-timeout", "ATTND_IDLE_TIMEOUT", OPT_SECONDS, OFF(idle_timeout), 0, 3600,
     "seconds a keep-alive connection may wait between requests, 0 = none (default 60)"},
    {"--source-memory", "ATTND_SOURCE_MEMORY", OPT_I64, OFF(source_memory), 1024, INT64_C(1) << 44,
     "bytes the stored sources (PUT /v1/sources/{id}) may hold; the least recently used are "
     "evicted (default 1073741824)"},
    {"--source-ttl", "ATTND_SOURCE_TTL", OPT_SECONDS, OFF(source_ttl), 1, 30 * 86400,
     "seconds a stored source is kept after its last use (default 3600)"},
};
#define NOPTIONS (sizeof options / sizeof options[0])

static void defaults(srv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->host, sizeof cfg->host, "127.0.0.1");
    cfg->port = 8080;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cpus > 0 ? (int)cpus : 1;
    cfg->http_threads = cfg->threads < 2 ? 1 : 2;
    cfg->queue_depth = 64;
    cfg->max_body_bytes = INT64_C(64) << 20;
    cfg->max_elements = INT64_C(64) << 20;
    cfg->max_score_elements = INT64_C(64) << 20;
    cfg->max_request_flops = INT64_C(100000000000);
    cfg->inline_max_flops = SRV_INLINE_MAX_FLOPS;
    cfg->request_timeout = 30.0;
    cfg->log_level = SRV_LOG_INFO;
    cfg->shutdown_timeout = 30.0;
    snprintf(cfg->blas_core, sizeof cfg->blas_core, "auto");
    cfg->blas_core_from = "default";
    cfg->max_body_memory = INT64_C(256) << 20;
    cfg->max_connections = 1024;
    cfg->connection_memory = SRV_CONNECTION_MEMORY;
    cfg->max_connections_per_ip = 256;
    cfg->header_timeout = 10.0;
    cfg->min_body_rate = 1024;
    cfg->idle_timeout = 60.0;
    cfg->source_memory = INT64_C(1) << 30;
    cfg->source_ttl = 3600.0;
}

/* Parses one value into the field `o` describes. `source` names the flag or variable. */
static int set_value(srv_config *cfg, const opt *o, const char *source, const char *value,
                     char *err, size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    char *end = NULL;
    switch (o->kind) {
    case OPT_STR:
        if (!*value || strlen(value) >= sizeof cfg->host) {
            snprintf(err, errlen, "%s: expected a non-empty address, got \"%s\"", source, value);
            return -1;
        }
        snprintf(field, sizeof cfg->host, "%s", value);
        return 0;
    case OPT_INT:
    case OPT_I64: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < o->min || v > o->max) {
            snprintf(err, errlen,
                     "%s: expected an integer from %" PRId64 " to %" PRId64 ", got \"%s\"", source,
                     o->min, o->max, value);
            return -1;
        }
        if (o->kind == OPT_INT)
            *(int *)field = (int)v;
        else
            *(int64_t *)field = (int64_t)v;
        return 0;
    }
    case OPT_SECONDS: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end || !(v >= (double)o->min && v <= (double)o->max)) {
            snprintf(err, errlen,
                     "%s: expected seconds from %" PRId64 " to %" PRId64 ", got \"%s\"", source,
                     o->min, o->max, value);
            return -1;
        }
        *(double *)field = v;
        return 0;
    }
    case OPT_BLAS_CORE:
        if (!*value || strlen(value) >= sizeof cfg->blas_core ||
            strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789()_") !=
                strlen(value)) {
            snprintf(err, errlen,
                     "%s: expected auto, library or an OpenBLAS core name such as SkylakeX, "
                     "got \"%s\"",
                     source, value);
            return -1;
        }
        snprintf(field, sizeof cfg->blas_core, "%s", value);
        cfg->blas_core_from = o->flag == source ? o->flag : o->env;
        return 0;
    case OPT_PATH:
        if (!*value || strlen(value) >= SRV_PATH_MAX) {
            snprintf(err, errlen, "%s: expected a file path of 1 to %d bytes, got \"%.200s\"",
                     source, SRV_PATH_MAX - 1, value);
            return -1;
        }
        snprintf(field, SRV_PATH_MAX, "%s", value);
        return 0;
    case OPT_BOOL:
        if (!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes")) {
            *(int *)field = 1;
        } else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no")) {
            *(int *)field = 0;
        } else {
            snprintf(err, errlen, "%s: expected true or false, got \"%.200s\"", source, value);
            return -1;
        }
        return 0;
    case OPT_LEVEL: {
        int level = srv_log_level_parse(value);
        if (level < 0) {
            snprintf(err, errlen, "%s: expected error, warn, info or debug, got \"%s\"", source,
                     value);
            return -1;
        }
        *(int *)field = level;
        return 0;
    }
    }
    return -1;
}

/* ATTND_MODEL: specs separated by commas or whitespace (a path holding either needs --model). */
static int set_models_env(srv_config *cfg, const char *value, char *err, size_t errlen)
{
    const char *p = value;
    for (;;) {
        p += strspn(p, ", \t\n\r\v\f");
        if (!*p) return 0;
        size_t n = strcspn(p, ", \t\n\r\v\f");
        if (cfg->nmodels == SRV_MAX_MODELS) {
            snprintf(err, errlen, "ATTND_MODEL: more than %d models", SRV_MAX_MODELS);
            return -1;
        }
        cfg->models[cfg->nmodels++] = (srv_model_spec){p, n};
        p += n;
    }
}

/* --model NAME=PATH or --model PATH, repeatable. The first flag drops ATTND_MODEL's specs. */
static int add_model_flag(srv_config *cfg, bool *from_flags, const char *value, char *err,
                          size_t errlen)
{
    if (!*from_flags) cfg->nmodels = 0;
    *from_flags = true;
    if (!*value || value[strlen(value) - 1] == '=') {
        snprintf(err, errlen, "--model: expected NAME=PATH or PATH, got \"%s\"", value);
        return -1;
    }
    if (cfg->nmodels == SRV_MAX_MODELS) {
        snprintf(err, errlen, "--model: more than %d models", SRV_MAX_MODELS);
        return -1;
    }
    cfg->models[cfg->nmodels++] = (srv_model_spec){value, strlen(value)};
    return 0;
}

/* ATTND_CORS_ORIGIN: origins separated by commas or whitespace. */
static int set_cors_env(srv_config *cfg, const char *value, char *err, size_t errlen)
{
    for (const char *p = value;;) {
        p += strspn(p, ", \t\n\r\v\f");
        if (!*p) return 0;
        size_t n = strcspn(p, ", \t\n\r\v\f");
        if (srv_cors_add(&cfg->cors, "ATTND_CORS_ORIGIN", p, n, err, errlen) != 0) return -1;
        p += n;
    }
}

/* A flag that takes a value: "--flag VALUE" or "--flag=VALUE". Returns the value, or NULL when
 * arg is another flag; *a advances past a separate value. Sets *missing when there is none. */
static const char *flag_value(const char *flag, int argc, char **argv, int *a, bool *missing)
{
    const char *arg = argv[*a];
    size_t n = strlen(flag);
    if (strncmp(arg, flag, n) != 0) return NULL;
    if (arg[n] == '=') return arg + n + 1;
    if (arg[n] != '\0') return NULL;
    if (*a + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*a];
}

/* Options that only mean something together: both TLS files or neither; --metrics-auth only
 * with keys to check. */
static int check_pairs(const srv_config *cfg, char *err, size_t errlen)
{
    if (cfg->metrics_auth && !*cfg->api_key_file) {
        snprintf(err, errlen,
                 "--metrics-auth needs --api-key-file (the keys /metrics would ask for)");
        return -1;
    }
    if (!*cfg->tls_cert != !*cfg->tls_key) {
        snprintf(err, errlen, "%s given without %s: HTTPS needs both the certificate and its key",
                 *cfg->tls_cert ? "--tls-cert" : "--tls-key",
                 *cfg->tls_cert ? "--tls-key" : "--tls-cert");
        return -1;
    }
    return 0;
}

static void usage(void)
{
    printf("usage: attnd [options]\n\n"
           "An HTTP daemon that computes attention: POST /v1/attention, GET /v1/models, "
           "GET /v1/models/{name}, POST /v1/models/{name}/attention, GET /healthz, /readyz, "
           "/metrics.\n\nOptions (each also read from the environment variable shown; a flag "
           "wins):\n");
    for (size_t i = 0; i < NOPTIONS; i++)
        printf("  %-22s %-26s %s\n", options[i].flag, options[i].env, options[i].help);
    printf("  %-22s %-26s %s\n", "--model NAME=PATH", "ATTND_MODEL",
           "load a safetensors model, or a Hugging Face BERT/GPT-2 folder, as NAME (default: the "
           "file or folder name), repeatable; the variable "
           "holds specs separated by commas or whitespace. \"default\" is built in; re-read on "
           "SIGHUP");
    printf("  %-22s %-26s %s\n", "--cors-origin ORIGIN", "ATTND_CORS_ORIGIN",
           "let browser pages of ORIGIN (scheme://host[:port], or * for any) call attnd, "
           "repeatable; the variable holds origins separated by commas or whitespace");
    printf("  %-22s %-26s %s\n", "--healthcheck", "",
           "probe the daemon at --host/--port: GET /healthz (HTTPS with --tls-cert), exit 0 on "
           "HTTP 200 within 2 s, else 1 (for container HEALTHCHECKs; 0.0.0.0 and :: mean "
           "loopback)");
    printf("  %-22s %-26s %s\n", "--help", "", "print this help and exit");
    printf("  %-22s %-26s %s\n", "--version", "", "print the version and exit");
}

srv_config_result srv_config_load(srv_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    defaults(cfg);
    for (size_t i = 0; i < NOPTIONS; i++) {
        const char *v = getenv(options[i].env);
        if (v && set_value(cfg, &options[i], options[i].env, v, err, errlen) != 0)
            return SRV_CONFIG_ERROR;
    }
    const char *models_env = getenv("ATTND_MODEL");
    if (models_env && set_models_env(cfg, models_env, err, errlen) != 0) return SRV_CONFIG_ERROR;
    const char *cors_env = getenv("ATTND_CORS_ORIGIN");
    if (cors_env && set_cors_env(cfg, cors_env, err, errlen) != 0) return SRV_CONFIG_ERROR;
    bool models_from_flags = false, cors_from_flags = false;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        bool missing = false;
        const char *origin = flag_value("--cors-origin", argc, argv, &a, &missing);
        if (missing) {
            snprintf(err, errlen, "--cors-origin: missing value");
            return SRV_CONFIG_ERROR;
        }
        if (origin) {
            if (!cors_from_flags) cfg->cors.count = 0; /* the flags replace the variable */
            cors_from_flags = true;
            if (srv_cors_add(&cfg->cors, "--cors-origin", origin, strlen(origin), err, errlen))
                return SRV_CONFIG_ERROR;
            continue;
        }
        if (strcmp(arg, "--model") == 0 || strncmp(arg, "--model=", 8) == 0) {
            const char *value = arg + 7;
            if (*value == '=') {
                value++;
            } else if (a + 1 >= argc) {
                snprintf(err, errlen, "--model: missing value");
                return SRV_CONFIG_ERROR;
            } else {
                value = argv[++a];
            }
            if (add_model_flag(cfg, &models_from_flags, value, err, errlen) != 0)
                return SRV_CONFIG_ERROR;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage();
            return SRV_CONFIG_EXIT;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("attnd %s\n", ATTND_VERSION);
            return SRV_CONFIG_EXIT;
        }
        const opt *o = NULL;
        const char *value = NULL;
        for (size_t i = 0; i < NOPTIONS && !o; i++) {
            size_t n = strlen(options[i].flag);
            if (strncmp(arg, options[i].flag, n) != 0) continue;
            if (arg[n] == '=') {
                o = &options[i];
                value = arg + n + 1;
            } else if (arg[n] == '\0' && options[i].kind == OPT_BOOL) {
                o = &options[i];
                value = "true";
            } else if (arg[n] == '\0') {
                o = &options[i];
                if (a + 1 >= argc) {
                    snprintf(err, errlen, "%s: missing value", arg);
                    return SRV_CONFIG_ERROR;
                }
                value = argv[++a];
            }
        }
        if (!o) {
            snprintf(err, errlen, "unknown option \"%s\" (see attnd --help)", arg);
            return SRV_CONFIG_ERROR;
        }
        if (set_value(cfg, o, o->flag, value, err, errlen) != 0) return SRV_CONFIG_ERROR;
    }
    if (cfg->max_body_memory < cfg->max_body_bytes) {
        snprintf(err, errlen,
                 "--max-body-memory (%lld) must be at least --max-body-bytes (%lld), or no body "
                 "of the largest size could ever be accepted",
                 (long long)cfg->max_body_memory, (long long)cfg->max_body_bytes);
        return SRV_CONFIG_ERROR;
    }
    if (check_pairs(cfg, err, errlen) != 0) return SRV_CONFIG_ERROR;
    return SRV_CONFIG_RUN;
}
