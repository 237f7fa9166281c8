/* The daemon's configuration: built-in defaults, overridden by ATTND_* environment variables,
 * overridden by command-line flags. Parsing only; nothing here starts anything. */
#ifndef SRV_CONFIG_H
#define SRV_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cors.h"

/* Bytes of a file path option (--api-key-file, --tls-cert, --tls-key), NUL included. */
#define SRV_PATH_MAX 1024

/* Default of --connection-memory: libmicrohttpd's per-connection pool (server/http.c says why
 * this size). */
#define SRV_CONNECTION_MEMORY 65536

/* Default of --inline-max-flops: requests estimated (core/cost.h) at no more than this many
 * floating-point operations are computed on the HTTP thread that decoded them instead of being
 * handed to a worker. The hand-off (queue, condition-variable wake-up, suspend, resume through
 * libmicrohttpd's inter-thread pipe, two context switches) measured 12-15 us of CPU per request:
 * a [4, 8] query took 28-33 us of attnd's CPU through the queue and 17.5-18 us inline, under wrk
 * at 32 connections. Computing and encoding grows by about 1.5-2 ns per estimated FLOP at such
 * shapes (L16 d1, 6144 FLOPs, took 8.6 us more than L4 d1, 384), so up to 8192 FLOPs a request
 * holds its polling thread about as long as handing it off would. */
#define SRV_INLINE_MAX_FLOPS 8192

/* The most models one daemon loads (--model flags, or specs in ATTND_MODEL). */
#define SRV_MAX_MODELS 64

/* One model to load: "NAME=PATH" or "PATH", `len` bytes at `spec` (not NUL-terminated: it may
 * be a piece of ATTND_MODEL). Points into argv or the environment, which outlive the config. */
typedef struct srv_model_spec {
    const char *spec;
    size_t len;
} srv_model_spec;

typedef struct srv_config {
    char host[256];   /* address to listen on: IPv4/IPv6 literal or a resolvable name */
    int port;         /* 0..65535; 0 asks the kernel for a free port */
    int threads;      /* attention workers */
    int http_threads; /* libmicrohttpd polling threads */
    int queue_depth;  /* jobs that may wait for a worker before 503 */
    int64_t max_body_bytes;
    int64_t max_elements;       /* input + output elements of one request */
    int64_t max_score_elements; /* B*H*Lq*Lk */
    int64_t max_request_flops;  /* estimated FLOPs of one request (core/cost.h) */
    int64_t inline_max_flops;   /* work computed on the HTTP thread, not queued; 0: none */
    double request_timeout;     /* seconds a request may take from arrival to answer; 0: none */
    int log_level;              /* SRV_LOG_* */
    double shutdown_timeout;    /* seconds to let in-flight requests finish */
    char blas_core[32];         /* "auto", "library" or an OpenBLAS core name */
    const char *blas_core_from; /* "--blas-core", "ATTND_BLAS_CORE" or "default" */
    /* Abuse limits (server/admission.c, server/conn_guard.c); 0 disables the timeouts. */
    int64_t max_body_memory;    /* bytes of request bodies buffered at once, all connections */
    int max_connections;        /* open connections; beyond it the oldest idle one is closed */
    int64_t connection_memory;  /* bytes of each connection's buffer (headers, body reads) */
    int max_connections_per_ip; /* open connections from one client address; 0 = no cap */
    double header_timeout;      /* seconds for a whole header block (and a new connection's
                                 * first request), and the grace before --min-body-rate */
    int64_t min_body_rate;      /* bytes/s a body must average after the grace */
    double idle_timeout;        /* seconds a keep-alive connection may wait between requests */
    /* Stored key/value sets (PUT /v1/sources/{id}, api/source_store.h). */
    int64_t source_memory; /* bytes all sources may hold; the least recently used go first */
    double source_ttl;     /* seconds a source is kept unused */
    /* Models to load at start-up besides the built-in "default": every --model flag, or, when
     * there is none, the specs of ATTND_MODEL (separated by commas or whitespace). */
    srv_model_spec models[SRV_MAX_MODELS];
    int nmodels;
    char api_key_file[SRV_PATH_MAX]; /* "" = no API keys: every route open */
    int metrics_auth;                /* 1: /metrics needs a key too */
    char tls_cert[SRV_PATH_MAX];     /* PEM files; both or neither ("" = plain HTTP) */
    char tls_key[SRV_PATH_MAX];
    srv_cors cors; /* --cors-origin flags, or ATTND_CORS_ORIGIN's origins */
} srv_config;

typedef enum srv_config_result {
    SRV_CONFIG_RUN,   /* start the daemon */
    SRV_CONFIG_EXIT,  /* --help or --version was printed: exit 0 */
    SRV_CONFIG_ERROR, /* a message was written to err: exit 2 */
} srv_config_result;

/* Fills *cfg from defaults, the environment (getenv) and argv, in increasing priority. Writes
 * --help / --version text to stdout. On error, err holds a message naming the flag or variable. */
srv_config_result srv_config_load(srv_config *cfg, int argc, char **argv, char *err, size_t errlen);

#endif
