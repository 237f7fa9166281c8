/* Reading an infer input into the request: binary bytes through datatype.c, JSON data through
 * json_tensor.c (floats and booleans, straight from the body's text) or, for the few integers
 * and strings a request holds (key lengths, ids, a text), through a small cJSON tree of the
 * data's already-checked text. */
#include "tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../json_number.h"
#include "../json_scan.h"
#include "../json_tensor.h"

int api_v2_wrong_datatype(const api_v2_input *in, const char *want, api_error *err)
{
    return api_error_set(err, API_ERR_INVALID_VALUE, in->name,
                         "input '%s': datatype %s; expected %s", in->name,
                         api_v2_datatype_name(in->datatype), want);
}

/* The shape of the JSON data, which must hold in->elements values: flat, or in in->shape. */
static int data_shape(const api_v2_input *in, const char *what, api_shape *s, api_error *err)
{
    if (!api_json_text_tensor_of(in->data) && !cJSON_IsArray(in->data))
        return api_error_set(err, API_ERR_INVALID_TYPE, in->name,
                             "input '%s': data: expected an array of %s, got %s", in->name, what,
                             api_json_type_name(in->data));
    int rc = api_json_tensor_scan(in->data, in->name, what, s, err);
    if (rc) return rc;
    bool flat = s->rank == 1 && s->ne[0] == in->elements;
    bool same = s->rank == in->shape.rank;
    for (int i = 0; same && i < s->rank && i < API_SHAPE_MAX_RANK; i++)
        same = s->ne[i] == in->shape.ne[i];
    if (flat || same) return 0;
    char got[128], want[128];
    api_shape_str(s, -1, got, sizeof got);
    api_shape_str(&in->shape, -1, want, sizeof want);
    return api_error_set(err, API_ERR_INVALID_SHAPE, in->name,
                         "input '%s': data is an array %s, but shape %s needs %lld values, flat "
                         "or nested in that shape",
                         in->name, got, want, (long long)in->elements);
}

int api_v2_input_read_f32(const api_v2_input *in, float *dst, api_error *err)
{
    if (in->bin) return api_v2_read_f32(in->datatype, in->bin, in->elements, dst, in->name, err);
    api_shape s;
    int rc = data_shape(in, "numbers", &s, err);
    return rc ? rc : api_json_tensor_read_f32(in->data, in->name, &s, dst, err);
}

int api_v2_input_read_bool(const api_v2_input *in, uint8_t *dst, api_error *err)
{
    if (in->bin) return api_v2_read_bool(in->bin, in->elements, dst, in->name, err);
    api_shape s;
    int rc = data_shape(in, "booleans", &s, err);
    return rc ? rc : api_json_tensor_read_bool(in->data, in->name, &s, dst, err);
}

/* The data as a cJSON tree (its text was checked while the body was parsed), or NULL. */
static cJSON *data_tree(const api_v2_input *in)
{
    const api_json_text_tensor *t = api_json_text_tensor_of(in->data);
    return t ? cJSON_ParseWithLength(t->text, t->len) : cJSON_Duplicate(in->data, true);
}

/* Appends the leaves of `node` in row-major order to leaves[0..max), counting them in *n. */
static void flatten(const cJSON *node, const cJSON **leaves, int64_t max, int64_t *n)
{
    if (!cJSON_IsArray(node)) {
        if (*n < max) leaves[*n] = node;
        ++*n;
        return;
    }
    for (const cJSON *c = node->child; c; c = c->next)
        flatten(c, leaves, max, n);
}

/* The in->elements leaves of the data into *leaves (malloc'd) and *tree (cJSON_Delete it). */
static int data_leaves(const api_v2_input *in, const char *what, cJSON **tree,
                       const cJSON ***leaves, api_error *err)
{
    api_shape s;
    int rc = data_shape(in, what, &s, err);
    if (rc) return rc;
    /* Each value takes at least a byte of the text: more values than bytes cannot be there
     * (a nested array of uneven rows can scan as a large shape). */
    const api_json_text_tensor *t = api_json_text_tensor_of(in->data);
    if (t && in->elements > (int64_t)t->len)
        return api_error_set(err, API_ERR_INVALID_SHAPE, in->name,
                             "input '%s': data of %zu bytes cannot hold the %lld values of its "
                             "shape",
                             in->name, t->len, (long long)in->elements);
    *tree = data_tree(in);
    *leaves = malloc((size_t)in->elements * sizeof **leaves);
    if (!*tree || !*leaves) {
        cJSON_Delete(*tree);
        free(*leaves);
        return api_error_set(err, API_ERR_INTERNAL, in->name, "out of memory reading '%s'",
                             in->name);
    }
    int64_t n = 0;
    flatten(*tree, *leaves, in->elements, &n);
    if (n != in->elements) {
        cJSON_Delete(*tree);
        free(*leaves);
        return api_error_set(err, API_ERR_INVALID_SHAPE, in->name,
                             "input '%s': data holds %lld values in nested arrays of uneven "
                             "sizes; shape needs %lld",
                             in->name, (long long)n, (long long)in->elements);
    }
    return 0;
}

int api_v2_input_read_int(const api_v2_input *in, int64_t *dst, api_error *err)
{
    if (in->bin) {
        api_v2_read_int(in->datatype, in->bin, in->elements, dst);
        return 0;
    }
    cJSON *tree;
    const cJSON **leaves;
    int rc = data_leaves(in, "integers", &tree, &leaves, err);
    if (rc) return rc;
    char name[96];
    int64_t lo = in->datatype == API_V2_INT32 ? INT32_MIN : -API_JSON_EXACT_INT;
    int64_t hi = in->datatype == API_V2_INT32 ? INT32_MAX : API_JSON_EXACT_INT;
    for (int64_t i = 0; !rc && i < in->elements; i++) {
        snprintf(name, sizeof name, "input '%.40s': element %lld", in->name, (long long)i);
        rc = api_json_read_int(leaves[i], name, in->name,
                               in->datatype == API_V2_INT32
                                   ? "an INT32 integer"
                                   : "an INT64 integer up to 2^53 in magnitude (send binary data "
                                     "for larger ones)",
                               lo, hi, &dst[i], err);
    }
    cJSON_Delete(tree);
    free(leaves);
    return rc;
}

int api_v2_input_bytes(const api_v2_input *in, char **out, size_t *n, api_error *err)
{
    *out = NULL;
    if (in->elements != 1) {
        char shape[128];
        api_shape_str(&in->shape, -1, shape, sizeof shape);
        return api_error_set(err, API_ERR_INVALID_SHAPE, in->name,
                             "input '%s': shape %s; expected one BYTES element, shape [1]",
                             in->name, shape);
    }
    const char *src;
    cJSON *tree = NULL;
    const cJSON **leaves = NULL;
    if (in->bin) {
        const unsigned char *p;
        api_v2_bytes_next(in->bin, &p, n);
        src = (const char *)p;
    } else {
        int rc = data_leaves(in, "strings", &tree, &leaves, err);
        if (rc) return rc;
        if (!cJSON_IsString(leaves[0])) {
            rc = api_error_set(err, API_ERR_INVALID_TYPE, in->name,
                               "input '%s': data: expected a string, got %s", in->name,
                               api_json_type_name(leaves[0]));
            cJSON_Delete(tree);
            free(leaves);
            return rc;
        }
        src = leaves[0]->valuestring;
        *n = strlen(src);
    }
    *out = malloc(*n + 1);
    if (*out) {
        memcpy(*out, src, *n);
        (*out)[*n] = '\0';
    }
    cJSON_Delete(tree);
    free(leaves);
    if (!*out)
        return api_error_set(err, API_ERR_INTERNAL, in->name, "out of memory reading '%s'",
                             in->name);
    return 0;
}
