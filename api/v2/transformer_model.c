/* A BERT or GPT-2 folder model on /v2: its inputs become the pieces of a tf_request.h request
 * (the folder's tokenizer for a text, or ids and token types as sent), its outputs the last
 * hidden state, every layer's attention, and the tokens and ids it ran on. */
#include "transformer_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/status.h"
#include "../../core/vocab.h"
#include "../hf_model.h"
#include "../model_registry.h"
#include "../model_request.h"
#include "../tf_request.h"
#include "tensor.h"

enum { IN_TEXT, IN_TEXT_PAIR, IN_IDS, IN_TYPES };
const char *const api_v2_tf_inputs[API_V2_TF_NINPUTS] = {"text", "text_pair", "ids",
                                                         "token_type_ids"};
const char *const api_v2_tf_outputs[API_V2_TF_NOUTPUTS] = {"context", "weights", "tokens", "ids"};

/* Only "timeout" (microseconds) and "binary_data_output" apply to a folder model. */
static int read_parameters(const cJSON *params, const char *model, double *timeout, api_error *err)
{
    *timeout = 0;
    for (const cJSON *c = params ? params->child : NULL; c; c = c->next) {
        if (strcmp(c->string, "binary_data_output") == 0) continue; /* infer_request.c's */
        if (strcmp(c->string, "timeout") != 0)
            return api_error_set(err, API_ERR_UNKNOWN_FIELD, c->string,
                                 "parameters: '%.64s' does not apply to model '%s', a transformer "
                                 "folder model; it takes timeout and binary_data_output",
                                 c->string, model);
        double us = cJSON_IsNumber(c) ? c->valuedouble : 0;
        if (!(us >= 1 && us <= 86400e6 && us == (double)(int64_t)us))
            return api_error_set(err, API_ERR_INVALID_VALUE, "timeout",
                                 "parameters.timeout: expected microseconds, an integer >= 1 (at "
                                 "most a day)");
        *timeout = us / 1e6;
    }
    return 0;
}

static int bytes_input(const api_v2_input *in, char **s, size_t *n, api_error *err)
{
    if (in->datatype != API_V2_BYTES) return api_v2_wrong_datatype(in, "BYTES (shape [1])", err);
    int rc = api_v2_input_bytes(in, s, n, err);
    if (rc) return rc;
    const char *nul = memchr(*s, '\0', *n);
    if (nul)
        return api_error_set(err, API_ERR_INVALID_VALUE, in->name,
                             "input '%s': byte %zu is NUL; a text may not hold U+0000", in->name,
                             (size_t)(nul - *s));
    return 0;
}

/* An INT64 or INT32 [L] input read into a malloc'd array. */
static int int_input(const api_v2_input *in, int64_t **v, api_error *err)
{
    if (in->datatype != API_V2_INT64 && in->datatype != API_V2_INT32)
        return api_v2_wrong_datatype(in, "INT64 or INT32 [L]", err);
    if (in->shape.rank != 1)
        return api_error_set(err, API_ERR_INVALID_SHAPE, in->name,
                             "input '%s': expected rank 1 [L], got rank %d", in->name,
                             in->shape.rank);
    /* A sequence's length is bounded by the model's positions (checked by api_tf_prepare);
     * refuse absurd counts before allocating. */
    if (in->elements > 1 << 24)
        return api_error_set(err, API_ERR_LIMIT_EXCEEDED, in->name,
                             "input '%s': %lld tokens, more than any model takes", in->name,
                             (long long)in->elements);
    *v = malloc((size_t)in->elements * sizeof **v);
    if (!*v) return api_error_set(err, API_ERR_INTERNAL, in->name, "out of memory");
    return api_v2_input_read_int(in, *v, err);
}

int api_v2_tf_decode(const api_v2_infer *r, const api_job_wire *w, const api_model *model,
                     const api_limits *limits, api_model_request **out, api_error *err)
{
    *out = NULL;
    const char *name = api_model_name(model);
    const api_hf_model *hf = api_model_hf(model);
    const at_transformer *t = api_hf_model_core(hf);
    const api_v2_input *in[API_V2_TF_NINPUTS];
    for (int i = 0; i < API_V2_TF_NINPUTS; i++)
        in[i] = api_v2_infer_input(r, api_v2_tf_inputs[i]);
    api_tf_spec spec = {.hidden = API_TF_HIDDEN_LAST};
    at_piece *pieces = NULL;
    char *text = NULL, *pair = NULL;
    size_t text_len = 0, pair_len = 0;
    int64_t *ids = NULL, *types = NULL;
    double timeout;
    api_model_request *req = NULL;
    const char *field = in[IN_TEXT] ? "text" : "ids";
    bool bert = t->arch == AT_TF_BERT;
    int rc = api_v2_infer_check_names(r, name, api_v2_tf_inputs, API_V2_TF_NINPUTS,
                                      api_v2_tf_outputs, API_V2_TF_NOUTPUTS, err);
    if (!rc) rc = read_parameters(r->params, name, &timeout, err);
    if (rc) return rc;
    if (!!in[IN_TEXT] + !!in[IN_IDS] != 1)
        return in[IN_TEXT] ? api_error_set(err, API_ERR_INVALID_VALUE, "ids",
                                           "send the sequence as input 'text' or 'ids', not both")
                           : api_error_set(err, API_ERR_MISSING_FIELD, "text",
                                           "missing input 'text' (BYTES, shape [1]: a string the "
                                           "model's tokenizer splits) or 'ids' (INT64 [L])");
    if (in[IN_TEXT_PAIR] && (!in[IN_TEXT] || !bert))
        return api_error_set(err, API_ERR_INVALID_VALUE, "text_pair",
                             "input 'text_pair': only with 'text', and only for BERT models "
                             "(sentence B of a pair)");
    if (in[IN_TYPES] && (!in[IN_IDS] || !bert))
        return api_error_set(err, API_ERR_INVALID_VALUE, "token_type_ids",
                             "input 'token_type_ids': only with 'ids' of a BERT model (a text's "
                             "types come from text_pair)");
    if (api_v2_wire_wants(w, "tokens", false) && !api_hf_model_vocab(hf))
        return api_error_set(err, API_ERR_INVALID_VALUE, "tokens",
                             "output 'tokens': model '%s' has no vocabulary to read ids back with",
                             name);
    spec.return_weights = api_v2_wire_wants(w, "weights", true);
    spec.return_context = api_v2_wire_wants(w, "context", true);
    if (in[IN_TEXT]) {
        rc = bytes_input(in[IN_TEXT], &text, &text_len, err);
        if (!rc && in[IN_TEXT_PAIR]) rc = bytes_input(in[IN_TEXT_PAIR], &pair, &pair_len, err);
        if (!rc) {
            char msg[sizeof err->message - 32];
            size_t count = 0;
            const char *at = "text";
            int st = api_hf_model_tokenize(hf, text, text_len, pair, pair_len, &pieces, &count,
                                           &spec.unknown, &at, msg, sizeof msg);
            if (st == AT_ENOMEM)
                rc = api_error_set(err, API_ERR_INTERNAL, "", "%s", msg);
            else if (st)
                rc = api_error_set(err, API_ERR_INVALID_VALUE, at, "input '%s': %s", at, msg);
            spec.len = (int64_t)count;
            spec.from_text = true;
        }
    } else {
        rc = int_input(in[IN_IDS], &ids, err);
        if (!rc && in[IN_TYPES]) {
            rc = int_input(in[IN_TYPES], &types, err);
            if (!rc && in[IN_TYPES]->elements != in[IN_IDS]->elements)
                rc = api_error_set(err, API_ERR_INVALID_VALUE, "token_type_ids",
                                   "input 'token_type_ids': %lld entries for %lld ids; send one "
                                   "per token",
                                   (long long)in[IN_TYPES]->elements,
                                   (long long)in[IN_IDS]->elements);
        }
        spec.len = in[IN_IDS]->elements;
        if (!rc && !(pieces = calloc((size_t)spec.len, sizeof *pieces)))
            rc = api_error_set(err, API_ERR_INTERNAL, "", "out of memory");
        for (int64_t i = 0; !rc && i < spec.len; i++) {
            int64_t type = types ? types[i] : 0;
            if (type < 0 || type > 255)
                rc = api_error_set(err, API_ERR_INVALID_VALUE, "token_type_ids",
                                   "input 'token_type_ids': element %lld is %lld; expected a "
                                   "token type (0 or 1)",
                                   (long long)i, (long long)type);
            pieces[i] =
                (at_piece){.id = (uint64_t)ids[i], .type = (uint8_t)type, .begin = -1, .end = -1};
        }
    }
    if (!rc) rc = api_tf_prepare(model, &spec, field, limits, &req, err);
    if (!rc) {
        memcpy(req->tf->pieces, pieces, (size_t)spec.len * sizeof *pieces);
        rc = api_tf_resolve(req->tf, field, err);
        req->spec.opts.has_timeout = timeout > 0;
        req->spec.opts.timeout = timeout;
    }
    free(pieces);
    free(text);
    free(pair);
    free(ids);
    free(types);
    if (rc) {
        api_model_request_free(req);
        return rc;
    }
    *out = req;
    return 0;
}

typedef struct token_ctx {
    const at_vocab *vocab;
    const uint64_t *ids;
} token_ctx;

/* The vocabulary's token of id i (every id was checked against the vocabulary's size). */
static const char *token_at(const void *ctx, int64_t i, size_t *n)
{
    const token_ctx *c = ctx;
    const char *t = at_vocab_token(c->vocab, (int64_t)c->ids[i], n);
    if (!t) *n = 0;
    return t ? t : "";
}

int api_v2_tf_encode(const api_model_request *req, const api_job_wire *w, api_buf *out,
                     size_t *header_len, api_error *err)
{
    const api_tf_request *tf = req ? req->tf : NULL;
    if (!tf || !req->computed)
        return api_error_set(err, API_ERR_INTERNAL, "", "the request has not been computed");
    const at_transformer *t = tf->t;
    const int64_t L = tf->spec.len;
    token_ctx tokens = {api_hf_model_vocab(api_model_hf(req->model)), tf->ids};
    api_v2_result res[API_V2_TF_NOUTPUTS];
    int n = 0;
    if (tf->spec.return_context)
        res[n++] = (api_v2_result){.name = "context",
                                   .datatype = API_V2_FP32,
                                   .shape = {.rank = 2, .ne = {L, t->embed_dim}},
                                   .f32 = tf->hidden};
    if (tf->weights)
        res[n++] =
            (api_v2_result){.name = "weights",
                            .datatype = API_V2_FP32,
                            .shape = {.rank = 4, .ne = {tf->spec.nlayers, t->num_heads, L, L}},
                            .f32 = tf->weights};
    if (tokens.vocab)
        res[n++] = (api_v2_result){.name = "tokens",
                                   .datatype = API_V2_BYTES,
                                   .shape = {.rank = 1, .ne = {L}},
                                   .bytes_at = token_at,
                                   .ctx = &tokens};
    res[n++] = (api_v2_result){.name = "ids",
                               .datatype = API_V2_INT64,
                               .shape = {.rank = 1, .ne = {L}},
                               .i64 = (const int64_t *)tf->ids};
    return api_v2_write_response(w, res, n, out, header_len, err);
}
