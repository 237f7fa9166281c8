/* What a body may make the decoders build (api/json_scan.c's schema): unknown fields, fields
 * sent twice and oversized small fields are refused without a cJSON tree, counted here through
 * cJSON's allocation hooks; and strictness: what RFC 8259 does not allow is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../api/api.h"
#include "../api/model_registry.h"
#include "api_support.h"
#include "harness.h"

/* ---- counting what cJSON allocates ---- */

static size_t live, peak;

static void *count_malloc(size_t n)
{
    size_t *p = malloc(n + sizeof(size_t) * 2);
    if (!p) return NULL;
    *p = n;
    live += n;
    if (live > peak) peak = live;
    return p + 2;
}

static void count_free(void *q)
{
    if (!q) return;
    size_t *p = (size_t *)q - 2;
    live -= *p;
    free(p);
}

static void counting(bool on)
{
    cJSON_Hooks h = {on ? count_malloc : NULL, on ? count_free : NULL};
    cJSON_InitHooks(&h);
    live = peak = 0;
}

/* A body "{<head>[1,1,...,1]<tail>}" of about `bytes` bytes (malloc'd; *len its length). */
static char *junk_body(const char *head, const char *tail, size_t bytes, size_t *len)
{
    size_t h = strlen(head), t = strlen(tail), n = 0;
    char *b = malloc(h + t + bytes + 8);
    ASSERT(b != NULL);
    memcpy(b, head, h);
    n = h;
    b[n++] = '[';
    while (n + 2 < h + bytes) {
        b[n++] = '1';
        b[n++] = ',';
    }
    b[n++] = '1';
    b[n++] = ']';
    memcpy(b + n, tail, t);
    n += t;
    *len = n;
    return b;
}

/* Decodes body[0..n) for /v1/attention, expecting the error (status, kind, field) and that
 * cJSON held at most `most` bytes at any time. */
static void expect_bounded(const char *body, size_t n, int status, api_error_kind kind,
                           const char *field, const char *part, size_t most, int line)
{
    api_attention_request *req = NULL;
    api_error err = {0};
    counting(true);
    int rc = api_v1_decode_attention(body, n, NULL, &req, &err);
    size_t held = peak;
    counting(false);
    api_attention_request_free(req);
    if (rc != status || err.kind != kind || strcmp(err.field, field) || !strstr(err.message, part))
        harness_fail(__FILE__, line, "%d %s [%s] %s, want %d %s [%s] ...%s...", rc,
                     api_error_code(err.kind), err.field, err.message, status, api_error_code(kind),
                     field, part);
    if (held > most)
        harness_fail(__FILE__, line, "cJSON held %zu bytes for a %zu-byte body (at most %zu)", held,
                     n, most);
}

TEST(json_bounds_unknown_and_oversized_fields_build_nothing)
{
    size_t n;
    /* The reproducer: the bulk of the body in an unknown field (4 MiB here). */
    char *b = junk_body("{\"query\":[[1]],\"zzz\":", "}", 4 << 20, &n);
    expect_bounded(b, n, 400, API_ERR_UNKNOWN_FIELD, "zzz", "unknown field 'zzz'", 4096, __LINE__);
    free(b);
    /* Before the tensors, nested in an object, or as an unknown member of "additive". */
    b = junk_body("{\"zzz\":{\"a\":", "},\"query\":[[1]]}", 4 << 20, &n);
    expect_bounded(b, n, 400, API_ERR_UNKNOWN_FIELD, "zzz", "known fields: query", 4096, __LINE__);
    free(b);
    b = junk_body("{\"query\":[[1,2]],\"score\":\"additive\",\"additive\":{\"weight\":[[1,2,3,4]],"
                  "\"zzz\":",
                  "}}", 4 << 20, &n);
    expect_bounded(b, n, 400, API_ERR_UNKNOWN_FIELD, "additive", "unknown member 'zzz'", 4096,
                   __LINE__);
    free(b);
    /* A known small field with a huge value. */
    b = junk_body("{\"query\":[[1]],\"scale\":", "}", 4 << 20, &n);
    expect_bounded(b, n, 400, API_ERR_INVALID_VALUE, "scale", "more than the 4096", 4096, __LINE__);
    free(b);
    /* A field sent again and again: the first repeat is named, nothing after it is built. */
    size_t cap = 4 << 20, len = 0;
    b = malloc(cap + 64);
    len += (size_t)sprintf(b, "{\"query\":[[1]]");
    while (len < cap)
        len += (size_t)sprintf(b + len, ",\"causal\":true");
    b[len++] = '}';
    expect_bounded(b, len, 400, API_ERR_INVALID_JSON, "causal", "duplicate field 'causal'", 4096,
                   __LINE__);
    /* key_lengths: one count per batch, at most API_JSON_MAX_BATCH of them. */
    free(b);
    b = junk_body("{\"query\":[[[[1]]]],\"key_lengths\":", "}", 1 << 20, &n);
    expect_bounded(b, n, 413, API_ERR_LIMIT_EXCEEDED, "key_lengths", "more than the 65536", 4096,
                   __LINE__);
    free(b);
    /* Syntax errors still come first, wherever they are. */
    b = junk_body("{\"query\":[[1]],\"zzz\":", "", 1 << 16, &n);
    expect_bounded(b, n, 400, API_ERR_INVALID_JSON, "", "malformed JSON", 4096, __LINE__);
    free(b);
    /* A valid body of the same size goes through: its tensor is kept as float32 values (within
     * the element budget), not as cJSON nodes. */
    b = junk_body("{\"query\":[", "]}", 4 << 20, &n);
    api_attention_request *req = NULL;
    api_error err;
    counting(true);
    int rc = api_v1_decode_attention(b, n, NULL, &req, &err);
    size_t held = peak;
    counting(false);
    ASSERT_EQ(rc, 0);
    ASSERT(held <= 2 * n + 4096); /* its float32 values; a cJSON tree would be ~30 times more */
    api_attention_request_free(req);
    free(b);
}

TEST(json_bounds_model_body)
{
    api_model_registry *r = api_model_registry_new();
    const api_model *m = api_model_registry_find(r, "default");
    ASSERT(m != NULL);
    api_limits lim = {.max_elements = 1 << 20, .max_score_elements = 1 << 20};
    static const struct {
        const char *head, *tail;
        int status;
        api_error_kind kind;
        const char *field, *part;
    } cases[] = {
        {"{\"text\":\"a b\",\"zzz\":", "}", 400, API_ERR_UNKNOWN_FIELD, "zzz", "unknown field"},
        {"{\"text\":\"a b\",\"seed\":", "}", 400, API_ERR_INVALID_VALUE, "seed", "more than"},
        {"{\"ids\":", "}", 413, API_ERR_LIMIT_EXCEEDED, "ids", "items, more than the 16385"},
        {"{\"text\":\"a\",\"source\":{\"ids\":", "}}", 413, API_ERR_LIMIT_EXCEEDED, "source.ids",
         "items"},
        {"{\"text\":\"a\",\"source\":{\"zzz\":", "}}", 400, API_ERR_UNKNOWN_FIELD, "source",
         "unknown member 'zzz'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n;
        char *b = junk_body(cases[i].head, cases[i].tail, 1 << 20, &n);
        api_model_request *req = NULL;
        api_error err = {0};
        counting(true);
        int rc = api_v1_decode_model_attention(b, n, m, &lim, &req, &err);
        size_t held = peak;
        counting(false);
        api_model_request_free(req);
        if (rc != cases[i].status || err.kind != cases[i].kind ||
            strcmp(err.field, cases[i].field) || !strstr(err.message, cases[i].part))
            harness_fail(__FILE__, __LINE__, "case %zu: %d [%s] %s", i, rc, err.field, err.message);
        if (held > 4096) harness_fail(__FILE__, __LINE__, "case %zu: cJSON held %zu", i, held);
        free(b);
    }
    api_model_registry_free(r);
}

/* RFC 8259, not cJSON's leniency: leading zeros, a '.' or 'e' without digits, and blanks
 * other than space, tab, line feed and carriage return are refused in tensors and options. */
TEST(json_bounds_strict_numbers_and_blanks)
{
    static const char *const bad[] = {
        "{\"query\": [[01]]}",
        "{\"query\": [[1.]]}",
        "{\"query\": [[-.5]]}",
        "{\"query\": [[1e]]}",
        "{\"query\": [[1, 2.e3]]}",
        "{\"query\": [[1,\v2]]}",
        "{\"query\": [[1,\f2]]}",
        "{\"query\": [[1\f,2]]}",
        "{\"query\":\v[[1]]}",
        "\f{\"query\": [[1]]}",
        "{\"query\": [[1]], \"scale\": 01}",
        "{\"query\": [[1]], \"scale\": 1.}",
        "{\"query\": [[1]], \"causal\":\vtrue}",
        "{\"query\": [[1]], \"score\": \"dot\ttab\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        api_test_check_error(__FILE__, __LINE__, bad[i], NULL, 400, API_ERR_INVALID_JSON, "",
                             "malformed JSON");
    /* NUL between numbers (the body's length says where it ends, not a NUL). */
    static const char nul[] = "{\"query\": [[1,\0 2]]}";
    api_attention_request *req = NULL;
    api_error err;
    ASSERT_EQ(api_v1_decode_attention(nul, sizeof nul - 1, NULL, &req, &err), 400);
    ASSERT_EQ(err.kind, API_ERR_INVALID_JSON);
    ASSERT_CONTAINS(err.message, "near byte 14");
    ASSERT(req == NULL);
    /* What RFC 8259 allows still reads. */
    static const char *const good[] = {
        "{\"query\": [[0, -0, 0.5, -0.0e-0, 10, 1E+2, 1e-2]]}",
        " \t\r\n{\"query\":\r\n[[1,\t2]] , \"scale\" : 0.5 }\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (api_test_decode(good[i], NULL, &req, &err) != 0)
            harness_fail(__FILE__, __LINE__, "%s: %s", good[i], err.message);
        api_attention_request_free(req);
    }
}
