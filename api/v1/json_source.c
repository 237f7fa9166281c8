/* PUT, GET and DELETE /v1/sources/{id}: a stored key/value set in attnd's JSON dialect. The
 * body of a PUT is {"key": ..., "value": ..., "key_lengths"?: [...]}, the tensors in the format
 * and under the rules of /v1/attention's key and value, or {"model": "...", "source": {...}}, a
 * sequence in the forms of a model request's "source" for that model to encode
 * (encoded_source.h). Either is decoded into a source on the HTTP thread; the job encodes it
 * (a model's) and stores it on a worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../encoded_source.h"
#include "../json_number.h"
#include "../json_scan.h"
#include "../json_tensor.h"
#include "../json_write.h"
#include "../model_registry.h"
#include "../protocol.h"
#include "../source_store.h"
#include "json_model.h"
#include "json_request.h"
#include "v1.h"

typedef enum source_op { OP_PUT, OP_GET, OP_DELETE } source_op;

/* What decode leaves for the run. */
struct api_job_wire {
    source_op op;
    char id[API_SOURCE_ID_MAX + 1];
    api_source *pending;    /* PUT: the decoded source, until stored */
    const api_model *model; /* PUT of a model's source: the model that encodes it */
};

void api_v1_source_wire_free(api_job_wire *wire)
{
    if (!wire) return;
    api_source_discard(wire->pending);
    free(wire);
}

enum { S_KEY, S_VALUE, S_KEY_LENGTHS, S_MODEL, S_SOURCE, S_COUNT };
static const char *const source_fields[S_COUNT] = {"key", "value", "key_lengths", "model",
                                                   "source"};

#define MODEL_EXAMPLE "{\"model\": \"zh-en\", \"source\": {\"text\": \"欢迎来北京\"}}"

/* Key and value: ranks 2 to 4 as /v1/attention takes them ([Lk, d], [H, Lk, d],
 * [B, H, Lk, d]), the value with the key's rank, leading dims and Lk. */
static int check_shapes(const api_shape *k, const api_shape *v, api_error *err)
{
    char ks[128], vs[128], want[128];
    if (k->rank < 2 || k->rank > 4)
        return api_error_set(err, API_ERR_INVALID_SHAPE, "key",
                             "key: expected rank 2 [Lk, d], 3 [H, Lk, d] or 4 [B, H, Lk, d], "
                             "got rank %d %s",
                             k->rank, api_shape_str(k, -1, ks, sizeof ks));
    int r = k->rank;
    bool ok = v->rank == r;
    for (int i = 0; ok && i < r - 1; i++)
        ok = v->ne[i] == k->ne[i];
    if (ok) return 0;
    return api_error_set(err, API_ERR_INVALID_SHAPE, "value",
                         "value: expected shape %s (the key %s's leading dims and Lk, any last "
                         "dim), got %s",
                         api_shape_str(k, r - 1, want, sizeof want),
                         api_shape_str(k, -1, ks, sizeof ks), api_shape_str(v, -1, vs, sizeof vs));
}

/* The most tokens or ids a "source" list may hold: as many as the smallest one-layer model
 * could take within the element limit (each token becomes an embedding of E elements), so that
 * no body builds a larger tree than a model request could. */
static int64_t source_items(const api_model_registry *models, const api_limits *limits)
{
    int64_t min_e = 0;
    for (size_t i = 0; models && i < api_model_registry_count(models); i++) {
        const api_model *m = api_model_registry_at(models, i);
        int64_t e = api_model_hf(m) ? 0 : api_model_core(m)->mha.embed_dim;
        if (e > 0 && (min_e == 0 || e < min_e)) min_e = e;
    }
    if (!limits || limits->max_elements <= 0 || min_e == 0) return INT64_MAX;
    return limits->max_elements / min_e + 1;
}

/* {"model", "source"}: the model (404 when not loaded), then the source scanned for its
 * tokenizer, allocated, filled and resolved; encoding is left to the job. */
static int read_model_source(const cJSON *const *f, const api_model_registry *models,
                             const api_limits *limits, api_job_wire *w, api_error *err)
{
    if (!f[S_MODEL])
        return api_error_set(err, API_ERR_MISSING_FIELD, "model",
                             "missing field 'model': a source is encoded by a model; send "
                             "%s",
                             MODEL_EXAMPLE);
    if (!f[S_SOURCE])
        return api_error_set(err, API_ERR_MISSING_FIELD, "source",
                             "missing field 'source': the sequence for model to encode, "
                             "{\"text\": \"...\"}, {\"tokens\": [...]} or {\"ids\": [...]}");
    if (!cJSON_IsString(f[S_MODEL]))
        return api_error_set(err, API_ERR_INVALID_TYPE, "model",
                             "model: expected a string (the name of a loaded model), got %s",
                             api_json_type_name(f[S_MODEL]));
    const char *name = f[S_MODEL]->valuestring;
    if (!models)
        return api_error_set(err, API_ERR_NOT_FOUND, "model", "this server serves no models");
    const api_model *model = api_model_registry_find(models, name);
    if (!model) {
        int rc = api_model_not_found(models, name, err);
        snprintf(err->field, sizeof err->field, "model");
        return rc;
    }
    const at_vocab *vocab = api_model_hf(model) ? NULL : api_model_core(model)->vocab;
    const cJSON *members[3] = {0};
    api_seq_spec spec = {0};
    int rc = 0;
    if (!api_model_hf(model)) /* a folder model is refused by the allocation, with why */
        rc = api_v1_scan_model_source(f[S_SOURCE], vocab, members, &spec, err);
    if (!rc) rc = api_encoded_source_alloc(model, &spec, limits, &w->pending, err);
    if (!rc) rc = api_v1_fill_model_source(members, vocab, api_encoded_source_seq(w->pending), err);
    if (!rc) rc = api_encoded_source_resolve(w->pending, model, err);
    if (!rc) w->model = model;
    return rc;
}

/* The PUT body into a new source (w->pending), every field checked. */
static int read_source(const char *body, size_t len, const api_limits *limits,
                       const api_model_registry *models, api_job_wire *w, api_error *err)
{
    api_json_member schema[] = {
        {"key", API_JSON_TENSOR, 0},
        {"value", API_JSON_TENSOR, 0},
        {"key_lengths", API_JSON_LIST, API_JSON_MAX_BATCH},
        {"model", API_JSON_VALUE, 0},
        {0},
        {0},
        {0},
        {0},
        {NULL, API_JSON_VALUE, 0},
    };
    api_v1_model_source_schema(source_items(models, limits), &schema[4]);
    api_source **out = &w->pending;
    *out = NULL;
    cJSON *root;
    int rc = api_json_parse_checked(body, len, "{\"key\": [[1, 0], [0, 1]], \"value\": [[1], [2]]}",
                                    schema, limits ? limits->max_elements : 0, &root, err);
    if (rc) return rc;
    const cJSON *f[S_COUNT];
    api_shape k = {0}, v = {0};
    api_source *src = NULL;
    rc = api_json_collect_members(root, "", source_fields, S_COUNT, f, NULL, err);
    bool tensors = !rc && (f[S_KEY] || f[S_VALUE] || f[S_KEY_LENGTHS]);
    if (!rc && (f[S_MODEL] || f[S_SOURCE])) {
        if (tensors)
            rc = api_error_set(err, API_ERR_INVALID_VALUE, f[S_MODEL] ? "model" : "source",
                               "send either tensors {\"key\", \"value\", \"key_lengths\"?} or "
                               "a model's source {\"model\", \"source\"}, not both");
        else
            rc = read_model_source(f, models, limits, w, err);
        cJSON_Delete(root);
        return rc;
    }
    for (int i = 0; !rc && i < 2; i++)
        if (!f[i])
            rc = api_error_set(err, API_ERR_MISSING_FIELD, source_fields[i],
                               "missing field '%s': a nested array of numbers [.., Lk, %s] (or "
                               "send {\"model\", \"source\"} for a model to encode)",
                               source_fields[i], i ? "dv" : "d");
    if (!rc) rc = api_json_tensor_scan(f[S_KEY], "key", "numbers [.., Lk, d]", &k, err);
    if (!rc) rc = api_json_tensor_scan(f[S_VALUE], "value", "numbers [.., Lk, dv]", &v, err);
    if (!rc) rc = check_shapes(&k, &v, err);
    /* Read only once the shapes are known good (k.rank is 2..4 then). */
    int64_t batch = !rc && k.rank == 4 ? k.ne[0] : 1, lk = !rc ? k.ne[k.rank - 2] : 0;
    int64_t nlengths = 0;
    if (!rc && f[S_KEY_LENGTHS]) {
        if (!cJSON_IsArray(f[S_KEY_LENGTHS]))
            rc = api_error_set(err, API_ERR_INVALID_TYPE, "key_lengths",
                               "key_lengths: expected an array of %lld integers (one per batch "
                               "entry), got %s",
                               (long long)batch, api_json_type_name(f[S_KEY_LENGTHS]));
        else if ((nlengths = cJSON_GetArraySize(f[S_KEY_LENGTHS])) != batch)
            rc = api_error_set(err, API_ERR_INVALID_SHAPE, "key_lengths",
                               "key_lengths: expected %lld entries (the batch size B), got %lld",
                               (long long)batch, (long long)nlengths);
    }
    if (!rc) {
        int64_t n = api_add_sat(api_shape_elements(&k), api_shape_elements(&v));
        if (limits && limits->max_elements > 0 && n > limits->max_elements)
            rc = api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                               "the source has %lld elements (key and value), more than this "
                               "server's limit of %lld (--max-elements)",
                               (long long)n, (long long)limits->max_elements);
    }
    if (!rc && !(src = api_source_alloc(&k, &v, nlengths, err)))
        rc = api_error_http_status(err->kind);
    if (!rc) rc = api_json_tensor_read_f32(f[S_KEY], "key", &k, src->key_data, err);
    if (!rc) rc = api_json_tensor_read_f32(f[S_VALUE], "value", &v, src->value_data, err);
    if (!rc && nlengths) {
        char want[64], name[48];
        snprintf(want, sizeof want, "an integer 0..%lld (the key count Lk)", (long long)lk);
        int64_t i = 0;
        for (const cJSON *c = f[S_KEY_LENGTHS]->child; c && !rc; c = c->next, i++) {
            snprintf(name, sizeof name, "key_lengths[%lld]", (long long)i);
            rc = api_json_read_int(c, name, "key_lengths", want, 0, lk, &src->key_lengths[i], err);
        }
    }
    cJSON_Delete(root);
    if (rc) {
        api_source_discard(src);
        return rc;
    }
    *out = src;
    return 0;
}

int api_v1_decode_source(const api_http_request *req, const api_limits *limits, api_job *job,
                         api_error *err)
{
    const char *id = req->path + strlen("/v1/sources/");
    int rc = api_source_id_check(id, err);
    if (rc) return rc;
    if (!job->route.sources)
        return api_error_set(err, API_ERR_NOT_FOUND, "", "this server keeps no sources");
    api_job_wire *w = calloc(1, sizeof *w);
    if (!w) return api_error_set(err, API_ERR_INTERNAL, "", "out of memory");
    snprintf(w->id, sizeof w->id, "%s", id);
    w->op = strcmp(req->method, "PUT") == 0      ? OP_PUT
            : strcmp(req->method, "DELETE") == 0 ? OP_DELETE
                                                 : OP_GET;
    job->wire = w;
    if (w->op != OP_PUT) return 0;
    return read_source(req->body, req->body_len, limits, job->route.models, w, err);
}

/* {"id", "model"?, "source_length"?, "key_shape", "value_shape", "key_lengths", "bytes",
 * "expires_in"} */
static int encode_info(const char *id, const api_source_info *info, api_buf *out)
{
    api_buf_puts(out, "{\"id\":");
    api_json_write_string(out, id, strlen(id));
    if (info->model[0]) {
        api_buf_puts(out, ",\"model\":");
        api_json_write_string(out, info->model, strlen(info->model));
        api_buf_printf(out, ",\"source_length\":%lld", (long long)info->source_length);
    }
    api_buf_puts(out, ",\"key_shape\":");
    api_json_write_shape(out, &info->key);
    api_buf_puts(out, ",\"value_shape\":");
    api_json_write_shape(out, &info->value);
    api_buf_printf(out, ",\"key_lengths\":%s,\"bytes\":%zu,\"expires_in\":%.0f}\n",
                   info->key_lengths_count ? "true" : "false", info->bytes, info->expires_in);
    return out->oom ? -1 : 0;
}

int api_v1_run_source(api_job *job, at_pool *pool, int worker, api_http_response *out,
                      api_error *err)
{
    api_job_wire *w = job->wire;
    api_source_store *store = job->route.sources;
    if (!w || !store) return api_error_set(err, API_ERR_INTERNAL, "", "no source operation");
    int rc = 0, status = 200;
    if (w->op == OP_DELETE) {
        if ((rc = api_source_store_remove(store, w->id, err))) return rc;
        out->status = 204;
        return 0;
    }
    if (w->op == OP_PUT) {
        bool replaced;
        if (w->model &&
            (rc = api_encoded_source_encode(w->pending, w->model, job->cancel, pool, worker, err)))
            return rc;
        api_source *src = w->pending;
        w->pending = NULL; /* the store owns it now, whatever happens */
        if ((rc = api_source_store_put(store, w->id, src, &replaced, err))) return rc;
        status = replaced ? 200 : 201;
    }
    api_source_info info;
    /* Just stored, it may already be gone again (evicted by a concurrent PUT): then 404. */
    if ((rc = api_source_store_info(store, w->id, &info, err))) return rc;
    if (encode_info(w->id, &info, &out->body) != 0)
        return api_error_set(err, API_ERR_INTERNAL, "", "out of memory encoding the response");
    out->status = status;
    out->content_type = "application/json";
    return 0;
}
