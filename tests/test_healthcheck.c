/* Tests of `attnd --healthcheck`, the probe the container image's HEALTHCHECK runs: exit 0
 * against a running daemon (also when told the 0.0.0.0 the container listens on), 1 against a
 * closed port, a peer that never answers, or a daemon that is shutting down. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "harness.h"

/* Runs `env <env> attnd --healthcheck <args>`; returns its exit status and leaves its output
 * in out. */
static int healthcheck(const char *env, const char *args, char *out, size_t cap)
{
    const char *bin = getenv("ATTND_BIN");
    if (!bin || !*bin) bin = "build/attnd";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "env %s %s --healthcheck %s 2>&1", env ? env : "", bin,
             args ? args : "");
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A loopback TCP socket bound to a free port; listening when `listen_too`. Returns the fd and
 * the port in *port. */
static int loopback_socket(int *port, int listen_too)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0 || (listen_too && listen(fd, 4) != 0))
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

TEST(healthcheck_running_daemon_exits_0)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    char out[1024], args[64], env[128];
    snprintf(args, sizeof args, "--host 127.0.0.1 --port %d", d.port);
    ASSERT_EQ(healthcheck(NULL, args, out, sizeof out), 0);
    /* The image sets ATTND_HOST=0.0.0.0: the probe must turn it into loopback. */
    snprintf(env, sizeof env, "ATTND_HOST=0.0.0.0 ATTND_PORT=%d", d.port);
    ASSERT_EQ(healthcheck(env, NULL, out, sizeof out), 0);
    snprintf(env, sizeof env, "ATTND_HOST=localhost ATTND_PORT=%d", d.port);
    ASSERT_EQ(healthcheck(env, NULL, out, sizeof out), 0);
    /* The probe is a request like any other: it is counted under /healthz. */
    test_response r;
    ASSERT_EQ(test_http(&d, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    ASSERT_CONTAINS(r.body, "attnd_http_requests_total{route=\"/healthz\",code=\"200\"} 3");
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(healthcheck_closed_port_exits_1)
{
    int port = 0;
    int fd = loopback_socket(&port, 0); /* bound, not listening: connections are refused */
    ASSERT(fd >= 0);
    char out[1024], args[64];
    snprintf(args, sizeof args, "--host 0.0.0.0 --port %d", port);
    ASSERT_EQ(healthcheck(NULL, args, out, sizeof out), 1);
    ASSERT_CONTAINS(out, "unhealthy");
    ASSERT_CONTAINS(out, "refused");
    close(fd);
    /* Port 0 (the daemon picked one) cannot be probed, and a bad option is 1 as well, not the
     * daemon's 2: container runtimes reserve 2. */
    ASSERT_EQ(healthcheck(NULL, "--port 0", out, sizeof out), 1);
    ASSERT_EQ(healthcheck(NULL, "--port 99999", out, sizeof out), 1);
}

TEST(healthcheck_silent_peer_times_out)
{
    int port = 0;
    int fd = loopback_socket(&port, 1); /* accepts (the kernel does) but never answers */
    ASSERT(fd >= 0);
    char out[1024], args[64];
    snprintf(args, sizeof args, "--port %d", port);
    double t0 = seconds();
    ASSERT_EQ(healthcheck(NULL, args, out, sizeof out), 1);
    double took = seconds() - t0;
    close(fd);
    ASSERT_CONTAINS(out, "timeout");
    ASSERT(took >= 1.5 && took < 5.0);
}

TEST(healthcheck_help_documents_it)
{
    char out[8192];
    ASSERT_EQ(healthcheck(NULL, "--help", out, sizeof out), 0);
    ASSERT_CONTAINS(out, "--healthcheck");
    ASSERT_CONTAINS(out, "/healthz");
}
