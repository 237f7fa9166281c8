/* Walking a body's object members: keys and ordinary values go through cJSON one at a time,
 * tensors are checked by a small array scanner that also notes their shape. Any text cJSON
 * would refuse is refused here too, at the same byte. */
#include "json_scan.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "float_parse.h"
#include "json_tensor.h"

#define TEXT_TAG        "\1tensor"
#define MEMBER_PATH_MAX 128 /* longest member path matched against the tensors' */

typedef struct walker {
    const char *end;
    const char *const *tensors;
    const api_json_member *schema; /* what the body may hold, or NULL (tensors, then cJSON) */
    const char *bad;               /* where the text stops being JSON, once it does */
    bool oom;
    /* Once the body is sure to be refused for a value over its size, values are only checked
     * for syntax: nothing more is built. The first such error is kept in ferr. */
    bool refused;
    int frc;
    api_error ferr;
    /* The values of the tensor being scanned, reused from one tensor to the next. */
    float *values;
    size_t count, cap;
    size_t room;    /* values this tensor may keep without asking: min(cap, budget) */
    bool store;     /* every value of this tensor kept so far */
    int64_t budget; /* values the tensors still to come may keep in all */
} walker;

/* The blanks RFC 8259 allows between tokens: space, tab, line feed and carriage return (cJSON
 * would take any byte up to the space, NUL, \v and \f included). */
static const char *skip_blank(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static const char *fail(walker *w, const char *at)
{
    w->bad = at;
    return NULL;
}

/* ---- tensors ---- */

/* "true" / "false" / "null" at p, as cJSON compares them (what follows is judged later). */
static const char *literal(const char *p, const char *end)
{
    const char *word = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* ---- values skipped, not built ---- */

static bool is_hex(char c)
{
    return (unsigned char)(c - '0') < 10 || (unsigned char)((c | 0x20) - 'a') < 6;
}

/* The end of the string at p ('"'), checked as RFC 8259 says: no raw control characters, only
 * the escapes \" \\ \/ \b \f \n \r \t and \u with four hex digits. */
static const char *skip_string(walker *w, const char *p)
{
    const char *end = w->end;
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p + 1;
        if (c < 0x20) return fail(w, p);
        if (c != '\\') continue;
        if (++p == end) break;
        if (*p == 'u') {
            for (int i = 1; i <= 4; i++)
                if (p + i == end || !is_hex(p[i])) return fail(w, p + i < end ? p + i : end);
            p += 4;
        } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
            return fail(w, p);
        }
    }
    return fail(w, end);
}

/* The end of the JSON value at p, checked strictly (RFC 8259) and nothing built: for values
 * that are only to be measured or refused. `depth` containers are around it (cJSON's nesting
 * limit counts them). *items gets the number of elements when the value is an array. */
static const char *skip_value(walker *w, const char *p, int depth, int64_t *items)
{
    const char *end = w->end;
    char stack[CJSON_NESTING_LIMIT]; /* '[' or '{' of each open container */
    int open = 0;
    *items = 0;
    for (;;) {
        /* p is at a value (or, in an object, at a key when `key`). */
        if (p == end) return fail(w, p);
        char c = *p;
        if (c == '[' || c == '{') {
            if (depth + open >= CJSON_NESTING_LIMIT) return fail(w, p);
            stack[open++] = c;
            p = skip_blank(p + 1, end);
            if (p < end && *p == (c == '[' ? ']' : '}')) {
                open--;
                p++;
            } else if (c == '{') {
                goto key;
            } else {
                continue;
            }
        } else {
            const char *q = c == '"'                           ? skip_string(w, p)
                            : c == 't' || c == 'f' || c == 'n' ? literal(p, end)
                                                               : api_json_number_end(p, end);
            if (!q) return w->bad ? NULL : fail(w, p);
            p = q;
        }
        /* A value ended at p: what follows it in the containers around. */
        for (;;) {
            if (open == 0) return p;
            if (open == 1 && stack[0] == '[') ++*items;
            p = skip_blank(p, end);
            if (p == end) return fail(w, p);
            char close = stack[open - 1] == '[' ? ']' : '}';
            if (*p == close) {
                open--;
                p++;
                continue;
            }
            if (*p != ',') return fail(w, p);
            p = skip_blank(p + 1, end);
            break;
        }
        if (stack[open - 1] == '[') continue;
    key:
        if (p == end || *p != '"') return fail(w, p);
        if (!(p = skip_string(w, p))) return NULL;
        p = skip_blank(p, end);
        if (p == end || *p != ':') return fail(w, p);
        p = skip_blank(p + 1, end);
    }
}

const char *api_json_skip_value(const char *p, const char *end)
{
    walker w = {.end = end};
    int64_t items;
    return skip_value(&w, p, 0, &items);
}

const char *api_json_skip_blank(const char *p, const char *end)
{
    return skip_blank(p, end);
}

/* One value at p, checked strictly, then parsed by cJSON; NULL (w->bad set) when it is not
 * JSON. `depth` containers are around it. */
static cJSON *cjson_value(walker *w, const char *p, int depth, const char **after)
{
    int64_t items;
    const char *stop = skip_value(w, p, depth, &items), *at = NULL;
    if (!stop) return NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(p, (size_t)(stop - p), &at, false);
    if (!v) /* a lone UTF-16 surrogate in a \u escape, say */
        fail(w, at ? at : p);
    else
        *after = stop;
    return v;
}

/* Makes room for one more value in w->values; false (and w->store cleared) when the budget or
 * memory runs out, after which values are only checked, not kept. */
static bool room(walker *w)
{
    if (w->count < w->room) return true;
    if (w->store && (int64_t)w->count < w->budget) {
        size_t cap = w->cap ? 2 * w->cap : 4096;
        float *v = cap <= SIZE_MAX / sizeof *v ? realloc(w->values, cap * sizeof *v) : NULL;
        if (v) {
            w->values = v;
            w->cap = cap;
            w->room = (int64_t)cap < w->budget ? cap : (size_t)w->budget;
            return true;
        }
    }
    w->store = false;
    return false;
}

/* The hot loop: the numbers of one array from p (at a number) for as long as ", number" goes
 * on. Keeps them in w->values while `keep`; *n counts them, *clean is cleared for one that is
 * not a finite float32. Returns the end of the last (blanks after it skipped), or NULL. */
static const char *numbers(walker *w, const char *p, bool keep, int64_t *n, bool *clean)
{
    const char *end = w->end;
    float scratch;
    for (;;) {
        keep = keep && room(w);
        float *v = keep ? &w->values[w->count] : &scratch;
        const char *q = api_float_parse(p, end, v);
        if (!q) return fail(w, p);
        *clean = *clean && fabsf(*v) <= FLT_MAX;
        w->count += keep;
        ++*n;
        p = skip_blank(q, end);
        if (p == end || *p != ',') return p;
        const char *r = skip_blank(p + 1, end);
        if (r == end || (*r != '-' && (unsigned char)(*r - '0') >= 10)) return p;
        p = r;
    }
}

/* Checks the array at p ('[') and returns its end, noting in *t the sizes of the arrays along
 * the first elements and, while the array is regular (every array the size of the first at
 * its depth, every leaf a finite float32 number at the depth of the first), keeping its
 * numbers in w->values. `depth` is the number of containers around it, for cJSON's nesting
 * limit. Anything but arrays, numbers and literals (strings, objects: errors in a tensor, but
 * JSON) is handed to cJSON. */
static const char *scan_tensor(walker *w, const char *p, int depth, api_json_text_tensor *t)
{
    const char *end = w->end;
    int64_t count[API_SHAPE_MAX_RANK];
    bool done[API_SHAPE_MAX_RANK] = {false};
    int open = 0;      /* arrays open; the innermost has index open - 1 */
    bool first = true; /* still on the first element of every open array */
    bool clean = true; /* regular so far: its values are worth keeping */
    w->count = 0;
    w->store = true;
    w->room = (int64_t)w->cap < w->budget ? w->cap : (size_t)w->budget;

    for (;;) {
        /* p is at a value. */
        if (*p == '[') {
            if (depth + open >= CJSON_NESTING_LIMIT) return fail(w, p);
            if (first)
                t->rank++;
            else if (open >= t->rank)
                clean = false; /* deeper than the first leaf */
            if (open < API_SHAPE_MAX_RANK) count[open] = 0;
            open++;
            p = skip_blank(p + 1, end);
            if (p == end) return fail(w, p);
            if (*p != ']') continue;
            t->empty |= first;
            first = false;
        } else {
            first = false;
            char c = *p;
            const char *next;
            if (c == '-' || (unsigned char)(c - '0') < 10) {
                clean = clean && open == t->rank && open <= API_SHAPE_MAX_RANK;
                int64_t n = 0;
                p = numbers(w, p, clean, &n, &clean);
                if (!p) return NULL;
                if (open <= API_SHAPE_MAX_RANK) count[open - 1] += n;
            } else {
                clean = false;
                if (c == 't' || c == 'f' || c == 'n') {
                    next = literal(p, end);
                } else if (c == '"' || c == '{') {
                    cJSON *v = cjson_value(w, p, depth + open, &next);
                    if (!v) return NULL;
                    cJSON_Delete(v);
                } else {
                    next = NULL;
                }
                if (!next) return fail(w, p);
                p = skip_blank(next, end);
                if (open <= API_SHAPE_MAX_RANK) count[open - 1]++;
            }
            if (p == end) return fail(w, p);
            if (*p == ',') {
                p = skip_blank(p + 1, end);
                if (p == end) return fail(w, p);
                continue;
            }
            if (*p != ']') return fail(w, p);
        }
        /* p is at the ']' of the innermost open array; close it and any that end with it. */
        for (;;) {
            open--;
            if (open < API_SHAPE_MAX_RANK) {
                if (!done[open]) {
                    done[open] = true;
                    t->ne[open] = count[open];
                } else {
                    clean = clean && count[open] == t->ne[open];
                }
            }
            p++;
            if (open == 0) {
                t->values_kept = clean && w->store && !t->empty;
                return p;
            }
            if (open <= API_SHAPE_MAX_RANK) count[open - 1]++;
            p = skip_blank(p, end);
            if (p == end) return fail(w, p);
            if (*p == ']') continue;
            if (*p != ',') return fail(w, p);
            p = skip_blank(p + 1, end);
            if (p == end) return fail(w, p);
            break;
        }
    }
}

/* A text tensor node for the array at p: one block holding api_json_text_tensor and, when the
 * array was regular, its values. */
static cJSON *text_tensor(walker *w, const char *p, int depth, const char **after)
{
    api_json_text_tensor t = {.tag = TEXT_TAG, .text = p};
    const char *stop = scan_tensor(w, p, depth, &t);
    if (!stop) return NULL;
    t.len = (size_t)(stop - p);
    t.count = t.values_kept ? (int64_t)w->count : 0;
    w->budget -= t.count;
    size_t bytes = sizeof t + (size_t)t.count * sizeof(float);
    api_json_text_tensor *block = cJSON_malloc(bytes);
    cJSON *node = cJSON_CreateNull();
    if (!block || !node) {
        cJSON_free(block);
        cJSON_Delete(node);
        w->oom = true;
        return NULL;
    }
    *block = t;
    if (t.count) memcpy(block->values, w->values, (size_t)t.count * sizeof(float));
    /* cJSON_Delete frees valuestring whatever the type: the node owns the block. */
    node->type = cJSON_Raw;
    node->valuestring = (char *)block;
    *after = stop;
    return node;
}

const api_json_text_tensor *api_json_text_tensor_of(const cJSON *node)
{
    if (!node || node->type != cJSON_Raw || !node->valuestring) return NULL;
    const api_json_text_tensor *t = (const api_json_text_tensor *)node->valuestring;
    /* strncmp stops at the end of a shorter string any other raw node may hold. */
    return strncmp(node->valuestring, TEXT_TAG, sizeof TEXT_TAG) == 0 ? t : NULL;
}

/* ---- objects ---- */

/* 1 when `path` is one of the tensors, 2 when it leads to one ("additive" for
 * "additive.weight"), else 0. */
static int tensor_path(const walker *w, const char *path)
{
    size_t n = strlen(path);
    int found = 0;
    for (const char *const *t = w->tensors; t && *t; t++) {
        if (strcmp(*t, path) == 0) return 1;
        if (strncmp(*t, path, n) == 0 && (*t)[n] == '.') found = 2;
    }
    return found;
}

/* The schema's entry for `path`, or NULL. */
static const api_json_member *schema_member(const walker *w, const char *path, int *index)
{
    for (int i = 0; w->schema[i].path; i++)
        if (strcmp(w->schema[i].path, path) == 0) {
            *index = i;
            return &w->schema[i];
        }
    return NULL;
}

/* Keeps the first error of the body's fields (syntax errors, found later, still come first). */
static void refuse(walker *w, int rc)
{
    if (!w->refused) w->frc = rc;
    w->refused = true;
}

/* The value at p of a member the schema describes as `m` (at `path`), measured and checked
 * strictly before anything is built: a value over its size, or a list over its length, is
 * refused (w->ferr) and not built. Returns the node (NULL when refused: *after is still set,
 * or on an error: *after NULL). */
static cJSON *bounded_value(walker *w, const char *p, const api_json_member *m, const char *path,
                            int depth, const char **after)
{
    int64_t items;
    const char *stop = skip_value(w, p, depth, &items);
    *after = stop;
    if (!stop) return NULL;
    int64_t bytes = (int64_t)(stop - p);
    bool list = m->kind == API_JSON_LIST && *p == '[';
    int64_t max = !list && m->kind != API_JSON_VALUE ? 0 : m->max;
    if (max == 0) max = API_JSON_SMALL_MAX;
    if (list && items > max) {
        refuse(w, api_error_set(&w->ferr, API_ERR_LIMIT_EXCEEDED, path,
                                "%s: %lld items, more than the %lld this server takes in one "
                                "request",
                                path, (long long)items, (long long)max));
        return NULL;
    }
    if (!list && max > 0 && bytes > max) {
        refuse(w, api_error_set(&w->ferr, API_ERR_INVALID_VALUE, path,
                                "%s: a value of %lld bytes of JSON, more than the %lld this field "
                                "may have",
                                path, (long long)bytes, (long long)max));
        return NULL;
    }
    *after = NULL;
    return cjson_value(w, p, depth, after);
}

static const char *object(walker *w, const char *p, const char *path, int depth, cJSON **out);

/* Parses the array at p ('[') of a member the schema describes as API_JSON_OBJECTS (`m`, at
 * `path`) into *out: its objects as object() parses them (their members at "path.member"),
 * any other element as a small value. More than m->max elements refuse the body (413
 * limit_exceeded); the rest is then only checked. Returns its end, or NULL. */
static const char *object_list(walker *w, const char *p, const api_json_member *m, const char *path,
                               int depth, cJSON **out)
{
    const char *end = w->end;
    static const api_json_member small = {NULL, API_JSON_VALUE, 0};
    int64_t max = m->max > 0 ? m->max : API_JSON_SMALL_MAX, n = 0, items;
    if (depth >= CJSON_NESTING_LIMIT) return fail(w, p);
    cJSON *list = cJSON_CreateArray();
    if (!list) {
        w->oom = true;
        return NULL;
    }
    *out = list;
    p = skip_blank(p + 1, end);
    if (p < end && *p == ']') return p + 1;
    for (;;) {
        if (p == end) return fail(w, p);
        cJSON *item = NULL;
        const char *after = NULL;
        if (++n > max && !w->refused)
            refuse(w, api_error_set(&w->ferr, API_ERR_LIMIT_EXCEEDED, path,
                                    "%s: more than the %lld items this server takes in one "
                                    "request",
                                    path, (long long)max));
        if (w->refused)
            after = skip_value(w, p, depth + 1, &items);
        else if (*p == '{')
            after = object(w, p, path, depth + 1, &item);
        else
            item = bounded_value(w, p, &small, path, depth + 1, &after);
        if (item && !cJSON_AddItemToArray(list, item)) {
            cJSON_Delete(item);
            w->oom = true;
            return NULL;
        }
        if (!after) return NULL;
        p = skip_blank(after, end);
        if (p < end && *p == ',') {
            p = skip_blank(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') return p + 1;
        return fail(w, p);
    }
}

/* Parses the object at p ('{') into *out, whose members at `path` ("" for the body) may be
 * tensors. Returns its end, or NULL (w->bad or w->oom set). */
static const char *object(walker *w, const char *p, const char *path, int depth, cJSON **out)
{
    const char *end = w->end;
    if (depth >= CJSON_NESTING_LIMIT) return fail(w, p);
    cJSON *obj = cJSON_CreateObject();
    if (!obj) {
        w->oom = true;
        return NULL;
    }
    *out = obj;
    uint64_t seen = 0; /* the schema's members met in this object */
    /* After an unknown or repeated member, which api_json_collect_members will name (in the
     * order in which it names every error of members), the rest of the object is only
     * checked, not built: so each member the schema knows is built at most twice. */
    bool stop = false;
    p = skip_blank(p + 1, end);
    if (p < end && *p == '}') return p + 1;
    for (;;) {
        /* Where a key should start, cJSON points one byte past what it found instead. */
        if (p == end || *p != '"') return fail(w, p + (p < end));
        const char *after;
        cJSON *key = cjson_value(w, p, depth + 1, &after);
        if (!key) return NULL;
        char sub[MEMBER_PATH_MAX];
        int kind = 0, index = -1;
        const api_json_member *m = NULL;
        bool fits = strlen(path) + strlen(key->valuestring) + 2 <= sizeof sub;
        if (fits) {
            strcpy(sub, path);
            if (*path) strcat(sub, ".");
            strcat(sub, key->valuestring);
            kind = w->schema ? 0 : tensor_path(w, sub);
        } else {
            snprintf(sub, sizeof sub, "%s", path);
        }
        if (w->schema && fits && (m = schema_member(w, sub, &index)))
            kind = m->kind == API_JSON_TENSOR    ? 1
                   : m->kind == API_JSON_OBJECT  ? 2
                   : m->kind == API_JSON_OBJECTS ? 3
                                                 : 0;
        p = skip_blank(after, end);
        bool colon = p < end && *p == ':';
        if (colon) p = skip_blank(p + 1, end);
        if (!colon || p == end) {
            cJSON_Delete(key);
            return fail(w, p);
        }
        cJSON *value = NULL;
        int64_t items;
        after = NULL;
        if (w->schema && !m && !stop && !w->refused) {
            /* Unknown: a null stands for it, for api_json_collect_members to name. */
            stop = true;
            after = skip_value(w, p, depth + 1, &items);
            value = after ? cJSON_CreateNull() : NULL;
            if (after && !value) w->oom = true;
        } else if (stop || w->refused) {
            after = skip_value(w, p, depth + 1, &items);
        } else if (kind == 1 && *p == '[') {
            value = text_tensor(w, p, depth + 1, &after);
        } else if (kind == 2 && *p == '{') {
            after = object(w, p, sub, depth + 1, &value);
        } else if (kind == 3 && *p == '[') {
            after = object_list(w, p, m, sub, depth + 1, &value);
        } else if (m) {
            value = bounded_value(w, p, m, sub, depth + 1, &after);
        } else {
            value = cjson_value(w, p, depth + 1, &after);
        }
        if (m && index < 64) {
            if (seen >> index & 1) stop = true; /* sent twice */
            seen |= 1ull << index;
        }
        if (!value && after && !w->oom) { /* skipped */
            cJSON_Delete(key);
            p = skip_blank(after, end);
            if (p < end && *p == ',') {
                p = skip_blank(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') return p + 1;
            return fail(w, p);
        }
        if (value && !cJSON_AddItemToObject(obj, key->valuestring, value)) {
            cJSON_Delete(value);
            value = NULL;
            w->oom = true;
        }
        cJSON_Delete(key);
        if (!value || !after) return NULL;
        p = skip_blank(after, end);
        if (p < end && *p == ',') {
            p = skip_blank(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') return p + 1;
        return fail(w, p);
    }
}

/* ---- the body ---- */

/* "line 3, column 14" of byte offset `at` in body. */
static void line_col(const char *body, size_t at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < at; i++) {
        if (body[i] == '\n')
            ++*line, *col = 1;
        else
            ++*col;
    }
}

int api_json_malformed(const char *body, size_t len, size_t at, const char *what, api_error *err)
{
    if (at > len) at = len;
    int line, col;
    line_col(body, at, &line, &col);
    /* A short excerpt around the position, with anything unprintable shown as '?'. */
    size_t from = at > 16 ? at - 16 : 0, to = at + 16 < len ? at + 16 : len;
    char excerpt[40];
    size_t n = 0;
    for (size_t i = from; i < to; i++) {
        unsigned char ch = (unsigned char)body[i];
        excerpt[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    excerpt[n] = '\0';
    if (n == 0)
        return api_error_set(err, API_ERR_INVALID_JSON, "", "%s near byte %zu (line %d, column %d)",
                             what, at, line, col);
    return api_error_set(err, API_ERR_INVALID_JSON, "",
                         "%s near byte %zu (line %d, column %d): ...%s...", what, at, line, col,
                         excerpt);
}

static int parse(const char *body, size_t len, const char *example, const char *const *tensors,
                 const api_json_member *schema, int64_t max_values, cJSON **root, api_error *err)
{
    *root = NULL;
    if (!body || len == 0)
        return api_error_set(err, API_ERR_INVALID_JSON, "",
                             "empty body: expected a JSON object such as %s", example);
    const char *end = body + len, *p = body, *stop = NULL;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3; /* as cJSON: a UTF-8 BOM */
    p = skip_blank(p, end);
    cJSON *tree = NULL;
    if (p < end && *p == '{') {
        walker w = {.end = end,
                    .tensors = tensors,
                    .schema = schema,
                    .budget = max_values > 0 ? max_values : INT64_MAX};
        stop = object(&w, p, "", 0, &tree);
        free(w.values);
        if (stop && w.frc) {
            /* Refused for a field, and nothing else wrong with its syntax. */
            cJSON_Delete(tree);
            size_t at = (size_t)(stop - body);
            while (at < len &&
                   (body[at] == ' ' || body[at] == '\t' || body[at] == '\n' || body[at] == '\r'))
                at++;
            if (at < len)
                return api_json_malformed(body, len, at, "unexpected data after the JSON value",
                                          err);
            *err = w.ferr;
            return w.frc;
        }
        if (!stop) {
            cJSON_Delete(tree);
            if (w.oom)
                return api_error_set(err, API_ERR_INTERNAL, "",
                                     "out of memory reading the JSON body");
            /* cJSON points at the last byte, not past it, when the text ends too soon. */
            const char *at = w.bad < end ? w.bad : end - 1;
            return api_json_malformed(body, len, (size_t)(at - body), "malformed JSON", err);
        }
    } else {
        /* Not an object: cJSON says what it is, once it is known to be JSON. */
        walker w = {.end = end};
        int64_t items;
        if (!skip_value(&w, p, 0, &items)) {
            const char *at = w.bad < end ? w.bad : end - 1;
            return api_json_malformed(body, len, (size_t)(at - body), "malformed JSON", err);
        }
        tree = cJSON_ParseWithLengthOpts(body, len, &stop, false);
        if (!tree)
            return api_json_malformed(body, len, stop ? (size_t)(stop - body) : 0, "malformed JSON",
                                      err);
    }
    size_t at = (size_t)(stop - body);
    while (at < len &&
           (body[at] == ' ' || body[at] == '\t' || body[at] == '\n' || body[at] == '\r'))
        at++;
    int rc;
    if (at < len) {
        rc = api_json_malformed(body, len, at, "unexpected data after the JSON value", err);
    } else if (!cJSON_IsObject(tree)) {
        rc = api_error_set(err, API_ERR_INVALID_TYPE, "",
                           "the body must be a JSON object such as %s, got %s", example,
                           api_json_type_name(tree));
    } else {
        *root = tree;
        return 0;
    }
    cJSON_Delete(tree);
    return rc;
}

int api_json_parse_body(const char *body, size_t len, const char *example,
                        const char *const *tensors, int64_t max_values, cJSON **root,
                        api_error *err)
{
    return parse(body, len, example, tensors, NULL, max_values, root, err);
}

int api_json_parse_checked(const char *body, size_t len, const char *example,
                           const api_json_member *schema, int64_t max_values, cJSON **root,
                           api_error *err)
{
    return parse(body, len, example, NULL, schema, max_values, root, err);
}
