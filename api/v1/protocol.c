/* The v1 protocol: attnd's own JSON dialect. Its routes (POST /v1/attention, GET /v1/models,
 * GET /v1/models/{name}, POST /v1/models/{name}/attention), the decoding of its bodies (their
 * fields are read in json_request.c and json_model.c), the encoding of results and errors.
 * Small objects are written by hand; tensors go through json_tensor.c. */
#include "v1.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "../json_scan.h"
#include "../json_tensor.h"
#include "../json_write.h"
#include "../model_registry.h"
#include "../protocol.h"
#include "../request.h"
#include "../source_store.h"
#include "json_model.h"
#include "json_request.h"

/* ---- content type ---- */

/* "application/json" or "application/<anything>+json", any case, parameters after ';' and
 * surrounding blanks ignored. */
bool api_v1_accepts(const char *ct)
{
    if (!ct) return true;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (!*ct) return true; /* like api_codec_for: no type means JSON */
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    static const char prefix[] = "application/";
    size_t p = sizeof prefix - 1;
    if (n <= p || strncasecmp(ct, prefix, p) != 0) return false;
    const char *sub = ct + p;
    size_t sn = n - p;
    if (sn == 4 && strncasecmp(sub, "json", 4) == 0) return true;
    return sn > 5 && strncasecmp(sub + sn - 5, "+json", 5) == 0;
}

/* ---- decoding ---- */

/* api_v1_decode_attention with a store for "source_id" (NULL: none). */
static int decode_attention(const char *body, size_t len, const api_limits *limits,
                            api_source_store *sources, api_attention_request **out, api_error *err)
{
    /* The fields api_json_read_attention reads: tensors from the text, not cJSON; the options
     * small; key_lengths one count per batch. Nothing else is built. */
    static const api_json_member schema[] = {
        {"query", API_JSON_TENSOR, 0},
        {"key", API_JSON_TENSOR, 0},
        {"value", API_JSON_TENSOR, 0},
        {"mask", API_JSON_TENSOR, 0},
        {"key_lengths", API_JSON_LIST, API_JSON_MAX_BATCH},
        {"additive", API_JSON_OBJECT, 0},
        {"additive.weight", API_JSON_TENSOR, 0},
        {"additive.bias", API_JSON_TENSOR, 0},
        {"additive.v", API_JSON_TENSOR, 0},
        {"source_id", API_JSON_VALUE, 0},
#define OPTION_MEMBER(name, str) {str, API_JSON_VALUE, 0},
        API_JSON_OPTIONS(OPTION_MEMBER)
#undef OPTION_MEMBER
            {NULL, API_JSON_VALUE, 0},
    };
    *out = NULL;
    cJSON *root;
    int rc = api_json_parse_checked(body, len, "{\"query\": [[1, 0], [0, 1]]}", schema,
                                    limits ? limits->max_elements : 0, &root, err);
    if (rc) return rc;
    rc = api_json_read_attention_sources(root, body, len, limits, sources, out, err);
    cJSON_Delete(root);
    return rc;
}

int api_v1_decode_attention(const char *body, size_t len, const api_limits *limits,
                            api_attention_request **out, api_error *err)
{
    return decode_attention(body, len, limits, NULL, out, err);
}

/* ---- encoding ---- */

int api_v1_encode_attention(const api_attention_request *req, api_buf *out, api_error *err)
{
    if (!req || !req->computed)
        return api_error_set(err, API_ERR_INTERNAL, "", "the request has not been computed");
    const api_attention_spec *s = &req->spec;
    const char *sep = "{";
    if (s->return_context) {
        api_buf_puts(out, "{\"context\":");
        api_json_tensor_write_f32(out, req->out.context, req->context_shape.rank,
                                  req->context_shape.ne);
        sep = ",";
    }
    if (s->return_weights) {
        api_buf_puts(out, sep);
        api_buf_puts(out, "\"weights\":");
        api_json_tensor_write_f32(out, req->out.weights, req->weights_shape.rank,
                                  req->weights_shape.ne);
        sep = ",";
    }
    api_buf_puts(out, sep);
    api_buf_puts(out, "\"meta\":{\"query_shape\":");
    api_json_write_shape(out, &s->query);
    api_buf_puts(out, ",\"key_shape\":");
    api_json_write_shape(out, &s->key);
    api_buf_puts(out, ",\"value_shape\":");
    api_json_write_shape(out, &s->value);
    api_buf_puts(out, ",\"context_shape\":");
    api_json_write_shape(out, &req->context_shape);
    if (s->return_weights) {
        api_buf_puts(out, ",\"weights_shape\":");
        api_json_write_shape(out, &req->weights_shape);
    }
    api_json_write_options(out, s, at_attention_scale(&req->desc));
    api_buf_puts(out, ",\"compute_ms\":");
    api_json_write_fixed3(out, req->compute_seconds * 1e3);
    api_buf_puts(out, "}}\n");
    if (out->oom)
        return api_error_set(err, API_ERR_INTERNAL, "", "out of memory encoding the response");
    return 0;
}

int api_v1_encode_error(const api_error *err, api_buf *out)
{
    api_buf_puts(out, "{\"error\":{\"code\":");
    api_json_write_string(out, api_error_code(err->kind), strlen(api_error_code(err->kind)));
    api_buf_puts(out, ",\"message\":");
    api_json_write_string(out, err->message, strlen(err->message));
    if (err->field[0]) {
        api_buf_puts(out, ",\"field\":");
        api_json_write_string(out, err->field, strlen(err->field));
    }
    api_buf_puts(out, "}}\n"); /* a final newline keeps shells and line-based tools tidy */
    return out->oom ? -1 : 0;
}

/* ---- the protocol ---- */

static const api_route_def routes[API_V1_ROUTES] = {
    [API_V1_ATTENTION] = {"/v1/attention", "POST", true},
    [API_V1_MODELS] = {"/v1/models", "GET, HEAD", false},
    [API_V1_MODEL] = {"/v1/models/{name}", "GET, HEAD", false},
    [API_V1_MODEL_ATTENTION] = {"/v1/models/{name}/attention", "POST", true},
    [API_V1_SOURCE] = {"/v1/sources/{id}", "PUT, GET, DELETE", true},
};

#define MODELS_PREFIX  "/v1/models/"
#define SOURCES_PREFIX "/v1/sources/"

static int route(const char *path, const api_context *ctx, api_route *out, api_error *err)
{
    *out = (api_route){.id = -1, .sources = ctx->sources, .models = ctx->models};
    if (strcmp(path, "/v1/attention") == 0) return out->id = API_V1_ATTENTION, 0;
    if (strncmp(path, SOURCES_PREFIX, strlen(SOURCES_PREFIX)) == 0) {
        const char *id = path + strlen(SOURCES_PREFIX);
        if (!*id || strchr(id, '/')) return -1; /* the id itself is checked when decoding */
        return out->id = API_V1_SOURCE, 0;
    }
    if (strcmp(path, "/v1/models") == 0) return out->id = API_V1_MODELS, 0;
    if (strncmp(path, MODELS_PREFIX, strlen(MODELS_PREFIX)) != 0) return -1;
    const char *seg = path + strlen(MODELS_PREFIX), *rest = seg + strcspn(seg, "/");
    if (rest == seg) return -1;
    if (*rest == '\0')
        out->id = API_V1_MODEL;
    else if (strcmp(rest, "/attention") == 0)
        out->id = API_V1_MODEL_ATTENTION;
    else
        return -1;
    /* A name longer than any model's is cut: the lookup fails and the message says so. */
    char name[API_MODEL_NAME_MAX + 2];
    snprintf(name, sizeof name, "%.*s", (int)(rest - seg), seg);
    out->model = api_model_registry_find(ctx->models, name);
    if (!out->model) return api_model_not_found(ctx->models, name, err);
    return 0;
}

static int check_headers(const api_route *r, const api_http_request *req, api_error *err)
{
    (void)r;
    const char *ctype = req->header(req->header_ctx, "Content-Type");
    if (api_v1_accepts(ctype)) return 0;
    return api_error_set(err, API_ERR_UNSUPPORTED_MEDIA_TYPE, "",
                         "Content-Type %s is not supported; send application/json", ctype);
}

static int answer(const api_route *r, const api_http_request *req, const api_context *ctx,
                  api_http_response *out, api_error *err)
{
    (void)req;
    int rc = r->id == API_V1_MODELS ? api_v1_encode_models(ctx->models, &out->body)
                                    : api_v1_encode_model(r->model, &out->body);
    if (rc != 0)
        return api_error_set(err, API_ERR_INTERNAL, "", "out of memory encoding the response");
    out->status = 200;
    out->content_type = "application/json";
    return 0;
}

static int decode(const api_http_request *req, const api_limits *limits, api_job *job,
                  api_error *err)
{
    if (job->route.id == API_V1_ATTENTION)
        return decode_attention(req->body, req->body_len, limits, job->route.sources,
                                &job->attention, err);
    if (job->route.id == API_V1_SOURCE) return api_v1_decode_source(req, limits, job, err);
    return api_v1_decode_model_attention_sources(req->body, req->body_len, job->route.model, limits,
                                                 job->route.sources, &job->model, err);
}

static int encode(const api_job *job, api_http_response *out, api_error *err)
{
    int rc = job->attention ? api_v1_encode_attention(job->attention, &out->body, err)
                            : api_v1_encode_model_attention(job->model, &out->body, err);
    if (rc != 0) return rc;
    out->status = 200;
    out->content_type = "application/json";
    return 0;
}

static int encode_error(const api_error *err, api_http_response *out)
{
    api_http_response_error(out, err);
    out->content_type = "application/json";
    return api_v1_encode_error(err, &out->body);
}

const api_protocol api_v1_protocol = {
    .name = "v1",
    .prefix = "/v1",
    .routes = routes,
    .nroutes = API_V1_ROUTES,
    .route = route,
    .check_headers = check_headers,
    .answer = answer,
    .decode = decode,
    .encode = encode,
    .encode_error = encode_error,
    .wire_free = api_v1_source_wire_free,
    .run = api_v1_run_source,
};
