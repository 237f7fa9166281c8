/* Parsing a whole body into one JSON object, and the messages that say where it went wrong. */
#include "json_body.h"

#include "json_tensor.h"

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

static int malformed(const char *body, size_t len, size_t at, const char *what, api_error *err)
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

int api_json_parse_object(const char *body, size_t len, const char *example, cJSON **root,
                          api_error *err)
{
    *root = NULL;
    if (!body || len == 0)
        return api_error_set(err, API_ERR_INVALID_JSON, "",
                             "empty body: expected a JSON object such as %s", example);
    const char *end = NULL;
    /* Not NUL-terminated: cJSON stops at len, and trailing bytes are checked below. */
    cJSON *tree = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!tree) return malformed(body, len, end ? (size_t)(end - body) : 0, "malformed JSON", err);
    size_t at = (size_t)(end - body);
    while (at < len &&
           (body[at] == ' ' || body[at] == '\t' || body[at] == '\n' || body[at] == '\r'))
        at++;
    int rc;
    if (at < len) {
        rc = malformed(body, len, at, "unexpected data after the JSON value", err);
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
