/* A request body parsed as one JSON object, its big numeric arrays left as text. cJSON makes a
 * 64-byte node per number; for the tensors of a request that is most of the decoding time and
 * memory. So the body's members are walked here: the tensors named by the caller are checked
 * for syntax and their shape noted, but stay text (api_json_tensor_read_* reads them straight
 * into the request's arena); every other value is parsed by cJSON as before. Internal to api/. */
#ifndef API_JSON_SCAN_H
#define API_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "shape.h"

/* What a text tensor node stands for: the array's text in the body, its shape along the first
 * element of each level (as api_json_tensor_scan reports it for a cJSON array) and, when the
 * array is a regular tensor of finite float32 numbers, those numbers, read while its syntax was
 * checked. Otherwise (an irregular array, other leaves, or values beyond the budget) the text
 * is read again when the tensor is copied, and that reading names what is wrong. */
typedef struct api_json_text_tensor {
    char tag[8];      /* "tensor" with a leading '\1': tells it from other raw nodes */
    const char *text; /* '[' .. ']' inside the body, which must outlive the node */
    size_t len;       /* bytes of text */
    int rank;         /* arrays along the first elements (may exceed the maximum) */
    bool empty;       /* the innermost of them is empty */
    int64_t ne[API_SHAPE_MAX_RANK]; /* their sizes, the first API_SHAPE_MAX_RANK of them */
    bool values_kept;               /* values holds every number, row-major */
    int64_t count;                  /* numbers in values (0 unless values_kept) */
    float values[];                 /* in the same allocation */
} api_json_text_tensor;

/* Parses body[0..len) (not necessarily NUL-terminated) as exactly one JSON object, blanks
 * allowed around it, into a cJSON tree, like a plain cJSON parse except for the members named
 * in `tensors` (a NULL-terminated list of paths: "query", "additive.weight" for member "weight"
 * of object "additive"; NULL for none) whose value is an array: those become text tensor nodes
 * (api_json_text_tensor_of), which refer to body. The whole body is checked for syntax: a text
 * tensor is valid JSON, though not necessarily a regular array of numbers (that is for
 * api_json_tensor_read_* to judge, after the limits). The numbers kept for the tensors are at
 * most `max_values` in all (<= 0: no bound; pass the request's element limit, so that no more
 * is allocated before the limits are checked than a request within them needs). `example` is
 * a valid body for messages. Returns 0 and *root (cJSON_Delete it before body goes), or an
 * HTTP status with *err filled and *root NULL: 400 invalid_json for an empty body, malformed
 * JSON ("malformed JSON near byte 12 (line 1, column 13): ...excerpt...") or data after the
 * value, 400 invalid_type for a value that is not an object, 500 when out of memory.
 * Thread-safe. */
int api_json_parse_body(const char *body, size_t len, const char *example,
                        const char *const *tensors, int64_t max_values, cJSON **root,
                        api_error *err);

/* The size of a small field's value, by default: enough for any option, small enough that the
 * cJSON tree of a value this long costs little. */
#define API_JSON_SMALL_MAX 4096

/* The longest key_lengths list (one key count per batch) a request may send. */
#define API_JSON_MAX_BATCH 65536

/* How api_json_parse_checked treats a member of the body. */
typedef enum api_json_kind {
    API_JSON_VALUE,  /* any value, checked and measured before cJSON parses it: at most `max`
                        bytes of text (0: API_JSON_SMALL_MAX; < 0: any size) */
    API_JSON_TENSOR, /* an array becomes a text tensor node; any other value is a small VALUE */
    API_JSON_OBJECT, /* an object whose members are listed as "name.member"; else a small VALUE */
    API_JSON_LIST,   /* an array of at most `max` elements (0: API_JSON_SMALL_MAX), parsed by
                        cJSON; any other value is a small VALUE */
    /* An array of at most `max` elements (0: API_JSON_SMALL_MAX), each an object whose members
     * are listed as "name.member" like an OBJECT's (a v2 request's "inputs"); any other
     * element is a small VALUE. */
    API_JSON_OBJECTS,
} api_json_kind;

typedef struct api_json_member {
    const char *path; /* "query"; "additive.weight" for member "weight" of object "additive" */
    api_json_kind kind;
    int64_t max; /* bytes of a VALUE, elements of a LIST */
} api_json_member;

/* api_json_parse_body for a body whose members are all listed in `schema` (ended by an entry
 * whose path is NULL; at most 64 entries), so that no client can make it build a tree larger
 * than the schema allows: nothing is built of a member the schema does not know, of a member
 * sent twice, or of any member after those in the same object (a null stands for the first
 * unknown member: api_json_collect_members names the error, in member order, as for any other
 * body); a value over its size refuses the body (400 invalid_value naming the field, e.g.
 * "scale: a value of 5000 bytes of JSON, more than the 4096 this field may have"), a list over
 * its length with 413 limit_exceeded. Every value is checked against RFC
 * 8259 before it is built: a syntax error anywhere is reported before the fields' errors.
 * Thread-safe. */
int api_json_parse_checked(const char *body, size_t len, const char *example,
                           const api_json_member *schema, int64_t max_values, cJSON **root,
                           api_error *err);

/* The end of the one JSON value at p (before end), checked strictly as RFC 8259 says and
 * nothing built; NULL when the text at p is not a value. The value skipper of api/: every
 * reader that steps over a value uses this one. Thread-safe. */
const char *api_json_skip_value(const char *p, const char *end);

/* p past the blanks RFC 8259 allows between tokens (space, tab, line feed, carriage return). */
const char *api_json_skip_blank(const char *p, const char *end);

/* The text tensor `node` stands for, or NULL when node is an ordinary cJSON node. */
const api_json_text_tensor *api_json_text_tensor_of(const cJSON *node);

/* Fills *err with 400 invalid_json "<what> near byte N (line L, column C): ...excerpt..." for
 * byte offset `at` of body[0..len). Returns 400. */
int api_json_malformed(const char *body, size_t len, size_t at, const char *what, api_error *err);

#endif
