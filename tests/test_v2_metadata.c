/* Unit tests of api/v2/metadata.c and the JSON string writer of api/v2/response.c. */
#include <string.h>

#include <cjson/cJSON.h>

#include "../api/model_registry.h"
#include "../api/v2/metadata.h"
#include "../api/v2/response.h"
#include "harness.h"

static cJSON *parsed(api_buf *b)
{
    cJSON *j = cJSON_ParseWithLength(b->data, b->len);
    ASSERT(j);
    api_buf_free(b);
    return j;
}

TEST(v2_metadata_server_and_models)
{
    api_buf b = {0};
    api_v2_server_metadata("1.2.3", &b);
    cJSON *j = parsed(&b);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "name")->valuestring, "attnd");
    ASSERT_STREQ(cJSON_GetObjectItem(j, "version")->valuestring, "1.2.3");
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "extensions"), 0)->valuestring,
                 "binary_tensor_data");
    cJSON_Delete(j);

    api_v2_model_metadata(NULL, &b);
    j = parsed(&b);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "name")->valuestring, "attention");
    ASSERT_STREQ(cJSON_GetObjectItem(j, "platform")->valuestring, "attnd");
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "versions"), 0)->valuestring, "1");
    const cJSON *in = cJSON_GetObjectItem(j, "inputs");
    ASSERT_EQ(cJSON_GetArraySize(in), 8);
    const cJSON *mask = cJSON_GetArrayItem(in, 3);
    ASSERT_STREQ(cJSON_GetObjectItem(mask, "name")->valuestring, "mask");
    ASSERT_STREQ(cJSON_GetObjectItem(mask, "datatype")->valuestring, "BOOL");
    ASSERT_EQ(cJSON_GetArrayItem(cJSON_GetObjectItem(mask, "shape"), 0)->valuedouble, -1);
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "outputs")), 2);
    ASSERT(cJSON_IsString(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "parameters"), "selection")));
    cJSON_Delete(j);

    api_model_registry *reg = api_model_registry_new();
    api_v2_model_metadata(api_model_registry_find(reg, "default"), &b);
    j = parsed(&b);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "name")->valuestring, "default");
    const cJSON *ctx = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "outputs"), 0);
    ASSERT_STREQ(cJSON_GetObjectItem(ctx, "name")->valuestring, "context");
    api_model_info info;
    api_model_get_info(api_model_registry_find(reg, "default"), &info);
    ASSERT_EQ(cJSON_GetArrayItem(cJSON_GetObjectItem(ctx, "shape"), 1)->valuedouble,
              (double)info.embed_dim);
    ASSERT_STREQ(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "inputs"), 0), "datatype")
            ->valuestring,
        "BYTES");
    cJSON_Delete(j);
    api_model_registry_free(reg);
}

TEST(v2_metadata_error_body_is_valid_json_for_any_bytes)
{
    api_error e;
    api_error_set(&e, API_ERR_INVALID_VALUE, "", "unknown input '%s'", "a\"b\\c\n\xff\xc3\xa9");
    api_buf b = {0};
    api_v2_error_body(&e, &b);
    api_buf_append(&b, "", 1);
    ASSERT_STREQ(b.data, "{\"error\":\"unknown input 'a\\\"b\\\\c\\u000a\\ufffd\xc3\xa9'\"}");
    cJSON *j = cJSON_Parse(b.data);
    ASSERT(cJSON_IsString(cJSON_GetObjectItem(j, "error")));
    cJSON_Delete(j);
    api_buf_free(&b);
}
