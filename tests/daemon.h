/* Test support: start the real attnd binary on a free port, talk to it with libcurl, stop it.
 * The binary is $ATTND_BIN (the Makefile sets it), else build/attnd. */
#ifndef TESTS_DAEMON_H
#define TESTS_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

typedef struct test_daemon {
    pid_t pid;
    int port;
    char log_path[64]; /* its stderr */
} test_daemon;

/* Starts attnd with "--host 127.0.0.1 --port 0" plus the NULL-terminated extra arguments and
 * waits until it logs that it listens. Returns 0, or -1 (message on stderr). */
int test_daemon_start(test_daemon *d, const char *const *extra_args);

/* test_daemon_start with the daemon's environment changed: each entry of the NULL-terminated
 * `env` is "NAME=VALUE" (set) or "NAME" (removed). The test runner's own environment is kept. */
int test_daemon_start_env(test_daemon *d, const char *const *extra_args, const char *const *env);

/* Sends `sig` (0: none, just wait) and waits for the exit; returns the exit status (or
 * 128+signal), -1 on timeout. The log stays readable until the test runner exits. */
int test_daemon_stop(test_daemon *d, int sig);

/* The daemon's stderr so far (malloc'd, NUL-terminated). */
char *test_daemon_log(const test_daemon *d);

typedef struct test_response {
    long status;
    char *body; /* NUL-terminated, malloc'd */
    size_t len;
    char *headers; /* raw response headers, malloc'd */
} test_response;

/* One request. content_type NULL sends no Content-Type (body with -H "Content-Type:" removed).
 * body NULL sends no body. Returns 0, or a curl error code (connection refused etc.). */
int test_http(const test_daemon *d, const char *method, const char *path, const char *content_type,
              const char *body, size_t body_len, test_response *out);

/* test_http with the NULL-terminated header lines `headers` ("Name: value"; "Name:" removes
 * a header curl would send) instead of a Content-Type alone. */
int test_http_headers(const test_daemon *d, const char *method, const char *path,
                      const char *const *headers, const void *body, size_t body_len,
                      test_response *out);

/* POST a JSON body to /v1/attention. */
int test_post_json(const test_daemon *d, const char *path, const char *json, test_response *out);

void test_response_free(test_response *r);

/* test_http with a JSON body (Content-Type application/json; body NULL: none); fails the test
 * when the request cannot be made. Returns the status. */
long test_request(const test_daemon *d, const char *method, const char *path, const char *body,
                  test_response *out);

/* Sends a request and fails the test (at file:line) unless the answer has `status` and its body
 * contains `needle` (NULL: anything). test_expect passes the caller's file and line. */
void test_expect_at(const char *file, int line, const test_daemon *d, const char *method,
                    const char *path, const char *body, long status, const char *needle);
#define test_expect(...) test_expect_at(__FILE__, __LINE__, __VA_ARGS__)

/* The value of the sample `series` (name and labels exactly as exposed) in a /metrics text, or
 * -1 when it has no such line. */
double test_metric_value(const char *exposition, const char *series);

/* Waits (up to 30 s, polling the log, never a fixed sleep) until the daemon's log holds
 * `needle` at least `count` times; fails the test if it never does. */
void test_wait_log(const test_daemon *d, const char *needle, int count);

/* test_metric_value on a fresh GET /metrics; -2 when the scrape fails. */
double test_metric(const test_daemon *d, const char *series);

/* Runs `attnd args` through the shell with the environment prefix `env` (NULL: none; "A=1
 * timeout 20" works too), capturing stdout and stderr into out (cap bytes, NUL-terminated).
 * Returns the exit status, or -1 when it did not exit normally. */
int test_run_attnd(const char *env, const char *args, char *out, size_t cap);

/* A libcurl write or header callback that appends to a test_growbuf (p malloc'd and kept
 * NUL-terminated; start from {0}). */
typedef struct test_growbuf {
    char *p;
    size_t n;
} test_growbuf;
size_t test_curl_collect(char *data, size_t size, size_t nmemb, void *ud);

/* Reads a whole file (malloc'd, NUL-terminated) or NULL. */
char *test_read_file(const char *path, size_t *len);

#endif
