/* Unit tests of api/v2/'s infer request path: framing a body by Inference-Header-Content-Length,
 * the JSON header, every malformed binary layout, the "attention" model's decode, and the
 * response as tritonclient reads it (walking the binary section by binary_data_size). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../api/request.h"
#include "../api/v2/attention_model.h"
#include "../api/v2/infer_request.h"
#include "../api/v2/response.h"
#include "api_support.h"
#include "harness.h"

/* A body of a JSON header and n raw bytes, in an exactly sized heap block (ASan sees any read
 * past it); *len gets its size and hlen the header's length as a string. */
static char *body_of(const char *json, const void *bin, size_t n, size_t *len, char *hlen)
{
    size_t j = strlen(json);
    char *b = malloc(j + n + 1);
    memcpy(b, json, j);
    if (n) memcpy(b + j, bin, n);
    *len = j + n;
    if (hlen) sprintf(hlen, "%zu", j);
    return b;
}

/* Parses body (header length hl, or NULL) and decodes it for the attention model; returns the
 * status. *req (when 0) and *w belong to the caller. */
static int decode(const char *b, size_t len, const char *hl, api_attention_request **req,
                  api_job_wire **w, api_error *e)
{
    api_v2_infer r;
    *req = NULL;
    *w = NULL;
    int rc = api_v2_infer_parse(b, len, hl, 0, &r, e);
    if (rc) return rc;
    rc = api_v2_wire_new(&r, "attention", w, e);
    if (!rc) rc = api_v2_attention_decode(&r, *w, NULL, req, e);
    api_v2_infer_free(&r);
    if (rc) {
        api_v2_wire_free(*w);
        *w = NULL;
    }
    return rc;
}

/* Expects body (JSON plus n bytes, framed when frame) to be refused with `status` and a message
 * containing `msg`. */
static void refused(const char *json, const void *bin, size_t n, bool frame, int status,
                    const char *msg, const char *file, int line)
{
    char hl[32];
    size_t len;
    char *b = body_of(json, bin, n, &len, hl);
    api_attention_request *req;
    api_job_wire *w;
    api_error e;
    int rc = decode(b, len, frame ? hl : NULL, &req, &w, &e);
    free(b);
    api_attention_request_free(req);
    api_v2_wire_free(w);
    if (rc != status)
        harness_fail(file, line, "status %d, expected %d (%s)", rc, status, e.message);
    if (!strstr(e.message, msg))
        harness_fail(file, line, "message \"%s\" lacks \"%s\"", e.message, msg);
}
#define REFUSED(json, bin, n, frame, status, msg)                                                  \
    refused(json, bin, n, frame, status, msg, __FILE__, __LINE__)

static const float one_to_four[] = {1, 2, 3, 4};

/* The request tritonclient.http sent, byte for byte (captured, issue 12). */
static const char captured[] =
    "{\"id\":\"42\",\"inputs\":[{\"name\":\"input0\",\"shape\":[2,2],\"datatype\":\"FP32\","
    "\"parameters\":{\"binary_data_size\":16}}],\"parameters\":{\"binary_data_output\":true}}";

TEST(v2_infer_captured_client_bytes_frame_and_name_the_unknown_input)
{
    ASSERT_EQ(strlen(captured), 150);
    char hl[32];
    size_t len;
    char *b = body_of(captured, one_to_four, 16, &len, hl);
    ASSERT_EQ(len, 166);
    ASSERT_STREQ(hl, "150");
    api_v2_infer r;
    api_error e;
    ASSERT_EQ(api_v2_infer_parse(b, len, "150", 0, &r, &e), 0);
    ASSERT_STREQ(r.id, "42");
    ASSERT(r.binary_output && !r.has_outputs);
    ASSERT_EQ(r.ninputs, 1);
    ASSERT_STREQ(r.inputs[0].name, "input0");
    ASSERT_EQ(r.inputs[0].datatype, API_V2_FP32);
    ASSERT_EQ(r.inputs[0].elements, 4);
    ASSERT_EQ(r.inputs[0].binary_size, 16);
    ASSERT(r.inputs[0].bin == b + 150);
    api_v2_infer_free(&r);

    /* Our model has no input0: a clear 400 naming it and the inputs it has. */
    api_attention_request *req;
    api_job_wire *w;
    ASSERT_EQ(decode(b, len, "150", &req, &w, &e), 400);
    ASSERT_STREQ(e.message, "unknown input 'input0' of model 'attention'; its inputs are query, "
                            "key, value, mask, key_lengths, additive_weight, additive_bias, "
                            "additive_v");
    free(b);
}

/* The response as tritonclient's InferResult reads it: the JSON header of header_len bytes,
 * then each output's bytes found by summing binary_data_size in order. Returns output `name`'s
 * floats (malloc'd, *n of them) and checks its shape. */
static float *client_output(const api_buf *out, size_t header_len, const char *name, int64_t *n)
{
    cJSON *h = cJSON_ParseWithLength(out->data, header_len);
    ASSERT(h);
    size_t at = header_len;
    float *v = NULL;
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(h, "outputs"))
    {
        const cJSON *size =
            cJSON_GetObjectItem(cJSON_GetObjectItem(o, "parameters"), "binary_data_size");
        bool mine = strcmp(cJSON_GetObjectItem(o, "name")->valuestring, name) == 0;
        if (mine) {
            ASSERT_STREQ(cJSON_GetObjectItem(o, "datatype")->valuestring, "FP32");
            int64_t count = 1;
            const cJSON *d;
            cJSON_ArrayForEach(d, cJSON_GetObjectItem(o, "shape")) count *= (int64_t)d->valuedouble;
            *n = count;
            v = malloc((size_t)count * sizeof *v);
            if (size) {
                ASSERT_EQ(size->valuedouble, (double)count * 4);
                ASSERT(at + (size_t)count * 4 <= out->len);
                memcpy(v, out->data + at, (size_t)count * 4);
            } else {
                int64_t i = 0;
                cJSON_ArrayForEach(d, cJSON_GetObjectItem(o, "data")) v[i++] =
                    (float)d->valuedouble;
                ASSERT_EQ(i, count);
            }
        }
        if (size) at += (size_t)size->valuedouble;
    }
    ASSERT_EQ(at, out->len); /* the binary section is exactly the outputs' bytes */
    cJSON_Delete(h);
    ASSERT(v);
    return v;
}

/* /v1's answer for the same query, flattened. */
static void v1_answer(const char *json, const char *field, float *dst, int64_t n)
{
    cJSON *r = api_test_compute(json);
    const cJSON *a = cJSON_GetObjectItem(r, field);
    int64_t i = 0;
    /* Flattens [[..],[..]]. */
    const cJSON *row;
    cJSON_ArrayForEach(row, a)
    {
        const cJSON *x;
        cJSON_ArrayForEach(x, row)
        {
            ASSERT(i < n);
            dst[i++] = (float)x->valuedouble;
        }
    }
    ASSERT_EQ(i, n);
    cJSON_Delete(r);
}

TEST(v2_infer_client_framing_with_our_names_matches_v1)
{
    char json[512];
    snprintf(json, sizeof json, "%s", captured);
    /* The same bytes with our input's name. */
    char *at = strstr(json, "input0");
    memmove(at + 5, at + 6, strlen(at + 6) + 1);
    memcpy(at, "query", 5);
    char hl[32];
    size_t len;
    char *b = body_of(json, one_to_four, 16, &len, hl);
    ASSERT_STREQ(hl, "149");
    api_attention_request *req;
    api_job_wire *w;
    api_error e;
    ASSERT_EQ(decode(b, len, hl, &req, &w, &e), 0);
    free(b); /* the request owns copies: the body may go */
    ASSERT_STREQ(w->id, "42");
    ASSERT_EQ(api_attention_run(req, NULL, 0, &e), 0);
    api_buf out = {0};
    size_t header_len = 0;
    ASSERT_EQ(api_v2_attention_encode(req, w, &out, &header_len, &e), 0);
    ASSERT(header_len > 0 && header_len < out.len);
    cJSON *h = cJSON_ParseWithLength(out.data, header_len);
    ASSERT_STREQ(cJSON_GetObjectItem(h, "id")->valuestring, "42");
    ASSERT_STREQ(cJSON_GetObjectItem(h, "model_name")->valuestring, "attention");
    ASSERT_STREQ(cJSON_GetObjectItem(h, "model_version")->valuestring, "1");
    cJSON_Delete(h);

    float want[4];
    int64_t n;
    float *ctx = client_output(&out, header_len, "context", &n);
    ASSERT_EQ(n, 4);
    v1_answer("{\"query\": [[1, 2], [3, 4]]}", "context", want, 4);
    for (int i = 0; i < 4; i++)
        ASSERT(ctx[i] == want[i]);
    free(ctx);
    float *wts = client_output(&out, header_len, "weights", &n);
    v1_answer("{\"query\": [[1, 2], [3, 4]]}", "weights", want, 4);
    for (int i = 0; i < 4; i++)
        ASSERT(wts[i] == want[i]);
    free(wts);
    api_buf_free(&out);
    api_attention_request_free(req);
    api_v2_wire_free(w);
}

TEST(v2_infer_json_only_form_and_outputs_choose_the_path)
{
    /* tritonclient's JSON-only form: flat data, one output asked for with binary_data false. */
    static const char json[] =
        "{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[1,2,3,"
        "4]},{\"name\":\"key\",\"shape\":[2,2],\"datatype\":\"FP64\",\"data\":[[1,0],[0,1]]}],"
        "\"outputs\":[{\"name\":\"context\",\"parameters\":{\"binary_data\":false}}]}";
    size_t len;
    char *b = body_of(json, NULL, 0, &len, NULL);
    api_attention_request *req;
    api_job_wire *w;
    api_error e;
    ASSERT_EQ(decode(b, len, NULL, &req, &w, &e), 0);
    free(b);
    ASSERT(req->spec.return_context && !req->spec.return_weights); /* memory-efficient path */
    ASSERT_EQ(api_attention_run(req, NULL, 0, &e), 0);
    api_buf out = {0};
    size_t header_len = 99;
    ASSERT_EQ(api_v2_attention_encode(req, w, &out, &header_len, &e), 0);
    ASSERT_EQ(header_len, 0);
    api_buf_append(&out, "", 1);
    cJSON *h = cJSON_Parse(out.data);
    ASSERT(h);
    ASSERT(!cJSON_GetObjectItem(h, "id"));
    const cJSON *outs = cJSON_GetObjectItem(h, "outputs");
    ASSERT_EQ(cJSON_GetArraySize(outs), 1);
    const cJSON *o = cJSON_GetArrayItem(outs, 0);
    ASSERT_STREQ(cJSON_GetObjectItem(o, "name")->valuestring, "context");
    ASSERT(!cJSON_GetObjectItem(o, "parameters"));
    float want[4];
    v1_answer("{\"query\": [[1, 2], [3, 4]], \"key\": [[1, 0], [0, 1]], \"return_weights\": false}",
              "context", want, 4);
    const cJSON *d = cJSON_GetObjectItem(o, "data");
    ASSERT_EQ(cJSON_GetArraySize(d), 4);
    for (int i = 0; i < 4; i++)
        ASSERT((float)cJSON_GetArrayItem(d, i)->valuedouble == want[i]);
    cJSON_Delete(h);
    api_buf_free(&out);
    api_attention_request_free(req);
    api_v2_wire_free(w);
}

TEST(v2_infer_half_precision_mask_key_lengths_and_options)
{
    /* query FP16 [1, 1, 2, 2] = 1, 0, 0, 1; mask BOOL [2, 2] binary; key_lengths INT32 binary;
     * the options as parameters. */
    static const char json[] =
        "{\"inputs\":[{\"name\":\"query\",\"shape\":[1,1,2,2],\"datatype\":\"FP16\","
        "\"parameters\":{\"binary_data_size\":8}},{\"name\":\"mask\",\"shape\":[2,2],"
        "\"datatype\":\"BOOL\",\"parameters\":{\"binary_data_size\":4}},{\"name\":"
        "\"key_lengths\",\"shape\":[1],\"datatype\":\"INT32\",\"parameters\":"
        "{\"binary_data_size\":4}}],\"parameters\":{\"causal\":true,\"scale\":0.5,"
        "\"timeout\":2500000}}";
    const unsigned char bin[] = {0x00, 0x3c, 0, 0, 0, 0, 0x00, 0x3c, 1, 1, 1, 1, 2, 0, 0, 0};
    char hl[32];
    size_t len;
    char *b = body_of(json, bin, sizeof bin, &len, hl);
    api_attention_request *req;
    api_job_wire *w;
    api_error e;
    ASSERT_EQ(decode(b, len, hl, &req, &w, &e), 0);
    free(b);
    ASSERT(req->query[0] == 1.0f && req->query[1] == 0.0f && req->query[3] == 1.0f);
    ASSERT(req->mask[0] == 1 && req->mask[3] == 1);
    ASSERT_EQ(req->key_lengths[0], 2);
    ASSERT(req->spec.causal && req->spec.has_scale && req->spec.scale == 0.5f);
    ASSERT(req->spec.has_timeout && req->spec.timeout == 2.5);
    api_attention_request_free(req);
    api_v2_wire_free(w);
}

static const char q_bin[] = "{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":"
                            "\"FP32\",\"parameters\":{\"binary_data_size\":16}}]}";

TEST(v2_infer_malformed_binary_layouts)
{
    char hl[32];
    size_t len;
    char *b = body_of(q_bin, one_to_four, 16, &len, hl);
    api_v2_infer r;
    api_error e;
    /* The header length: past the body, not a number, zero. */
    ASSERT_EQ(len, 114);
    ASSERT_EQ(api_v2_infer_parse(b, len, "115", 0, &r, &e), 400);
    ASSERT_STREQ(e.message, "Inference-Header-Content-Length: 115 is past the end of the "
                            "114-byte body");
    ASSERT_EQ(api_v2_infer_parse(b, len, "99999999999999999999999", 0, &r, &e), 400);
    ASSERT_CONTAINS(e.message, "is past the end of the 114-byte body");
    ASSERT_EQ(api_v2_infer_parse(b, len, "15O", 0, &r, &e), 400);
    ASSERT_CONTAINS(e.message, "expected the JSON header's length in bytes, got \"15O\"");
    ASSERT_EQ(api_v2_infer_parse(b, len, "-1", 0, &r, &e), 400);
    ASSERT_EQ(api_v2_infer_parse(b, len, "0", 0, &r, &e), 400);
    /* A header length inside the JSON: the header is cut, malformed. */
    ASSERT_EQ(api_v2_infer_parse(b, len, "90", 0, &r, &e), 400);
    ASSERT_CONTAINS(e.message, "malformed JSON");
    /* One past the JSON: binary bytes are taken for JSON. */
    ASSERT_EQ(api_v2_infer_parse(b, len, "100", 0, &r, &e), 400);
    ASSERT_CONTAINS(e.message, "unexpected data after the JSON value near byte 98");
    free(b);

    /* Missing bytes, extra bytes, a size that disagrees with shape x datatype. */
    REFUSED(q_bin, one_to_four, 12, true, 400,
            "input 'query': binary_data_size 16, but only 12 bytes of binary data are left");
    const float five[] = {1, 2, 3, 4, 5};
    REFUSED(q_bin, five, 20, true, 400,
            "the body has 20 bytes after its JSON header, but the inputs' binary_data_size add "
            "up to 16: 4 bytes are extra");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\","
            "\"parameters\":{\"binary_data_size\":12}}]}",
            one_to_four, 12, true, 400,
            "input 'query': binary_data_size 12 does not match shape [2, 2] of FP32: expected 16 "
            "bytes");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP16\","
            "\"parameters\":{\"binary_data_size\":16}}]}",
            one_to_four, 16, true, 400, "of FP16: expected 8 bytes");
    /* Binary data announced without the header that frames it. */
    REFUSED(q_bin, one_to_four, 16, false, 400,
            "...; binary data after the JSON needs an "
            "Inference-Header-Content-Length header giving the JSON's length");
    REFUSED(q_bin, NULL, 0, false, 400,
            "input 'query' has binary_data_size 16, but the request has no "
            "Inference-Header-Content-Length header");
    /* Binary bytes when no input says it has any. */
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":"
            "[1,2]}]}",
            one_to_four, 8, true, 400, "8 bytes are extra");
    /* BYTES lengths running off the end (inside a correctly sized section). */
    const unsigned char bytes[] = {9, 0, 0, 0, 'a', 'b'};
    REFUSED("{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
            "\"parameters\":{\"binary_data_size\":6}}]}",
            bytes, 6, true, 400, "input 'text': element 0 says 9 bytes, only 2 are left");
    /* Values of the binary data itself. */
    const float nan4[] = {1, 2, NAN, 4};
    REFUSED(q_bin, nan4, 16, true, 400, "input 'query': element 2 is NaN");
}

TEST(v2_infer_malformed_headers)
{
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP8\",\"data\":"
            "[1,2,3,4]}]}",
            NULL, 0, false, 400, "input 'query': unknown datatype 'FP8'");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":"
            "[1,2,3]}]}",
            NULL, 0, false, 400,
            "input 'query': data is an array [3], but shape [2, 2] needs 4 values");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":"
            "[[1,2,3],[4,5,6]]}]}",
            NULL, 0, false, 400, "data is an array [2, 3], but shape [2, 2] needs 4 values");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":"
            "[[1,2],[3]]}]}",
            NULL, 0, false, 400, "query[1]: expected 2 elements like query[0], got 1");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":"
            "[1,2,3,1e39]}]}",
            NULL, 0, false, 400, "1e39 is not a finite float32");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,0],\"datatype\":\"FP32\",\"data\":"
            "[]}]}",
            NULL, 0, false, 400, "input 'query': shape: expected sizes that are integers >= 1");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"INT32\",\"data\":"
            "[1,2,3,4]}]}",
            NULL, 0, false, 400, "input 'query': datatype INT32; expected FP32 (or FP16");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\"}]}", NULL, 0,
            false, 400, "input 'query' has neither data nor parameters.binary_data_size");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":"
            "[1],\"parameters\":{\"binary_data_size\":4}}]}",
            one_to_four, 4, true, 400, "input 'query' has both data and binary_data_size");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":"
            "[1]},{\"name\":\"query\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[1]}]}",
            NULL, 0, false, 400, "input 'query' is sent twice");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":"
            "[1],\"shared_memory_region\":\"r\"}]}",
            NULL, 0, false, 400, "inputs[0]: unknown member 'shared_memory_region'");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":"
            "[1]}],\"parameters\":{\"sequence_id\":3}}",
            NULL, 0, false, 400, "parameters: unknown parameter 'sequence_id'");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":"
            "[1]}],\"outputs\":[{\"name\":\"output0\"}]}",
            NULL, 0, false, 400,
            "unknown output 'output0' of model 'attention'; its outputs are context, weights");
    REFUSED("{\"inputs\":[{\"name\":\"key\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":"
            "[1]}]}",
            NULL, 0, false, 400, "missing input 'query'");
    REFUSED("{\"inputs\":[]}", NULL, 0, false, 400, "missing input 'query'");
    REFUSED("{\"id\":42,\"inputs\":[]}", NULL, 0, false, 400,
            "id: expected a string, got a number");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":"
            "[1]}],\"parameters\":{\"timeout\":0}}",
            NULL, 0, false, 400, "parameters.timeout: expected microseconds");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":"
            "[1]}],\"parameters\":{\"selection\":\"best\"}}",
            NULL, 0, false, 400, "parameters.selection: unknown selection 'best'");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":"
            "[1,2,3,4]},{\"name\":\"key_lengths\",\"shape\":[1],\"datatype\":\"INT64\","
            "\"data\":[3]}]}",
            NULL, 0, false, 400, "input 'key_lengths': element 0 is 3; expected a key count 0..2");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":"
            "[1,2,3,4]},{\"name\":\"mask\",\"shape\":[2,2],\"datatype\":\"BOOL\","
            "\"data\":[true,false,1,true]}]}",
            NULL, 0, false, 400, "mask[2]: expected");
    REFUSED("{\"inputs\":[{\"name\":\"query\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":"
            "[1,2,3,4]}],\"extra\":1}",
            NULL, 0, false, 400, "the request: unknown member 'extra'");
    REFUSED("[1]", NULL, 0, false, 400, "the body must be a JSON object");
    REFUSED("", NULL, 0, false, 400, "empty body");
    /* More inputs than any model has: refused before they are built. */
    char many[4096] = "{\"inputs\":[";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many),
                 "%s{\"name\":\"x%d\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}",
                 i ? "," : "", i);
    strcat(many, "]}");
    REFUSED(many, NULL, 0, false, 413, "inputs: more than the 16 items");
}
