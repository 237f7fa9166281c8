/* HTTPS (--tls-cert, --tls-key): reading and sanity-checking the PEM files that libmicrohttpd's
 * GnuTLS support is given, so that a wrong path or file is reported by name at start-up. */
#ifndef SRV_TLS_H
#define SRV_TLS_H

#include <stddef.h>

/* Reads the certificate (chain) and private key files, both PEM, into *cert and *key (malloc'd,
 * NUL-terminated; the caller frees them, the key after wiping it). Returns 0, or -1 with a
 * message naming the flag and file in err: unreadable, empty, larger than 1 MiB, or without a
 * whole "-----BEGIN ...CERTIFICATE-----" / "-----BEGIN ...PRIVATE KEY-----" block (with its END
 * line). */
int srv_tls_load(const char *cert_path, const char *key_path, char **cert, char **key, char *err,
                 size_t errlen);

#endif
