/* Content codings with zlib: the request side inflates a body piece by piece as it arrives and
 * hands the output on in bounded pieces, so the caller's size cap stops a decompression bomb
 * after at most one piece past the cap; the response side picks a coding from Accept-Encoding
 * and compresses a finished body in one go. */
#include "content_coding.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "metrics.h"

/* zlib level for responses. Measured on /v1/attention answers to random inputs (float32 in
 * shortest form), gzip, best of many runs on the 2-core build machine:
 *   Lq 64, Lk 256, d 64 (258 KB):   level 1 ratio 2.35 at 124 MB/s, level 6 ratio 2.64 at 21 MB/s
 *   Lq 128, Lk 1024, d 64 (1.8 MB): level 1 ratio 2.45 at 126 MB/s, level 6 ratio 2.77 at 13 MB/s
 * Level 6 saves another 11 % of the bytes for 6 to 10 times the CPU (digits give its lazy
 * matching long hash chains to walk): at 13 MB/s it would take 140 ms of a worker for a
 * response attnd computes in under 1 ms and answers in 12 ms end to end without coding (level
 * 1: about 15 ms more). Level 1 is the better trade for anything faster than a slow WAN link. */
#define RESPONSE_LEVEL 1

/* Output pieces handed to the sink: what the caller may hold past its cap at most. */
#define PIECE 16384

/* zlib takes lengths as uInt: larger buffers go in slices of this. */
#define SLICE ((size_t)1 << 30)

static const char *const names[] = {
#define SRV_CODING_NAME(name, label) label,
    SRV_CODING_MAP(SRV_CODING_NAME)
#undef SRV_CODING_NAME
};

const char *srv_coding_name(srv_coding coding)
{
    return (unsigned)coding < SRV_CODING_COUNT ? names[coding] : "identity";
}

/* Trims blanks (space, tab) around s[0..*n): returns the new start and updates *n. */
static const char *trim(const char *s, size_t *n)
{
    while (*n && (*s == ' ' || *s == '\t'))
        s++, (*n)--;
    while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        (*n)--;
    return s;
}

static bool token_is(const char *s, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(s, name, n) == 0;
}

/* The coding named s[0..n), or -1. */
static int coding_of(const char *s, size_t n)
{
    if (token_is(s, n, "gzip") || token_is(s, n, "x-gzip")) return SRV_CODING_GZIP;
    if (token_is(s, n, "deflate")) return SRV_CODING_DEFLATE;
    if (token_is(s, n, "identity")) return SRV_CODING_IDENTITY;
    return -1;
}

int srv_coding_parse_request(const char *value, srv_coding *coding, char *err, size_t errlen)
{
    *coding = SRV_CODING_IDENTITY;
    if (!value) return 0;
    int found = 0;
    for (const char *p = value;;) {
        size_t n = strcspn(p, ",");
        const char *name = trim(p, &n);
        if (n) {
            int c = coding_of(name, n);
            if (c < 0) {
                snprintf(err, errlen,
                         "Content-Encoding %.*s is not supported; send the body as it is or with "
                         "one of: %s",
                         (int)(n > 64 ? 64 : n), name, SRV_CODING_ACCEPTED);
                return -1;
            }
            if (c != SRV_CODING_IDENTITY) {
                if (found++) {
                    snprintf(err, errlen,
                             "Content-Encoding %.200s stacks several codings; send the body "
                             "with one of: %s",
                             value, SRV_CODING_ACCEPTED);
                    return -1;
                }
                *coding = (srv_coding)c;
            }
        }
        p += strcspn(p, ",");
        if (!*p) break;
        p++;
    }
    return 0;
}

/* ---- inflating request bodies ---- */

struct srv_inflate {
    z_stream zs;
    srv_coding coding;
    bool ready;            /* inflateInit2 done (deflate: once its first two bytes are in) */
    bool ended;            /* the stream (gzip: the last member so far) is complete */
    unsigned char head[2]; /* deflate: the first bytes, held until the format is known */
    size_t nhead;
    size_t bytes_in, bytes_out;
};

srv_inflate *srv_inflate_new(srv_coding coding)
{
    srv_inflate *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    z->coding = coding;
    if (coding == SRV_CODING_GZIP) {
        if (inflateInit2(&z->zs, 16 + MAX_WBITS) != Z_OK) goto fail;
        z->ready = true;
    }
    return z;
fail:
    free(z);
    return NULL;
}

void srv_inflate_free(srv_inflate *z)
{
    if (!z) return;
    if (z->ready) inflateEnd(&z->zs);
    free(z);
}

size_t srv_inflate_bytes_in(const srv_inflate *z)
{
    return z->bytes_in;
}

size_t srv_inflate_bytes_out(const srv_inflate *z)
{
    return z->bytes_out;
}

static srv_inflate_status corrupt(const srv_inflate *z, char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "the body is not valid %s (Content-Encoding %s) at byte %zu: %s",
             z->coding == SRV_CODING_GZIP ? "gzip" : "deflate", srv_coding_name(z->coding),
             z->bytes_in, why);
    return SRV_INFLATE_CORRUPT;
}

/* Inflates in[0..len) (at most SLICE bytes) into the sink. */
static srv_inflate_status run(srv_inflate *z, const unsigned char *in, size_t len,
                              srv_inflate_sink sink, void *ud, char *err, size_t errlen)
{
    unsigned char out[PIECE];
    z->zs.next_in = (unsigned char *)in;
    z->zs.avail_in = (uInt)len;
    for (;;) {
        if (z->ended) {
            if (z->zs.avail_in == 0) return SRV_INFLATE_OK;
            /* More after the end: the next gzip member (RFC 1952 allows several); a zlib or
             * raw deflate stream has nothing after it. */
            if (z->coding != SRV_CODING_GZIP)
                return corrupt(z, err, errlen, "bytes after the end of the stream");
            if (inflateReset(&z->zs) != Z_OK) return SRV_INFLATE_NOMEM;
            z->ended = false;
        }
        z->zs.next_out = out;
        z->zs.avail_out = sizeof out;
        uInt before = z->zs.avail_in;
        int rc = inflate(&z->zs, Z_NO_FLUSH);
        z->bytes_in += before - z->zs.avail_in;
        size_t got = sizeof out - z->zs.avail_out;
        z->bytes_out += got;
        if (got && sink(ud, (const char *)out, got) != 0) return SRV_INFLATE_STOPPED;
        switch (rc) {
        case Z_STREAM_END: z->ended = true; continue;
        case Z_OK:
            /* A full piece may leave more output pending; otherwise all input is used. */
            if (z->zs.avail_out == 0 || z->zs.avail_in > 0) continue;
            return SRV_INFLATE_OK;
        case Z_BUF_ERROR: /* no progress possible: it needs the next bytes of the body */
            return SRV_INFLATE_OK;
        case Z_NEED_DICT: return corrupt(z, err, errlen, "it needs a preset dictionary");
        case Z_MEM_ERROR: return SRV_INFLATE_NOMEM;
        default: return corrupt(z, err, errlen, z->zs.msg ? z->zs.msg : "corrupt data");
        }
    }
}

/* Whether b0 b1 open a zlib stream (RFC 1950: method 8, window <= 32 KiB, header check). */
static bool zlib_header(unsigned b0, unsigned b1)
{
    return (b0 & 0x0f) == 8 && (b0 >> 4) <= 7 && ((b0 << 8) | b1) % 31 == 0;
}

srv_inflate_status srv_inflate_feed(srv_inflate *z, const char *in, size_t len,
                                    srv_inflate_sink sink, void *ud, char *err, size_t errlen)
{
    const unsigned char *p = (const unsigned char *)in;
    if (!z->ready) {
        while (z->nhead < 2 && len) {
            z->head[z->nhead++] = *p++;
            len--;
        }
        if (z->nhead < 2) return SRV_INFLATE_OK;
        /* HTTP's deflate is the zlib format, but some clients send raw deflate. A raw stream
         * passes the zlib header check only if it opens with a stored block whose padding
         * bits are not zero, which no compressor writes (curl tells them apart alike). */
        int bits = zlib_header(z->head[0], z->head[1]) ? MAX_WBITS : -MAX_WBITS;
        if (inflateInit2(&z->zs, bits) != Z_OK) return SRV_INFLATE_NOMEM;
        z->ready = true;
        srv_inflate_status st = run(z, z->head, 2, sink, ud, err, errlen);
        if (st != SRV_INFLATE_OK) return st;
    }
    while (len) {
        size_t n = len < SLICE ? len : SLICE;
        srv_inflate_status st = run(z, p, n, sink, ud, err, errlen);
        if (st != SRV_INFLATE_OK) return st;
        p += n;
        len -= n;
    }
    return SRV_INFLATE_OK;
}

srv_inflate_status srv_inflate_finish(srv_inflate *z, char *err, size_t errlen)
{
    if (!z->ended) {
        snprintf(err, errlen,
                 "the body ends before its %s stream does (Content-Encoding %s): truncated after "
                 "%zu bytes?",
                 z->coding == SRV_CODING_GZIP ? "gzip" : "deflate", srv_coding_name(z->coding),
                 z->bytes_in + (z->ready ? 0 : z->nhead));
        return SRV_INFLATE_CORRUPT;
    }
    srv_metrics_content_coding(false, z->coding, z->bytes_out, z->bytes_in);
    return SRV_INFLATE_OK;
}

/* ---- compressing responses ---- */

/* A q-value (RFC 9110 section 12.4.2: "0", "0.5", "1.000"), or -1 when malformed. */
static double qvalue(const char *s, size_t n)
{
    if (!n || (s[0] != '0' && s[0] != '1')) return -1;
    double q = s[0] - '0', scale = 0.1;
    if (n == 1) return q;
    if (s[1] != '.' || n > 5) return -1;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9') return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1 ? -1 : q;
}

srv_accept srv_coding_negotiate(const char *h)
{
    srv_accept a = {SRV_CODING_IDENTITY, false};
    if (!h) return a;
    /* q per coding as listed (-1: not listed); index SRV_CODING_COUNT is "*". */
    double q[SRV_CODING_COUNT + 1];
    for (int i = 0; i <= SRV_CODING_COUNT; i++)
        q[i] = -1;
    for (const char *p = h;;) {
        size_t n = strcspn(p, ",");
        const char *item = trim(p, &n);
        size_t namelen = strcspn(item, ";");
        if (namelen > n) namelen = n;
        size_t tn = namelen;
        const char *name = trim(item, &tn);
        double qv = 1;
        /* Parameters: only q matters; a malformed q drops the entry. */
        for (const char *param = item + namelen; param < item + n && qv >= 0;) {
            param++; /* the ';' */
            size_t pn = strcspn(param, ";");
            if (param + pn > item + n) pn = (size_t)(item + n - param);
            const char *ps = trim(param, &pn);
            if (pn >= 2 && (ps[0] == 'q' || ps[0] == 'Q') && ps[1] == '=')
                qv = qvalue(ps + 2, pn - 2);
            param += strcspn(param, ";");
        }
        int c = token_is(name, tn, "*") ? SRV_CODING_COUNT : coding_of(name, tn);
        if (c >= 0 && qv >= 0 && qv > q[c]) q[c] = qv;
        p += strcspn(p, ",");
        if (!*p) break;
        p++;
    }
    /* A coding not listed takes the q of "*", else 0. identity not listed (nor "*") stays
     * acceptable but comes last: "gzip;q=0.2" still means gzip. */
    double eff[SRV_CODING_COUNT];
    for (int c = 0; c < SRV_CODING_COUNT; c++)
        eff[c] = q[c] >= 0 ? q[c] : q[SRV_CODING_COUNT] >= 0 ? q[SRV_CODING_COUNT] : 0;
    bool identity_refused =
        eff[SRV_CODING_IDENTITY] <= 0 && (q[SRV_CODING_IDENTITY] >= 0 || q[SRV_CODING_COUNT] >= 0);
    srv_coding best =
        eff[SRV_CODING_GZIP] >= eff[SRV_CODING_DEFLATE] ? SRV_CODING_GZIP : SRV_CODING_DEFLATE;
    if (eff[best] <= 0 || eff[best] < eff[SRV_CODING_IDENTITY]) return a;
    a.coding = best;
    a.required = identity_refused;
    return a;
}

bool srv_coding_compressible(const char *ct)
{
    if (!ct) return false;
    size_t n = strcspn(ct, ";");
    const char *t = trim(ct, &n);
    if (n >= 5 && strncasecmp(t, "text/", 5) == 0) return true;
    if (n >= 5 &&
        (strncasecmp(t + n - 5, "+json", 5) == 0 || strncasecmp(t + n - 4, "+xml", 4) == 0))
        return true;
    return token_is(t, n, "application/json") || token_is(t, n, "application/javascript") ||
           token_is(t, n, "application/xml");
}

bool srv_coding_varies(const char *content_type, size_t len)
{
    return len >= SRV_CODING_MIN_BYTES && srv_coding_compressible(content_type);
}

int srv_coding_deflate(srv_coding coding, int level, const char *in, size_t len, char **out,
                       size_t *outlen)
{
    z_stream zs = {0};
    int bits = coding == SRV_CODING_GZIP ? 16 + MAX_WBITS : MAX_WBITS;
    if (deflateInit2(&zs, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    size_t cap = deflateBound(&zs, len), used = 0, left = len;
    const unsigned char *p = (const unsigned char *)in;
    unsigned char *buf = malloc(cap);
    if (!buf) goto fail;
    for (;;) {
        if (zs.avail_in == 0 && left) {
            size_t n = left < SLICE ? left : SLICE;
            zs.next_in = (unsigned char *)p;
            zs.avail_in = (uInt)n;
            p += n;
            left -= n;
        }
        if (used == cap) { /* not within deflateBound: cannot happen, but stay safe */
            unsigned char *b = realloc(buf, cap * 2);
            if (!b) goto fail;
            buf = b;
            cap *= 2;
        }
        size_t room = cap - used < SLICE ? cap - used : SLICE;
        zs.next_out = buf + used;
        zs.avail_out = (uInt)room;
        int rc = deflate(&zs, left == 0 ? Z_FINISH : Z_NO_FLUSH);
        used += room - zs.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) goto fail;
    }
    deflateEnd(&zs);
    /* Give back the slack of deflateBound (a large block is shrunk in place or remapped),
     * keeping one byte for the NUL that ends it. */
    unsigned char *fitted = realloc(buf, used + 1);
    if (fitted)
        buf = fitted;
    else if (used + 1 > cap) /* it had to grow for the NUL */
        goto fail;
    buf[used] = '\0';
    *out = (char *)buf;
    *outlen = used;
    return 0;
fail:
    deflateEnd(&zs);
    free(buf);
    return -1;
}

srv_coding srv_coding_compress_response(srv_accept a, const char *content_type, char **body,
                                        size_t *len)
{
    if (a.coding == SRV_CODING_IDENTITY || *len == 0) return SRV_CODING_IDENTITY;
    if (!a.required && !srv_coding_varies(content_type, *len)) return SRV_CODING_IDENTITY;
    char *out;
    size_t n;
    if (srv_coding_deflate(a.coding, RESPONSE_LEVEL, *body, *len, &out, &n) != 0)
        return SRV_CODING_IDENTITY;
    if (!a.required && n >= *len) {
        free(out);
        return SRV_CODING_IDENTITY;
    }
    srv_metrics_content_coding(true, a.coding, *len, n);
    free(*body);
    *body = out;
    *len = n;
    return a.coding;
}
