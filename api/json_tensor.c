/* Nested JSON arrays <-> dense tensors. Reading validates as it copies (regular shape, leaf
 * types, float32 range) and names the exact element at fault, the same way for a cJSON array
 * and for a text tensor (json_scan.h), which is read straight from the body's text; writing
 * formats rows straight into the output buffer. */
#include "json_tensor.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "float_format.h"
#include "float_parse.h"
#include "json_scan.h"

/* Floats formatted per reservation of the output buffer, so one huge row never needs a huge
 * temporary reservation. */
#define WRITE_CHUNK 4096

const char *api_json_type_name(const cJSON *node)
{
    if (!node) return "nothing";
    if (api_json_text_tensor_of(node)) return "an array";
    if (cJSON_IsString(node)) return "a string";
    if (cJSON_IsNumber(node)) return "a number";
    if (cJSON_IsBool(node)) return "a boolean";
    if (cJSON_IsNull(node)) return "null";
    if (cJSON_IsArray(node)) return "an array";
    if (cJSON_IsObject(node)) return "an object";
    return "an unknown value";
}

static int empty_dimension(const char *name, int dim, api_error *err)
{
    return api_error_set(err, API_ERR_INVALID_SHAPE, name,
                         "%s: dimension %d is empty; every dimension needs at least one element",
                         name, dim);
}

int api_json_tensor_scan(const cJSON *node, const char *name, const char *what, api_shape *shape,
                         api_error *err)
{
    memset(shape, 0, sizeof *shape);
    const api_json_text_tensor *t = api_json_text_tensor_of(node);
    if (t) { /* json_scan.c noted the shape while checking the text */
        if (t->empty) return empty_dimension(name, t->rank - 1, err);
        shape->rank = t->rank;
        memcpy(shape->ne, t->ne, sizeof shape->ne);
        return 0;
    }
    if (!cJSON_IsArray(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, name,
                             "%s: expected a nested array of %s, got %s", name, what,
                             api_json_type_name(node));
    int rank = 0;
    for (const cJSON *n = node; cJSON_IsArray(n); n = n->child) {
        int64_t size = 0;
        for (const cJSON *c = n->child; c; c = c->next)
            size++;
        if (size == 0) return empty_dimension(name, rank, err);
        if (rank < API_SHAPE_MAX_RANK) shape->ne[rank] = size;
        rank++;
    }
    shape->rank = rank;
    return 0;
}

typedef struct reader {
    const char *name;
    const api_shape *shape;
    int64_t idx[API_SHAPE_MAX_RANK]; /* index at each depth of the element being read */
    float *f;                        /* write cursor of read_f32 */
    uint8_t *b;                      /* write cursor of read_bool */
    const char *p, *end;             /* read cursor and end of a text tensor */
    api_error *err;
} reader;

/* "query[1][2]" for the first `depth` indices, or "query[0][0]" (the element the shape was
 * scanned from) when `first` is true. */
static const char *path(const reader *rd, int depth, bool first, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "%s", rd->name);
    for (int i = 0; i < depth && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "[%lld]", first ? 0LL : (long long)rd->idx[i]);
    return buf;
}

/* The element at depth `depth` (reached by idx[0..depth-1]) should be an array but is `type`. */
static int not_array(const reader *rd, const char *type, int depth)
{
    char at[256], like[256];
    return api_error_set(rd->err, API_ERR_INVALID_SHAPE, rd->name,
                         "%s: expected an array of %lld element%s like %s, got %s",
                         path(rd, depth, false, at, sizeof at), (long long)rd->shape->ne[depth],
                         rd->shape->ne[depth] == 1 ? "" : "s",
                         path(rd, depth, true, like, sizeof like), type);
}

/* The leaf being read is `type` (an array when is_array), not a number or boolean. */
static int bad_leaf(const reader *rd, const char *type, bool is_array, bool want_bool)
{
    char at[256], like[256];
    int depth = rd->shape->rank;
    path(rd, depth, false, at, sizeof at);
    if (is_array)
        return api_error_set(rd->err, API_ERR_INVALID_SHAPE, rd->name,
                             "%s: expected %s like %s, got an array (nested deeper than the "
                             "first element)",
                             at, want_bool ? "true or false" : "a number",
                             path(rd, depth, true, like, sizeof like));
    return api_error_set(rd->err, API_ERR_INVALID_TYPE, rd->name, "%s: expected %s, got %s", at,
                         want_bool ? "true or false" : "a number", type);
}

static int not_finite(const reader *rd, double v)
{
    char at[256], num[API_FLOAT_FORMAT_MAX];
    path(rd, rd->shape->rank, false, at, sizeof at);
    if (api_double_format(v, num) == 0)
        return api_error_set(rd->err, API_ERR_INVALID_VALUE, rd->name,
                             "%s: number out of range, not a finite float32", at);
    return api_error_set(rd->err, API_ERR_INVALID_VALUE, rd->name,
                         "%s: %s is not a finite float32 (the largest is 3.4028235e38)", at, num);
}

/* The array at depth `depth` has `got` elements instead of `want`. */
static int wrong_count(const reader *rd, int depth, int64_t want, int64_t got)
{
    char at[256], like[256];
    return api_error_set(
        rd->err, API_ERR_INVALID_SHAPE, rd->name, "%s: expected %lld element%s like %s, got %lld",
        path(rd, depth, false, at, sizeof at), (long long)want, want == 1 ? "" : "s",
        path(rd, depth, true, like, sizeof like), (long long)got);
}

/* ---- reading a cJSON array ---- */

/* Reads the array `arr` found at depth `depth`; leaves go through the reader's cursor. */
static int read_array(reader *rd, const cJSON *arr, int depth, bool want_bool)
{
    int64_t want = rd->shape->ne[depth];
    bool leaf = depth == rd->shape->rank - 1;
    int64_t i = 0;
    const cJSON *c = arr->child;
    for (; c && i < want; c = c->next, i++) {
        rd->idx[depth] = i;
        if (!leaf) {
            if (!cJSON_IsArray(c)) return not_array(rd, api_json_type_name(c), depth + 1);
            int rc = read_array(rd, c, depth + 1, want_bool);
            if (rc) return rc;
        } else if (want_bool) {
            if (!cJSON_IsBool(c))
                return bad_leaf(rd, api_json_type_name(c), cJSON_IsArray(c), true);
            *rd->b++ = cJSON_IsTrue(c) ? 1 : 0;
        } else {
            if (!cJSON_IsNumber(c))
                return bad_leaf(rd, api_json_type_name(c), cJSON_IsArray(c), false);
            double v = c->valuedouble;
            if (!(fabs(v) < API_F32_OVERFLOW)) return not_finite(rd, v);
            *rd->f++ = (float)v;
        }
    }
    if (c || i < want) {
        for (; c; c = c->next)
            i++;
        return wrong_count(rd, depth, want, i);
    }
    return 0;
}

/* ---- reading a text tensor ---- */

/* The text was checked by json_scan.c: it is valid JSON and ends with the outer ']', so the
 * loops below need no bounds checks and meet only the bytes that may follow a value. Speed
 * matters little here: regular float tensors were read while their syntax was checked. */

static const char *skip_blank(const char *p)
{
    while ((unsigned char)*p <= ' ')
        p++;
    return p;
}

static const char *text_type_name(char c)
{
    switch (c) {
    case '"': return "a string";
    case '[': return "an array";
    case '{': return "an object";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
    }
}

/* The array at depth `depth` had `want` elements and goes on at p: counts the rest. */
static int too_many(const reader *rd, int depth, int64_t want, const char *p)
{
    int64_t got = want;
    for (;;) {
        got++;
        p = api_json_skip_value(p, rd->end);
        if (!p) break; /* cannot happen: json_scan.c checked the text */
        p = skip_blank(p);
        if (*p != ',') break;
        p = skip_blank(p + 1);
    }
    return wrong_count(rd, depth, want, got);
}

/* The text version of read_array: rd->p at the '[' of the array at depth `depth`. */
static int text_array(reader *rd, int depth, bool want_bool)
{
    bool leaf = depth == rd->shape->rank - 1;
    int64_t want = rd->shape->ne[depth], i = 0;
    const char *p = skip_blank(rd->p + 1);
    if (*p != ']') {
        for (;; i++) {
            if (i == want) return too_many(rd, depth, want, p);
            rd->idx[depth] = i;
            char c = *p;
            if (!leaf) {
                if (c != '[') return not_array(rd, text_type_name(c), depth + 1);
                rd->p = p;
                int rc = text_array(rd, depth + 1, want_bool);
                if (rc) return rc;
                p = rd->p;
            } else if (want_bool) {
                if (c != 't' && c != 'f') return bad_leaf(rd, text_type_name(c), c == '[', true);
                *rd->b++ = c == 't';
                p += c == 't' ? 4 : 5;
            } else {
                if (c != '-' && (unsigned char)(c - '0') >= 10)
                    return bad_leaf(rd, text_type_name(c), c == '[', false);
                const char *q = api_float_parse(p, rd->end, rd->f);
                if (!(fabsf(*rd->f) <= FLT_MAX))
                    return not_finite(rd, api_json_number_double(p, q));
                rd->f++;
                p = q;
            }
            p = skip_blank(p);
            if (*p != ',') {
                i++;
                break;
            }
            p = skip_blank(p + 1);
        }
    }
    if (i < want) return wrong_count(rd, depth, want, i);
    rd->p = p + 1;
    return 0;
}

/* The numbers json_scan.c kept, when they are the tensor asked for. */
static bool copy_kept(const api_json_text_tensor *t, const api_shape *shape, float *dst)
{
    if (!t->values_kept || t->rank != shape->rank) return false;
    int64_t n = 1;
    for (int i = 0; i < shape->rank; i++) {
        if (t->ne[i] != shape->ne[i]) return false;
        n *= shape->ne[i];
    }
    if (n != t->count) return false;
    memcpy(dst, t->values, (size_t)n * sizeof *dst);
    return true;
}

static int read_tensor(const cJSON *node, const char *name, const api_shape *shape, float *f,
                       uint8_t *b, api_error *err)
{
    reader rd = {.name = name, .shape = shape, .f = f, .b = b, .err = err};
    if (shape->rank < 1 || shape->rank > API_SHAPE_MAX_RANK)
        return api_error_set(err, API_ERR_INVALID_SHAPE, name, "%s: unsupported rank %d", name,
                             shape->rank);
    const api_json_text_tensor *t = api_json_text_tensor_of(node);
    if (t) {
        if (f && copy_kept(t, shape, f)) return 0;
        /* Not a regular tensor of finite float32 numbers (or a boolean one): read the text
         * again, which finds and names the first element at fault. */
        rd.p = t->text;
        rd.end = t->text + t->len;
        return text_array(&rd, 0, b != NULL);
    }
    if (!cJSON_IsArray(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, name, "%s: expected an array, got %s", name,
                             api_json_type_name(node));
    return read_array(&rd, node, 0, b != NULL);
}

int api_json_tensor_read_f32(const cJSON *node, const char *name, const api_shape *shape,
                             float *dst, api_error *err)
{
    return read_tensor(node, name, shape, dst, NULL, err);
}

int api_json_tensor_read_bool(const cJSON *node, const char *name, const api_shape *shape,
                              uint8_t *dst, api_error *err)
{
    return read_tensor(node, name, shape, NULL, dst, err);
}

/* One innermost row "[x,y,...]", formatted in chunks directly into the buffer. */
static void write_row(api_buf *out, const float *p, int64_t n)
{
    api_buf_append(out, "[", 1);
    for (int64_t start = 0; start < n; start += WRITE_CHUNK) {
        int64_t end = n - start < WRITE_CHUNK ? n : start + WRITE_CHUNK;
        /* Each number plus its comma takes at most 16 bytes; the formatter may use up to
         * API_FLOAT_FORMAT_MAX bytes of scratch for the last one. */
        if (!api_buf_reserve(out, (size_t)(end - start) * 16 + API_FLOAT_FORMAT_MAX)) return;
        char *w = out->data + out->len;
        for (int64_t i = start; i < end; i++) {
            if (i) *w++ = ',';
            size_t len = api_float_format(p[i], w);
            if (!len) {
                memcpy(w, "null", 4);
                len = 4;
            }
            w += len;
        }
        out->len = (size_t)(w - out->data);
        out->data[out->len] = '\0';
    }
    api_buf_append(out, "]", 1);
}

static void write_nested(api_buf *out, const float **p, int rank, const int64_t *ne)
{
    if (rank == 1) {
        write_row(out, *p, ne[0]);
        *p += ne[0];
        return;
    }
    api_buf_append(out, "[", 1);
    for (int64_t i = 0; i < ne[0] && !out->oom; i++) {
        if (i) api_buf_append(out, ",", 1);
        write_nested(out, p, rank - 1, ne + 1);
    }
    api_buf_append(out, "]", 1);
}

void api_json_tensor_write_f32(api_buf *out, const float *data, int rank, const int64_t *ne)
{
    if (rank < 1) {
        out->oom = true; /* a programmer error; never produce half a document silently */
        return;
    }
    write_nested(out, &data, rank, ne);
}
