/* Unit tests of the api layer without HTTP: the JSON codec end to end (decode, run on the
 * calling thread, encode, parse back) for the original fields, every error a client can cause
 * with them, content-type matching and the response buffer. The newer options (additive score,
 * selection, key_lengths) are tested in test_api_options.c, float formatting in
 * test_float_format.c. */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../api/api.h"
#include "../api/request.h"
#include "api_support.h"
#include "harness.h"

/* ---- valid requests ---- */

TEST(api_rank2_self_attention_defaults)
{
    /* key = query and value = key: w0 = softmax([1, 0] / sqrt(2)). */
    cJSON *r = api_test_compute("{\"query\": [[1, 0], [0, 1]]}");
    const cJSON *ctx = api_test_get(r, "context"), *w = api_test_get(r, "weights"),
                *meta = api_test_get(r, "meta");
    CHECK_NESTING(ctx, 2, 2);
    CHECK_NESTING(w, 2, 2);
    double e = exp(1 / sqrt(2.0)), w00 = e / (e + 1), w01 = 1 / (e + 1);
    ASSERT_NEAR(AT(w, 0, 0), w00, 1e-6);
    ASSERT_NEAR(AT(w, 0, 1), w01, 1e-6);
    ASSERT_NEAR(AT(w, 1, 1), w00, 1e-6);
    ASSERT_NEAR(AT(ctx, 0, 0), w00, 1e-6);
    ASSERT_NEAR(AT(ctx, 0, 1), w01, 1e-6);
    CHECK_SHAPE(api_test_get(meta, "query_shape"), 2, 2);
    CHECK_SHAPE(api_test_get(meta, "key_shape"), 2, 2);
    CHECK_SHAPE(api_test_get(meta, "value_shape"), 2, 2);
    CHECK_SHAPE(api_test_get(meta, "context_shape"), 2, 2);
    CHECK_SHAPE(api_test_get(meta, "weights_shape"), 2, 2);
    ASSERT_STREQ(api_test_get(meta, "score")->valuestring, "scaled_dot");
    ASSERT_EQ((float)api_test_get(meta, "scale")->valuedouble == 1 / sqrtf(2.0f), 1);
    ASSERT_STREQ(api_test_get(meta, "selection")->valuestring, "soft");
    ASSERT(cJSON_GetObjectItemCaseSensitive(meta, "k") == NULL);
    ASSERT(cJSON_GetObjectItemCaseSensitive(meta, "seed") == NULL);
    ASSERT(cJSON_IsFalse(api_test_get(meta, "causal")));
    ASSERT(cJSON_IsNumber(api_test_get(meta, "compute_ms")));
    ASSERT(api_test_get(meta, "compute_ms")->valuedouble >= 0);
    cJSON_Delete(r);
}

TEST(api_rank3_dot_with_key_value)
{
    const char *body = "{\"query\": [[[1, 0]], [[0, 2]]],"
                       " \"key\": [[[1, 0], [0, 1]], [[1, 0], [0, 1]]],"
                       " \"value\": [[[10], [20]], [[10], [20]]], \"score\": \"dot\"}";
    cJSON *r = api_test_compute(body);
    const cJSON *ctx = api_test_get(r, "context"), *w = api_test_get(r, "weights"),
                *meta = api_test_get(r, "meta");
    CHECK_NESTING(ctx, 2, 1, 1);
    CHECK_NESTING(w, 2, 1, 2);
    double e = exp(1.0), e2 = exp(2.0);
    ASSERT_NEAR(AT(w, 0, 0, 0), e / (e + 1), 1e-6);
    ASSERT_NEAR(AT(w, 1, 0, 1), e2 / (e2 + 1), 1e-6);
    ASSERT_NEAR(AT(ctx, 0, 0, 0), 10 * e / (e + 1) + 20 / (e + 1), 1e-4);
    ASSERT_NEAR(AT(ctx, 1, 0, 0), 10 / (e2 + 1) + 20 * e2 / (e2 + 1), 1e-4);
    CHECK_SHAPE(api_test_get(meta, "key_shape"), 2, 2, 2);
    CHECK_SHAPE(api_test_get(meta, "value_shape"), 2, 2, 1);
    CHECK_SHAPE(api_test_get(meta, "context_shape"), 2, 1, 1);
    CHECK_SHAPE(api_test_get(meta, "weights_shape"), 2, 1, 2);
    ASSERT_STREQ(api_test_get(meta, "score")->valuestring, "dot");
    ASSERT_EQ(api_test_get(meta, "scale")->valuedouble, 1);
    cJSON_Delete(r);
}

TEST(api_rank3_average_heads_drops_h)
{
    const char *body = "{\"query\": [[[1, 0]], [[0, 2]]],"
                       " \"key\": [[[1, 0], [0, 1]], [[1, 0], [0, 1]]],"
                       " \"value\": [[[10], [20]], [[10], [20]]], \"score\": \"dot\","
                       " \"average_heads\": true}";
    cJSON *r = api_test_compute(body);
    const cJSON *w = api_test_get(r, "weights");
    CHECK_NESTING(w, 1, 2);
    CHECK_SHAPE(api_test_get(api_test_get(r, "meta"), "weights_shape"), 1, 2);
    double e = exp(1.0), e2 = exp(2.0);
    ASSERT_NEAR(AT(w, 0, 0), (e / (e + 1) + 1 / (e2 + 1)) / 2, 1e-6);
    ASSERT_NEAR(AT(w, 0, 1), (1 / (e + 1) + e2 / (e2 + 1)) / 2, 1e-6);
    cJSON_Delete(r);
}

TEST(api_rank4_batches)
{
    /* B = 2, H = 1, Lq = Lk = 2, d = dv = 1; scaled_dot with d = 1 has scale 1. */
    const char *body = "{\"query\": [[[[1], [2]]], [[[0], [0]]]],"
                       " \"value\": [[[[1], [3]]], [[[5], [7]]]]}";
    cJSON *r = api_test_compute(body);
    const cJSON *ctx = api_test_get(r, "context"), *w = api_test_get(r, "weights"),
                *meta = api_test_get(r, "meta");
    CHECK_NESTING(ctx, 2, 1, 2, 1);
    CHECK_NESTING(w, 2, 1, 2, 2);
    CHECK_SHAPE(api_test_get(meta, "query_shape"), 2, 1, 2, 1);
    CHECK_SHAPE(api_test_get(meta, "key_shape"), 2, 1, 2, 1);
    CHECK_SHAPE(api_test_get(meta, "value_shape"), 2, 1, 2, 1);
    CHECK_SHAPE(api_test_get(meta, "context_shape"), 2, 1, 2, 1);
    CHECK_SHAPE(api_test_get(meta, "weights_shape"), 2, 1, 2, 2);
    double e = exp(1.0), e2 = exp(2.0);
    ASSERT_NEAR(AT(w, 0, 0, 0, 1), e / (1 + e), 1e-6);
    ASSERT_NEAR(AT(ctx, 0, 0, 0, 0), 1 / (1 + e) + 3 * e / (1 + e), 1e-5);
    ASSERT_NEAR(AT(ctx, 0, 0, 1, 0), 1 / (1 + e2) + 3 * e2 / (1 + e2), 1e-5);
    ASSERT_NEAR(AT(w, 1, 0, 1, 0), 0.5, 1e-7);
    ASSERT_NEAR(AT(ctx, 1, 0, 0, 0), 6, 1e-5);
    cJSON_Delete(r);

    r = api_test_compute("{\"query\": [[[[1], [2]]], [[[0], [0]]]], \"average_heads\": true}");
    CHECK_NESTING(api_test_get(r, "weights"), 2, 2, 2);
    CHECK_SHAPE(api_test_get(api_test_get(r, "meta"), "weights_shape"), 2, 2, 2);
    cJSON_Delete(r);
}

TEST(api_rank2_average_heads_keeps_shape)
{
    cJSON *r = api_test_compute("{\"query\": [[1, 0], [0, 1], [1, 1]], \"average_heads\": true}");
    CHECK_NESTING(api_test_get(r, "weights"), 3, 3);
    CHECK_SHAPE(api_test_get(api_test_get(r, "meta"), "weights_shape"), 3, 3);
    cJSON_Delete(r);
}

TEST(api_values_round_trip_exactly)
{
    /* One key: weight 1, so the context is the value itself, bit for bit. */
    cJSON *r = api_test_compute("{\"query\": [[1]], \"value\": [[0.1, -0, 3.4028235e38, 1e-45]]}");
    const cJSON *ctx = api_test_get(r, "context");
    ASSERT((float)AT(ctx, 0, 0) == 0.1f);
    ASSERT((float)AT(ctx, 0, 2) == FLT_MAX);
    ASSERT((float)AT(ctx, 0, 3) == 0x1p-149f);
    ASSERT_EQ(AT(api_test_get(r, "weights"), 0, 0), 1);
    cJSON_Delete(r);
}

TEST(api_causal_and_scale)
{
    cJSON *r =
        api_test_compute("{\"query\": [[1, 0], [0, 1], [1, 1]], \"causal\": true, \"scale\": 2}");
    const cJSON *w = api_test_get(r, "weights"), *meta = api_test_get(r, "meta");
    ASSERT_EQ(AT(w, 0, 0), 1);
    ASSERT_EQ(AT(w, 0, 1), 0);
    ASSERT_EQ(AT(w, 0, 2), 0);
    ASSERT_EQ(AT(w, 1, 2), 0);
    ASSERT_NEAR(AT(w, 1, 1), exp(2.0) / (1 + exp(2.0)), 1e-6);
    ASSERT(cJSON_IsTrue(api_test_get(meta, "causal")));
    ASSERT_EQ(api_test_get(meta, "scale")->valuedouble, 2);
    cJSON_Delete(r);
}

TEST(api_mask_broadcasts)
{
    /* [Lq, Lk] against [H, Lq, Lk]. */
    cJSON *r = api_test_compute("{\"query\": [[[1, 0], [0, 1]], [[1, 0], [0, 1]]],"
                                " \"mask\": [[true, false], [true, true]]}");
    const cJSON *w = api_test_get(r, "weights");
    ASSERT_EQ(AT(w, 0, 0, 0), 1);
    ASSERT_EQ(AT(w, 1, 0, 1), 0);
    ASSERT(AT(w, 1, 1, 0) > 0.1);
    cJSON_Delete(r);

    /* [Lk] against [Lq, Lk]. */
    r = api_test_compute("{\"query\": [[1, 0], [0, 1]], \"mask\": [false, true]}");
    w = api_test_get(r, "weights");
    ASSERT_EQ(AT(w, 0, 0), 0);
    ASSERT_EQ(AT(w, 0, 1), 1);
    ASSERT_EQ(AT(w, 1, 1), 1);
    cJSON_Delete(r);

    /* [H, 1, Lk]: a different mask per head, shared by its query rows. */
    r = api_test_compute("{\"query\": [[[1, 0], [0, 1]], [[1, 0], [0, 1]]],"
                         " \"mask\": [[[true, false]], [[false, true]]]}");
    w = api_test_get(r, "weights");
    ASSERT_EQ(AT(w, 0, 1, 0), 1);
    ASSERT_EQ(AT(w, 1, 0, 1), 1);
    cJSON_Delete(r);

    /* A row with every key masked gets zero weights, not NaN. */
    r = api_test_compute("{\"query\": [[1, 0], [0, 1]], \"mask\": [[false, false], [true, true]]}");
    w = api_test_get(r, "weights");
    ASSERT_EQ(AT(w, 0, 0), 0);
    ASSERT_EQ(AT(w, 0, 1), 0);
    ASSERT_EQ(AT(api_test_get(r, "context"), 0, 0), 0);
    cJSON_Delete(r);
}

TEST(api_mask_view_strides)
{
    api_attention_request *req;
    api_error err;
    /* B = 2, H = 2, Lq = 3, Lk = 3, d = 1; mask [Lq, Lk]. */
    const char *q = "[[[[1],[2],[3]],[[1],[2],[3]]],[[[1],[2],[3]],[[1],[2],[3]]]]";
    char body[512];
    snprintf(body, sizeof body,
             "{\"query\": %s, \"mask\": [[true,true,true],[true,false,true],"
             "[true,true,false]]}",
             q);
    ASSERT_EQ(api_test_decode(body, NULL, &req, &err), 0);
    const at_tensor *m = req->desc.mask;
    ASSERT(m != NULL);
    ASSERT_EQ(m->rank, 4);
    ASSERT_EQ(m->ne[0], 2);
    ASSERT_EQ(m->ne[1], 2);
    ASSERT_EQ(m->ne[2], 3);
    ASSERT_EQ(m->ne[3], 3);
    ASSERT_EQ(m->nb[0], 0);
    ASSERT_EQ(m->nb[1], 0);
    ASSERT_EQ(m->nb[2], 3);
    ASSERT_EQ(m->nb[3], 1);
    ASSERT_EQ(req->mask[4], 0);
    ASSERT_EQ(req->mask[5], 1);
    ASSERT(req->key == req->query);
    ASSERT(req->value == req->query);
    ASSERT(req->desc.key.data == req->desc.query.data);
    api_attention_request_free(req);

    /* [B, 1, 1, Lk]: per-batch key padding. */
    snprintf(body, sizeof body,
             "{\"query\": %s, \"mask\": [[[[true,true,false]]],"
             "[[[true,false,false]]]]}",
             q);
    ASSERT_EQ(api_test_decode(body, NULL, &req, &err), 0);
    m = req->desc.mask;
    ASSERT_EQ(m->nb[0], 3);
    ASSERT_EQ(m->nb[1], 0);
    ASSERT_EQ(m->nb[2], 0);
    ASSERT_EQ(m->nb[3], 1);
    ASSERT_EQ(api_attention_run(req, NULL, 0, &err), 0);
    ASSERT_EQ(req->out.weights[((1 * 2 + 1) * 3 + 2) * 3 + 0], 1); /* b1 keeps key 0 only */
    ASSERT_EQ(req->out.weights[((0 * 2 + 0) * 3 + 1) * 3 + 2], 0);
    api_attention_request_free(req);
}

TEST(api_return_weights_false)
{
    cJSON *r = api_test_compute("{\"query\": [[1, 0], [0, 1]], \"return_weights\": false}");
    ASSERT(cJSON_GetObjectItemCaseSensitive(r, "weights") == NULL);
    ASSERT(cJSON_GetObjectItemCaseSensitive(api_test_get(r, "meta"), "weights_shape") == NULL);
    CHECK_NESTING(api_test_get(r, "context"), 2, 2);
    cJSON_Delete(r);
}

TEST(api_response_key_order)
{
    api_attention_request *req;
    api_error err;
    ASSERT_EQ(api_test_decode("{\"query\": [[1, 2]]}", NULL, &req, &err), 0);
    ASSERT_EQ(api_attention_run(req, NULL, 0, &err), 0);
    api_buf out = {0};
    ASSERT_EQ(api_v1_encode_attention(req, &out, &err), 0);
    api_attention_request_free(req);
    const char *t = out.data;
    const char *head = "{\"context\":[[1,2]],\"weights\":[[1]],\"meta\":{";
    if (strncmp(t, head, strlen(head)) != 0) harness_fail(__FILE__, __LINE__, "got %s", t);
    const char *keys[] = {"\"query_shape\"",   "\"key_shape\"",     "\"value_shape\"",
                          "\"context_shape\"", "\"weights_shape\"", "\"score\"",
                          "\"scale\"",         "\"selection\"",     "\"causal\"",
                          "\"compute_ms\""};
    const char *prev = t;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *p = strstr(t, keys[i]);
        ASSERT(p != NULL && p > prev);
        prev = p;
    }
    api_buf_free(&out);
}

TEST(api_encode_before_run_is_internal)
{
    api_attention_request *req;
    api_error err;
    ASSERT_EQ(api_test_decode("{\"query\": [[1]]}", NULL, &req, &err), 0);
    api_buf out = {0};
    ASSERT_EQ(api_v1_encode_attention(req, &out, &err), 500);
    ASSERT_EQ(err.kind, API_ERR_INTERNAL);
    api_attention_request_free(req);
    api_buf_free(&out);
    api_attention_request_free(NULL);
}

TEST(api_whitespace_and_bom_accepted)
{
    api_attention_request *req;
    api_error err;
    ASSERT_EQ(api_test_decode("\xef\xbb\xbf \n {\"query\": [[1]]} \r\n\t", NULL, &req, &err), 0);
    api_attention_request_free(req);
}

/* ---- errors ---- */

TEST(api_error_malformed_json)
{
    EXPECT_ERROR("{\"query\": [[1, 2],", 400, INVALID_JSON, "", "malformed JSON near byte");
    EXPECT_ERROR("{\"query\": [[1, 2]] x", 400, INVALID_JSON, "", "malformed JSON near byte");
    EXPECT_ERROR("{\"query\":\n [[1, 2]]} x", 400, INVALID_JSON, "", "line 2");
    EXPECT_ERROR("{\"query\": [[1, 2]]} x", 400, INVALID_JSON, "",
                 "unexpected data after the JSON value near byte 20");
    EXPECT_ERROR("", 400, INVALID_JSON, "", "empty body");
    EXPECT_ERROR("   ", 400, INVALID_JSON, "", "malformed JSON");
    EXPECT_ERROR("{\"query\": [[1, 2]], \"query\": [[3]]}", 400, INVALID_JSON, "query",
                 "duplicate field 'query'");
    EXPECT_ERROR("{\"query\": [[nan]]}", 400, INVALID_JSON, "", "malformed JSON");
}

TEST(api_error_not_an_object)
{
    EXPECT_ERROR("[[1, 2]]", 400, INVALID_TYPE, "", "must be a JSON object");
    EXPECT_ERROR("42", 400, INVALID_TYPE, "", "got a number");
    EXPECT_ERROR("null", 400, INVALID_TYPE, "", "got null");
}

TEST(api_error_missing_and_unknown_fields)
{
    EXPECT_ERROR("{}", 400, MISSING_FIELD, "query", "missing field 'query'");
    EXPECT_ERROR("{\"key\": [[1]]}", 400, MISSING_FIELD, "query", "missing field 'query'");
    EXPECT_ERROR("{\"query\": [[1]], \"casual\": true}", 400, UNKNOWN_FIELD, "casual",
                 "unknown field 'casual'; known fields: query, key, value, mask, key_lengths, "
                 "additive, score, scale, selection, k, normalize, seed, causal, return_weights, "
                 "return_context, average_heads");
    EXPECT_ERROR("{\"query\": [[1]], \"casual\": true}", 400, UNKNOWN_FIELD, "casual",
                 "did you mean 'causal'?");
    EXPECT_ERROR("{\"query\": [[1]], \"Query\": 1}", 400, UNKNOWN_FIELD, "Query",
                 "unknown field 'Query'");
    EXPECT_ERROR("{\"query\": [[1]], \"zzzzzzzz\": 1}", 400, UNKNOWN_FIELD, "zzzzzzzz",
                 "known fields: query");
}

TEST(api_error_wrong_types)
{
    EXPECT_ERROR("{\"query\": 5}", 400, INVALID_TYPE, "query",
                 "query: expected a nested array of numbers");
    EXPECT_ERROR("{\"query\": \"[[1]]\"}", 400, INVALID_TYPE, "query", "got a string");
    EXPECT_ERROR("{\"query\": {\"a\": 1}}", 400, INVALID_TYPE, "query", "got an object");
    EXPECT_ERROR("{\"query\": null}", 400, INVALID_TYPE, "query", "got null");
    EXPECT_ERROR("{\"query\": [[1]], \"key\": \"x\"}", 400, INVALID_TYPE, "key",
                 "key: expected a nested array of numbers");
    EXPECT_ERROR("{\"query\": [[1]], \"value\": 1}", 400, INVALID_TYPE, "value",
                 "value: expected a nested array of numbers");
    EXPECT_ERROR("{\"query\": [[1]], \"mask\": true}", 400, INVALID_TYPE, "mask",
                 "mask: expected a nested array of booleans");
    EXPECT_ERROR("{\"query\": [[1]], \"score\": 1}", 400, INVALID_TYPE, "score",
                 "score: expected a string");
    EXPECT_ERROR("{\"query\": [[1]], \"scale\": \"1\"}", 400, INVALID_TYPE, "scale",
                 "scale: expected a number, got a string");
    EXPECT_ERROR("{\"query\": [[1]], \"causal\": 1}", 400, INVALID_TYPE, "causal",
                 "causal: expected true or false, got a number");
    EXPECT_ERROR("{\"query\": [[1]], \"return_weights\": \"yes\"}", 400, INVALID_TYPE,
                 "return_weights", "return_weights: expected true or false, got a string");
    EXPECT_ERROR("{\"query\": [[1]], \"average_heads\": null}", 400, INVALID_TYPE, "average_heads",
                 "average_heads: expected true or false, got null");
}

TEST(api_error_ranks)
{
    EXPECT_ERROR("{\"query\": [1, 2, 3]}", 400, INVALID_SHAPE, "query",
                 "query: expected rank 2 [Lq, d], 3 [H, Lq, d] or 4 [B, H, Lq, d], got rank 1 [3]");
    EXPECT_ERROR("{\"query\": [[[[[1]]]]]}", 400, INVALID_SHAPE, "query",
                 "got rank 5 [1, 1, 1, 1, 1]");
    EXPECT_ERROR("{\"query\": [[1, 2]], \"key\": [[[1, 2]]]}", 400, INVALID_SHAPE, "key",
                 "key: expected rank 2 like query [1, 2], got rank 3 [1, 1, 2]");
    EXPECT_ERROR("{\"query\": [[1, 2]], \"value\": [3]}", 400, INVALID_SHAPE, "value",
                 "value: expected rank 2 like query [1, 2], got rank 1 [1]");
}

TEST(api_error_ragged)
{
    /* depth 1 */
    EXPECT_ERROR("{\"query\": [[1, 2, 3, 4], [5, 6, 7]]}", 400, INVALID_SHAPE, "query",
                 "query[1]: expected 4 elements like query[0], got 3");
    EXPECT_ERROR("{\"query\": [[1, 2], [3, 4, 5]]}", 400, INVALID_SHAPE, "query",
                 "query[1]: expected 2 elements like query[0], got 3");
    /* depth 2 and 1 of a rank-3 tensor */
    EXPECT_ERROR("{\"query\": [[[1, 2], [3, 4]], [[1, 2], [3]]]}", 400, INVALID_SHAPE, "query",
                 "query[1][1]: expected 2 elements like query[0][0], got 1");
    EXPECT_ERROR("{\"query\": [[[1, 2]], [[1, 2], [3, 4]]]}", 400, INVALID_SHAPE, "query",
                 "query[1]: expected 1 element like query[0], got 2");
    /* depth 3 of a rank-4 tensor, in the key */
    EXPECT_ERROR("{\"query\": [[[[1]]]], \"key\": [[[[1], [2, 3]]]]}", 400, INVALID_SHAPE, "key",
                 "key[0][0][1]: expected 1 element like key[0][0][0], got 2");
    /* mixed nesting */
    EXPECT_ERROR("{\"query\": [[1, 2], 3]}", 400, INVALID_SHAPE, "query",
                 "query[1]: expected an array of 2 elements like query[0], got a number");
    EXPECT_ERROR("{\"query\": [[1, 2], [3, [4]]]}", 400, INVALID_SHAPE, "query",
                 "query[1][1]: expected a number like query[0][0], got an array");
}

TEST(api_error_bad_leaves)
{
    EXPECT_ERROR("{\"query\": [[1, \"2\"]]}", 400, INVALID_TYPE, "query",
                 "query[0][1]: expected a number, got a string");
    EXPECT_ERROR("{\"query\": [[1, 2], [null, 4]]}", 400, INVALID_TYPE, "query",
                 "query[1][0]: expected a number, got null");
    EXPECT_ERROR("{\"query\": [[1, true]]}", 400, INVALID_TYPE, "query",
                 "query[0][1]: expected a number, got a boolean");
    EXPECT_ERROR("{\"query\": [[1, {}]]}", 400, INVALID_TYPE, "query",
                 "query[0][1]: expected a number, got an object");
    EXPECT_ERROR("{\"query\": [[1]], \"value\": [[false]]}", 400, INVALID_TYPE, "value",
                 "value[0][0]: expected a number, got a boolean");
}

TEST(api_error_non_finite)
{
    EXPECT_ERROR("{\"query\": [[1, 2, 1e39]]}", 400, INVALID_VALUE, "query",
                 "query[0][2]: 1e39 is not a finite float32");
    EXPECT_ERROR("{\"query\": [[1, 2, -3.4028236e38]]}", 400, INVALID_VALUE, "query",
                 "query[0][2]: -3.4028236e38 is not a finite float32");
    EXPECT_ERROR("{\"query\": [[1e999]]}", 400, INVALID_VALUE, "query",
                 "query[0][0]: number out of range");
    EXPECT_ERROR("{\"query\": [[1]], \"scale\": 1e39}", 400, INVALID_VALUE, "scale",
                 "scale: 1e39 is not a finite float32");
    /* The largest float32 and what rounds to it are fine. */
    api_attention_request *req;
    api_error err;
    ASSERT_EQ(
        api_test_decode("{\"query\": [[3.4028235e38, 3.40282356e38, 1e-50]]}", NULL, &req, &err),
        0);
    ASSERT(req->query[0] == FLT_MAX && req->query[1] == FLT_MAX && req->query[2] == 0);
    api_attention_request_free(req);
}

TEST(api_error_empty_dims)
{
    EXPECT_ERROR("{\"query\": []}", 400, INVALID_SHAPE, "query", "query: dimension 0 is empty");
    EXPECT_ERROR("{\"query\": [[]]}", 400, INVALID_SHAPE, "query", "query: dimension 1 is empty");
    EXPECT_ERROR("{\"query\": [[[]]]}", 400, INVALID_SHAPE, "query", "query: dimension 2 is empty");
    EXPECT_ERROR("{\"query\": [[1]], \"mask\": []}", 400, INVALID_SHAPE, "mask",
                 "mask: dimension 0 is empty");
    EXPECT_ERROR("{\"query\": [[1], [2]], \"value\": [[], []]}", 400, INVALID_SHAPE, "value",
                 "value: dimension 1 is empty");
    /* An empty row after a full one is ragged. */
    EXPECT_ERROR("{\"query\": [[1, 2], []]}", 400, INVALID_SHAPE, "query",
                 "query[1]: expected 2 elements like query[0], got 0");
}

TEST(api_error_key_value_shapes)
{
    /* [H=2, Lq=1, d=2] */
    const char *q = "\"query\": [[[1, 2]], [[3, 4]]]";
    char body[512];
    snprintf(body, sizeof body, "{%s, \"key\": [[[1, 2, 3]], [[3, 4, 5]]]}", q);
    EXPECT_ERROR(body, 400, INVALID_SHAPE, "key",
                 "key: expected shape [2, *, 2] to match query [2, 1, 2], got [2, 1, 3]");
    snprintf(body, sizeof body, "{%s, \"key\": [[[1, 2]]]}", q);
    EXPECT_ERROR(body, 400, INVALID_SHAPE, "key",
                 "key: expected shape [2, *, 2] to match query [2, 1, 2], got [1, 1, 2]");
    /* value's Lk must be the key's Lk (3 here), its H the query's */
    snprintf(body, sizeof body,
             "{%s, \"key\": [[[1, 2], [1, 2], [1, 2]], [[1, 2], [1, 2], [1, 2]]],"
             " \"value\": [[[1], [2]], [[3], [4]]]}",
             q);
    EXPECT_ERROR(body, 400, INVALID_SHAPE, "value",
                 "value: expected shape [2, 3, *] to match key [2, 3, 2], got [2, 2, 1]");
    snprintf(body, sizeof body,
             "{%s, \"key\": [[[1, 2], [1, 2], [1, 2]], [[1, 2], [1, 2], [1, 2]]],"
             " \"value\": [[[1], [2], [3]]]}",
             q);
    EXPECT_ERROR(body, 400, INVALID_SHAPE, "value",
                 "value: expected shape [2, 3, *] to match key [2, 3, 2], got [1, 3, 1]");
    /* without a key, value must match the query's Lq */
    snprintf(body, sizeof body, "{%s, \"value\": [[[1], [2]], [[3], [4]]]}", q);
    EXPECT_ERROR(body, 400, INVALID_SHAPE, "value",
                 "value: expected shape [2, 1, *] to match query [2, 1, 2] (no key was sent");
    /* rank 4: B must agree too */
    EXPECT_ERROR("{\"query\": [[[[1]]], [[[2]]]], \"key\": [[[[1]]]]}", 400, INVALID_SHAPE, "key",
                 "key: expected shape [2, 1, *, 1] to match query [2, 1, 1, 1], got "
                 "[1, 1, 1, 1]");
}

TEST(api_error_masks)
{
    /* query [Lq=2, d=1], self-attention: target [Lq, Lk] = [2, 2] */
    EXPECT_ERROR("{\"query\": [[1], [2]], \"mask\": [[true, false, true]]}", 400, INVALID_SHAPE,
                 "mask",
                 "mask: shape [1, 3] is not broadcastable to [Lq, Lk] = [2, 2]: dimension 1 "
                 "has size 3, expected 1 or 2");
    EXPECT_ERROR("{\"query\": [[1], [2]], \"mask\": [[[true]]]}", 400, INVALID_SHAPE, "mask",
                 "mask: expected at most 2 dimensions, broadcastable to [Lq, Lk] = [2, 2], got "
                 "rank 3 [1, 1, 1]");
    EXPECT_ERROR("{\"query\": [[1], [2]], \"mask\": [[1, 0], [0, 1]]}", 400, INVALID_TYPE, "mask",
                 "mask[0][0]: expected true or false, got a number");
    EXPECT_ERROR("{\"query\": [[1], [2]], \"mask\": [[true, null], [true, true]]}", 400,
                 INVALID_TYPE, "mask", "mask[0][1]: expected true or false, got null");
    EXPECT_ERROR("{\"query\": [[1], [2]], \"mask\": [[true, true], [true]]}", 400, INVALID_SHAPE,
                 "mask", "mask[1]: expected 2 elements like mask[0], got 1");
    EXPECT_ERROR("{\"query\": [[[1], [2]]], \"mask\": [[[true, true]], [[true, true]]]}", 400,
                 INVALID_SHAPE, "mask",
                 "broadcastable to [H, Lq, Lk] = [1, 2, 2]: dimension 0 has size 2");
}

TEST(api_error_score_values)
{
    EXPECT_ERROR("{\"query\": [[1]], \"score\": \"cosine\"}", 400, INVALID_VALUE, "score",
                 "score: unknown score 'cosine'; allowed values: \"scaled_dot\"");
    EXPECT_ERROR("{\"query\": [[1]], \"score\": \"Dot\"}", 400, INVALID_VALUE, "score", "\"dot\"");
}

TEST(api_error_limits)
{
    /* query [2, 2] self-attention: 4 query + 4 context + 4 weights elements, scores 4. */
    const char *body = "{\"query\": [[1, 2], [3, 4]]}";
    api_limits ok = {.max_elements = 12, .max_score_elements = 4};
    api_attention_request *req;
    api_error err;
    ASSERT_EQ(api_test_decode(body, &ok, &req, &err), 0);
    api_attention_request_free(req);

    api_limits small = {.max_elements = 11, .max_score_elements = 4};
    api_test_check_error(
        __FILE__, __LINE__, body, &small, 413, API_ERR_LIMIT_EXCEEDED, "",
        "the request needs 12 elements (query 4, key 0, value 0, mask 0, context 4, "
        "weights 4), more than this server's limit of 11");
    /* Without weights it fits. */
    ASSERT_EQ(api_test_decode("{\"query\": [[1, 2], [3, 4]], \"return_weights\": false}", &small,
                              &req, &err),
              0);
    api_attention_request_free(req);

    api_limits scores = {.max_elements = 1000, .max_score_elements = 3};
    api_test_check_error(__FILE__, __LINE__, body, &scores, 413, API_ERR_LIMIT_EXCEEDED, "",
                         "B*H*Lq*Lk = 1*1*2*2 = 4 elements exceeds this server's limit of 3");
    /* Checked before the data: a huge scanned shape is refused, never allocated. */
    api_limits tiny = {.max_elements = 10, .max_score_elements = 10};
    api_test_check_error(__FILE__, __LINE__,
                         "{\"query\": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [\"junk\"]]}", &tiny,
                         413, API_ERR_LIMIT_EXCEEDED, "", "more than this server's limit of 10");
}

TEST(api_encode_error_escapes)
{
    api_error e;
    ASSERT_EQ(
        api_error_set(&e, API_ERR_UNKNOWN_FIELD, "a\"b", "bad \"x\" \\ \n \x01 \xff caf\xc3\xa9"),
        400);
    api_buf out = {0};
    ASSERT_EQ(api_v1_encode_error(&e, &out), 0);
    cJSON *r = cJSON_Parse(out.data);
    ASSERT(r != NULL);
    const cJSON *err = api_test_get(r, "error");
    ASSERT_STREQ(api_test_get(err, "code")->valuestring, "unknown_field");
    ASSERT_STREQ(api_test_get(err, "message")->valuestring,
                 "bad \"x\" \\ \n \x01 \xef\xbf\xbd caf\xc3\xa9");
    ASSERT_STREQ(api_test_get(err, "field")->valuestring, "a\"b");
    ASSERT(strncmp(out.data, "{\"error\":{\"code\":", 17) == 0);
    cJSON_Delete(r);
    api_buf_free(&out);

    api_error_set(&e, API_ERR_OVERLOADED, "", "busy");
    ASSERT_EQ(api_v1_encode_error(&e, &out), 0);
    ASSERT_STREQ(out.data, "{\"error\":{\"code\":\"overloaded\",\"message\":\"busy\"}}\n");
    api_buf_free(&out);

    /* A client's invalid UTF-8 field name comes back as valid JSON. */
    api_attention_request *req;
    ASSERT_EQ(api_test_decode("{\"query\": [[1]], \"\xc3\x28\xed\xa0\x80\": 1}", NULL, &req, &e),
              400);
    ASSERT_EQ(api_v1_encode_error(&e, &out), 0);
    r = cJSON_Parse(out.data);
    ASSERT(r != NULL);
    ASSERT_STREQ(api_test_get(api_test_get(r, "error"), "field")->valuestring,
                 "\xef\xbf\xbd(\xef\xbf\xbd");
    cJSON_Delete(r);
    api_buf_free(&out);
}

TEST(api_error_map)
{
    ASSERT_STREQ(api_error_code(API_ERR_INVALID_JSON), "invalid_json");
    ASSERT_STREQ(api_error_code(API_ERR_LIMIT_EXCEEDED), "limit_exceeded");
    ASSERT_STREQ(api_error_code(API_ERR_INTERNAL), "internal");
    ASSERT_EQ(api_error_http_status(API_ERR_INVALID_SHAPE), 400);
    ASSERT_EQ(api_error_http_status(API_ERR_NOT_FOUND), 404);
    ASSERT_EQ(api_error_http_status(API_ERR_METHOD_NOT_ALLOWED), 405);
    ASSERT_EQ(api_error_http_status(API_ERR_PAYLOAD_TOO_LARGE), 413);
    ASSERT_EQ(api_error_http_status(API_ERR_UNSUPPORTED_MEDIA_TYPE), 415);
    ASSERT_EQ(api_error_http_status(API_ERR_SHUTTING_DOWN), 503);
    ASSERT_EQ(api_error_http_status(API_ERR_INTERNAL), 500);
    ASSERT_EQ(api_error_http_status(API_ERR_COUNT), 500);
    for (int k = 0; k < API_ERR_COUNT; k++)
        ASSERT(api_error_code((api_error_kind)k)[0] != '\0');

    /* Long messages and fields are truncated, never overflowed. */
    api_error e;
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    api_error_set(&e, API_ERR_INVALID_VALUE, big, "%s", big);
    ASSERT_EQ(strlen(e.field), sizeof e.field - 1);
    ASSERT_EQ(strlen(e.message), sizeof e.message - 1);
}
/* ---- content types ---- */

TEST(api_v1_content_types)
{
    const char *json[] = {NULL,
                          "",
                          "  ",
                          "application/json",
                          "Application/JSON",
                          "application/json; charset=utf-8",
                          "application/json;charset=UTF-8",
                          " application/json ; q=1",
                          "application/vnd.api+json",
                          "application/problem+JSON; x=y",
                          "application/json-patch+json"};
    for (size_t i = 0; i < sizeof json / sizeof json[0]; i++) {
        if (!api_v1_accepts(json[i]))
            harness_fail(__FILE__, __LINE__, "\"%s\" should be read as JSON",
                         json[i] ? json[i] : "(null)");
    }
    const char *other[] = {"text/plain",
                           "application/xml",
                           "application/jsonx",
                           "application/+json",
                           "json",
                           "application/",
                           "text/json",
                           "multipart/form-data",
                           "application/x-json",
                           "; charset=utf-8",
                           "application/json+xml"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        if (api_v1_accepts(other[i]))
            harness_fail(__FILE__, __LINE__, "\"%s\" should not be read as JSON", other[i]);
    }
    ASSERT(!api_v1_accepts("text/html"));
    ASSERT_STREQ(api_v1_protocol.name, "v1");
    ASSERT(api_protocol_for("/v1/attention") == &api_v1_protocol);
    ASSERT(api_protocol_for("/v1") == &api_v1_protocol);
    ASSERT(api_protocol_for("/v10/attention") == NULL);
    ASSERT(api_protocol_for("/healthz") == NULL);
}
/* ---- buffer ---- */

TEST(api_buf_growth)
{
    api_buf b = {0};
    for (int i = 0; i < 100000; i++)
        api_buf_append(&b, &"0123456789"[i % 10], 1);
    ASSERT_EQ(b.len, 100000);
    ASSERT(b.cap > b.len);
    ASSERT_EQ(b.data[b.len], '\0');
    ASSERT_EQ(b.data[12345], '5');
    char big[1000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    api_buf_printf(&b, "<%s|%d>", big, 42);
    ASSERT_EQ(b.len, 100000 + 1 + 999 + 4);
    ASSERT(strcmp(b.data + b.len - 4, "|42>") == 0);
    api_buf_puts(&b, "!");
    ASSERT(!b.oom);
    size_t len;
    char *data = api_buf_release(&b, &len);
    ASSERT_EQ(len, 101005);
    ASSERT_EQ(data[len - 1], '!');
    ASSERT(b.data == NULL && b.len == 0 && b.cap == 0);
    free(data);

    /* An empty buffer still releases a non-NULL "" (NULL means out of memory). */
    data = api_buf_release(&b, &len);
    ASSERT(data != NULL);
    ASSERT_EQ(len, 0);
    ASSERT_STREQ(data, "");
    free(data);

    /* A reservation that cannot fit sets oom; later appends are no-ops; release gives NULL. */
    ASSERT(!api_buf_reserve(&b, SIZE_MAX));
    ASSERT(b.oom);
    api_buf_puts(&b, "ignored");
    ASSERT_EQ(b.len, 0);
    ASSERT(api_buf_release(&b, &len) == NULL);
    ASSERT(!b.oom);
    api_buf_free(&b);
}
