/* Parsing a whole body into one JSON object, and the messages that say where it went wrong. */
#include "json_body.h"

#include "json_scan.h"
#include "json_tensor.h"

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
    if (!tree)
        return api_json_malformed(body, len, end ? (size_t)(end - body) : 0, "malformed JSON", err);
    size_t at = (size_t)(end - body);
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
