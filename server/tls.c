/* PEM files for libmicrohttpd's HTTPS. Only the shape is checked here (a PEM block of the
 * right kind); whether the key matches the certificate is GnuTLS's to say when the daemon
 * starts, and srv_http_start reports its message. */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEM_MAX (1 << 20)

static char *read_pem(const char *flag, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s %s: cannot open: %s", flag, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "%s %s: out of memory", flag, path);
        return NULL;
    }
    if (rerr || n == 0 || n > PEM_MAX) {
        snprintf(err, errlen, "%s %s: %s", flag, path,
                 rerr     ? strerror(rerr)
                 : n == 0 ? "empty file"
                          : "larger than 1 MiB");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* True when pem holds a whole block "-----BEGIN <...><kind>-----" ... "-----END <same>-----".
 * A file cut short is refused here, with a clearer message than GnuTLS's parse error. */
static int has_block(const char *pem, const char *kind)
{
    for (const char *p = pem; (p = strstr(p, "-----BEGIN ")); p += 11) {
        const char *label = p + 11, *end = strstr(label, "-----");
        if (!end) return 0;
        size_t k = strlen(kind), n = (size_t)(end - label);
        if (n < k || n > 64 || strncmp(end - k, kind, k) != 0) continue;
        char close[96];
        snprintf(close, sizeof close, "-----END %.*s-----", (int)n, label);
        if (strstr(end + 5, close)) return 1;
    }
    return 0;
}

int srv_tls_load(const char *cert_path, const char *key_path, char **cert, char **key, char *err,
                 size_t errlen)
{
    *cert = *key = NULL;
    if (!(*cert = read_pem("--tls-cert", cert_path, err, errlen))) return -1;
    if (!has_block(*cert, "CERTIFICATE")) {
        snprintf(err, errlen,
                 "--tls-cert %s: no complete PEM certificate in it (expected -----BEGIN "
                 "CERTIFICATE----- ... -----END CERTIFICATE-----)",
                 cert_path);
        goto fail;
    }
    if (!(*key = read_pem("--tls-key", key_path, err, errlen))) goto fail;
    if (!has_block(*key, "PRIVATE KEY")) {
        snprintf(err, errlen,
                 "--tls-key %s: no complete PEM private key in it (expected -----BEGIN PRIVATE "
                 "KEY----- ... -----END PRIVATE KEY-----, or an RSA/EC PRIVATE KEY block)",
                 key_path);
        goto fail;
    }
    return 0;
fail:
    free(*cert);
    if (*key) explicit_bzero(*key, strlen(*key));
    free(*key);
    *cert = *key = NULL;
    return -1;
}
