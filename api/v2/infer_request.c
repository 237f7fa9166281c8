/* Framing and parsing an Open Inference Protocol infer body: the header's length, the JSON
 * header through json_scan.c (its tensors' "data" kept as text), each input's declaration, and
 * the binary section cut into the inputs' bytes, every size checked before anything is read. */
#include "infer_request.h"

#include <stdio.h>
#include <string.h>

#include "../json_number.h"
#include "../json_scan.h"
#include "../json_tensor.h"

#define EXAMPLE                                                                                    \
    "{\"inputs\": [{\"name\": \"query\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": "    \
    "[1, 0, 0, 1]}]}"

/* The members a header may have: nothing else is built (json_scan.h). */
static const api_json_member schema[] = {
    {"id", API_JSON_VALUE, 0},
    {"parameters", API_JSON_OBJECT, 0},
    {"parameters.score", API_JSON_VALUE, 0},
    {"parameters.scale", API_JSON_VALUE, 0},
    {"parameters.selection", API_JSON_VALUE, 0},
    {"parameters.k", API_JSON_VALUE, 0},
    {"parameters.normalize", API_JSON_VALUE, 0},
    {"parameters.seed", API_JSON_VALUE, 0},
    {"parameters.causal", API_JSON_VALUE, 0},
    {"parameters.average_heads", API_JSON_VALUE, 0},
    {"parameters.timeout", API_JSON_VALUE, 0},
    {"parameters.binary_data_output", API_JSON_VALUE, 0},
    {"parameters.source_id", API_JSON_VALUE, 0},
    {"inputs", API_JSON_OBJECTS, API_V2_MAX_TENSORS},
    {"inputs.name", API_JSON_VALUE, 0},
    {"inputs.shape", API_JSON_LIST, 2 * API_SHAPE_MAX_RANK},
    {"inputs.datatype", API_JSON_VALUE, 0},
    {"inputs.parameters", API_JSON_OBJECT, 0},
    {"inputs.parameters.binary_data_size", API_JSON_VALUE, 0},
    {"inputs.data", API_JSON_TENSOR, 0},
    {"outputs", API_JSON_OBJECTS, API_V2_MAX_TENSORS},
    {"outputs.name", API_JSON_VALUE, 0},
    {"outputs.parameters", API_JSON_OBJECT, 0},
    {"outputs.parameters.binary_data", API_JSON_VALUE, 0},
    {NULL, API_JSON_VALUE, 0},
};

/* Each member of obj must be one of names[0..n) and appear once; found[i] gets names[i]'s.
 * `where` names the object in messages ("the request", "inputs[1]"). */
static int members(const cJSON *obj, const char *where, const char *const *names, int n,
                   const cJSON **found, api_error *err)
{
    for (int i = 0; i < n; i++)
        found[i] = NULL;
    for (const cJSON *c = obj->child; c; c = c->next) {
        int i = 0;
        while (i < n && strcmp(c->string, names[i]) != 0)
            i++;
        if (i == n) {
            char known[256] = "";
            size_t at = 0;
            for (int j = 0; j < n && at < sizeof known; j++)
                at += (size_t)snprintf(known + at, sizeof known - at, "%s%s", j ? ", " : "",
                                       names[j]);
            return api_error_set(err, API_ERR_UNKNOWN_FIELD, c->string,
                                 "%s: unknown member '%.64s'; known members: %s", where, c->string,
                                 known);
        }
        if (found[i])
            return api_error_set(err, API_ERR_INVALID_JSON, names[i],
                                 "%s: duplicate member '%s': send each member once", where,
                                 names[i]);
        found[i] = c;
    }
    return 0;
}

static int want_string(const cJSON *node, const char *what, const char **out, api_error *err)
{
    if (!cJSON_IsString(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, what, "%s: expected a string, got %s", what,
                             api_json_type_name(node));
    *out = node->valuestring;
    return 0;
}

/* ---- framing ---- */

/* The JSON header's length from the Inference-Header-Content-Length value. */
static int header_length_of(const char *v, size_t len, size_t *out, api_error *err)
{
    static const char name[] = "Inference-Header-Content-Length";
    if (!v) {
        *out = len;
        return 0;
    }
    const char *p = v;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = 0;
    bool digits = *p >= '0' && *p <= '9';
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (SIZE_MAX - 9) / 10) n = SIZE_MAX - 9; /* saturate: past any body */
        n = n * 10 + (size_t)(*p - '0');
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (!digits || *p)
        return api_error_set(err, API_ERR_BAD_REQUEST, name,
                             "%s: expected the JSON header's length in bytes, got \"%.40s\"", name,
                             v);
    if (n > len)
        return api_error_set(err, API_ERR_BAD_REQUEST, name,
                             "%s: %zu is past the end of the %zu-byte body", name, n, len);
    if (n == 0)
        return api_error_set(err, API_ERR_BAD_REQUEST, name,
                             "%s: 0; the body must start with the JSON header, such as %s", name,
                             EXAMPLE);
    *out = n;
    return 0;
}

/* Cuts bin[0..bin_len) into the binary inputs' bytes, in input order. */
static int frame(api_v2_infer *r, const char *bin, size_t bin_len, bool framed, api_error *err)
{
    size_t at = 0;
    for (int i = 0; i < r->ninputs; i++) {
        api_v2_input *in = &r->inputs[i];
        if (in->binary_size < 0) continue;
        if (!framed)
            return api_error_set(err, API_ERR_BAD_REQUEST, in->name,
                                 "input '%s' has binary_data_size %lld, but the request has no "
                                 "Inference-Header-Content-Length header to say where its JSON "
                                 "header ends and the binary data begins",
                                 in->name, (long long)in->binary_size);
        if ((uint64_t)in->binary_size > bin_len - at)
            return api_error_set(err, API_ERR_BAD_REQUEST, in->name,
                                 "input '%s': binary_data_size %lld, but only %zu bytes of binary "
                                 "data are left after the inputs before it (the body has %zu "
                                 "after its %s-byte JSON header)",
                                 in->name, (long long)in->binary_size, bin_len - at, bin_len,
                                 "Inference-Header-Content-Length");
        in->bin = bin + at;
        at += (size_t)in->binary_size;
    }
    if (at != bin_len)
        return api_error_set(err, API_ERR_BAD_REQUEST, "",
                             "the body has %zu bytes after its JSON header, but the inputs' "
                             "binary_data_size add up to %zu: %zu bytes are extra",
                             bin_len, at, bin_len - at);
    return 0;
}

/* ---- inputs and outputs ---- */

enum { I_NAME, I_SHAPE, I_DATATYPE, I_PARAMETERS, I_DATA, I_COUNT };
static const char *const input_names[I_COUNT] = {"name", "shape", "datatype", "parameters", "data"};

static int read_shape(const cJSON *node, const char *name, api_shape *s, int64_t *elements,
                      api_error *err)
{
    if (!cJSON_IsArray(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, name,
                             "input '%s': shape: expected an array of sizes, got %s", name,
                             api_json_type_name(node));
    memset(s, 0, sizeof *s);
    s->rank = cJSON_GetArraySize(node);
    if (s->rank > API_SHAPE_MAX_RANK)
        return api_error_set(err, API_ERR_INVALID_SHAPE, name,
                             "input '%s': shape has %d dimensions, more than the %d attnd takes",
                             name, s->rank, API_SHAPE_MAX_RANK);
    char what[96];
    snprintf(what, sizeof what, "input '%.40s': shape", name);
    int d = 0;
    *elements = 1;
    for (const cJSON *c = node->child; c; c = c->next, d++) {
        int rc = api_json_read_int(c, what, name, "sizes that are integers >= 1", 1,
                                   API_JSON_EXACT_INT, &s->ne[d], err);
        if (rc) return rc;
        *elements = api_mul_sat(*elements, s->ne[d]);
    }
    return 0;
}

static int read_input(const cJSON *node, int index, api_v2_input *in, api_error *err)
{
    char where[32];
    snprintf(where, sizeof where, "inputs[%d]", index);
    if (!cJSON_IsObject(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "inputs",
                             "%s: expected an object {\"name\", \"shape\", \"datatype\", \"data\" "
                             "or \"parameters\": {\"binary_data_size\"}}, got %s",
                             where, api_json_type_name(node));
    const cJSON *f[I_COUNT];
    int rc = members(node, where, input_names, I_COUNT, f, err);
    if (rc) return rc;
    for (int i = 0; i < I_PARAMETERS; i++)
        if (!f[i])
            return api_error_set(err, API_ERR_MISSING_FIELD, input_names[i],
                                 "%s: missing member '%s'", where, input_names[i]);
    char what[48];
    snprintf(what, sizeof what, "%s.name", where);
    if ((rc = want_string(f[I_NAME], what, &in->name, err))) return rc;
    if ((rc = read_shape(f[I_SHAPE], in->name, &in->shape, &in->elements, err))) return rc;
    const char *dt = "";
    snprintf(what, sizeof what, "input '%.20s': datatype", in->name);
    if ((rc = want_string(f[I_DATATYPE], what, &dt, err))) return rc;
    in->datatype = api_v2_datatype_parse(dt);
    if (!in->datatype) return api_v2_datatype_unknown(dt, in->name, err);

    in->binary_size = -1;
    if (f[I_PARAMETERS]) {
        static const char *const pnames[] = {"binary_data_size"};
        const cJSON *p[1];
        snprintf(what, sizeof what, "input '%.20s': parameters", in->name);
        if (!cJSON_IsObject(f[I_PARAMETERS]))
            return api_error_set(err, API_ERR_INVALID_TYPE, in->name,
                                 "%s: expected an object, got %s", what,
                                 api_json_type_name(f[I_PARAMETERS]));
        if ((rc = members(f[I_PARAMETERS], what, pnames, 1, p, err))) return rc;
        snprintf(what, sizeof what, "input '%.20s': binary_data_size", in->name);
        if (p[0] && (rc = api_json_read_int(p[0], what, in->name, "a byte count >= 0", 0,
                                            API_JSON_EXACT_INT, &in->binary_size, err)))
            return rc;
    }
    if (f[I_DATA] && in->binary_size >= 0)
        return api_error_set(err, API_ERR_INVALID_VALUE, in->name,
                             "input '%s' has both data and binary_data_size: send one", in->name);
    if (!f[I_DATA] && in->binary_size < 0)
        return api_error_set(err, API_ERR_MISSING_FIELD, in->name,
                             "input '%s' has neither data nor parameters.binary_data_size",
                             in->name);
    in->data = f[I_DATA];
    if (in->binary_size < 0) return 0;
    size_t size = api_v2_datatype_size(in->datatype);
    if (size && api_mul_sat(in->elements, (int64_t)size) != in->binary_size) {
        char shape[128];
        api_shape_str(&in->shape, -1, shape, sizeof shape);
        return api_error_set(err, API_ERR_INVALID_VALUE, in->name,
                             "input '%s': binary_data_size %lld does not match shape %s of %s: "
                             "expected %lld bytes",
                             in->name, (long long)in->binary_size, shape, dt,
                             (long long)api_mul_sat(in->elements, (int64_t)size));
    }
    return 0;
}

static int read_output(const cJSON *node, int index, api_v2_output *out, api_error *err)
{
    static const char *const names[] = {"name", "parameters"};
    static const char *const pnames[] = {"binary_data"};
    char where[32], what[64];
    snprintf(where, sizeof where, "outputs[%d]", index);
    if (!cJSON_IsObject(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "outputs",
                             "%s: expected an object {\"name\": ..., \"parameters\": "
                             "{\"binary_data\": true}}, got %s",
                             where, api_json_type_name(node));
    const cJSON *f[2], *p[1] = {NULL};
    int rc = members(node, where, names, 2, f, err);
    if (rc) return rc;
    if (!f[0])
        return api_error_set(err, API_ERR_MISSING_FIELD, "name", "%s: missing 'name'", where);
    snprintf(what, sizeof what, "%s.name", where);
    if ((rc = want_string(f[0], what, &out->name, err))) return rc;
    out->binary = -1;
    if (!f[1]) return 0;
    snprintf(what, sizeof what, "output '%.20s': parameters", out->name);
    if (!cJSON_IsObject(f[1]))
        return api_error_set(err, API_ERR_INVALID_TYPE, out->name, "%s: expected an object, got %s",
                             what, api_json_type_name(f[1]));
    if ((rc = members(f[1], what, pnames, 1, p, err))) return rc;
    if (p[0] && !cJSON_IsBool(p[0]))
        return api_error_set(err, API_ERR_INVALID_TYPE, out->name,
                             "output '%s': binary_data: expected true or false, got %s", out->name,
                             api_json_type_name(p[0]));
    if (p[0]) out->binary = cJSON_IsTrue(p[0]);
    return 0;
}

static int read_list(const cJSON *node, const char *name, api_error *err)
{
    if (!cJSON_IsArray(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, name,
                             "%s: expected an array of objects, got %s", name,
                             api_json_type_name(node));
    return 0;
}

enum { H_ID, H_PARAMETERS, H_INPUTS, H_OUTPUTS, H_COUNT };
static const char *const header_names[H_COUNT] = {"id", "parameters", "inputs", "outputs"};

static int read_header(api_v2_infer *r, api_error *err)
{
    const cJSON *f[H_COUNT];
    int rc = members(r->root, "the request", header_names, H_COUNT, f, err);
    if (rc) return rc;
    if (f[H_ID] && (rc = want_string(f[H_ID], "id", &r->id, err))) return rc;
    if (f[H_PARAMETERS]) {
        if (!cJSON_IsObject(f[H_PARAMETERS]))
            return api_error_set(err, API_ERR_INVALID_TYPE, "parameters",
                                 "parameters: expected an object, got %s",
                                 api_json_type_name(f[H_PARAMETERS]));
        r->params = f[H_PARAMETERS];
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(r->params, "binary_data_output");
        if (b && !cJSON_IsBool(b))
            return api_error_set(err, API_ERR_INVALID_TYPE, "binary_data_output",
                                 "parameters.binary_data_output: expected true or false, got %s",
                                 api_json_type_name(b));
        r->binary_output = cJSON_IsTrue(b);
    }
    if (!f[H_INPUTS])
        return api_error_set(err, API_ERR_MISSING_FIELD, "inputs",
                             "missing member 'inputs', such as %s", EXAMPLE);
    if ((rc = read_list(f[H_INPUTS], "inputs", err))) return rc;
    for (const cJSON *c = f[H_INPUTS]->child; c; c = c->next) {
        api_v2_input *in = &r->inputs[r->ninputs];
        if ((rc = read_input(c, r->ninputs, in, err))) return rc;
        for (int j = 0; j < r->ninputs; j++)
            if (strcmp(r->inputs[j].name, in->name) == 0)
                return api_error_set(err, API_ERR_INVALID_VALUE, in->name,
                                     "input '%s' is sent twice: send each input once", in->name);
        r->ninputs++;
    }
    if (f[H_OUTPUTS]) {
        if ((rc = read_list(f[H_OUTPUTS], "outputs", err))) return rc;
        for (const cJSON *c = f[H_OUTPUTS]->child; c; c = c->next) {
            api_v2_output *o = &r->outputs[r->noutputs];
            if ((rc = read_output(c, r->noutputs, o, err))) return rc;
            for (int j = 0; j < r->noutputs; j++)
                if (strcmp(r->outputs[j].name, o->name) == 0)
                    return api_error_set(err, API_ERR_INVALID_VALUE, o->name,
                                         "output '%s' is asked for twice", o->name);
            r->noutputs++;
        }
        r->has_outputs = r->noutputs > 0; /* "outputs": [] asks for every output, as none */
    }
    return 0;
}

int api_v2_infer_parse(const char *body, size_t len, const char *header_length, int64_t max_values,
                       api_v2_infer *out, api_error *err)
{
    memset(out, 0, sizeof *out);
    size_t hlen = 0;
    int rc = header_length_of(header_length, len, &hlen, err);
    if (!rc) rc = api_json_parse_checked(body, hlen, EXAMPLE, schema, max_values, &out->root, err);
    if (rc == 400 && !header_length && strncmp(err->message, "unexpected data after", 21) == 0) {
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n,
                 "; binary data after the JSON needs an Inference-Header-Content-Length header "
                 "giving the JSON's length");
    }
    if (!rc) rc = read_header(out, err);
    if (!rc) rc = frame(out, body + hlen, len - hlen, header_length != NULL, err);
    for (int i = 0; !rc && i < out->ninputs; i++) {
        const api_v2_input *in = &out->inputs[i];
        if (in->binary_size >= 0 && in->datatype == API_V2_BYTES)
            rc = api_v2_bytes_check(in->bin, (size_t)in->binary_size, in->elements, in->name, err);
    }
    if (rc) api_v2_infer_free(out);
    return rc;
}

void api_v2_infer_free(api_v2_infer *r)
{
    cJSON_Delete(r->root);
    memset(r, 0, sizeof *r);
}

const api_v2_input *api_v2_infer_input(const api_v2_infer *r, const char *name)
{
    for (int i = 0; i < r->ninputs; i++)
        if (strcmp(r->inputs[i].name, name) == 0) return &r->inputs[i];
    return NULL;
}

/* "a, b, c" of names[0..n) into buf. */
static const char *list(const char *const *names, int n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", names[i]);
    return buf;
}

int api_v2_infer_check_names(const api_v2_infer *r, const char *model, const char *const *names,
                             int n, const char *const *outputs, int nout, api_error *err)
{
    char known[256];
    for (int i = 0; i < r->ninputs; i++) {
        int j = 0;
        while (j < n && strcmp(r->inputs[i].name, names[j]) != 0)
            j++;
        if (j == n)
            return api_error_set(err, API_ERR_INVALID_VALUE, r->inputs[i].name,
                                 "unknown input '%.64s' of model '%s'; its inputs are %s",
                                 r->inputs[i].name, model, list(names, n, known, sizeof known));
    }
    for (int i = 0; i < r->noutputs; i++) {
        int j = 0;
        while (j < nout && strcmp(r->outputs[i].name, outputs[j]) != 0)
            j++;
        if (j == nout)
            return api_error_set(err, API_ERR_INVALID_VALUE, r->outputs[i].name,
                                 "unknown output '%.64s' of model '%s'; its outputs are %s",
                                 r->outputs[i].name, model,
                                 list(outputs, nout, known, sizeof known));
    }
    return 0;
}
