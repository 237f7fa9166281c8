/* Nested JSON arrays <-> dense tensors. Reading validates as it copies (regular shape, leaf
 * types, float32 range) and names the exact element at fault; writing formats rows straight
 * into the output buffer. */
#include "json_tensor.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "float_format.h"

/* Floats formatted per reservation of the output buffer, so one huge row never needs a huge
 * temporary reservation. */
#define WRITE_CHUNK 4096

const char *api_json_type_name(const cJSON *node)
{
    if (!node) return "nothing";
    if (cJSON_IsString(node)) return "a string";
    if (cJSON_IsNumber(node)) return "a number";
    if (cJSON_IsBool(node)) return "a boolean";
    if (cJSON_IsNull(node)) return "null";
    if (cJSON_IsArray(node)) return "an array";
    if (cJSON_IsObject(node)) return "an object";
    return "an unknown value";
}

int api_json_tensor_scan(const cJSON *node, const char *name, const char *what, api_shape *shape,
                         api_error *err)
{
    memset(shape, 0, sizeof *shape);
    if (!cJSON_IsArray(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, name,
                             "%s: expected a nested array of %s, got %s", name, what,
                             api_json_type_name(node));
    int rank = 0;
    for (const cJSON *n = node; cJSON_IsArray(n); n = n->child) {
        int64_t size = 0;
        for (const cJSON *c = n->child; c; c = c->next)
            size++;
        if (size == 0)
            return api_error_set(err, API_ERR_INVALID_SHAPE, name,
                                 "%s: dimension %d is empty; every dimension needs at least one "
                                 "element",
                                 name, rank);
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

/* The element at depth `depth` (reached by idx[0..depth-1]) should be an array but is not. */
static int not_array(const reader *rd, const cJSON *c, int depth)
{
    char at[256], like[256];
    return api_error_set(rd->err, API_ERR_INVALID_SHAPE, rd->name,
                         "%s: expected an array of %lld element%s like %s, got %s",
                         path(rd, depth, false, at, sizeof at), (long long)rd->shape->ne[depth],
                         rd->shape->ne[depth] == 1 ? "" : "s",
                         path(rd, depth, true, like, sizeof like), api_json_type_name(c));
}

static int bad_leaf(const reader *rd, const cJSON *c, bool want_bool)
{
    char at[256], like[256];
    int depth = rd->shape->rank;
    path(rd, depth, false, at, sizeof at);
    if (cJSON_IsArray(c))
        return api_error_set(rd->err, API_ERR_INVALID_SHAPE, rd->name,
                             "%s: expected %s like %s, got an array (nested deeper than the "
                             "first element)",
                             at, want_bool ? "true or false" : "a number",
                             path(rd, depth, true, like, sizeof like));
    return api_error_set(rd->err, API_ERR_INVALID_TYPE, rd->name, "%s: expected %s, got %s", at,
                         want_bool ? "true or false" : "a number", api_json_type_name(c));
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
            if (!cJSON_IsArray(c)) return not_array(rd, c, depth + 1);
            int rc = read_array(rd, c, depth + 1, want_bool);
            if (rc) return rc;
        } else if (want_bool) {
            if (!cJSON_IsBool(c)) return bad_leaf(rd, c, true);
            *rd->b++ = cJSON_IsTrue(c) ? 1 : 0;
        } else {
            if (!cJSON_IsNumber(c)) return bad_leaf(rd, c, false);
            double v = c->valuedouble;
            if (!(fabs(v) < API_F32_OVERFLOW)) return not_finite(rd, v);
            *rd->f++ = (float)v;
        }
    }
    if (c || i < want) {
        for (; c; c = c->next)
            i++;
        char at[256], like[256];
        return api_error_set(rd->err, API_ERR_INVALID_SHAPE, rd->name,
                             "%s: expected %lld element%s like %s, got %lld",
                             path(rd, depth, false, at, sizeof at), (long long)want,
                             want == 1 ? "" : "s", path(rd, depth, true, like, sizeof like),
                             (long long)i);
    }
    return 0;
}

static int read_tensor(const cJSON *node, const char *name, const api_shape *shape, float *f,
                       uint8_t *b, api_error *err)
{
    reader rd = {.name = name, .shape = shape, .f = f, .b = b, .err = err};
    if (shape->rank < 1 || shape->rank > API_SHAPE_MAX_RANK)
        return api_error_set(err, API_ERR_INVALID_SHAPE, name, "%s: unsupported rank %d", name,
                             shape->rank);
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
