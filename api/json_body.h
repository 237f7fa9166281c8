/* A request body as one JSON object: parsed with cJSON, with errors that point at the byte,
 * line and column where the text stops being JSON. Internal to api/. */
#ifndef API_JSON_BODY_H
#define API_JSON_BODY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "api.h"

/* Parses body[0..len) (not necessarily NUL-terminated) as exactly one JSON object, blanks
 * allowed around it. `example` is a valid body for messages ("{\"text\": \"...\"}"). Returns 0
 * and the tree in *root (cJSON_Delete it), or 400 with *err filled and *root NULL:
 * invalid_json for an empty body, malformed JSON or data after the value ("malformed JSON near
 * byte 12 (line 1, column 13): ...excerpt..."), invalid_type for a value that is not an object.
 * Thread-safe. */
int api_json_parse_object(const char *body, size_t len, const char *example, cJSON **root,
                          api_error *err);

#endif
