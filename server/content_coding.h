/* HTTP content codings (RFC 9110 section 8.4) with zlib: request bodies sent with
 * Content-Encoding gzip or deflate are inflated as they arrive, within a cap on the inflated
 * size, and responses are compressed when the client's Accept-Encoding allows it. Only HTTP
 * mechanics: what a body means is the protocol's business. */
#ifndef SRV_CONTENT_CODING_H
#define SRV_CONTENT_CODING_H

#include <stdbool.h>
#include <stddef.h>

/* The codings attnd knows, with their names in HTTP. */
#define SRV_CODING_MAP(X)                                                                          \
    X(IDENTITY, "identity")                                                                        \
    X(GZIP, "gzip")                                                                                \
    X(DEFLATE, "deflate")

typedef enum srv_coding {
#define SRV_CODING_ENUM(name, label) SRV_CODING_##name,
    SRV_CODING_MAP(SRV_CODING_ENUM)
#undef SRV_CODING_ENUM
        SRV_CODING_COUNT
} srv_coding;

/* The value of the Accept-Encoding header sent with a 415 for an unknown Content-Encoding
 * (RFC 7694): the request codings attnd inflates. */
#define SRV_CODING_ACCEPTED "gzip, deflate, identity"

/* Responses smaller than this are sent as they are (unless the client refuses identity): below
 * about a kilobyte the gzip header and a round of deflate cost more than the bytes saved. */
#define SRV_CODING_MIN_BYTES 1024

/* "gzip" for SRV_CODING_GZIP. Static storage. */
const char *srv_coding_name(srv_coding coding);

/* Parses a request's Content-Encoding header (NULL or "" mean none). "identity" entries are
 * skipped, "x-gzip" is gzip, names are case-insensitive. Returns 0 with *coding set, or -1
 * with a message for the client in err: an unknown coding, or more than one coding stacked
 * (attnd inflates one). */
int srv_coding_parse_request(const char *content_encoding, srv_coding *coding, char *err,
                             size_t errlen);

/* ---- request bodies ---- */

typedef struct srv_inflate srv_inflate;

/* Receives a piece of inflated body (valid during the call). Returns 0 to go on; anything
 * else stops srv_inflate_feed, which then returns SRV_INFLATE_STOPPED. */
typedef int (*srv_inflate_sink)(void *ud, const char *data, size_t len);

typedef enum srv_inflate_status {
    SRV_INFLATE_OK = 0,
    SRV_INFLATE_CORRUPT = -1, /* not a valid stream of its coding; err says where and why */
    SRV_INFLATE_STOPPED = -2, /* the sink asked to stop */
    SRV_INFLATE_NOMEM = -3,
} srv_inflate_status;

/* An inflater for a body of `coding` (SRV_CODING_GZIP or SRV_CODING_DEFLATE), or NULL when out
 * of memory. gzip accepts several members one after another (RFC 1952); deflate is the zlib
 * format (RFC 1950) as HTTP defines it, or, as some clients send it, raw deflate (RFC 1951),
 * told apart by the first two bytes. Its state is about 44 KiB, whatever the body's size.
 * Free with srv_inflate_free. Not thread-safe: one request's. */
srv_inflate *srv_inflate_new(srv_coding coding);

/* Frees z; NULL is allowed. */
void srv_inflate_free(srv_inflate *z);

/* Inflates the next `len` bytes of the body, handing the output to sink in pieces of at most
 * 16 KiB as it is produced, so the caller can stop at its size cap before more is made.
 * Returns SRV_INFLATE_OK, or an error status (err filled for SRV_INFLATE_CORRUPT); after an
 * error the inflater must not be fed again. */
srv_inflate_status srv_inflate_feed(srv_inflate *z, const char *in, size_t len,
                                    srv_inflate_sink sink, void *ud, char *err, size_t errlen);

/* The body ended: returns SRV_INFLATE_OK when the stream ended exactly there, else
 * SRV_INFLATE_CORRUPT with err saying it was truncated. */
srv_inflate_status srv_inflate_finish(srv_inflate *z, char *err, size_t errlen);

/* Compressed and inflated bytes so far. */
size_t srv_inflate_bytes_in(const srv_inflate *z);
size_t srv_inflate_bytes_out(const srv_inflate *z);

/* ---- responses ---- */

/* What a client's Accept-Encoding allows for a response. */
typedef struct srv_accept {
    srv_coding coding; /* the coding to compress with; IDENTITY: never compress */
    bool required;     /* identity refused ("identity;q=0", "*;q=0"): compress whatever the
                        * size or type */
} srv_accept;

/* Reads an Accept-Encoding header (NULL: absent, which means identity). The coding with the
 * highest q-value among gzip and deflate wins (gzip on a tie); it is used when its q-value is
 * above 0 and not below identity's. "*" stands for every coding not listed. A header that
 * refuses every coding attnd has gets identity all the same (RFC 9110 allows either that or
 * 406; a readable answer helps the client more). */
srv_accept srv_coding_negotiate(const char *accept_encoding);

/* Whether a body of this Content-Type is worth compressing: JSON, text, JavaScript, XML, SVG;
 * not binary tensors (float bytes shrink by a few percent for the same CPU). */
bool srv_coding_compressible(const char *content_type);

/* Whether a response of this type and plain length is one whose coding follows Accept-Encoding
 * (so it carries "Vary: Accept-Encoding"): compressible and at least SRV_CODING_MIN_BYTES. A
 * smaller one is compressed only for a client that refuses identity, and caches need not
 * tell the two apart (nginx's gzip_vary does the same). */
bool srv_coding_varies(const char *content_type, size_t len);

/* Compresses a response body for `a` when worth it: a compressible type of at least
 * SRV_CODING_MIN_BYTES that gets smaller (or anything, when a.required). On success *body
 * (malloc'd, taken over and freed) and *len are replaced by the compressed body (NUL after its
 * *len bytes, see srv_coding_deflate) and its coding is returned; otherwise they are left as they
 * are and SRV_CODING_IDENTITY is returned (also when out of memory). Compresses at level 1 (see
 * content_coding.c for why). Thread-safe; counts the bytes in the content-coding metrics. */
srv_coding srv_coding_compress_response(srv_accept a, const char *content_type, char **body,
                                        size_t *len);

/* Compresses in[0..len) with `coding` at zlib `level` into a new malloc'd buffer (*out, *outlen),
 * followed by a NUL byte that *outlen does not count (as an api_buf's bytes are). Returns 0, or
 * -1 when out of memory. */
int srv_coding_deflate(srv_coding coding, int level, const char *in, size_t len, char **out,
                       size_t *outlen);

#endif
