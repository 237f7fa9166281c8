/* Unit tests of api/v2/token_model.c: token models as Open Inference Protocol models, text in
 * as BYTES (binary and JSON), ids as INT64, tokens and ids back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../api/model_registry.h"
#include "../api/model_request.h"
#include "../api/v2/infer_request.h"
#include "../api/v2/response.h"
#include "../api/v2/token_model.h"
#include "harness.h"

/* Decodes json + bin[0..n) (framed when n > 0) for the model `name` of a registry with the
 * built-in models; on success runs and encodes it, *out the response. */
static int run(const char *name, const char *json, const void *bin, size_t n, api_buf *out,
               size_t *header_len, api_error *e)
{
    api_model_registry *reg = api_model_registry_new();
    char msg[256];
    ASSERT_EQ(api_model_registry_add_builtins(reg, msg, sizeof msg), 0);
    const api_model *model = api_model_registry_find(reg, name);
    ASSERT(model);
    size_t j = strlen(json);
    char *b = malloc(j + n), hl[32];
    memcpy(b, json, j);
    if (n) memcpy(b + j, bin, n);
    snprintf(hl, sizeof hl, "%zu", j);
    api_v2_infer r;
    api_job_wire *w = NULL;
    api_model_request *req = NULL;
    int rc = api_v2_infer_parse(b, j + n, n ? hl : NULL, 0, &r, e);
    if (!rc) rc = api_v2_wire_new(&r, name, &w, e);
    if (!rc) rc = api_v2_token_decode(&r, w, model, NULL, NULL, &req, e);
    api_v2_infer_free(&r);
    free(b);
    if (!rc) rc = api_model_attention_run(req, NULL, 0, e);
    if (!rc) rc = api_v2_token_encode(req, w, out, header_len, e);
    api_model_request_free(req);
    api_v2_wire_free(w);
    api_model_registry_free(reg);
    return rc;
}

static const cJSON *output(const cJSON *h, const char *name)
{
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(
                              h, "outputs")) if (strcmp(cJSON_GetObjectItem(o, "name")->valuestring,
                                                        name) == 0) return o;
    return NULL;
}

TEST(v2_token_model_text_json_gives_tokens_ids_context_weights)
{
    api_buf out = {0};
    size_t hl;
    api_error e;
    ASSERT_EQ(run("zh-en",
                  "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
                  "\"data\":[\"welcome to beijing\"]}]}",
                  NULL, 0, &out, &hl, &e),
              0);
    ASSERT_EQ(hl, 0);
    api_buf_append(&out, "", 1);
    cJSON *h = cJSON_Parse(out.data);
    ASSERT(h);
    ASSERT_STREQ(cJSON_GetObjectItem(h, "model_name")->valuestring, "zh-en");
    const cJSON *tokens = cJSON_GetObjectItem(output(h, "tokens"), "data");
    ASSERT_EQ(cJSON_GetArraySize(tokens), 3);
    ASSERT_STREQ(cJSON_GetArrayItem(tokens, 2)->valuestring, "beijing");
    ASSERT_STREQ(cJSON_GetObjectItem(output(h, "tokens"), "datatype")->valuestring, "BYTES");
    ASSERT_STREQ(cJSON_GetObjectItem(output(h, "ids"), "datatype")->valuestring, "INT64");
    const cJSON *shape = cJSON_GetObjectItem(output(h, "context"), "shape");
    ASSERT_EQ(cJSON_GetArrayItem(shape, 0)->valuedouble, 3);
    ASSERT(output(h, "weights"));
    ASSERT(!output(h, "source_ids"));
    cJSON_Delete(h);
    api_buf_free(&out);
}

TEST(v2_token_model_binary_text_and_ids_agree)
{
    /* The same sentence as binary BYTES, then as the ids it gave, both binary. */
    const char text[] = "welcome to beijing";
    unsigned char bin[64] = {sizeof text - 1, 0, 0, 0};
    memcpy(bin + 4, text, sizeof text - 1);
    char json[512];
    snprintf(json, sizeof json,
             "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\",\"parameters\":"
             "{\"binary_data_size\":%zu}}],\"outputs\":[{\"name\":\"ids\"},{\"name\":\"context\"}"
             "],\"parameters\":{\"binary_data_output\":true}}",
             sizeof text + 3);
    api_buf a = {0}, b = {0};
    size_t hla, hlb;
    api_error e;
    ASSERT_EQ(run("zh-en", json, bin, sizeof text + 3, &a, &hla, &e), 0);
    ASSERT(hla > 0);
    cJSON *h = cJSON_ParseWithLength(a.data, hla);
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(h, "outputs")), 2);
    ASSERT_STREQ(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(h, "outputs"), 0), "name")
            ->valuestring,
        "ids"); /* the order the request listed */
    cJSON_Delete(h);
    const char *ids = a.data + hla; /* 3 INT64 */
    snprintf(json, sizeof json,
             "{\"inputs\":[{\"name\":\"ids\",\"shape\":[3],\"datatype\":\"INT64\",\"parameters\":"
             "{\"binary_data_size\":24}}],\"outputs\":[{\"name\":\"ids\"},{\"name\":\"context\"}"
             "],\"parameters\":{\"binary_data_output\":true}}");
    ASSERT_EQ(run("zh-en", json, ids, 24, &b, &hlb, &e), 0);
    ASSERT_EQ(a.len - hla, b.len - hlb);
    ASSERT(memcmp(a.data + hla, b.data + hlb, a.len - hla) == 0); /* same ids, same context */
    api_buf_free(&a);
    api_buf_free(&b);
}

TEST(v2_token_model_errors)
{
    api_buf out = {0};
    size_t hl;
    api_error e;
    ASSERT_EQ(run("default",
                  "{\"inputs\":[{\"name\":\"input0\",\"shape\":[1],\"datatype\":"
                  "\"BYTES\",\"data\":[\"a\"]}]}",
                  NULL, 0, &out, &hl, &e),
              400);
    ASSERT_CONTAINS(e.message, "unknown input 'input0' of model 'default'; its inputs are text, "
                               "ids, source_text, source_ids");
    ASSERT_EQ(run("default",
                  "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":"
                  "\"BYTES\",\"data\":[\"a\",\"b\"]}]}",
                  NULL, 0, &out, &hl, &e),
              400);
    ASSERT_CONTAINS(e.message, "expected one BYTES element, shape [1]");
    ASSERT_EQ(run("default",
                  "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":"
                  "\"FP32\",\"data\":[1]}]}",
                  NULL, 0, &out, &hl, &e),
              400);
    ASSERT_CONTAINS(e.message, "input 'text': datatype FP32; expected BYTES");
    ASSERT_EQ(run("default",
                  "{\"inputs\":[{\"name\":\"ids\",\"shape\":[1],\"datatype\":"
                  "\"INT64\",\"data\":[1]}],\"outputs\":[{\"name\":\"tokens\"}]}",
                  NULL, 0, &out, &hl, &e),
              400);
    ASSERT_CONTAINS(e.message, "has hashing embeddings, whose ids cannot be read back");
    ASSERT_EQ(run("zh-en",
                  "{\"inputs\":[{\"name\":\"ids\",\"shape\":[1],\"datatype\":"
                  "\"INT64\",\"data\":[99999]}]}",
                  NULL, 0, &out, &hl, &e),
              400);
    ASSERT_CONTAINS(e.message, "99999 is not a token id");
    ASSERT_EQ(run("zh-en",
                  "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":"
                  "\"BYTES\",\"data\":[\"a\"]}],\"outputs\":[{\"name\":\"source_ids\"}]}",
                  NULL, 0, &out, &hl, &e),
              400);
    ASSERT_CONTAINS(e.message, "output 'source_ids' needs a source");
    const unsigned char nul[] = {3, 0, 0, 0, 'a', 0, 'b'};
    ASSERT_EQ(run("zh-en",
                  "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":"
                  "\"BYTES\",\"parameters\":{\"binary_data_size\":7}}]}",
                  nul, sizeof nul, &out, &hl, &e),
              400);
    ASSERT_CONTAINS(e.message, "input 'text': byte 1 is NUL");
    ASSERT_EQ(run("zh-en",
                  "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":"
                  "\"BYTES\",\"data\":[\"a\"]},{\"name\":\"ids\",\"shape\":[1],"
                  "\"datatype\":\"INT64\",\"data\":[1]}]}",
                  NULL, 0, &out, &hl, &e),
              400);
    ASSERT_CONTAINS(e.message, "send the sequence as input 'text' or 'ids', not both");
    api_buf_free(&out);
}

TEST(v2_token_model_cross_attention_source)
{
    api_buf out = {0};
    size_t hl;
    api_error e;
    ASSERT_EQ(run("zh-en",
                  "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\","
                  "\"data\":[\"welcome to beijing\"]},{\"name\":\"source_text\","
                  "\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"欢迎 来 北京\"]}],"
                  "\"parameters\":{\"average_heads\":true}}",
                  NULL, 0, &out, &hl, &e),
              0);
    api_buf_append(&out, "", 1);
    cJSON *h = cJSON_Parse(out.data);
    const cJSON *shape = cJSON_GetObjectItem(output(h, "weights"), "shape");
    ASSERT_EQ(cJSON_GetArraySize(shape), 2); /* [L, S], heads averaged */
    ASSERT_EQ(cJSON_GetArrayItem(shape, 0)->valuedouble, 3);
    const cJSON *src = cJSON_GetObjectItem(output(h, "source_tokens"), "data");
    ASSERT(cJSON_GetArraySize(src) >= 3);
    ASSERT(output(h, "source_ids"));
    cJSON_Delete(h);
    api_buf_free(&out);
}
