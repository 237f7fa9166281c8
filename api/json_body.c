/* Parsing a whole body into one JSON object, and the messages that say where it went wrong. */
#include "json_body.h"

#include "json_scan.h"

int api_json_parse_object(const char *body, size_t len, const char *example, cJSON **root,
                          api_error *err)
{
    /* No tensor members: the whole body goes to cJSON, with the shared error messages. */
    return api_json_parse_body(body, len, example, NULL, 0, root, err);
}
