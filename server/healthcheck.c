/* `attnd --healthcheck`: GET /healthz on a non-blocking socket (through GnuTLS when the daemon
 * serves HTTPS) with one overall deadline, so a container HEALTHCHECK needs nothing but the
 * attnd binary. A daemon that accepts but never answers counts as unhealthy once the deadline
 * passes. */
#include "healthcheck.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *srv_healthcheck_target(const char *host)
{
    if (!host || !*host || strcmp(host, "0.0.0.0") == 0) return "127.0.0.1";
    if (strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0) return "::1";
    return host;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for `events` on fd until the deadline. Returns 1 when ready, 0 on timeout, -1 on error. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)left);
        if (r > 0) return 1;
        if (r == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

/* The probe's connection: the socket, and a GnuTLS session over it for HTTPS (else NULL). */
typedef struct conn {
    int fd;
    gnutls_session_t tls;
} conn;

/* Send or receive up to n bytes. Returns the count, 0 at the end of the stream, -1 when it would
 * block (then *want_write says which way to wait), -2 on an error (message in err). */
static ssize_t conn_io(conn *c, bool send_, void *buf, size_t n, bool *want_write, char *err,
                       size_t errlen)
{
    *want_write = send_;
    if (!c->tls) {
        ssize_t k = send_ ? send(c->fd, buf, n, MSG_NOSIGNAL) : recv(c->fd, buf, n, 0);
        if (k >= 0) return k;
        if (errno == EAGAIN || errno == EINTR) return -1;
        snprintf(err, errlen, "%s", strerror(errno));
        return -2;
    }
    ssize_t k = send_ ? gnutls_record_send(c->tls, buf, n) : gnutls_record_recv(c->tls, buf, n);
    if (k >= 0) return k;
    if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED) {
        *want_write = gnutls_record_get_direction(c->tls) == 1;
        return -1;
    }
    snprintf(err, errlen, "TLS: %s", gnutls_strerror((int)k));
    return -2;
}

/* The TLS handshake within the deadline. The certificate is not verified: the probe asks its
 * own daemon, on loopback, whether it answers, not who it is. Returns 0, or -1 with err set. */
static int tls_handshake(conn *c, gnutls_certificate_credentials_t cred, const char *shown,
                         int port, long long deadline, char *err, size_t errlen)
{
    int rc;
    if ((rc = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) != GNUTLS_E_SUCCESS ||
        (rc = gnutls_set_default_priority(c->tls)) != GNUTLS_E_SUCCESS ||
        (rc = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, cred)) != GNUTLS_E_SUCCESS) {
        snprintf(err, errlen, "TLS: %s", gnutls_strerror(rc));
        return -1;
    }
    gnutls_transport_set_int(c->tls, c->fd);
    while ((rc = gnutls_handshake(c->tls)) != GNUTLS_E_SUCCESS) {
        if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED) {
            snprintf(err, errlen, "TLS handshake with %s port %d: %s (does it serve HTTPS?)", shown,
                     port, gnutls_strerror(rc));
            return -1;
        }
        short ev = gnutls_record_get_direction(c->tls) == 1 ? POLLOUT : POLLIN;
        if (wait_fd(c->fd, ev, deadline) <= 0) {
            snprintf(err, errlen, "TLS handshake with %s port %d: timed out", shown, port);
            return -1;
        }
    }
    return 0;
}

/* One attempt on one address (over TLS when cred is not NULL). Returns 0 on HTTP 200, else -1
 * with err set. */
static int probe(const struct addrinfo *ai, const char *hosthdr, const char *shown, int port,
                 gnutls_certificate_credentials_t cred, long long deadline, char *err,
                 size_t errlen)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = -1;
    conn c = {fd, NULL};
    char ioerr[256];
    bool want_write;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            snprintf(err, errlen, "connect to %s port %d: %s", shown, port, strerror(errno));
            goto done;
        }
        int w = wait_fd(fd, POLLOUT, deadline);
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (w <= 0) {
            snprintf(err, errlen, "connect to %s port %d: %s", shown, port,
                     w == 0 ? "timed out" : strerror(errno));
            goto done;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
            snprintf(err, errlen, "connect to %s port %d: %s", shown, port,
                     strerror(soerr ? soerr : errno));
            goto done;
        }
    }
    if (cred && tls_handshake(&c, cred, shown, port, deadline, err, errlen) != 0) goto done;

    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /healthz HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: attnd-healthcheck\r\n"
                     "Connection: close\r\n\r\n",
                     hosthdr, port);
    if (n < 0 || (size_t)n >= sizeof req) {
        snprintf(err, errlen, "host name too long");
        goto done;
    }
    for (size_t sent = 0; sent < (size_t)n;) {
        ssize_t k =
            conn_io(&c, true, req + sent, (size_t)n - sent, &want_write, ioerr, sizeof ioerr);
        if (k > 0) {
            sent += (size_t)k;
        } else if (k == -2) {
            snprintf(err, errlen, "send to %s port %d: %s", shown, port, ioerr);
            goto done;
        } else if (wait_fd(fd, want_write ? POLLOUT : POLLIN, deadline) <= 0) {
            snprintf(err, errlen, "send to %s port %d: timed out", shown, port);
            goto done;
        }
    }

    /* Only the status line matters: "HTTP/1.1 200 OK\r\n". */
    char resp[256];
    size_t got = 0;
    while (got < sizeof resp - 1 && !memchr(resp, '\n', got)) {
        ssize_t k =
            conn_io(&c, false, resp + got, sizeof resp - 1 - got, &want_write, ioerr, sizeof ioerr);
        if (k > 0) {
            got += (size_t)k;
        } else if (k == 0) {
            break;
        } else if (k == -2) {
            snprintf(err, errlen, "receive from %s port %d: %s", shown, port, ioerr);
            goto done;
        } else if (wait_fd(fd, want_write ? POLLOUT : POLLIN, deadline) <= 0) {
            snprintf(err, errlen, "no answer from %s port %d within the timeout", shown, port);
            goto done;
        }
    }
    resp[got] = '\0';
    char *eol = strpbrk(resp, "\r\n");
    if (eol) *eol = '\0';
    int minor = 0, status = 0;
    if (sscanf(resp, "HTTP/1.%d %d", &minor, &status) != 2) {
        snprintf(err, errlen, "%s port %d answered no HTTP status line: \"%.60s\"", shown, port,
                 resp);
        goto done;
    }
    if (status != 200) {
        snprintf(err, errlen, "GET /healthz on %s port %d: %.80s", shown, port, resp);
        goto done;
    }
    rc = 0;
done:
    if (c.tls) gnutls_deinit(c.tls);
    close(fd);
    return rc;
}

int srv_healthcheck(const char *host, int port, bool tls, int timeout_ms, char *err, size_t errlen)
{
    if (port <= 0 || port > 65535) {
        snprintf(err, errlen, "port %d: give the daemon's port with --port or ATTND_PORT", port);
        return -1;
    }
    long long deadline = now_ms() + timeout_ms;

    /* "[::1]" is how a user may write an IPv6 literal; getaddrinfo wants it bare. */
    char name[256];
    const char *target = srv_healthcheck_target(host);
    size_t len = strlen(target);
    if (len >= 2 && target[0] == '[' && target[len - 1] == ']') {
        snprintf(name, sizeof name, "%.*s", (int)(len - 2), target + 1);
        target = srv_healthcheck_target(name);
    }
    snprintf(name, sizeof name, "%s", target);
    char hosthdr[260];
    snprintf(hosthdr, sizeof hosthdr, strchr(name, ':') ? "[%s]" : "%s", name);

    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(name, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", name, gai_strerror(gai));
        return -1;
    }
    gnutls_certificate_credentials_t cred = NULL;
    if (tls && gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS) {
        snprintf(err, errlen, "TLS: out of memory");
        freeaddrinfo(res);
        return -1;
    }
    int rc = -1;
    for (const struct addrinfo *ai = res; ai && rc != 0; ai = ai->ai_next)
        rc = probe(ai, hosthdr, name, port, cred, deadline, err, errlen);
    freeaddrinfo(res);
    if (cred) gnutls_certificate_free_credentials(cred);
    return rc;
}
