/* The fields of JSON attention bodies: the whole of a POST /v1/attention body, and the pieces
 * that POST /v1/models/{name}/attention (json_model.c) shares with it: the attention options and
 * the check of an object's members against a table of names. json_codec.c parses the body and
 * hands the object here. Internal to api/. */
#ifndef API_JSON_REQUEST_H
#define API_JSON_REQUEST_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "../api.h"
#include "../request.h"

/* The options both attention endpoints take, with their JSON names, in the order of
 * api_json_option. */
#define API_JSON_OPTIONS(X)                                                                        \
    X(SCORE, "score")                                                                              \
    X(SCALE, "scale")                                                                              \
    X(SELECTION, "selection")                                                                      \
    X(K, "k")                                                                                      \
    X(NORMALIZE, "normalize")                                                                      \
    X(SEED, "seed")                                                                                \
    X(CAUSAL, "causal")                                                                            \
    X(RETURN_WEIGHTS, "return_weights")                                                            \
    X(RETURN_CONTEXT, "return_context")                                                            \
    X(AVERAGE_HEADS, "average_heads")                                                              \
    X(TIMEOUT, "timeout")

typedef enum api_json_option {
#define API_JSON_OPTION_ENUM(name, str) API_OPT_##name,
    API_JSON_OPTIONS(API_JSON_OPTION_ENUM)
#undef API_JSON_OPTION_ENUM
        API_OPT_COUNT
} api_json_option;

/* Reads the attention request held by `root`, a JSON object cJSON parsed from body[0..len)
 * (the text is needed for numbers whose exact digits matter, such as a 64-bit seed). Every
 * field is checked and nothing is ignored: unknown fields, wrong types, options that do not
 * apply to the chosen score or selection are errors. Returns 0 and a request the caller frees
 * with api_attention_request_free, or an HTTP status with *err filled and *out NULL. Neither
 * root nor body is kept. Thread-safe. */
int api_json_read_attention(const cJSON *root, const char *body, size_t len,
                            const api_limits *limits, api_attention_request **out, api_error *err);

/* The same with a store for "source_id" (NULL: a request naming a source gets 404): the
 * request then holds a reference to its source until it is freed. */
int api_json_read_attention_sources(const cJSON *root, const char *body, size_t len,
                                    const api_limits *limits, struct api_source_store *sources,
                                    api_attention_request **out, api_error *err);

/* Matches the members of the object `obj` with names[0..n): found[i] gets the member called
 * names[i] or NULL, and index[i] (when index is not NULL) its position among obj's members.
 * `where` names the object in messages: "" for the body itself (errors then name the field),
 * or a field such as "additive" or "source". Returns 0, or 400 with *err filled: unknown_field
 * listing the known names and suggesting a close one ("did you mean 'causal'?"), invalid_json
 * for a name sent twice. Thread-safe. */
int api_json_collect_members(const cJSON *obj, const char *where, const char *const *names, int n,
                             const cJSON **found, int *index, api_error *err);

/* Reads the options o[0..API_OPT_COUNT) (each the member's value, or NULL when absent) into the
 * option fields of *s: score, has_scale and scale, selection, has_k and k, has_normalize and
 * normalize, has_seed and seed, causal, return_weights (true when absent), average_heads,
 * has_timeout and timeout;
 * the other fields of *s are not touched (the caller zeroes it first). `seed_index` is the seed
 * member's position in the top-level object of body[0..len), whose digits give a 64-bit seed
 * exactly. Only types and ranges are checked here; whether the options fit together is
 * api_check_selection_options' (request.h) to judge. Returns 0 or 400 with *err filled.
 * Thread-safe. */
int api_json_read_options(const cJSON *const *o, int seed_index, const char *body, size_t len,
                          api_attention_spec *s, api_error *err);

#endif
