/* Unit tests of reading a JSON body with its tensors left as text (api/json_scan.c) and of
 * copying those tensors (api/json_tensor.c): the fast path must accept, refuse and report
 * exactly what the plain cJSON path does, byte positions and messages included. Each property
 * test compares the two on a fixed number of generated bodies (fewer under AddressSanitizer). */
#include <float.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../api/api.h"
#include "../api/float_format.h"
#include "../api/json_scan.h"
#include "../api/json_tensor.h"
#include "../api/request.h"
#include "../api/v1/json_request.h"
#include "../api/v1/v1.h"
#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define EXAMPLE "{\"query\": [[1, 0], [0, 1]]}"

static const char *const tensors[] = {
    "query", "key", "value", "mask", "additive.weight", "additive.bias", "additive.v", NULL,
};

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static unsigned rnd(unsigned n)
{
    uint64_t s = rng_state; /* xorshift64 */
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    rng_state = s;
    return (unsigned)((s >> 11) % n);
}

/* An exactly sized copy without a NUL, so that AddressSanitizer sees any read past the body. */
static char *copy_of(const char *text, size_t n)
{
    char *body = malloc(n ? n : 1);
    ASSERT(body != NULL);
    memcpy(body, text, n);
    return body;
}

/* How the body was parsed before text tensors: one cJSON parse, then the same checks. */
static int parse_whole(const char *body, size_t len, api_error *err)
{
    if (len == 0) {
        cJSON *none;
        return api_json_parse_body(body, len, EXAMPLE, NULL, 0, &none, err);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!root)
        return api_json_malformed(body, len, end ? (size_t)(end - body) : 0, "malformed JSON", err);
    size_t at = (size_t)(end - body);
    while (at < len &&
           (body[at] == ' ' || body[at] == '\t' || body[at] == '\n' || body[at] == '\r'))
        at++;
    int rc = 0;
    if (at < len)
        rc = api_json_malformed(body, len, at, "unexpected data after the JSON value", err);
    else if (!cJSON_IsObject(root))
        rc = api_error_set(err, API_ERR_INVALID_TYPE, "",
                           "the body must be a JSON object such as %s, got %s", EXAMPLE,
                           api_json_type_name(root));
    cJSON_Delete(root);
    return rc;
}

/* ---- an independent RFC 8259 check, by recursive descent ---- */

typedef struct strict {
    const char *p, *end;
} strict;

static void sblank(strict *s)
{
    while (s->p < s->end && strchr(" \t\n\r", *s->p) && *s->p)
        s->p++;
}

static bool sdigits(strict *s)
{
    const char *from = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > from;
}

static bool svalue(strict *s, int depth);

static bool sstring(strict *s)
{
    if (s->p == s->end || *s->p != '"') return false;
    for (s->p++; s->p < s->end; s->p++) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            return true;
        }
        if (c < 0x20) return false;
        if (c != '\\') continue;
        if (++s->p == s->end) return false;
        if (*s->p == 'u') {
            for (int i = 0; i < 4; i++)
                if (++s->p == s->end || !strchr("0123456789abcdefABCDEF", *s->p) || !*s->p)
                    return false;
        } else if (!*s->p || !strchr("\"\\/bfnrt", *s->p)) {
            return false;
        }
    }
    return false;
}

static bool snumber(strict *s)
{
    if (s->p < s->end && *s->p == '-') s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (!sdigits(s))
        return false;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!sdigits(s)) return false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
        if (!sdigits(s)) return false;
    }
    return true;
}

static bool sword(strict *s, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n)) return false;
    s->p += n;
    return true;
}

static bool svalue(strict *s, int depth)
{
    sblank(s);
    if (s->p == s->end) return false;
    char c = *s->p;
    if (c == '[' || c == '{') {
        if (depth >= 1000) return false; /* cJSON's nesting limit, the body included */
        char close = c == '[' ? ']' : '}';
        s->p++;
        sblank(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return true;
        }
        for (;;) {
            if (c == '{') {
                sblank(s);
                if (!sstring(s)) return false;
                sblank(s);
                if (s->p == s->end || *s->p != ':') return false;
                s->p++;
            }
            if (!svalue(s, depth + 1)) return false;
            sblank(s);
            if (s->p == s->end) return false;
            if (*s->p == close) {
                s->p++;
                return true;
            }
            if (*s->p++ != ',') return false;
        }
    }
    if (c == '"') return sstring(s);
    if (c == 't') return sword(s, "true");
    if (c == 'f') return sword(s, "false");
    if (c == 'n') return sword(s, "null");
    return snumber(s);
}

/* True when body[0..n) is one JSON text as RFC 8259 defines it (a UTF-8 BOM allowed first). */
static bool strictly_json(const char *body, size_t n)
{
    strict s = {body, body + n};
    if (n >= 3 && !memcmp(body, "\xef\xbb\xbf", 3)) s.p += 3;
    if (!svalue(&s, 0)) return false;
    sblank(&s);
    return s.p == s.end;
}

/* Mutates body[0..*n) in place: deletes, inserts or replaces a few bytes. */
static void mutate(char *b, size_t *n, size_t cap)
{
    static const char alpha[] = "[]{},:\"-.eE+0123456789 tfnaul\\xu\t\n\xef\v\f";
    for (unsigned m = 1 + rnd(3); m > 0; m--) {
        size_t at = rnd((unsigned)*n + 1);
        char c = alpha[rnd(sizeof alpha - 1)];
        unsigned op = rnd(3);
        if (op == 0 && at < *n) {
            memmove(b + at, b + at + 1, *n - at - 1);
            --*n;
        } else if (op == 1 && *n < cap) {
            memmove(b + at + 1, b + at, *n - at);
            b[at] = c;
            ++*n;
        } else if (at < *n) {
            b[at] = c;
        }
    }
}

TEST(api_json_scan_refuses_what_cjson_refuses)
{
    static const char *const bodies[] = {
        "{\"query\": [[1, 0.5], [-2e3, 3.25]], \"key\": [[1,2],[3,4]], \"scale\": 0.5, "
        "\"causal\": true}",
        "{\"query\":[[[1,2,3]],[[4,5,6]]],\"mask\":[[true,false,true]],\"additive\":{\"weight\":"
        "[[1,2],[3,4]],\"v\":[1,2]},\"score\":\"additive\",\"seed\":12}",
        " {\"query\" : [ [ 1.5 , -0.25e-3 ] ] , \"value\" : [[\"x\", null, {\"a\":[1]}]] } ",
        "\xef\xbb\xbf{\"query\":[[1.0,-0.5,7,1E+2]],\"key\":[[\"\\u0041\\\"\"]]}\n",
        "{\"query\":[[1.,-.5,007,1E+2]]}",
    };
    int cases = SANITIZED ? 20000 : 100000, strict_refused = 0;
    for (int i = 0; i < cases; i++) {
        const char *b0 = bodies[rnd(sizeof bodies / sizeof bodies[0])];
        char b[512];
        size_t n = strlen(b0);
        memcpy(b, b0, n);
        if (i) mutate(b, &n, sizeof b);
        char *body = copy_of(b, n);
        api_error fast = {0}, whole = {0};
        cJSON *root = NULL;
        int rc = api_json_parse_body(body, n, EXAMPLE, tensors, 0, &root, &fast);
        int want = parse_whole(body, n, &whole);
        cJSON_Delete(root);
        /* What is not JSON by RFC 8259 is refused, wherever cJSON (more lenient) would. */
        if (!strictly_json(b, n)) {
            if (rc != 400 || fast.kind != API_ERR_INVALID_JSON)
                harness_fail(__FILE__, __LINE__, "%.*s\n    not JSON, but %d %s", (int)n, b, rc,
                             fast.message);
            strict_refused++;
            free(body);
            continue;
        }
        if (rc != want || (rc && (fast.kind != whole.kind || strcmp(fast.message, whole.message))))
            harness_fail(__FILE__, __LINE__,
                         "%.*s\n    text tensors: %d %s\n    cJSON:        %d %s", (int)n, b, rc,
                         fast.message, want, whole.message);
        free(body);
    }
}

TEST(api_json_scan_nesting_limit_and_bom)
{
    /* cJSON stops at 1000 nested containers, counting the body itself. */
    for (int depth = 997; depth <= 1000; depth++) {
        size_t n = 0;
        char *b = malloc(2 * (size_t)depth + 32);
        n += (size_t)sprintf(b, "{\"query\": ");
        for (int i = 0; i < depth; i++)
            b[n++] = '[';
        b[n++] = '1';
        for (int i = 0; i < depth; i++)
            b[n++] = ']';
        b[n++] = '}';
        api_error fast = {0}, whole = {0};
        cJSON *root = NULL;
        int rc = api_json_parse_body(b, n, EXAMPLE, tensors, 0, &root, &fast);
        int want = parse_whole(b, n, &whole);
        cJSON_Delete(root);
        ASSERT_EQ(rc, want);
        ASSERT_EQ(rc, depth < 1000 ? 0 : 400);
        ASSERT_STREQ(fast.message, whole.message);
        free(b);
    }
    /* A byte order mark starts a body, never a value. */
    api_error err;
    cJSON *root = NULL;
    const char *bom = "{\"query\": \xef\xbb\xbf[[1]]}";
    ASSERT_EQ(api_json_parse_body(bom, strlen(bom), EXAMPLE, tensors, 0, &root, &err), 400);
    ASSERT_CONTAINS(err.message, "malformed JSON near byte 10");
}

/* ---- whole requests: text tensors against cJSON arrays ---- */

typedef struct gen {
    char *b;
    size_t n, cap;
} gen;

static void put(gen *g, const char *s)
{
    size_t k = strlen(s);
    if (g->n + k + 1 > g->cap) {
        g->cap = 2 * (g->n + k + 1);
        g->b = realloc(g->b, g->cap);
        ASSERT(g->b != NULL);
    }
    memcpy(g->b + g->n, s, k + 1);
    g->n += k;
}

static void blank(gen *g)
{
    static const char *const blanks[] = {"", "", "", " ", "\n  ", "\t", "\r\n"};
    put(g, blanks[rnd(7)]);
}

/* A leaf: mostly a float32 in one of the forms clients write, sometimes something else. */
static void leaf(gen *g, bool boolean, bool spoil)
{
    static const char *const odd[] = {
        "\"1\"", "null",          "true",  "false",          "{}", "[1]", "[]",
        "1e39",  "-3.4028236e38", "1e999", "{\"a\": [1, 2]}"};
    char num[64];
    if (spoil && rnd(40) == 0) {
        put(g, odd[rnd(sizeof odd / sizeof odd[0])]);
    } else if (boolean) {
        put(g, rnd(2) ? "true" : "false");
    } else {
        float v = (float)((double)rnd(1u << 30) / (1 << 29) - 1) * (rnd(8) ? 1.0f : 1e-20f);
        switch (rnd(5)) {
        case 0: api_float_format(v, num); break;
        case 1: snprintf(num, sizeof num, "%.9g", (double)v); break;
        case 2: snprintf(num, sizeof num, "%.8e", (double)v); break;
        case 3: snprintf(num, sizeof num, "%d", (int)rnd(2000) - 1000); break;
        default: snprintf(num, sizeof num, "%.3f", (double)v); break;
        }
        put(g, num);
    }
}

/* A nested array of the given shape; `spoil` makes it irregular now and then. */
static void tensor(gen *g, const int *ne, int rank, bool boolean, bool spoil)
{
    put(g, "[");
    int n = ne[0];
    if (spoil && rnd(60) == 0) n += rnd(2) ? 1 : -1;
    for (int i = 0; i < n; i++) {
        if (i) put(g, ",");
        blank(g);
        if (rank == 1)
            leaf(g, boolean, spoil);
        else if (spoil && rnd(200) == 0)
            leaf(g, boolean, false); /* a leaf where an array belongs */
        else
            tensor(g, ne + 1, rank - 1, boolean, spoil);
    }
    blank(g);
    put(g, "]");
}

static void random_request(gen *g)
{
    g->n = 0;
    bool spoil = rnd(3) == 0;
    int rank = 2 + (int)rnd(2), lq = 1 + (int)rnd(4), lk = 1 + (int)rnd(4), d = 1 + (int)rnd(5);
    int h = 1 + (int)rnd(2), dv = 1 + (int)rnd(3);
    int q[3], k[3], v[3], m[2] = {lq, lk};
    int *dims[] = {q, k, v};
    int last[] = {d, d, dv}, len[] = {lq, lk, lk};
    for (int t = 0; t < 3; t++) {
        int *x = dims[t];
        if (rank == 3) *x++ = h;
        x[0] = len[t];
        x[1] = last[t];
    }
    put(g, "{");
    blank(g);
    put(g, "\"query\":");
    blank(g);
    tensor(g, q, rank, false, spoil);
    if (rnd(2)) {
        put(g, ", \"key\": ");
        tensor(g, k, rank, false, spoil);
        if (rnd(2)) {
            put(g, ",\"value\":");
            tensor(g, v, rank, false, spoil);
        }
        if (rnd(3) == 0) {
            put(g, ",\n\"mask\" : ");
            tensor(g, m, 2, true, spoil);
        }
    }
    if (rnd(5) == 0) {
        int w[2] = {1 + (int)rnd(3), 2 * d}, bv[1] = {w[0]};
        put(g, ", \"score\": \"additive\", \"additive\": {\"weight\": ");
        tensor(g, w, 2, false, spoil);
        if (rnd(2)) {
            put(g, ", \"bias\": ");
            tensor(g, bv, 1, false, spoil);
        }
        if (rnd(2)) {
            put(g, ", \"v\": ");
            tensor(g, bv, 1, false, spoil);
        }
        put(g, "}");
    }
    if (rnd(4) == 0) put(g, ", \"return_weights\": false");
    if (spoil && rnd(10) == 0) put(g, ", \"casual\": true");
    blank(g);
    put(g, "}");
}

/* Decoding as before text tensors: every field a cJSON node. */
static int decode_cjson(const char *body, size_t len, const api_limits *lim,
                        api_attention_request **out, api_error *err)
{
    *out = NULL;
    cJSON *root;
    int rc = api_json_parse_body(body, len, EXAMPLE, NULL, 0, &root, err);
    if (rc) return rc;
    rc = api_json_read_attention(root, body, len, lim, out, err);
    cJSON_Delete(root);
    return rc;
}

static bool same_floats(const float *a, const float *b, const api_shape *s, bool has)
{
    if (!has) return true;
    return memcmp(a, b, (size_t)api_shape_elements(s) * sizeof *a) == 0;
}

/* Requests decoded, by outcome (0 or an error kind + 1), so the test can tell it saw both. */
static int outcomes[API_ERR_COUNT + 1];

static void check_same_request(const char *body, size_t n, const api_limits *lim, int line)
{
    api_attention_request *fast = NULL, *slow = NULL;
    api_error ef = {0}, es = {0};
    int rf = api_v1_decode_attention(body, n, lim, &fast, &ef);
    int rs = decode_cjson(body, n, lim, &slow, &es);
    bool same = rf == rs;
    if (same && rf)
        same = ef.kind == es.kind && !strcmp(ef.field, es.field) && !strcmp(ef.message, es.message);
    if (same && !rf) {
        const api_attention_spec *s = &fast->spec;
        same = same_floats(fast->query, slow->query, &s->query, true) &&
               same_floats(fast->key, slow->key, &s->key, s->has_key) &&
               same_floats(fast->value, slow->value, &s->value, s->has_value) &&
               (!s->has_mask ||
                !memcmp(fast->mask, slow->mask, (size_t)api_shape_elements(&s->mask))) &&
               (!s->has_additive || same_floats(fast->additive_weight, slow->additive_weight,
                                                &s->additive_weight, true)) &&
               same_floats(fast->additive_bias, slow->additive_bias, &s->additive_bias,
                           s->has_additive_bias) &&
               same_floats(fast->additive_v, slow->additive_v, &s->additive_v, s->has_additive_v);
    }
    api_attention_request_free(fast);
    api_attention_request_free(slow);
    outcomes[rf ? ef.kind + 1 : 0]++;
    if (!same)
        harness_fail(__FILE__, line, "%.*s\n    text tensors: %d %s %s\n    cJSON:        %d %s %s",
                     (int)n, body, rf, ef.field, ef.message, rs, es.field, es.message);
}

TEST(api_json_text_tensors_decode_like_cjson)
{
    gen g = {0};
    int cases = SANITIZED ? 3000 : 20000;
    for (int i = 0; i < cases; i++) {
        random_request(&g);
        char *body = copy_of(g.b, g.n);
        check_same_request(body, g.n, NULL, __LINE__);
        /* Limits too small to keep every value: the text is read again after the limits. */
        api_limits lim = {.max_elements = 1 + rnd(60), .max_score_elements = 0};
        check_same_request(body, g.n, &lim, __LINE__);
        free(body);
    }
    free(g.b);
    /* Both valid requests and each kind of error a tensor can have were met. */
    ASSERT(outcomes[0] > cases / 4);
    ASSERT(outcomes[API_ERR_INVALID_SHAPE + 1] > cases / 50);
    ASSERT(outcomes[API_ERR_INVALID_TYPE + 1] > cases / 100);
    ASSERT(outcomes[API_ERR_INVALID_VALUE + 1] > cases / 200);
    ASSERT(outcomes[API_ERR_LIMIT_EXCEEDED + 1] > cases / 4);
}

TEST(api_json_text_tensor_values_and_budget)
{
    /* A regular float tensor is read while the body is checked... */
    const char *text = "{\"query\": [[1.5, -0, 1e-45], [3.4028235e38, 7038531e-32, 0.1]]}";
    size_t n = strlen(text);
    char *body = copy_of(text, n);
    cJSON *root;
    api_error err;
    ASSERT_EQ(api_json_parse_body(body, n, EXAMPLE, tensors, 0, &root, &err), 0);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(root, "query");
    const api_json_text_tensor *t = api_json_text_tensor_of(q);
    ASSERT(t != NULL);
    ASSERT_STREQ(api_json_type_name(q), "an array");
    ASSERT(t->values_kept);
    ASSERT_EQ(t->count, 6);
    api_shape shape;
    ASSERT_EQ(api_json_tensor_scan(q, "query", "numbers", &shape, &err), 0);
    ASSERT_EQ(shape.rank, 2);
    ASSERT_EQ(shape.ne[0], 2);
    ASSERT_EQ(shape.ne[1], 3);
    float got[6];
    ASSERT_EQ(api_json_tensor_read_f32(q, "query", &shape, got, &err), 0);
    const float want[6] = {1.5f, -0.0f, 0x1p-149f, FLT_MAX, 7038531e-32f, 0.1f};
    ASSERT(memcmp(got, want, sizeof want) == 0);
    cJSON_Delete(root);

    /* ...unless the budget is spent: then the same values come from the text. */
    ASSERT_EQ(api_json_parse_body(body, n, EXAMPLE, tensors, 5, &root, &err), 0);
    q = cJSON_GetObjectItemCaseSensitive(root, "query");
    t = api_json_text_tensor_of(q);
    ASSERT(t != NULL && !t->values_kept);
    memset(got, 0, sizeof got);
    ASSERT_EQ(api_json_tensor_read_f32(q, "query", &shape, got, &err), 0);
    ASSERT(memcmp(got, want, sizeof want) == 0);
    cJSON_Delete(root);
    free(body);

    /* The budget is for all tensors together: a second tensor keeps what the first left. */
    text = "{\"query\": [[1, 2, 3], [4, 5, 6]], \"key\": [[7, 8, 9], [10, 11, 12]]}";
    body = copy_of(text, strlen(text));
    for (int budget = 5; budget <= 13; budget++) {
        ASSERT_EQ(api_json_parse_body(body, strlen(text), EXAMPLE, tensors, budget, &root, &err),
                  0);
        bool q_kept =
            api_json_text_tensor_of(cJSON_GetObjectItemCaseSensitive(root, "query"))->values_kept;
        bool k_kept =
            api_json_text_tensor_of(cJSON_GetObjectItemCaseSensitive(root, "key"))->values_kept;
        ASSERT_EQ(q_kept, budget >= 6);
        ASSERT_EQ(k_kept, budget >= 12);
        cJSON_Delete(root);
    }
    free(body);

    /* Members not named as tensors, and tensors that are not arrays, stay cJSON nodes. */
    text = "{\"query\": 5, \"key_lengths\": [1, 2], \"additive\": {\"weight\": [[1]], \"w\": [2]}}";
    body = copy_of(text, strlen(text));
    ASSERT_EQ(api_json_parse_body(body, strlen(text), EXAMPLE, tensors, 0, &root, &err), 0);
    ASSERT(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "query")));
    ASSERT(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "key_lengths")));
    const cJSON *add = cJSON_GetObjectItemCaseSensitive(root, "additive");
    ASSERT(cJSON_IsObject(add));
    ASSERT(api_json_text_tensor_of(cJSON_GetObjectItemCaseSensitive(add, "weight")) != NULL);
    ASSERT(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(add, "w")));
    cJSON_Delete(root);
    free(body);
}

TEST(api_json_text_tensor_large_matches_strtof)
{
    /* Many rows, so that numbers are read both far from the end of the body (eight bytes at a
     * time) and right at it (byte by byte), in compact and spaced layouts. */
    enum { ROWS = 300, COLS = 70 };
    gen g = {0};
    float *want = malloc(ROWS * COLS * sizeof *want), *got = malloc(ROWS * COLS * sizeof *got);
    for (int layout = 0; layout < 2; layout++) {
        g.n = 0;
        put(&g, "{\"query\":[");
        for (int i = 0; i < ROWS; i++) {
            put(&g, i ? (layout ? ",\n [" : ",[") : "[");
            for (int j = 0; j < COLS; j++) {
                char num[64];
                float v = (float)((double)rnd(1u << 30) / (1 << 20) - 512);
                if (rnd(4) == 0)
                    snprintf(num, sizeof num, "%.*g", 1 + (int)rnd(17), (double)v * 1e-30);
                else
                    api_float_format(v, num);
                want[i * COLS + j] = strtof(num, NULL);
                if (j) put(&g, layout ? " , " : ",");
                put(&g, num);
            }
            put(&g, "]");
        }
        put(&g, "]}");
        char *body = copy_of(g.b, g.n);
        cJSON *root;
        api_error err;
        ASSERT_EQ(api_json_parse_body(body, g.n, EXAMPLE, tensors, 0, &root, &err), 0);
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(root, "query");
        ASSERT(api_json_text_tensor_of(q)->values_kept);
        api_shape shape;
        ASSERT_EQ(api_json_tensor_scan(q, "query", "numbers", &shape, &err), 0);
        ASSERT_EQ(api_json_tensor_read_f32(q, "query", &shape, got, &err), 0);
        ASSERT(memcmp(got, want, ROWS * COLS * sizeof *got) == 0);
        cJSON_Delete(root);
        free(body);
    }
    free(want);
    free(got);
    free(g.b);
}

/* API_JSON_OBJECTS: an array of objects whose members are described like an OBJECT's (a v2
 * request's "inputs"), their tensors kept as text, the count bounded before anything is built. */
TEST(api_json_scan_objects_list)
{
    static const api_json_member schema[] = {{"inputs", API_JSON_OBJECTS, 2},
                                             {"inputs.name", API_JSON_VALUE, 0},
                                             {"inputs.data", API_JSON_TENSOR, 0},
                                             {NULL, API_JSON_VALUE, 0}};
    const char *text = "{\"inputs\": [{\"name\": \"a\", \"data\": [[1, 2], [3, 4]]}, "
                       "{\"name\": \"b\", \"data\": [5], \"extra\": {\"x\": [1]}}]}";
    size_t n = strlen(text);
    char *body = copy_of(text, n);
    cJSON *root;
    api_error err;
    ASSERT_EQ(api_json_parse_checked(body, n, EXAMPLE, schema, 0, &root, &err), 0);
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    ASSERT_EQ(cJSON_GetArraySize(inputs), 2);
    const cJSON *a = cJSON_GetArrayItem(inputs, 0);
    const api_json_text_tensor *t =
        api_json_text_tensor_of(cJSON_GetObjectItemCaseSensitive(a, "data"));
    ASSERT(t && t->rank == 2 && t->ne[0] == 2 && t->ne[1] == 2 && t->values_kept);
    ASSERT(t->values[3] == 4.0f);
    /* An unknown member is a null placeholder (for the reader to name), built no further. */
    const cJSON *b = cJSON_GetArrayItem(inputs, 1);
    ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(b, "extra")));
    cJSON_Delete(root);
    free(body);

    /* More elements than the schema allows: 413, naming the member. */
    text = "{\"inputs\": [{}, {}, {}]}";
    n = strlen(text);
    body = copy_of(text, n);
    ASSERT_EQ(api_json_parse_checked(body, n, EXAMPLE, schema, 0, &root, &err), 413);
    ASSERT_STREQ(err.field, "inputs");
    ASSERT_CONTAINS(err.message, "inputs: more than the 2 items");
    free(body);
    /* Syntax errors inside the list are still found, at their byte. */
    text = "{\"inputs\": [{\"name\": \"a\"}, {\"name\" \"b\"}]}";
    n = strlen(text);
    body = copy_of(text, n);
    ASSERT_EQ(api_json_parse_checked(body, n, EXAMPLE, schema, 0, &root, &err), 400);
    ASSERT_CONTAINS(err.message, "malformed JSON near byte 35");
    free(body);
    /* Elements that are not objects are small values. */
    text = "{\"inputs\": [1, \"x\"]}";
    n = strlen(text);
    body = copy_of(text, n);
    ASSERT_EQ(api_json_parse_checked(body, n, EXAMPLE, schema, 0, &root, &err), 0);
    ASSERT(cJSON_IsNumber(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "inputs"), 0)));
    cJSON_Delete(root);
    free(body);
}
