/* --connection-memory, the buffer libmicrohttpd gives each connection: against the real daemon,
 * a header block that fits the default 64 KiB is answered, the same one past a 32 KiB buffer gets
 * libmicrohttpd's 431, and a tiny request is answered the same at either size; a size below the
 * floor is refused at start-up. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "harness.h"

#define TINY "{\"query\": [[1, 0, 0.5, 2], [0, 1, -1, 0.25]]}"

/* GET /healthz with one header of `n` bytes of value; returns the status (-1: no answer). */
static long big_header_status(const test_daemon *d, size_t n)
{
    char *h = malloc(n + 16);
    if (!h) return -1;
    memcpy(h, "X-Big: ", 7);
    memset(h + 7, 'a', n);
    h[7 + n] = '\0';
    const char *headers[] = {h, NULL};
    test_response r;
    long status =
        test_http_headers(d, "GET", "/healthz", headers, NULL, 0, &r) == 0 ? r.status : -1;
    test_response_free(&r);
    free(h);
    return status;
}

/* The context of a tiny request's answer: the body up to "meta" (compute_ms varies). */
static char *tiny_context(const test_daemon *d)
{
    test_response r;
    if (test_post_json(d, "/v1/attention", TINY, &r) != 0) return NULL;
    char *meta = r.status == 200 ? strstr(r.body, "\"meta\"") : NULL;
    char *out = meta ? strndup(r.body, (size_t)(meta - r.body)) : NULL;
    test_response_free(&r);
    return out;
}

TEST(http_connection_memory_bounds_the_header_block)
{
    test_daemon def, small;
    const char *small_args[] = {"--connection-memory", "32768", NULL};
    ASSERT_EQ(test_daemon_start(&def, NULL), 0);
    ASSERT_EQ(test_daemon_start(&small, small_args), 0);
    ASSERT_EQ(big_header_status(&def, 40000), 200);
    ASSERT_EQ(big_header_status(&small, 40000), 431);
    ASSERT_EQ(big_header_status(&small, 1000), 200); /* and the daemon serves on */
    char *a = tiny_context(&def), *b = tiny_context(&small);
    ASSERT(a && b);
    ASSERT_STREQ(a, b);
    free(a);
    free(b);
    ASSERT_EQ(test_daemon_stop(&def, SIGTERM), 0);
    ASSERT_EQ(test_daemon_stop(&small, SIGTERM), 0);
}

TEST(http_connection_memory_floor)
{
    char out[4096];
    ASSERT_EQ(test_run_attnd(NULL, "--connection-memory 16383 --version", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--connection-memory");
    ASSERT_EQ(test_run_attnd("ATTND_CONNECTION_MEMORY=abc", "--version", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "ATTND_CONNECTION_MEMORY");
}
