/* The options of an infer request, read from its "parameters" object with the names and
 * meanings of /v1's, except "timeout", which is Triton's: microseconds. */
#include "parameters.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../float_format.h"
#include "../json_number.h"
#include "../json_tensor.h"

#define MAX_TIMEOUT_US 86400000000.0 /* a day */

static int want_bool(const cJSON *node, const char *name, bool *out, api_error *err)
{
    if (!cJSON_IsBool(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, name,
                             "parameters.%s: expected true or false, got %s", name,
                             api_json_type_name(node));
    *out = cJSON_IsTrue(node);
    return 0;
}

/* `node`'s string among the wire names name_of(0..n). */
static int choice(const cJSON *node, const char *name, const char *(*name_of)(int), int n, int *out,
                  api_error *err)
{
    char allowed[96] = "";
    size_t at = 0;
    for (int i = 0; i < n; i++)
        at += (size_t)snprintf(allowed + at, sizeof allowed - at, "%s\"%s\"", i ? ", " : "",
                               name_of(i));
    if (!cJSON_IsString(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, name,
                             "parameters.%s: expected a string (%s), got %s", name, allowed,
                             api_json_type_name(node));
    for (int i = 0; i < n; i++)
        if (strcmp(node->valuestring, name_of(i)) == 0) {
            *out = i;
            return 0;
        }
    return api_error_set(err, API_ERR_INVALID_VALUE, name,
                         "parameters.%s: unknown %s '%.64s'; allowed values: %s", name, name,
                         node->valuestring, allowed);
}

static const char *score_name(int i)
{
    return api_score_name((at_score)i);
}

static const char *selection_name(int i)
{
    return api_selection_name((at_selection)i);
}

enum {
    P_SCORE,
    P_SCALE,
    P_SELECTION,
    P_K,
    P_NORMALIZE,
    P_SEED,
    P_CAUSAL,
    P_AVERAGE_HEADS,
    P_TIMEOUT,
    P_BINARY_DATA_OUTPUT,
    P_SOURCE_ID, /* api_v2_read_source_id's */
    P_COUNT
};
static const char *const names[P_COUNT] = {
    "score",         "scale",   "selection",          "k",        "normalize", "seed", "causal",
    "average_heads", "timeout", "binary_data_output", "source_id"};

int api_v2_read_parameters(const cJSON *params, api_attention_spec *s, api_error *err)
{
    const cJSON *p[P_COUNT] = {0};
    int rc, i;
    s->score = AT_SCORE_SCALED_DOT;
    s->selection = AT_SELECT_SOFT;
    s->return_weights = true;
    s->return_context = true;
    for (const cJSON *c = params ? params->child : NULL; c; c = c->next) {
        for (i = 0; i < P_COUNT && strcmp(c->string, names[i]) != 0; i++)
            ;
        if (i == P_COUNT)
            return api_error_set(err, API_ERR_UNKNOWN_FIELD, c->string,
                                 "parameters: unknown parameter '%.64s'; attnd takes %s", c->string,
                                 API_V2_PARAMETERS);
        if (p[i])
            return api_error_set(err, API_ERR_INVALID_JSON, names[i],
                                 "parameters: '%s' is sent twice", names[i]);
        p[i] = c;
    }
    if (p[P_SCORE]) {
        if ((rc = choice(p[P_SCORE], "score", score_name, 3, &i, err))) return rc;
        s->score = (at_score)i;
    }
    if (p[P_SELECTION]) {
        if ((rc = choice(p[P_SELECTION], "selection", selection_name, 3, &i, err))) return rc;
        s->selection = (at_selection)i;
    }
    if (p[P_SCALE]) {
        if (!cJSON_IsNumber(p[P_SCALE]))
            return api_error_set(err, API_ERR_INVALID_TYPE, "scale",
                                 "parameters.scale: expected a number, got %s",
                                 api_json_type_name(p[P_SCALE]));
        double v = p[P_SCALE]->valuedouble;
        if (!(fabs(v) < API_F32_OVERFLOW)) {
            char num[API_FLOAT_FORMAT_MAX];
            api_double_format(v, num);
            return api_error_set(err, API_ERR_INVALID_VALUE, "scale",
                                 "parameters.scale: %s is not a finite float32", num);
        }
        s->has_scale = true;
        s->scale = (float)v;
    }
    if (p[P_K]) {
        if ((rc = api_json_read_int(p[P_K], "parameters.k", "k", "an integer >= 1", 1,
                                    API_JSON_EXACT_INT, &s->k, err)))
            return rc;
        s->has_k = true;
    }
    if (p[P_NORMALIZE]) {
        if ((rc = want_bool(p[P_NORMALIZE], "normalize", &s->normalize, err))) return rc;
        s->has_normalize = true;
    }
    if (p[P_SEED]) {
        /* Nested in "parameters", the seed's digits are not looked up: exact up to 2^53. */
        if ((rc = api_json_read_u64(p[P_SEED], NULL, 0, "parameters.seed", &s->seed, err)))
            return rc;
        s->has_seed = true;
    }
    if (p[P_CAUSAL] && (rc = want_bool(p[P_CAUSAL], "causal", &s->causal, err))) return rc;
    if (p[P_AVERAGE_HEADS] &&
        (rc = want_bool(p[P_AVERAGE_HEADS], "average_heads", &s->average_heads, err)))
        return rc;
    if (p[P_TIMEOUT]) {
        int64_t us;
        if ((rc = api_json_read_int(p[P_TIMEOUT], "parameters.timeout", "timeout",
                                    "microseconds, an integer >= 1 (at most a day)", 1,
                                    (int64_t)MAX_TIMEOUT_US, &us, err)))
            return rc;
        s->has_timeout = true;
        s->timeout = (double)us / 1e6;
    }
    return 0;
}

int api_v2_read_source_id(const cJSON *params, const char **id, api_error *err)
{
    const cJSON *node = params ? cJSON_GetObjectItemCaseSensitive(params, "source_id") : NULL;
    *id = NULL;
    if (!node) return 0;
    if (!cJSON_IsString(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "source_id",
                             "parameters.source_id: expected a string (the id of a source this "
                             "model encoded: PUT /v1/sources/{id} with {\"model\", \"source\"}), "
                             "got %s",
                             api_json_type_name(node));
    *id = node->valuestring;
    return 0;
}
