/* The "attention" model of /v2: its inputs become the format-neutral attention request of
 * request.h (the spec from the declared shapes and the parameters, api_attention_prepare, then
 * the data), its outputs the context and weights the core computed. */
#include "attention_model.h"

#include <string.h>

#include "../request.h"
#include "parameters.h"
#include "tensor.h"

enum { IN_QUERY, IN_KEY, IN_VALUE, IN_MASK, IN_KEY_LENGTHS, IN_WEIGHT, IN_BIAS, IN_V };

const char *const api_v2_attention_inputs[API_V2_ATTENTION_NINPUTS] = {
    "query",           "key",           "value",     "mask", "key_lengths",
    "additive_weight", "additive_bias", "additive_v"};
const char *const api_v2_attention_outputs[API_V2_ATTENTION_NOUTPUTS] = {"context", "weights"};

static const char floats[] = "FP32 (or FP16, BF16, FP64)";

/* The input called api_v2_attention_inputs[i], checked to be of a float datatype (or BOOL for
 * the mask, INT32 or INT64 for key_lengths), or NULL when absent. */
static int input(const api_v2_infer *r, int i, const api_v2_input **out, api_error *err)
{
    const api_v2_input *in = api_v2_infer_input(r, api_v2_attention_inputs[i]);
    *out = in;
    if (!in) return 0;
    if (i == IN_MASK)
        return in->datatype == API_V2_BOOL ? 0 : api_v2_wrong_datatype(in, "BOOL", err);
    if (i == IN_KEY_LENGTHS) {
        if (in->datatype != API_V2_INT32 && in->datatype != API_V2_INT64)
            return api_v2_wrong_datatype(in, "INT32 or INT64", err);
        if (in->shape.rank != 1)
            return api_error_set(err, API_ERR_INVALID_SHAPE, in->name,
                                 "input 'key_lengths': expected rank 1 [B], one key count per "
                                 "batch entry, got rank %d",
                                 in->shape.rank);
        return 0;
    }
    return api_v2_datatype_is_float(in->datatype) ? 0 : api_v2_wrong_datatype(in, floats, err);
}

int api_v2_attention_decode(const api_v2_infer *r, const api_job_wire *w, const api_limits *limits,
                            api_attention_request **out, api_error *err)
{
    *out = NULL;
    const api_v2_input *in[API_V2_ATTENTION_NINPUTS];
    api_attention_spec s;
    memset(&s, 0, sizeof s);
    int rc = api_v2_infer_check_names(r, API_V2_ATTENTION_MODEL, api_v2_attention_inputs,
                                      API_V2_ATTENTION_NINPUTS, api_v2_attention_outputs,
                                      API_V2_ATTENTION_NOUTPUTS, err);
    for (int i = 0; !rc && i < API_V2_ATTENTION_NINPUTS; i++)
        rc = input(r, i, &in[i], err);
    if (!rc) rc = api_v2_read_parameters(r->params, &s, err);
    const char *source_id = NULL;
    if (!rc) rc = api_v2_read_source_id(r->params, &source_id, err);
    if (!rc && source_id)
        rc = api_error_set(err, API_ERR_INVALID_VALUE, "source_id",
                           "parameters.source_id: the attention model takes no stored source; "
                           "send inputs 'key' and 'value' (a stored key/value set is named with "
                           "\"source_id\" on POST /v1/attention, a model's source on its token "
                           "model's infer)");
    if (rc) return rc;
    s.return_weights = api_v2_wire_wants(w, "weights", true);
    s.return_context = api_v2_wire_wants(w, "context", true);
    if (!in[IN_QUERY])
        return api_error_set(err, API_ERR_MISSING_FIELD, "query",
                             "missing input 'query' (FP32 [Lq, d], [H, Lq, d] or [B, H, Lq, d])");
    s.query = in[IN_QUERY]->shape;
    if ((s.has_key = in[IN_KEY])) s.key = in[IN_KEY]->shape;
    if ((s.has_value = in[IN_VALUE])) s.value = in[IN_VALUE]->shape;
    if ((s.has_mask = in[IN_MASK])) s.mask = in[IN_MASK]->shape;
    if ((s.has_key_lengths = in[IN_KEY_LENGTHS]))
        s.key_lengths_count = in[IN_KEY_LENGTHS]->elements;
    if ((s.has_additive = in[IN_WEIGHT])) s.additive_weight = in[IN_WEIGHT]->shape;
    if ((s.has_additive_bias = in[IN_BIAS])) s.additive_bias = in[IN_BIAS]->shape;
    if ((s.has_additive_v = in[IN_V])) s.additive_v = in[IN_V]->shape;
    if (!s.has_additive && (s.has_additive_bias || s.has_additive_v))
        return api_error_set(err, API_ERR_MISSING_FIELD, "additive_weight",
                             "input '%s' needs input 'additive_weight' [da, dq + dk] too",
                             s.has_additive_bias ? "additive_bias" : "additive_v");

    api_attention_request *req = NULL;
    if ((rc = api_attention_prepare(&s, limits, &req, err))) return rc;
    rc = api_v2_input_read_f32(in[IN_QUERY], req->query, err);
    if (!rc && in[IN_KEY]) rc = api_v2_input_read_f32(in[IN_KEY], req->key, err);
    if (!rc && in[IN_VALUE]) rc = api_v2_input_read_f32(in[IN_VALUE], req->value, err);
    if (!rc && in[IN_MASK]) rc = api_v2_input_read_bool(in[IN_MASK], req->mask, err);
    if (!rc && in[IN_WEIGHT]) rc = api_v2_input_read_f32(in[IN_WEIGHT], req->additive_weight, err);
    if (!rc && in[IN_BIAS]) rc = api_v2_input_read_f32(in[IN_BIAS], req->additive_bias, err);
    if (!rc && in[IN_V]) rc = api_v2_input_read_f32(in[IN_V], req->additive_v, err);
    if (!rc && in[IN_KEY_LENGTHS]) {
        int64_t lk = req->desc.key.ne[2];
        rc = api_v2_input_read_int(in[IN_KEY_LENGTHS], req->key_lengths, err);
        for (int64_t i = 0; !rc && i < s.key_lengths_count; i++)
            if (req->key_lengths[i] < 0 || req->key_lengths[i] > lk)
                rc = api_error_set(err, API_ERR_INVALID_VALUE, "key_lengths",
                                   "input 'key_lengths': element %lld is %lld; expected a key "
                                   "count 0..%lld (Lk)",
                                   (long long)i, (long long)req->key_lengths[i], (long long)lk);
    }
    if (rc) {
        api_attention_request_free(req);
        return rc;
    }
    *out = req;
    return 0;
}

int api_v2_attention_encode(const api_attention_request *req, const api_job_wire *w, api_buf *out,
                            size_t *header_len, api_error *err)
{
    if (!req || !req->computed)
        return api_error_set(err, API_ERR_INTERNAL, "", "the request has not been computed");
    api_v2_result res[2];
    int n = 0;
    if (req->spec.return_context)
        res[n++] = (api_v2_result){.name = "context",
                                   .datatype = API_V2_FP32,
                                   .shape = req->context_shape,
                                   .f32 = req->out.context};
    if (req->spec.return_weights)
        res[n++] = (api_v2_result){.name = "weights",
                                   .datatype = API_V2_FP32,
                                   .shape = req->weights_shape,
                                   .f32 = req->out.weights};
    return api_v2_write_response(w, res, n, out, header_len, err);
}
