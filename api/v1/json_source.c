/* PUT, GET and DELETE /v1/sources/{id}: a stored key/value set in attnd's JSON dialect. The
 * body of a PUT is {"key": ..., "value": ..., "key_lengths"?: [...]}, the tensors in the format
 * and under the rules of /v1/attention's key and value; it is decoded into a source on the
 * HTTP thread and stored by the job on a worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../json_number.h"
#include "../json_scan.h"
#include "../json_tensor.h"
#include "../json_write.h"
#include "../protocol.h"
#include "../source_store.h"
#include "json_request.h"
#include "v1.h"

typedef enum source_op { OP_PUT, OP_GET, OP_DELETE } source_op;

/* What decode leaves for the run. */
struct api_job_wire {
    source_op op;
    char id[API_SOURCE_ID_MAX + 1];
    api_source *pending; /* PUT: the decoded source, until stored */
};

void api_v1_source_wire_free(api_job_wire *wire)
{
    if (!wire) return;
    api_source_discard(wire->pending);
    free(wire);
}

enum { S_KEY, S_VALUE, S_KEY_LENGTHS, S_COUNT };
static const char *const source_fields[S_COUNT] = {"key", "value", "key_lengths"};

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

/* The PUT body into a new source (*out), every field checked. */
static int read_source(const char *body, size_t len, const api_limits *limits, api_source **out,
                       api_error *err)
{
    static const api_json_member schema[] = {
        {"key", API_JSON_TENSOR, 0},
        {"value", API_JSON_TENSOR, 0},
        {"key_lengths", API_JSON_LIST, API_JSON_MAX_BATCH},
        {NULL, API_JSON_VALUE, 0},
    };
    *out = NULL;
    cJSON *root;
    int rc = api_json_parse_checked(body, len, "{\"key\": [[1, 0], [0, 1]], \"value\": [[1], [2]]}",
                                    schema, limits ? limits->max_elements : 0, &root, err);
    if (rc) return rc;
    const cJSON *f[S_COUNT];
    api_shape k = {0}, v = {0};
    api_source *src = NULL;
    rc = api_json_collect_members(root, "", source_fields, S_COUNT, f, NULL, err);
    for (int i = 0; !rc && i < 2; i++)
        if (!f[i])
            rc = api_error_set(err, API_ERR_MISSING_FIELD, source_fields[i],
                               "missing field '%s': a nested array of numbers [.., Lk, %s]",
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
    return read_source(req->body, req->body_len, limits, &w->pending, err);
}

/* {"id", "key_shape", "value_shape", "key_lengths"?, "bytes", "expires_in"} */
static int encode_info(const char *id, const api_source_info *info, api_buf *out)
{
    api_buf_puts(out, "{\"id\":");
    api_json_write_string(out, id, strlen(id));
    api_buf_puts(out, ",\"key_shape\":");
    api_json_write_shape(out, &info->key);
    api_buf_puts(out, ",\"value_shape\":");
    api_json_write_shape(out, &info->value);
    api_buf_printf(out, ",\"key_lengths\":%s,\"bytes\":%zu,\"expires_in\":%.0f}\n",
                   info->key_lengths_count ? "true" : "false", info->bytes, info->expires_in);
    return out->oom ? -1 : 0;
}

int api_v1_run_source(api_job *job, api_http_response *out, api_error *err)
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
