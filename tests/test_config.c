/* Tests of attnd's command line and environment: --help, --version, bad values (exit 2 with a
 * message naming the option), ATTND_* variables, and a flag winning over its variable. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon.h"
#include "harness.h"

TEST(config_help_and_version)
{
    char out[8192];
    ASSERT_EQ(test_run_attnd(NULL, "--help", out, sizeof out), 0);
    const char *flags[] = {
        "--host",      "--port",     "--threads",     "--queue-depth",     "--max-body-bytes",
        "--log-level", "ATTND_PORT", "ATTND_THREADS", "--model NAME=PATH", "ATTND_MODEL"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        ASSERT_CONTAINS(out, flags[i]);
    ASSERT_EQ(test_run_attnd(NULL, "--version", out, sizeof out), 0);
    ASSERT_CONTAINS(out, "attnd ");
}

TEST(config_bad_values_exit_2)
{
    char out[4096];
    ASSERT_EQ(test_run_attnd(NULL, "--port 70000", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--port");
    ASSERT_EQ(test_run_attnd(NULL, "--threads zero", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--threads");
    ASSERT_EQ(test_run_attnd(NULL, "--log-level loud", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--log-level");
    ASSERT_EQ(test_run_attnd(NULL, "--frobnicate", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "unknown option");
    ASSERT_EQ(test_run_attnd(NULL, "--port", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "missing value");
    ASSERT_EQ(test_run_attnd("ATTND_QUEUE_DEPTH=-3", "--version", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "ATTND_QUEUE_DEPTH");
}

TEST(config_env_and_flag_priority)
{
    /* ATTND_THREADS=3 is used; --queue-depth beats ATTND_QUEUE_DEPTH. */
    setenv("ATTND_THREADS", "3", 1);
    setenv("ATTND_QUEUE_DEPTH", "5", 1);
    const char *args[] = {"--queue-depth", "7", NULL};
    test_daemon d;
    int rc = test_daemon_start(&d, args);
    unsetenv("ATTND_THREADS");
    unsetenv("ATTND_QUEUE_DEPTH");
    ASSERT_EQ(rc, 0);
    char *log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "workers=3");
    ASSERT_CONTAINS(log, "queue_depth=7");
    free(log);
    test_response r;
    ASSERT_EQ(test_http(&d, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    ASSERT_CONTAINS(r.body, "attnd_workers 3");
    ASSERT_CONTAINS(r.body, "attnd_queue_capacity 7");
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(config_port_in_use_fails)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    char out[4096], args[64];
    snprintf(args, sizeof args, "--host 127.0.0.1 --port %d", d.port);
    ASSERT_EQ(test_run_attnd(NULL, args, out, sizeof out), 1);
    ASSERT_CONTAINS(out, "cannot listen");
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(config_access_options)
{
    char out[8192];
    ASSERT_EQ(test_run_attnd(NULL, "--help", out, sizeof out), 0);
    const char *flags[] = {"--api-key-file",     "ATTND_API_KEY_FILE", "--metrics-auth",
                           "ATTND_METRICS_AUTH", "--tls-cert",         "ATTND_TLS_CERT",
                           "--tls-key",          "ATTND_TLS_KEY",      "--cors-origin ORIGIN",
                           "ATTND_CORS_ORIGIN"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        ASSERT_CONTAINS(out, flags[i]);
    /* Each checked before anything starts: exit 2 naming the flag or variable. */
    ASSERT_EQ(test_run_attnd(NULL, "--metrics-auth=maybe", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--metrics-auth: expected true or false");
    ASSERT_EQ(test_run_attnd("ATTND_METRICS_AUTH=2", "--version", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "ATTND_METRICS_AUTH: expected true or false");
    ASSERT_EQ(test_run_attnd(NULL, "--api-key-file ''", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--api-key-file: expected a file path");
    ASSERT_EQ(test_run_attnd(NULL, "--tls-key k.pem", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--tls-key given without --tls-cert");
    /* (Checked once every option is read: a daemon that started would be stopped by timeout.) */
    ASSERT_EQ(test_run_attnd("ATTND_TLS_CERT=c.pem timeout 20", "--port 0", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--tls-cert given without --tls-key");
    ASSERT_EQ(test_run_attnd("timeout 20", "--port 0 --metrics-auth", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--metrics-auth needs --api-key-file");
    ASSERT_EQ(test_run_attnd(NULL, "--cors-origin", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--cors-origin: missing value");
    ASSERT_EQ(test_run_attnd("ATTND_CORS_ORIGIN='https://a.example, a.example'", "--version", out,
                             sizeof out),
              2);
    ASSERT_CONTAINS(out, "ATTND_CORS_ORIGIN: expected * or an origin");
    /* --cors-origin flags replace ATTND_CORS_ORIGIN (whose bad origin is then not used). */
    ASSERT_EQ(test_run_attnd("ATTND_CORS_ORIGIN=https://a.example", "--cors-origin x --version",
                             out, sizeof out),
              2);
    setenv("ATTND_CORS_ORIGIN", "https://a.example http://b.example:8000", 1);
    test_daemon d;
    int rc = test_daemon_start(&d, NULL);
    ASSERT_EQ(rc, 0);
    char *log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "api_keys=off cors_origins=2");
    free(log);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
    const char *args[] = {"--cors-origin=https://c.example", NULL};
    rc = test_daemon_start(&d, args);
    unsetenv("ATTND_CORS_ORIGIN");
    ASSERT_EQ(rc, 0);
    log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "cors_origins=1");
    free(log);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}
