/* Content codings against the real daemon: request bodies sent with Content-Encoding gzip or
 * deflate (zlib and raw) answer exactly as the plain body does, on both attention routes and
 * chunked too; a decompression bomb is refused at --max-body-bytes without the daemon's memory
 * growing with the inflated size; corrupt or truncated streams are 400, unknown codings 415; and
 * responses are compressed as Accept-Encoding allows and decode to the plain answer. */
#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "daemon.h"
#include "harness.h"

#define ZLIB_BITS 15
#define GZIP_BITS (16 + 15)
#define RAW_BITS  (-15)

/* Compresses in[0..len) into a malloc'd buffer with zlib window bits `bits` (gzip, zlib or
 * raw deflate). */
static char *zpack(int bits, int level, const char *in, size_t len, size_t *outlen)
{
    z_stream zs = {0};
    ASSERT_EQ(deflateInit2(&zs, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, len);
    char *out = malloc(cap);
    ASSERT(out != NULL);
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (unsigned char *)out;
    zs.avail_out = (uInt)cap;
    ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *outlen = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

/* Inflates a gzip or zlib body (auto-detected) into a malloc'd NUL-terminated string. */
static char *zunpack(const char *in, size_t len, size_t *outlen)
{
    z_stream zs = {0};
    ASSERT_EQ(inflateInit2(&zs, 32 + 15), Z_OK);
    size_t cap = len * 8 + 1024, n = 0;
    char *out = malloc(cap);
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)len;
    int rc;
    do {
        if (cap - n < 1024) out = realloc(out, cap *= 2);
        zs.next_out = (unsigned char *)out + n;
        zs.avail_out = (uInt)(cap - n - 1);
        rc = inflate(&zs, Z_NO_FLUSH);
        n = cap - 1 - zs.avail_out;
    } while (rc == Z_OK);
    ASSERT_EQ(rc, Z_STREAM_END);
    inflateEnd(&zs);
    out[n] = '\0';
    *outlen = n;
    return out;
}

/* A request: `headers` NULL-terminated extra header lines (Content-Type: application/json
 * unless they set it); accept_encoding non-NULL makes
 * libcurl send its own Accept-Encoding and decode the response (CURLOPT_ACCEPT_ENCODING);
 * chunked sends the body through a read callback in pieces of `piece` bytes, without a
 * Content-Length. */
typedef struct upload {
    const char *p;
    size_t left, piece;
} upload;

static size_t read_piece(char *buf, size_t size, size_t nmemb, void *ud)
{
    upload *u = ud;
    size_t n = size * nmemb;
    if (n > u->piece) n = u->piece;
    if (n > u->left) n = u->left;
    memcpy(buf, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

static void request(const test_daemon *d, const char *method, const char *path, const char *body,
                    size_t len, const char *const *headers, const char *accept_encoding,
                    size_t chunked_piece, test_response *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    ASSERT(c != NULL);
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", d->port, path);
    test_growbuf b = {0}, h = {0};
    struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
    bool own_type = false; /* the caller sets Content-Type (or "Content-Type:" for none) */
    for (int i = 0; headers && headers[i]; i++) {
        hl = curl_slist_append(hl, headers[i]);
        own_type |= strncasecmp(headers[i], "Content-Type:", 13) == 0;
    }
    if (body && !own_type) hl = curl_slist_append(hl, "Content-Type: application/json");
    upload u = {body, len, chunked_piece};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, test_curl_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, test_curl_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (accept_encoding) curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, accept_encoding);
    if (strcmp(method, "GET") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body && chunked_piece) {
        hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_piece);
        curl_easy_setopt(c, CURLOPT_READDATA, &u);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) harness_fail(__FILE__, __LINE__, "%s: %s", path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = b.p ? b.p : strdup("");
    out->len = b.n;
    out->headers = h.p ? h.p : strdup("");
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

/* POSTs `body` coded with `coding` (sent as "Content-Encoding: <coding>"). */
static void post_coded(const test_daemon *d, const char *path, const char *coding, const char *body,
                       size_t len, size_t chunked_piece, test_response *out)
{
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Content-Encoding: %s", coding);
    const char *headers[] = {hdr, NULL};
    request(d, "POST", path, body, len, coding ? headers : NULL, NULL, chunked_piece, out);
}

/* The value of response header `name` (case-insensitive) copied into buf, or "" when absent. */
static const char *header_value(const test_response *r, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "") {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            snprintf(buf, cap, "%.*s", (int)(len < cap ? len : cap - 1), v);
            return buf;
        }
    }
    buf[0] = '\0';
    return buf;
}

/* Replaces the digits of "compute_ms":<number> by "#", the one part of an answer that varies. */
static char *stable(const char *body)
{
    char *s = strdup(body);
    char *p = strstr(s, "\"compute_ms\":");
    if (p) {
        p += strlen("\"compute_ms\":");
        size_t n = strspn(p, "0123456789.e-+");
        memmove(p + 1, p + n, strlen(p + n) + 1);
        *p = '#';
    }
    return s;
}

/* A /v1/attention request of 8 queries over 48 keys of d 16: about 12 KB of JSON, with an
 * answer of about 9 KB. */
static char *medium_request(void)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    const char *names[] = {"query", "key", "value"};
    const int rows[] = {8, 48, 48};
    n += (size_t)snprintf(b + n, cap - n, "{");
    for (int t = 0; t < 3; t++) {
        n += (size_t)snprintf(b + n, cap - n, "%s\"%s\": [", t ? ", " : "", names[t]);
        for (int i = 0; i < rows[t]; i++) {
            n += (size_t)snprintf(b + n, cap - n, "%s[", i ? "," : "");
            for (int j = 0; j < 16; j++)
                n += (size_t)snprintf(b + n, cap - n, "%s%.5f", j ? "," : "",
                                      sin(0.37 * (t + 1) * (i * 16 + j + 1)));
            n += (size_t)snprintf(b + n, cap - n, "]");
        }
        n += (size_t)snprintf(b + n, cap - n, "]");
    }
    snprintf(b + n, cap - n, "}");
    return b;
}

static void expect_same(const test_response *got, const char *plain, const char *what)
{
    if (got->status != 200)
        harness_fail(__FILE__, __LINE__, "%s: status %ld: %s", what, got->status, got->body);
    char *a = stable(plain), *b = stable(got->body);
    if (strcmp(a, b) != 0)
        harness_fail(__FILE__, __LINE__,
                     "%s: answer differs from the plain body's:\n%.300s\n%.300s", what, a, b);
    free(a);
    free(b);
}

TEST(content_coding_requests_answer_like_plain_bodies)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    const char *routes[][2] = {
        {"/v1/attention", NULL},
        {"/v1/models/default/attention",
         "{\"text\": \"the quick brown fox jumps over the lazy dog\", \"return_context\": false}"},
    };
    char *medium = medium_request();
    for (int route = 0; route < 2; route++) {
        const char *path = routes[route][0];
        const char *body = routes[route][1] ? routes[route][1] : medium;
        size_t len = strlen(body);
        test_response plain;
        request(&d, "POST", path, body, len, NULL, NULL, 0, &plain);
        ASSERT_EQ(plain.status, 200);

        size_t gl, zl, rl;
        char *gz = zpack(GZIP_BITS, 6, body, len, &gl);
        char *zz = zpack(ZLIB_BITS, 6, body, len, &zl);
        char *raw = zpack(RAW_BITS, 6, body, len, &rl);
        if (route == 0) ASSERT(gl < len);
        /* Two gzip members, each half of the body (RFC 1952 allows several). */
        size_t al, bl;
        char *ga = zpack(GZIP_BITS, 1, body, len / 2, &al);
        char *gb = zpack(GZIP_BITS, 9, body + len / 2, len - len / 2, &bl);
        char *two = malloc(al + bl);
        memcpy(two, ga, al);
        memcpy(two + al, gb, bl);
        struct {
            const char *coding;
            const char *data;
            size_t len;
            size_t piece; /* 0: Content-Length; else chunked in pieces of this */
        } cases[] = {
            {"gzip", gz, gl, 0},           {"deflate", zz, zl, 0},    {"deflate", raw, rl, 0},
            {"x-gzip", gz, gl, 0},         {"GZip", gz, gl, 0},       {"identity", body, len, 0},
            {"identity, gzip", gz, gl, 0}, {"gzip", two, al + bl, 0}, {"gzip", gz, gl, 1},
            {"deflate", zz, zl, 1},        {"deflate", raw, rl, 3},   {"gzip", gz, gl, 1000},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            test_response r;
            post_coded(&d, path, cases[i].coding, cases[i].data, cases[i].len, cases[i].piece, &r);
            char what[160];
            snprintf(what, sizeof what, "%s Content-Encoding %s (case %zu, piece %zu)", path,
                     cases[i].coding, i, cases[i].piece);
            expect_same(&r, plain.body, what);
            test_response_free(&r);
        }
        free(gz);
        free(zz);
        free(raw);
        free(ga);
        free(gb);
        free(two);
        test_response_free(&plain);
    }
    free(medium);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* The daemon's peak resident size (VmHWM), in bytes. */
static long long peak_rss(const test_daemon *d)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)d->pid);
    char *s = test_read_file(path, NULL);
    ASSERT(s != NULL);
    const char *p = strstr(s, "VmHWM:");
    ASSERT(p != NULL);
    long long kb = strtoll(p + 6, NULL, 10);
    free(s);
    return kb * 1024;
}

static void expect_error(const test_response *r, long status, const char *code, const char *part,
                         const char *what)
{
    if (r->status != status || !strstr(r->body, code) || !strstr(r->body, part))
        harness_fail(__FILE__, __LINE__, "%s: expected %ld %s with \"%s\", got %ld %s", what,
                     status, code, part, r->status, r->body);
}

#define LIMIT 1000000

TEST(content_coding_bomb_is_refused_at_the_body_limit)
{
    test_daemon d;
    const char *args[] = {"--max-body-bytes", "1000000", NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    const char *seq2seq = "{\"query\": [[1.0]], \"key\": [[1.6094379], [1.0986123], [0.6931472]], "
                          "\"value\": [[1,0,0], [0,1,0], [0,0,1]], \"score\": \"dot\"}";
    test_response ok;
    request(&d, "POST", "/v1/attention", seq2seq, strlen(seq2seq), NULL, NULL, 0, &ok);
    ASSERT_EQ(ok.status, 200);

    /* 128 MiB of zeros: about 128 KiB of gzip, within the limit on the wire. */
    size_t zeros = (size_t)128 << 20, bl;
    char *z = calloc(zeros, 1);
    ASSERT(z != NULL);
    char *bomb = zpack(GZIP_BITS, 9, z, zeros, &bl);
    free(z);
    ASSERT(bl < LIMIT);
    long long before = peak_rss(&d);
    for (int chunked = 0; chunked < 2; chunked++) {
        test_response r;
        post_coded(&d, "/v1/attention", "gzip", bomb, bl, chunked ? 16384 : 0, &r);
        expect_error(&r, 413, "payload_too_large",
                     "inflates (Content-Encoding gzip) to more than "
                     "the limit of 1000000 bytes",
                     chunked ? "chunked bomb" : "bomb");
        test_response_free(&r);
    }
    /* Inflated in full, the bomb would have taken 128 MiB; within the cap, about 1 MB. */
    long long grew = peak_rss(&d) - before;
    if (grew > (32LL << 20))
        harness_fail(__FILE__, __LINE__, "the daemon's peak RSS grew by %lld bytes", grew);
    free(bomb);

    /* The cap is on the inflated size exactly: a body of LIMIT bytes passes, one more does not
     * (JSON padded with blanks). */
    for (int extra = 0; extra < 2; extra++) {
        size_t n = LIMIT + (size_t)extra, sl = strlen(seq2seq);
        char *body = malloc(n);
        memcpy(body, seq2seq, sl);
        memset(body + sl, ' ', n - sl);
        size_t cl;
        char *coded = zpack(GZIP_BITS, 6, body, n, &cl);
        test_response r;
        post_coded(&d, "/v1/attention", "gzip", coded, cl, 0, &r);
        if (extra == 0)
            expect_same(&r, ok.body, "a body inflating to exactly --max-body-bytes");
        else
            expect_error(&r, 413, "payload_too_large", "inflates", "one byte past the limit");
        test_response_free(&r);
        free(coded);
        free(body);
    }

    /* And it serves on. */
    test_response again;
    request(&d, "POST", "/v1/attention", seq2seq, strlen(seq2seq), NULL, NULL, 0, &again);
    expect_same(&again, ok.body, "after the bombs");
    test_response_free(&again);
    test_response_free(&ok);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(content_coding_corrupt_streams_are_400)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    char *medium = medium_request();
    size_t len = strlen(medium), gl, zl;
    char *gz = zpack(GZIP_BITS, 6, medium, len, &gl);
    char *zz = zpack(ZLIB_BITS, 6, medium, len, &zl);
    char *flipped = malloc(gl);
    memcpy(flipped, gz, gl);
    flipped[gl / 2] ^= 0x55; /* corrupt data or a CRC that no longer matches */
    char *bad_crc = malloc(gl);
    memcpy(bad_crc, gz, gl);
    bad_crc[gl - 6] ^= 0x01; /* the CRC-32 of the trailer */
    char *trailing = malloc(zl + 4);
    memcpy(trailing, zz, zl);
    memcpy(trailing + zl, "junk", 4);
    struct {
        const char *coding;
        const char *data;
        size_t len;
        size_t piece;
        const char *part; /* in the message */
    } cases[] = {
        {"gzip", gz, gl - 10, 0, "ends before its gzip stream does"},
        {"gzip", gz, gl - 10, 7, "truncated after"},
        {"gzip", gz, 1, 0, "ends before"},
        {"deflate", zz, 1, 0, "ends before its deflate stream does"},
        {"gzip", flipped, gl, 0, "is not valid gzip"},
        {"gzip", bad_crc, gl, 0, "incorrect data check"},
        {"gzip", medium, len, 0, "incorrect header check"},
        {"deflate", trailing, zl + 4, 0, "bytes after the end of the stream"},
        {"deflate", zz + 2, zl - 2, 0, "is not valid deflate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_response r;
        post_coded(&d, "/v1/attention", cases[i].coding, cases[i].data, cases[i].len,
                   cases[i].piece, &r);
        char what[64];
        snprintf(what, sizeof what, "corrupt case %zu", i);
        expect_error(&r, 400, "bad_request", cases[i].part, what);
        test_response_free(&r);
    }
    /* An empty body that says it is gzip: 400 too. */
    test_response r;
    post_coded(&d, "/v1/attention", "gzip", "", 0, 0, &r);
    expect_error(&r, 400, "bad_request", "ends before", "empty gzip body");
    test_response_free(&r);
    /* The daemon serves on, and the good stream still works. */
    post_coded(&d, "/v1/attention", "gzip", gz, gl, 0, &r);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    free(gz);
    free(zz);
    free(flipped);
    free(bad_crc);
    free(trailing);
    free(medium);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(content_coding_unknown_is_415_with_the_supported_list)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    const char *body = "{\"query\": [[1.0]]}";
    const char *codings[] = {"br", "compress", "zstd", "gzip, br", "gzip, deflate", "gzip, gzip"};
    for (size_t i = 0; i < sizeof codings / sizeof codings[0]; i++) {
        test_response r;
        post_coded(&d, "/v1/attention", codings[i], body, strlen(body), 0, &r);
        expect_error(&r, 415, "unsupported_media_type", "gzip, deflate, identity", codings[i]);
        char v[128];
        ASSERT_STREQ(header_value(&r, "Accept-Encoding", v, sizeof v), "gzip, deflate, identity");
        test_response_free(&r);
    }
    test_response r;
    post_coded(&d, "/v1/models/default/attention", "br", body, strlen(body), 0, &r);
    ASSERT_EQ(r.status, 415);
    ASSERT_CONTAINS(r.body, "Content-Encoding br is not supported");
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* GETs or POSTs with "Accept-Encoding: <accept>" (NULL: none) and returns the raw response. */
static void with_accept(const test_daemon *d, const char *path, const char *body,
                        const char *accept, test_response *out)
{
    char hdr[160];
    snprintf(hdr, sizeof hdr, "Accept-Encoding: %s", accept ? accept : "");
    const char *headers[] = {hdr, NULL};
    request(d, body ? "POST" : "GET", path, body, body ? strlen(body) : 0, accept ? headers : NULL,
            NULL, 0, out);
}

TEST(content_coding_responses_follow_accept_encoding)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    char *medium = medium_request();
    test_response plain;
    with_accept(&d, "/v1/attention", medium, NULL, &plain);
    ASSERT_EQ(plain.status, 200);
    ASSERT(plain.len > 4096);
    char v[128];
    ASSERT_STREQ(header_value(&plain, "Content-Encoding", v, sizeof v), "");
    ASSERT_STREQ(header_value(&plain, "Vary", v, sizeof v), "Accept-Encoding");

    /* libcurl asks with its own list and decodes: the plain answer. */
    test_response dec;
    request(&d, "POST", "/v1/attention", medium, strlen(medium), NULL, "", 0, &dec);
    expect_same(&dec, plain.body, "libcurl's Accept-Encoding");
    ASSERT(strlen(header_value(&dec, "Content-Encoding", v, sizeof v)) > 0);
    test_response_free(&dec);

    struct {
        const char *accept;
        const char *coding; /* expected Content-Encoding, "" for none */
    } cases[] = {
        {"gzip", "gzip"},
        {"deflate", "deflate"},
        {"gzip, deflate", "gzip"},
        {"gzip;q=0.2, deflate;q=0.8", "deflate"},
        {"gzip;q=0.2", "gzip"},
        {"deflate;q=0.5, gzip;q=0.5", "gzip"},
        {"*", "gzip"},
        {"br, *;q=0.1", "gzip"},
        {"x-gzip", "gzip"},
        {"GZIP ; Q=1.0", "gzip"},
        {"", ""},
        {"identity", ""},
        {"gzip;q=0", ""},
        {"gzip;q=0, deflate;q=0", ""},
        {"gzip;q=0.5, identity", ""},
        {"br", ""},
        {"*;q=0, identity", ""},
        {"gzip;q=bogus", ""},
        {"identity;q=0, br", ""}, /* nothing acceptable: served as it is */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_response r;
        with_accept(&d, "/v1/attention", medium, cases[i].accept, &r);
        ASSERT_EQ(r.status, 200);
        const char *got = header_value(&r, "Content-Encoding", v, sizeof v);
        if (strcmp(got, cases[i].coding) != 0)
            harness_fail(__FILE__, __LINE__,
                         "Accept-Encoding \"%s\": Content-Encoding \"%s\", "
                         "expected \"%s\"",
                         cases[i].accept, got, cases[i].coding);
        ASSERT_STREQ(header_value(&r, "Vary", v, sizeof v), "Accept-Encoding");
        if (*cases[i].coding) {
            ASSERT((unsigned char)r.body[0] ==
                   (strcmp(cases[i].coding, "gzip") == 0 ? 0x1f : 0x78));
            ASSERT(r.len * 2 < plain.len); /* float JSON shrinks by more than half */
            size_t n;
            char *text = zunpack(r.body, r.len, &n);
            test_response u = {200, text, n, NULL};
            expect_same(&u, plain.body, cases[i].accept);
            free(text);
        } else {
            expect_same(&r, plain.body, cases[i].accept);
        }
        test_response_free(&r);
    }

    /* Small bodies go as they are, unless identity is refused. */
    test_response r;
    with_accept(&d, "/healthz", NULL, "gzip", &r);
    ASSERT_STREQ(header_value(&r, "Content-Encoding", v, sizeof v), "");
    ASSERT_STREQ(header_value(&r, "Vary", v, sizeof v), "");
    ASSERT_STREQ(r.body, "{\"status\":\"ok\"}\n");
    test_response_free(&r);
    with_accept(&d, "/healthz", NULL, "identity;q=0, gzip", &r);
    ASSERT_STREQ(header_value(&r, "Content-Encoding", v, sizeof v), "gzip");
    ASSERT_STREQ(header_value(&r, "Vary", v, sizeof v), "Accept-Encoding");
    size_t n;
    char *text = zunpack(r.body, r.len, &n);
    ASSERT_STREQ(text, "{\"status\":\"ok\"}\n");
    free(text);
    test_response_free(&r);

    /* A protocol's own answers (a listing, an error) go through the same coding. */
    with_accept(&d, "/v1/models", NULL, "identity;q=0, gzip", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(header_value(&r, "Content-Encoding", v, sizeof v), "gzip");
    text = zunpack(r.body, r.len, &n);
    ASSERT_CONTAINS(text, "\"default\"");
    free(text);
    test_response_free(&r);
    with_accept(&d, "/v1/models/nope", NULL, "identity;q=0, deflate", &r);
    ASSERT_EQ(r.status, 404);
    ASSERT_STREQ(header_value(&r, "Content-Encoding", v, sizeof v), "deflate");
    text = zunpack(r.body, r.len, &n);
    ASSERT_CONTAINS(text, "not_found");
    free(text);
    test_response_free(&r);

    /* The explorer page's script, as a browser asks for it: the compiled-in bytes, gzipped. */
    test_response js;
    with_accept(&d, "/ui/app.js", NULL, NULL, &js);
    ASSERT_EQ(js.status, 200);
    ASSERT(js.len > 4096);
    for (int round = 0; round < 2; round++) { /* twice: the compiled-in copy stays intact */
        with_accept(&d, "/ui/app.js", NULL, "gzip, deflate, br", &r);
        ASSERT_EQ(r.status, 200);
        ASSERT_STREQ(header_value(&r, "Content-Encoding", v, sizeof v), "gzip");
        ASSERT_STREQ(header_value(&r, "Vary", v, sizeof v), "Accept-Encoding");
        ASSERT(r.len * 2 < js.len);
        text = zunpack(r.body, r.len, &n);
        ASSERT_EQ(n, js.len);
        ASSERT(memcmp(text, js.body, n) == 0);
        free(text);
        test_response_free(&r);
    }
    test_response_free(&js);

    /* /metrics is text and large: Prometheus scrapes it with gzip. */
    with_accept(&d, "/metrics", NULL, "gzip", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(header_value(&r, "Content-Encoding", v, sizeof v), "gzip");
    text = zunpack(r.body, r.len, &n);
    ASSERT_CONTAINS(text, "attnd_http_requests_total");
    ASSERT_CONTAINS(text, "attnd_http_content_coded_bodies_total{direction=\"response\","
                          "coding=\"gzip\"}");
    free(text);
    test_response_free(&r);

    test_response_free(&plain);
    free(medium);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* The counter `series` (a full series name with labels) in /metrics, or -1. */
static long long metric(const test_daemon *d, const char *series)
{
    test_response r;
    with_accept(d, "/metrics", NULL, NULL, &r);
    const char *p = strstr(r.body, series);
    long long v = p ? strtoll(p + strlen(series), NULL, 10) : -1;
    test_response_free(&r);
    return v;
}

TEST(content_coding_metrics_count_plain_and_coded_bytes)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    char *medium = medium_request();
    size_t len = strlen(medium), zl;
    char *zz = zpack(ZLIB_BITS, 6, medium, len, &zl);
    test_response r;
    char hdr1[] = "Content-Encoding: deflate", hdr2[] = "Accept-Encoding: gzip";
    const char *headers[] = {hdr1, hdr2, NULL};
    request(&d, "POST", "/v1/attention", zz, zl, headers, NULL, 0, &r);
    ASSERT_EQ(r.status, 200);
    size_t n;
    char *text = zunpack(r.body, r.len, &n);
    ASSERT_EQ(metric(&d, "attnd_http_content_coded_bodies_total{direction=\"request\","
                         "coding=\"deflate\"} "),
              1);
    ASSERT_EQ(metric(&d, "attnd_http_content_coding_bytes_total{direction=\"request\","
                         "coding=\"deflate\",form=\"plain\"} "),
              (long long)len);
    ASSERT_EQ(metric(&d, "attnd_http_content_coding_bytes_total{direction=\"request\","
                         "coding=\"deflate\",form=\"coded\"} "),
              (long long)zl);
    ASSERT_EQ(metric(&d, "attnd_http_content_coding_bytes_total{direction=\"response\","
                         "coding=\"gzip\",form=\"plain\"} "),
              (long long)n);
    ASSERT_EQ(metric(&d, "attnd_http_content_coding_bytes_total{direction=\"response\","
                         "coding=\"gzip\",form=\"coded\"} "),
              (long long)r.len);
    free(text);
    test_response_free(&r);
    free(zz);
    free(medium);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* tritonclient.http with request_compression_algorithm="gzip": the whole body (JSON header and
 * binary tensors) gzipped, Inference-Header-Content-Length the plain header's length, no
 * Content-Type. The answer is byte for byte the plain body's. */
TEST(content_coding_v2_binary_request_gzipped_like_plain)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    static const char header[] =
        "{\"id\":\"42\",\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\","
        "\"parameters\":{\"binary_data_size\":16}}],\"parameters\":{\"binary_data_output\":true}}";
    const float one_to_four[] = {1, 2, 3, 4};
    size_t hl = strlen(header), len = hl + sizeof one_to_four;
    char *body = malloc(len);
    memcpy(body, header, hl);
    memcpy(body + hl, one_to_four, sizeof one_to_four);
    char hlen[64];
    snprintf(hlen, sizeof hlen, "inference-header-content-length: %zu", hl);
    const char *plain_headers[] = {hlen, "Content-Type:", NULL};
    test_response plain, coded;
    request(&d, "POST", "/v2/models/attention/infer", body, len, plain_headers, NULL, 0, &plain);
    ASSERT_EQ(plain.status, 200);
    size_t gl;
    char *gz = zpack(GZIP_BITS, 6, body, len, &gl);
    const char *gz_headers[] = {hlen, "Content-Type:", "Content-Encoding: gzip", NULL};
    request(&d, "POST", "/v2/models/attention/infer", gz, gl, gz_headers, NULL, 0, &coded);
    ASSERT_EQ(coded.status, 200);
    ASSERT_EQ(coded.len, plain.len);
    ASSERT(memcmp(coded.body, plain.body, plain.len) == 0);
    test_response_free(&coded);
    /* Cut short, it is a 400 in the protocol's own error shape. */
    request(&d, "POST", "/v2/models/attention/infer", gz, gl - 8, gz_headers, NULL, 0, &coded);
    ASSERT_EQ(coded.status, 400);
    ASSERT(strncmp(coded.body, "{\"error\":\"the body ends before its gzip stream does", 51) == 0);
    test_response_free(&plain);
    test_response_free(&coded);
    free(gz);
    free(body);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}
