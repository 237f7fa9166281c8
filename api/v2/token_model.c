/* A token model on /v2: its inputs become the model request of model_request.h (a text
 * tokenized by the model's tokenizer, or ids), its outputs the context and weights of the
 * model's multi-head attention and the tokens and ids it ran on. */
#include "token_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/tokenizer.h"
#include "../encoded_source.h"
#include "../model_request.h"
#include "../source_store.h"
#include "parameters.h"
#include "tensor.h"

enum { IN_TEXT, IN_IDS, IN_SOURCE_TEXT, IN_SOURCE_IDS };
const char *const api_v2_token_inputs[API_V2_TOKEN_NINPUTS] = {"text", "ids", "source_text",
                                                               "source_ids"};
const char *const api_v2_token_outputs[API_V2_TOKEN_NOUTPUTS] = {
    "context", "weights", "tokens", "ids", "source_tokens", "source_ids"};

/* A sequence's input: its text (malloc'd) or its ids input. */
typedef struct seq_input {
    const api_v2_input *text, *ids;
    char *bytes;
    size_t len;
} seq_input;

static int pick(const api_v2_infer *r, int text, int ids, bool required, seq_input *s,
                api_error *err)
{
    s->text = api_v2_infer_input(r, api_v2_token_inputs[text]);
    s->ids = api_v2_infer_input(r, api_v2_token_inputs[ids]);
    const char *tn = api_v2_token_inputs[text], *in = api_v2_token_inputs[ids];
    if (s->text && s->ids)
        return api_error_set(err, API_ERR_INVALID_VALUE, in,
                             "send the sequence as input '%s' or '%s', not both", tn, in);
    if (!s->text && !s->ids && required)
        return api_error_set(err, API_ERR_MISSING_FIELD, tn,
                             "missing input 'text' (BYTES, shape [1]: a string the model's "
                             "tokenizer splits) or 'ids' (INT64 [L]: token ids)");
    if (s->text && s->text->datatype != API_V2_BYTES)
        return api_v2_wrong_datatype(s->text, "BYTES (shape [1])", err);
    if (s->ids && s->ids->datatype != API_V2_INT64 && s->ids->datatype != API_V2_INT32)
        return api_v2_wrong_datatype(s->ids, "INT64 or INT32 [L]", err);
    if (s->ids && s->ids->shape.rank != 1)
        return api_error_set(err, API_ERR_INVALID_SHAPE, in,
                             "input '%s': expected rank 1 [L], got rank %d", in,
                             s->ids->shape.rank);
    return 0;
}

/* Counts the tokens of a text input (read into s->bytes) or takes the ids' count. */
static int scan(seq_input *s, const at_vocab *vocab, api_seq_spec *spec, api_error *err)
{
    if (s->ids) {
        *spec = (api_seq_spec){.form = API_SEQ_IDS, .count = s->ids->elements};
        return 0;
    }
    int rc = api_v2_input_bytes(s->text, &s->bytes, &s->len, err);
    if (rc) return rc;
    const char *nul = memchr(s->bytes, '\0', s->len);
    if (nul)
        return api_error_set(err, API_ERR_INVALID_VALUE, s->text->name,
                             "input '%s': byte %zu is NUL; a text may not hold U+0000",
                             s->text->name, (size_t)(nul - s->bytes));
    char msg[sizeof err->message - 64];
    size_t count = 0;
    if (at_tokenize_vocab(s->bytes, s->len, vocab, NULL, 0, &count, msg, sizeof msg))
        return api_error_set(err, API_ERR_INVALID_VALUE, s->text->name, "input '%s': %s",
                             s->text->name, msg);
    *spec = (api_seq_spec){.form = API_SEQ_TEXT, .count = (int64_t)count, .bytes = s->len};
    return 0;
}

static int fill(const seq_input *s, const at_vocab *vocab, api_seq *seq, api_error *err)
{
    if (s->ids) return api_v2_input_read_int(s->ids, (int64_t *)seq->ids, err);
    char msg[sizeof err->message - 64];
    size_t count = 0;
    memcpy(seq->bytes, s->bytes, s->len);
    if (at_tokenize_vocab(seq->bytes, s->len, vocab, seq->tokens, (size_t)seq->len, &count, msg,
                          sizeof msg) ||
        count != (size_t)seq->len)
        return api_error_set(err, API_ERR_INTERNAL, s->text->name, "%s: tokenizing again failed",
                             s->text->name);
    return 0;
}

/* Whether a sequence's tokens can be sent back: ids of a hashing model cannot be read back. */
static bool has_tokens(const at_model *m, bool ids)
{
    return m->vocab || !ids;
}

/* The parameter "source_id": a stored source instead of a source input (both: 400). */
static int use_stored_source(const api_v2_infer *r, const seq_input *src, const api_model *model,
                             api_source_store *sources, api_model_spec *spec, api_error *err)
{
    const char *id;
    int rc = api_v2_read_source_id(r->params, &id, err);
    if (rc || !id) return rc;
    if (src->text || src->ids)
        return api_error_set(err, API_ERR_INVALID_VALUE, "source_id",
                             "parameters.source_id: send the source as input 'source_text' or "
                             "'source_ids', or name a stored one with source_id, not both");
    const api_source *stored;
    if ((rc = api_encoded_source_acquire(sources, id, model, &stored, err))) return rc;
    spec->stored = stored;
    spec->stored_in = sources;
    spec->has_source = true;
    spec->source =
        (api_seq_spec){.form = stored->encoded->seq.form, .count = stored->encoded->seq.len};
    return 0;
}

int api_v2_token_decode(const api_v2_infer *r, const api_job_wire *w, const api_model *model,
                        const api_limits *limits, api_source_store *sources,
                        api_model_request **out, api_error *err)
{
    *out = NULL;
    const char *name = api_model_name(model);
    const at_model *m = api_model_core(model);
    seq_input seq = {0}, src = {0};
    api_model_spec spec;
    api_model_request *req = NULL;
    memset(&spec, 0, sizeof spec);
    int rc = api_model_hf(model) ? api_error_set(err, API_ERR_INTERNAL, "",
                                                 "model '%s' is a folder model: "
                                                 "transformer_model.c decodes it",
                                                 name)
                                 : 0;
    if (!rc)
        rc = api_v2_infer_check_names(r, name, api_v2_token_inputs, API_V2_TOKEN_NINPUTS,
                                      api_v2_token_outputs, API_V2_TOKEN_NOUTPUTS, err);
    if (!rc) rc = pick(r, IN_TEXT, IN_IDS, true, &seq, err);
    if (!rc) rc = pick(r, IN_SOURCE_TEXT, IN_SOURCE_IDS, false, &src, err);
    spec.has_source = src.text || src.ids;
    if (!rc) rc = use_stored_source(r, &src, model, sources, &spec, err);
    /* A stored source given as ids has no tokens to send back either. */
    bool src_ids = spec.stored ? spec.source.form == API_SEQ_IDS : src.ids != NULL;
    static const struct {
        const char *output;
        int which; /* 0: the sequence's tokens, 1: the source's tokens, 2: the source at all */
    } needs[] = {{"tokens", 0}, {"source_tokens", 1}, {"source_tokens", 2}, {"source_ids", 2}};
    for (size_t i = 0; !rc && i < sizeof needs / sizeof needs[0]; i++) {
        if (!w->has_outputs || !api_v2_wire_wants(w, needs[i].output, false)) continue;
        if (needs[i].which == 2 && !spec.has_source)
            rc = api_error_set(err, API_ERR_INVALID_VALUE, needs[i].output,
                               "output '%s' needs a source: send input 'source_text' or "
                               "'source_ids'",
                               needs[i].output);
        else if (needs[i].which < 2 && !has_tokens(m, needs[i].which ? src_ids : seq.ids != NULL))
            rc = api_error_set(err, API_ERR_INVALID_VALUE, needs[i].output,
                               "output '%s': model '%s' has hashing embeddings, whose ids cannot "
                               "be read back as tokens; send text, or leave '%s' out",
                               needs[i].output, name, needs[i].output);
    }
    if (!rc) rc = api_v2_read_parameters(r->params, &spec.opts, err);
    if (!rc) {
        spec.opts.return_weights = api_v2_wire_wants(w, "weights", true);
        spec.opts.return_context = api_v2_wire_wants(w, "context", true);
        rc = scan(&seq, m->vocab, &spec.seq, err);
    }
    if (!rc && spec.has_source && !spec.stored) rc = scan(&src, m->vocab, &spec.source, err);
    if (!rc) rc = api_model_prepare(model, &spec, limits, &req, err);
    if (!rc) rc = fill(&seq, m->vocab, &req->seq, err);
    if (!rc && spec.has_source && !spec.stored) rc = fill(&src, m->vocab, &req->source, err);
    if (!rc) rc = api_model_request_resolve(req, err);
    free(seq.bytes);
    free(src.bytes);
    if (rc) {
        if (req)
            api_model_request_free(req); /* releases a stored source */
        else if (spec.stored)
            api_source_store_release(spec.stored_in, spec.stored);
        return rc;
    }
    *out = req;
    return 0;
}

/* ---- encoding ---- */

typedef struct token_ctx {
    const at_model *m;
    const api_seq *s;
} token_ctx;

static const char *token_at(const void *ctx, int64_t i, size_t *n)
{
    const token_ctx *c = ctx;
    if (c->s->form != API_SEQ_IDS) {
        *n = c->s->tokens[i].len;
        return c->s->tokens[i].ptr;
    }
    const char *t = at_vocab_token(c->m->vocab, (int64_t)c->s->ids[i], n);
    if (!t) *n = 0;
    return t ? t : "";
}

int api_v2_token_encode(const api_model_request *req, const api_job_wire *w, api_buf *out,
                        size_t *header_len, api_error *err)
{
    if (!req || !req->computed || req->tf)
        return api_error_set(err, API_ERR_INTERNAL, "", "the request has not been computed");
    const at_model *m = api_model_core(req->model);
    const bool cross = req->source.len > 0;
    token_ctx seq = {m, &req->seq}, src = {m, &req->source};
    api_v2_result res[API_V2_TOKEN_NOUTPUTS];
    int n = 0;
    if (req->spec.opts.return_context)
        res[n++] = (api_v2_result){.name = "context",
                                   .datatype = API_V2_FP32,
                                   .shape = req->context_shape,
                                   .f32 = req->out.context};
    if (req->opts.need_weights)
        res[n++] = (api_v2_result){.name = "weights",
                                   .datatype = API_V2_FP32,
                                   .shape = req->weights_shape,
                                   .f32 = req->out.weights};
    const api_seq *seqs[2] = {&req->seq, &req->source};
    const token_ctx *ctxs[2] = {&seq, &src};
    static const char *const names[2][2] = {{"tokens", "ids"}, {"source_tokens", "source_ids"}};
    for (int k = 0; k < (cross ? 2 : 1); k++) {
        api_shape shape = {.rank = 1, .ne = {seqs[k]->len}};
        if (has_tokens(m, seqs[k]->form == API_SEQ_IDS))
            res[n++] = (api_v2_result){.name = names[k][0],
                                       .datatype = API_V2_BYTES,
                                       .shape = shape,
                                       .bytes_at = token_at,
                                       .ctx = ctxs[k]};
        /* Ids are 64-bit; a hashing model's above 2^63 travel as their INT64 bit pattern. */
        res[n++] = (api_v2_result){.name = names[k][1],
                                   .datatype = API_V2_INT64,
                                   .shape = shape,
                                   .i64 = (const int64_t *)seqs[k]->ids};
    }
    return api_v2_write_response(w, res, n, out, header_len, err);
}
