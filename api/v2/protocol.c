/* The v2 protocol: the Open Inference Protocol (KServe v2 REST, as Triton speaks it) with the
 * binary tensor data extension. Its routes (server metadata and health, model metadata,
 * readiness and infer, each model at its one version "1"), the decoding of an infer request
 * through infer_request.c into the attention model or a token model, the response with its
 * Inference-Header-Content-Length when outputs are binary, and errors as {"error": "..."}. */
#include <stdio.h>
#include <string.h>

#include "../model_registry.h"
#include "../model_request.h"
#include "../protocol.h"
#include "attention_model.h"
#include "infer_request.h"
#include "metadata.h"
#include "response.h"
#include "token_model.h"
#include "transformer_model.h"

enum {
    R_SERVER,      /* GET /v2 */
    R_LIVE,        /* GET /v2/health/live */
    R_READY,       /* GET /v2/health/ready */
    R_MODEL,       /* GET /v2/models/{name}[/versions/{v}] */
    R_MODEL_READY, /* GET /v2/models/{name}[/versions/{v}]/ready */
    R_INFER,       /* POST /v2/models/{name}[/versions/{v}]/infer */
    R_COUNT
};

static const api_route_def routes[R_COUNT] = {
    [R_SERVER] = {"/v2", "GET, HEAD", false},
    [R_LIVE] = {"/v2/health/live", "GET, HEAD", false},
    [R_READY] = {"/v2/health/ready", "GET, HEAD", false},
    [R_MODEL] = {"/v2/models/{name}", "GET, HEAD", false},
    [R_MODEL_READY] = {"/v2/models/{name}/ready", "GET, HEAD", false},
    [R_INFER] = {"/v2/models/{name}/infer", "POST", true},
};

#define MODELS_PREFIX "/v2/models/"

/* "attention, default, zh-en": the models /v2 serves, for messages. */
static void model_list(const api_model_registry *models, char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "%s", API_V2_ATTENTION_MODEL);
    for (size_t i = 0; i < api_model_registry_count(models) && at < len; i++) {
        const api_model *m = api_model_registry_at(models, i);
        at += (size_t)snprintf(buf + at, len - at, ", %s", api_model_name(m));
    }
}

/* The model called name[0..n), or NULL for "attention"; 404 for any other. */
static int find_model(const char *name, size_t n, const api_context *ctx, const api_model **out,
                      api_error *err)
{
    char want[API_MODEL_NAME_MAX + 2];
    snprintf(want, sizeof want, "%.*s", (int)(n < sizeof want ? n : sizeof want - 1), name);
    *out = NULL;
    if (strcmp(want, API_V2_ATTENTION_MODEL) == 0) return 0;
    const api_model *m = api_model_registry_find(ctx->models, want);
    if (!m) {
        char list[512];
        model_list(ctx->models, list, sizeof list);
        return api_error_set(err, API_ERR_NOT_FOUND, "", "unknown model '%s'; the models are %s",
                             want, list);
    }
    *out = m;
    return 0;
}

static int route(const char *path, const api_context *ctx, api_route *out, api_error *err)
{
    *out = (api_route){.id = -1, .sources = ctx->sources};
    if (strcmp(path, "/v2") == 0) return out->id = R_SERVER, 0;
    if (strcmp(path, "/v2/health/live") == 0) return out->id = R_LIVE, 0;
    if (strcmp(path, "/v2/health/ready") == 0) return out->id = R_READY, 0;
    if (strncmp(path, MODELS_PREFIX, strlen(MODELS_PREFIX)) != 0) return -1;
    const char *name = path + strlen(MODELS_PREFIX), *rest = name + strcspn(name, "/");
    if (rest == name) return -1;
    size_t name_len = (size_t)(rest - name);
    const char *version = NULL;
    size_t version_len = 0;
    if (strncmp(rest, "/versions/", 10) == 0) {
        version = rest + 10;
        version_len = strcspn(version, "/");
        if (version_len == 0) return -1;
        rest = version + version_len;
    }
    if (*rest == '\0')
        out->id = R_MODEL;
    else if (strcmp(rest, "/ready") == 0)
        out->id = R_MODEL_READY;
    else if (strcmp(rest, "/infer") == 0)
        out->id = R_INFER;
    else
        return -1;
    int rc = find_model(name, name_len, ctx, &out->model, err);
    if (rc) return rc;
    if (version && !(version_len == 1 && *version == '1'))
        return api_error_set(err, API_ERR_NOT_FOUND, "",
                             "model '%.*s' has no version '%.*s'; its one version is '1'",
                             (int)name_len, name, (int)(version_len > 32 ? 32 : version_len),
                             version);
    return 0;
}

static int not_ready(api_error *err)
{
    return api_error_set(err, API_ERR_SHUTTING_DOWN, "",
                         "the server is shutting down and takes no new requests");
}

static int answer(const api_route *r, const api_http_request *req, const api_context *ctx,
                  api_http_response *out, api_error *err)
{
    (void)req;
    out->status = 200;
    switch (r->id) {
    case R_SERVER: api_v2_server_metadata(ctx->version, &out->body); break;
    case R_MODEL: api_v2_model_metadata(r->model, &out->body); break;
    case R_READY:
    case R_MODEL_READY:
        if (!ctx->ready) return not_ready(err);
        return 0; /* an empty body */
    default: return 0;
    }
    if (out->body.oom)
        return api_error_set(err, API_ERR_INTERNAL, "", "out of memory encoding the response");
    out->content_type = "application/json";
    return 0;
}

static int decode(const api_http_request *req, const api_limits *limits, api_job *job,
                  api_error *err)
{
    const api_model *model = job->route.model;
    const char *name = model ? api_model_name(model) : API_V2_ATTENTION_MODEL;
    const char *hl = req->header(req->header_ctx, "Inference-Header-Content-Length");
    api_v2_infer r;
    int rc = api_v2_infer_parse(req->body, req->body_len, hl, limits ? limits->max_elements : 0, &r,
                                err);
    if (rc) return rc;
    /* The output names are checked before the wire copies them. */
    if (model && api_model_hf(model))
        rc = api_v2_infer_check_names(&r, name, api_v2_tf_inputs, API_V2_TF_NINPUTS,
                                      api_v2_tf_outputs, API_V2_TF_NOUTPUTS, err);
    else if (model)
        rc = api_v2_infer_check_names(&r, name, api_v2_token_inputs, API_V2_TOKEN_NINPUTS,
                                      api_v2_token_outputs, API_V2_TOKEN_NOUTPUTS, err);
    else
        rc = api_v2_infer_check_names(&r, name, api_v2_attention_inputs, API_V2_ATTENTION_NINPUTS,
                                      api_v2_attention_outputs, API_V2_ATTENTION_NOUTPUTS, err);
    if (!rc) rc = api_v2_wire_new(&r, name, &job->wire, err);
    if (!rc)
        rc = !model ? api_v2_attention_decode(&r, job->wire, limits, &job->attention, err)
             : api_model_hf(model)
                 ? api_v2_tf_decode(&r, job->wire, model, limits, &job->model, err)
                 : api_v2_token_decode(&r, job->wire, model, limits, job->route.sources,
                                       &job->model, err);
    api_v2_infer_free(&r);
    return rc; /* api_job_decode frees the job's wire on an error */
}

static int encode(const api_job *job, api_http_response *out, api_error *err)
{
    size_t header_len = 0;
    int rc = job->attention
                 ? api_v2_attention_encode(job->attention, job->wire, &out->body, &header_len, err)
             : job->model->tf
                 ? api_v2_tf_encode(job->model, job->wire, &out->body, &header_len, err)
                 : api_v2_token_encode(job->model, job->wire, &out->body, &header_len, err);
    if (rc) return rc;
    out->status = 200;
    out->content_type = header_len ? "application/octet-stream" : "application/json";
    if (header_len)
        api_http_response_header(out, "Inference-Header-Content-Length", "%zu", header_len);
    return 0;
}

static int encode_error(const api_error *err, api_http_response *out)
{
    api_http_response_error(out, err);
    out->content_type = "application/json";
    api_v2_error_body(err, &out->body);
    return out->body.oom ? -1 : 0;
}

static void wire_free(api_job_wire *w)
{
    api_v2_wire_free(w);
}

const api_protocol api_v2_protocol = {
    .name = "v2",
    .prefix = "/v2",
    .routes = routes,
    .nroutes = R_COUNT,
    .route = route,
    .check_headers = NULL,
    .answer = answer,
    .decode = decode,
    .encode = encode,
    .encode_error = encode_error,
    .wire_free = wire_free,
};
