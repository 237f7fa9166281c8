/* Writing an infer response: the JSON header by hand (tensors through json_tensor.c's flat
 * writer), then the binary section, output by output. */
#include "response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json_tensor.h"
#include "../json_write.h"

int api_v2_wire_new(const api_v2_infer *r, const char *model, api_job_wire **out, api_error *err)
{
    api_job_wire *w = calloc(1, sizeof *w);
    if (!w || (r->id && !(w->id = strdup(r->id)))) {
        free(w);
        *out = NULL;
        return api_error_set(err, API_ERR_INTERNAL, "", "out of memory");
    }
    snprintf(w->model, sizeof w->model, "%s", model);
    w->has_outputs = r->has_outputs;
    w->binary_output = r->binary_output;
    w->noutputs = r->noutputs;
    for (int i = 0; i < r->noutputs; i++) {
        snprintf(w->outputs[i].name, sizeof w->outputs[i].name, "%s", r->outputs[i].name);
        w->outputs[i].binary = r->outputs[i].binary;
    }
    *out = w;
    return 0;
}

void api_v2_wire_free(api_job_wire *w)
{
    if (!w) return;
    free(w->id);
    free(w);
}

bool api_v2_wire_wants(const api_job_wire *w, const char *name, bool by_default)
{
    if (!w->has_outputs) return by_default;
    for (int i = 0; i < w->noutputs; i++)
        if (strcmp(w->outputs[i].name, name) == 0) return true;
    return false;
}

bool api_v2_wire_binary(const api_job_wire *w, const char *name)
{
    for (int i = 0; i < w->noutputs; i++)
        if (strcmp(w->outputs[i].name, name) == 0 && w->outputs[i].binary >= 0)
            return w->outputs[i].binary == 1;
    return w->binary_output;
}

/* The bytes of the output's binary form. */
static size_t binary_size(const api_v2_result *r)
{
    int64_t n = api_shape_elements(&r->shape);
    if (r->datatype != API_V2_BYTES) return (size_t)n * api_v2_datatype_size(r->datatype);
    size_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t len;
        r->bytes_at(r->ctx, i, &len);
        total += 4 + len;
    }
    return total;
}

/* The output's bytes as the binary tensor data extension lays them out. */
static void write_binary(api_buf *out, const api_v2_result *r)
{
    int64_t n = api_shape_elements(&r->shape);
    if (r->datatype == API_V2_FP32) {
        api_v2_write_f32(out, r->f32, n);
    } else if (r->datatype == API_V2_INT64) {
        api_v2_write_i64(out, r->i64, n);
    } else {
        for (int64_t i = 0; i < n; i++) {
            size_t len;
            const char *s = r->bytes_at(r->ctx, i, &len);
            api_v2_write_bytes(out, s, len);
        }
    }
}

/* The output's "data": a flat JSON array, row-major. */
static void write_data(api_buf *out, const api_v2_result *r)
{
    int64_t n = api_shape_elements(&r->shape);
    if (r->datatype == API_V2_FP32) {
        api_json_tensor_write_f32(out, r->f32, 1, &n);
        return;
    }
    api_buf_append(out, "[", 1);
    for (int64_t i = 0; i < n; i++) {
        if (i) api_buf_append(out, ",", 1);
        if (r->datatype == API_V2_INT64) {
            api_buf_printf(out, "%lld", (long long)r->i64[i]);
        } else {
            size_t len;
            const char *s = r->bytes_at(r->ctx, i, &len);
            api_json_write_string(out, s, len);
        }
    }
    api_buf_append(out, "]", 1);
}

int api_v2_write_response(const api_job_wire *w, const api_v2_result *res, int n, api_buf *out,
                          size_t *header_len, api_error *err)
{
    /* The order: the request's, else res'. */
    const api_v2_result *order[API_V2_MAX_TENSORS];
    int m = 0;
    if (w->has_outputs) {
        for (int i = 0; i < w->noutputs; i++)
            for (int j = 0; j < n; j++)
                if (strcmp(w->outputs[i].name, res[j].name) == 0 && m < API_V2_MAX_TENSORS)
                    order[m++] = &res[j];
    } else {
        for (int j = 0; j < n && m < API_V2_MAX_TENSORS; j++)
            order[m++] = &res[j];
    }
    /* The binary sizes are known up front, so the bytes go straight after the header: one
     * buffer, reserved once, no copy of the tensors. */
    size_t sizes[API_V2_MAX_TENSORS], total = 0;
    bool binary = false;
    for (int i = 0; i < m; i++) {
        sizes[i] = api_v2_wire_binary(w, order[i]->name) ? binary_size(order[i]) : 0;
        binary = binary || api_v2_wire_binary(w, order[i]->name);
        total += sizes[i];
    }
    api_buf_puts(out, "{\"model_name\":");
    api_json_write_string(out, w->model, strlen(w->model));
    api_buf_puts(out, ",\"model_version\":\"1\"");
    if (w->id) {
        api_buf_puts(out, ",\"id\":");
        api_json_write_string(out, w->id, strlen(w->id));
    }
    api_buf_puts(out, ",\"outputs\":[");
    for (int i = 0; i < m; i++) {
        const api_v2_result *r = order[i];
        api_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
        api_json_write_string(out, r->name, strlen(r->name));
        api_buf_printf(out, ",\"datatype\":\"%s\",\"shape\":", api_v2_datatype_name(r->datatype));
        api_json_write_shape(out, &r->shape);
        if (api_v2_wire_binary(w, r->name)) {
            api_buf_printf(out, ",\"parameters\":{\"binary_data_size\":%zu}}", sizes[i]);
        } else {
            api_buf_puts(out, ",\"data\":");
            write_data(out, r);
            api_buf_puts(out, "}");
        }
    }
    api_buf_puts(out, "]}");
    /* A binary output of zero bytes still makes the response binary (its size says 0). */
    *header_len = binary ? out->len : 0;
    if (binary && api_buf_reserve(out, total))
        for (int i = 0; i < m; i++)
            if (api_v2_wire_binary(w, order[i]->name)) write_binary(out, order[i]);
    bool oom = out->oom || (binary && out->len != *header_len + total);
    if (oom) return api_error_set(err, API_ERR_INTERNAL, "", "out of memory encoding the response");
    return 0;
}
