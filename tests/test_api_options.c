/* Unit tests of the request options beyond plain attention: the additive score and its
 * parameters, top-k and sampled selection with k, normalize and seed, key_lengths padding, and
 * the limits (the attention matrix counts only when the weights are returned). Every decode
 * error asserts status, code and field; small hand-checked requests run end to end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../api/api.h"
#include "../api/request.h"
#include "../core/attention.h"
#include "api_support.h"
#include "harness.h"

/* ---- additive score: decoding ---- */

/* query [Lq = 1, dq = 2], key [Lk = 2, dk = 1]: weight must be [da, 3]. */
#define ADD_QK "\"query\": [[1, 2]], \"key\": [[1], [0]], \"score\": \"additive\""

TEST(api_additive_decodes_into_desc)
{
    api_attention_request *req;
    api_error err;
    ASSERT_EQ(api_test_decode("{" ADD_QK ", \"additive\": {\"weight\": [[1, 0, 1], [0, 1, -1]],"
                              " \"bias\": [0.5, -0.5], \"v\": [2, 3]}}",
                              NULL, &req, &err),
              0);
    const at_attention_desc *d = &req->desc;
    ASSERT_EQ(d->score, AT_SCORE_ADDITIVE);
    ASSERT_EQ(d->query.ne[3], 2);
    ASSERT_EQ(d->key.ne[3], 1);
    ASSERT_EQ(d->key.ne[2], 2);
    ASSERT(d->additive == &req->additive);
    ASSERT_EQ(d->additive->weight.rank, 2);
    ASSERT_EQ(d->additive->weight.ne[0], 2);
    ASSERT_EQ(d->additive->weight.ne[1], 3);
    ASSERT_EQ(d->additive->weight.dtype, AT_F32);
    const float *w = d->additive->weight.data;
    ASSERT(w[2] == 1 && w[5] == -1);
    ASSERT(d->additive->bias[0] == 0.5f && d->additive->bias[1] == -0.5f);
    ASSERT(d->additive->v[0] == 2 && d->additive->v[1] == 3);
    ASSERT_EQ(at_attention_scale(d), 1);
    api_attention_request_free(req);

    /* bias and v are optional (NULL: zeros and ones); the key may be omitted (dk = dq). */
    ASSERT_EQ(api_test_decode("{\"query\": [[1, 2]], \"score\": \"additive\","
                              " \"additive\": {\"weight\": [[1, 0, 1, 0]]}}",
                              NULL, &req, &err),
              0);
    ASSERT(req->desc.additive->bias == NULL && req->desc.additive->v == NULL);
    ASSERT_EQ(req->desc.key.ne[3], 2);
    api_attention_request_free(req);
}

TEST(api_error_additive_combinations)
{
    EXPECT_ERROR("{\"query\": [[1]], \"additive\": {\"weight\": [[1, 1]]}}", 400, INVALID_VALUE,
                 "additive",
                 "additive: parameters apply only to score \"additive\", but score is "
                 "\"scaled_dot\"");
    EXPECT_ERROR("{\"query\": [[1]], \"score\": \"dot\", \"additive\": {\"weight\": [[1, 1]]}}",
                 400, INVALID_VALUE, "additive", "but score is \"dot\"");
    EXPECT_ERROR("{\"query\": [[1]], \"score\": \"additive\"}", 400, MISSING_FIELD, "additive",
                 "missing field 'additive': score \"additive\" needs its parameters");
    /* dk != dq is for the additive score only. */
    EXPECT_ERROR("{\"query\": [[1, 2]], \"key\": [[1]]}", 400, INVALID_SHAPE, "key",
                 "key: expected shape [*, 2] to match query [1, 2], got [1, 1] (only score "
                 "\"additive\" accepts a key whose last dim differs");
    /* With the additive score the leading dims must still agree; Lk and dk are free. */
    EXPECT_ERROR("{\"query\": [[[1, 2]], [[1, 2]]], \"key\": [[[1]]], \"score\": \"additive\","
                 " \"additive\": {\"weight\": [[1, 1, 1]]}}",
                 400, INVALID_SHAPE, "key",
                 "key: expected shape [2, *, *] to match query [2, 1, 2], got [1, 1, 1]");
}

TEST(api_error_additive_parameters)
{
    EXPECT_ERROR("{" ADD_QK ", \"additive\": [[1, 1, 1]]}", 400, INVALID_TYPE, "additive",
                 "additive: expected an object {\"weight\": [da, dq + dk]");
    EXPECT_ERROR("{" ADD_QK ", \"additive\": {\"bias\": [1]}}", 400, MISSING_FIELD, "additive",
                 "additive: missing member 'weight'");
    EXPECT_ERROR("{" ADD_QK ", \"additive\": {\"weight\": [[1, 1, 1]], \"w\": [1]}}", 400,
                 UNKNOWN_FIELD, "additive",
                 "additive: unknown member 'w'; known members: weight, bias, v");
    EXPECT_ERROR("{" ADD_QK ", \"additive\": {\"wieght\": [[1, 1, 1]]}}", 400, UNKNOWN_FIELD,
                 "additive", "did you mean 'weight'?");
    EXPECT_ERROR("{" ADD_QK ", \"additive\": {\"weight\": [[1, 1, 1]], \"weight\": [[1, 1, 1]]}}",
                 400, INVALID_JSON, "additive", "additive: duplicate member 'weight'");
    EXPECT_ERROR("{\"query\": [[1, 2, 3, 4, 5, 6, 7, 8]], \"key\": [[1, 2, 3, 4]],"
                 " \"score\": \"additive\", \"additive\": {\"weight\": ["
                 "[1,1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1,1],"
                 "[1,1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1,1],"
                 "[1,1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1,1],"
                 "[1,1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1,1],"
                 "[1,1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1,1],"
                 "[1,1,1,1,1,1,1,1,1,1]]}}",
                 400, INVALID_SHAPE, "additive",
                 "additive.weight: expected [da, 12] (dq 8 + dk 4), got [16, 10]");
    EXPECT_ERROR("{" ADD_QK ", \"additive\": {\"weight\": [1, 1, 1]}}", 400, INVALID_SHAPE,
                 "additive",
                 "additive.weight: expected rank 2 [da, 3] (dq 2 + dk 1), got rank 1 [3]");
    EXPECT_ERROR("{" ADD_QK ", \"additive\": {\"weight\": [[1, 1, 1], [1, 1, 1]], \"bias\": [1]}}",
                 400, INVALID_SHAPE, "additive",
                 "additive.bias: expected [2] (da from additive.weight [2, 3]), got [1]");
    EXPECT_ERROR("{" ADD_QK ", \"additive\": {\"weight\": [[1, 1, 1]], \"v\": [[1]]}}", 400,
                 INVALID_SHAPE, "additive",
                 "additive.v: expected [1] (da from additive.weight [1, 3]), got [1, 1]");
    EXPECT_ERROR("{" ADD_QK ", \"additive\": {\"weight\": [[1, \"1\", 1]]}}", 400, INVALID_TYPE,
                 "additive", "additive.weight[0][1]: expected a number, got a string");
    EXPECT_ERROR("{" ADD_QK ", \"additive\": {\"weight\": [[1, 1, 1], [1, 1]]}}", 400,
                 INVALID_SHAPE, "additive",
                 "additive.weight[1]: expected 3 elements like additive.weight[0], got 2");
    EXPECT_ERROR("{" ADD_QK ", \"additive\": {\"weight\": [[1, 1, 1]], \"bias\": [1e39]}}", 400,
                 INVALID_VALUE, "additive", "additive.bias[0]: 1e39 is not a finite float32");
    EXPECT_ERROR("{" ADD_QK ", \"additive\": {\"weight\": [[1, 1, 1]], \"v\": 2}}", 400,
                 INVALID_TYPE, "additive", "additive.v: expected a nested array of numbers [da]");
    EXPECT_ERROR("{" ADD_QK ", \"additive\": {\"weight\": []}}", 400, INVALID_SHAPE, "additive",
                 "additive.weight: dimension 0 is empty");
}

/* ---- selection, k, normalize, seed: decoding ---- */

TEST(api_selection_decodes_into_desc)
{
    api_attention_request *req;
    api_error err;
    ASSERT_EQ(api_test_decode("{\"query\": [[1], [2]], \"selection\": \"topk\", \"k\": 2,"
                              " \"normalize\": true}",
                              NULL, &req, &err),
              0);
    ASSERT_EQ(req->desc.selection, AT_SELECT_TOPK);
    ASSERT_EQ(req->desc.k, 2);
    ASSERT(req->desc.normalize);
    ASSERT_EQ(req->desc.seed, 0);
    api_attention_request_free(req);

    ASSERT_EQ(api_test_decode("{\"query\": [[1]], \"selection\": \"sample\", \"k\": 1e3,"
                              " \"seed\": 42}",
                              NULL, &req, &err),
              0);
    ASSERT_EQ(req->desc.selection, AT_SELECT_SAMPLE);
    ASSERT_EQ(req->desc.k, 1000);
    ASSERT(!req->desc.normalize);
    ASSERT_EQ(req->desc.seed, 42);
    api_attention_request_free(req);

    /* Sampling without a seed uses seed 0 (and says so in meta). */
    ASSERT_EQ(api_test_decode("{\"query\": [[1]], \"selection\": \"sample\", \"k\": 1}", NULL, &req,
                              &err),
              0);
    ASSERT_EQ(req->desc.seed, 0);
    api_attention_request_free(req);

    /* The default is soft selection, with k 0 in the descriptor. */
    ASSERT_EQ(api_test_decode("{\"query\": [[1]], \"selection\": \"soft\"}", NULL, &req, &err), 0);
    ASSERT_EQ(req->desc.selection, AT_SELECT_SOFT);
    ASSERT_EQ(req->desc.k, 0);
    api_attention_request_free(req);
}

TEST(api_error_selection_and_k)
{
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": 1}", 400, INVALID_TYPE, "selection",
                 "selection: expected a string (\"soft\" (softmax, the default), \"topk\"");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"top_k\"}", 400, INVALID_VALUE, "selection",
                 "selection: unknown selection 'top_k'; allowed values: \"soft\"");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"topk\"}", 400, MISSING_FIELD, "k",
                 "missing field 'k': selection \"topk\" needs the number of keys");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"sample\", \"seed\": 3}", 400, MISSING_FIELD,
                 "k", "missing field 'k': selection \"sample\"");
    EXPECT_ERROR("{\"query\": [[1]], \"k\": 2}", 400, INVALID_VALUE, "k",
                 "k applies only to selection topk or sample");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"soft\", \"k\": 1}", 400, INVALID_VALUE, "k",
                 "k applies only to selection topk or sample");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"topk\", \"k\": 0}", 400, INVALID_VALUE, "k",
                 "k: expected an integer >= 1, got 0");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"topk\", \"k\": -3}", 400, INVALID_VALUE, "k",
                 "k: expected an integer >= 1, got -3");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"topk\", \"k\": 2.5}", 400, INVALID_VALUE, "k",
                 "k: expected an integer >= 1, got 2.5");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"topk\", \"k\": 1e300}", 400, INVALID_VALUE,
                 "k", "k: expected an integer >= 1, got 1e300");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"topk\", \"k\": \"2\"}", 400, INVALID_TYPE,
                 "k", "k: expected an integer >= 1, got a string");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"topk\", \"k\": true}", 400, INVALID_TYPE, "k",
                 "got a boolean");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"topk\", \"k\": null}", 400, INVALID_TYPE, "k",
                 "got null");
}

TEST(api_error_normalize)
{
    EXPECT_ERROR("{\"query\": [[1]], \"normalize\": true}", 400, INVALID_VALUE, "normalize",
                 "normalize applies only to selection topk or sample");
    EXPECT_ERROR("{\"query\": [[1]], \"normalize\": false, \"selection\": \"soft\"}", 400,
                 INVALID_VALUE, "normalize", "normalize applies only to selection topk or sample");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"topk\", \"k\": 1, \"normalize\": 1}", 400,
                 INVALID_TYPE, "normalize", "normalize: expected true or false, got a number");
}

TEST(api_error_seed)
{
    const char *s = "{\"query\": [[1]], \"selection\": \"sample\", \"k\": 1, \"seed\": ";
    char body[256];
#define SEED_ERROR(seed, kind, substr)                                                             \
    do {                                                                                           \
        snprintf(body, sizeof body, "%s%s}", s, seed);                                             \
        EXPECT_ERROR(body, 400, kind, "seed", substr);                                             \
    } while (0)
    SEED_ERROR("-1", INVALID_VALUE,
               "seed: expected an integer 0..18446744073709551615 (2^64 - 1), got -1");
    SEED_ERROR("1.5", INVALID_VALUE, "got 1.5");
    SEED_ERROR("-2.5e3", INVALID_VALUE, "got -2.5e3");
    SEED_ERROR("18446744073709551616", INVALID_VALUE,
               "seed: 18446744073709551616 is larger than 18446744073709551615 (2^64 - 1)");
    SEED_ERROR("99999999999999999999999", INVALID_VALUE, "is larger than");
    SEED_ERROR("1e19", INVALID_VALUE,
               "seed: 1e19 is above 2^53, where JSON numbers are no longer exact in doubles; "
               "write the seed as plain digits");
    SEED_ERROR("\"7\"", INVALID_TYPE, "seed: expected an integer 0..18446744073709551615");
    SEED_ERROR("true", INVALID_TYPE, "got a boolean");
    SEED_ERROR("[7]", INVALID_TYPE, "got an array");
#undef SEED_ERROR
    /* A seed without sampling is refused rather than ignored. */
    EXPECT_ERROR("{\"query\": [[1]], \"seed\": 7}", 400, INVALID_VALUE, "seed",
                 "seed applies only to selection sample, and selection is \"soft\"");
    EXPECT_ERROR("{\"query\": [[1]], \"selection\": \"topk\", \"k\": 1, \"seed\": 7}", 400,
                 INVALID_VALUE, "seed", "and selection is \"topk\"");
}

/* Every 64-bit seed is exact: it is read from the body's digits, not from cJSON's double. */
TEST(api_seed_is_exact_to_64_bits)
{
    static const struct {
        const char *text;
        unsigned long long want;
    } cases[] = {
        {"18446744073709551615", 18446744073709551615ull},
        {"9007199254740993", 9007199254740993ull}, /* 2^53 + 1: a double would say 2^53 */
        {"0", 0},
        {"7", 7},
        {"1e3", 1000},
        {"4.2e1", 42},
        {"9007199254740992.0", 9007199254740992ull},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[512];
        /* The seed among other members, arrays and strings, with odd whitespace around it. */
        snprintf(body, sizeof body,
                 "\xef\xbb\xbf {\"query\": [[1], [2]], \"mask\": [[true, false], [true, true]],"
                 "\n\"selection\"\t: \"sample\", \"seed\" :\n%s\r, \"k\": 1}",
                 cases[i].text);
        api_attention_request *req;
        api_error err;
        if (api_test_decode(body, NULL, &req, &err) != 0)
            harness_fail(__FILE__, __LINE__, "%s: %s", cases[i].text, err.message);
        if (req->desc.seed != cases[i].want)
            harness_fail(__FILE__, __LINE__, "%s: decoded %llu", cases[i].text,
                         (unsigned long long)req->desc.seed);
        api_attention_request_free(req);
    }
    /* First member, and last member before the closing brace, and an escaped key. */
    const char *bodies[] = {
        "{\"seed\": 18446744073709551615, \"query\": [[1]], \"selection\": \"sample\", \"k\": 1}",
        "{\"query\": [[1]], \"selection\": \"sample\", \"k\": 1, \"seed\":18446744073709551615}",
        ("{\"query\": [[1]], \"selection\": \"sample\", \"k\": 1, \"se\\u0065d\": "
         "18446744073709551615 }"),
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        api_attention_request *req;
        api_error err;
        if (api_test_decode(bodies[i], NULL, &req, &err) != 0)
            harness_fail(__FILE__, __LINE__, "%s: %s", bodies[i], err.message);
        ASSERT(req->desc.seed == UINT64_MAX);
        api_attention_request_free(req);
    }
}

/* ---- key_lengths: decoding ---- */

/* [B = 2, H = 1, Lq = 1, d = 1] against Lk = 3 keys. */
#define KL_RANK4 "\"query\": [[[[1]]], [[[2]]]], \"key\": [[[[1], [2], [3]]], [[[1], [2], [3]]]]"

TEST(api_key_lengths_decode_into_desc)
{
    api_attention_request *req;
    api_error err;
    ASSERT_EQ(api_test_decode("{" KL_RANK4 ", \"key_lengths\": [0, 3]}", NULL, &req, &err), 0);
    ASSERT(req->desc.key_lengths == req->key_lengths);
    ASSERT_EQ(req->desc.key_lengths[0], 0);
    ASSERT_EQ(req->desc.key_lengths[1], 3);
    api_attention_request_free(req);

    /* Rank 2 and 3 have B = 1: one length; combinable with mask and causal. */
    ASSERT_EQ(api_test_decode("{\"query\": [[1], [2]], \"key_lengths\": [1], \"causal\": true,"
                              " \"mask\": [true, true]}",
                              NULL, &req, &err),
              0);
    ASSERT_EQ(req->desc.key_lengths[0], 1);
    ASSERT(req->desc.causal && req->desc.mask);
    api_attention_request_free(req);
    ASSERT_EQ(api_test_decode("{\"query\": [[[1], [2]], [[3], [4]]], \"key_lengths\": [2.0]}", NULL,
                              &req, &err),
              0);
    ASSERT_EQ(req->desc.key_lengths[0], 2);
    api_attention_request_free(req);

    /* Without key_lengths the descriptor has none. */
    ASSERT_EQ(api_test_decode("{\"query\": [[1]]}", NULL, &req, &err), 0);
    ASSERT(req->desc.key_lengths == NULL);
    api_attention_request_free(req);
}

TEST(api_error_key_lengths)
{
    EXPECT_ERROR("{" KL_RANK4 ", \"key_lengths\": 3}", 400, INVALID_TYPE, "key_lengths",
                 "key_lengths: expected an array of integers, one key count per batch entry, got "
                 "a number");
    EXPECT_ERROR("{" KL_RANK4 ", \"key_lengths\": [3]}", 400, INVALID_SHAPE, "key_lengths",
                 "key_lengths: expected 2 lengths, one per batch entry of query [2, 1, 1, 1] "
                 "[B, H, Lq, d], got 1");
    EXPECT_ERROR("{" KL_RANK4 ", \"key_lengths\": []}", 400, INVALID_SHAPE, "key_lengths",
                 "expected 2 lengths");
    EXPECT_ERROR("{" KL_RANK4 ", \"key_lengths\": [1, 2, 3]}", 400, INVALID_SHAPE, "key_lengths",
                 "got 3");
    EXPECT_ERROR("{\"query\": [[1], [2]], \"key_lengths\": [1, 1]}", 400, INVALID_SHAPE,
                 "key_lengths",
                 "key_lengths: expected 1 length, since a rank-2 query [2, 1] has batch size 1, "
                 "got 2");
    EXPECT_ERROR("{\"query\": [[[1]]], \"key_lengths\": [1, 1]}", 400, INVALID_SHAPE, "key_lengths",
                 "a rank-3 query [1, 1, 1] has batch size 1");
    EXPECT_ERROR("{" KL_RANK4 ", \"key_lengths\": [1, -1]}", 400, INVALID_VALUE, "key_lengths",
                 "key_lengths[1]: expected an integer 0..3 (the key count Lk), got -1");
    EXPECT_ERROR("{" KL_RANK4 ", \"key_lengths\": [4, 1]}", 400, INVALID_VALUE, "key_lengths",
                 "key_lengths[0]: expected an integer 0..3 (the key count Lk), got 4");
    EXPECT_ERROR("{" KL_RANK4 ", \"key_lengths\": [1.5, 1]}", 400, INVALID_VALUE, "key_lengths",
                 "key_lengths[0]: expected an integer 0..3 (the key count Lk), got 1.5");
    EXPECT_ERROR("{" KL_RANK4 ", \"key_lengths\": [1, \"2\"]}", 400, INVALID_TYPE, "key_lengths",
                 "key_lengths[1]: expected an integer 0..3 (the key count Lk), got a string");
    EXPECT_ERROR("{" KL_RANK4 ", \"key_lengths\": [null, 1]}", 400, INVALID_TYPE, "key_lengths",
                 "key_lengths[0]: expected an integer 0..3 (the key count Lk), got null");
    EXPECT_ERROR("{" KL_RANK4 ", \"key_lengths\": [[1], [2]]}", 400, INVALID_TYPE, "key_lengths",
                 "key_lengths[0]: expected an integer 0..3 (the key count Lk), got an array");
    EXPECT_ERROR("{" KL_RANK4 ", \"key_lengths\": [1, 1e300]}", 400, INVALID_VALUE, "key_lengths",
                 "key_lengths[1]: expected an integer 0..3 (the key count Lk), got 1e300");
    EXPECT_ERROR("{" KL_RANK4 ", \"key_lengths\": [1, 2], \"key_length\": [1]}", 400, UNKNOWN_FIELD,
                 "key_length", "did you mean 'key_lengths'?");
}

/* ---- limits ---- */

/* A spec of self-attention-shaped q, k, v [L, L, d] as api_attention_prepare receives it. */
static api_attention_spec long_spec(int64_t L, int64_t d, bool weights)
{
    api_attention_spec s = {.score = AT_SCORE_SCALED_DOT, .return_weights = weights};
    s.query = (api_shape){.rank = 2, .ne = {L, d}};
    s.key = s.value = s.query;
    s.has_key = s.has_value = true;
    return s;
}

TEST(api_limits_count_scores_only_with_weights)
{
    /* The server's defaults. */
    api_limits lim = {.max_elements = INT64_C(64) << 20, .max_score_elements = INT64_C(64) << 20};
    api_attention_request *req;
    api_error err;
    /* Lq = Lk = 16384, d = 64 without weights: 4 Mi elements, no Lq x Lk anywhere. */
    api_attention_spec s = long_spec(16384, 64, false);
    ASSERT_EQ(api_attention_prepare(&s, &lim, &req, &err), 0);
    ASSERT(req->out.weights == NULL);
    ASSERT(req->arena_bytes < (size_t)5 * 16384 * 64 * sizeof(float));
    size_t ws = at_attention_workspace_size(&req->desc, 4);
    if (ws >= (size_t)16384 * 16384)
        harness_fail(__FILE__, __LINE__, "soft without weights: workspace %zu bytes", ws);
    api_attention_request_free(req);

    /* The same for top-k and sampling: one block of rows per worker, not Lq x Lk. */
    for (int sel = AT_SELECT_TOPK; sel <= AT_SELECT_SAMPLE; sel++) {
        s.selection = (at_selection)sel;
        s.has_k = true;
        s.k = 4;
        ASSERT_EQ(api_attention_prepare(&s, &lim, &req, &err), 0);
        ws = at_attention_workspace_size(&req->desc, 4);
        if (ws >= (size_t)16384 * 16384)
            harness_fail(__FILE__, __LINE__, "%s without weights: workspace %zu bytes",
                         api_selection_name(s.selection), ws);
        api_attention_request_free(req);
    }

    /* With weights the matrix is materialised and the score limit applies. */
    s = long_spec(16384, 64, true);
    memset(&err, 0, sizeof err);
    ASSERT_EQ(api_attention_prepare(&s, &lim, &req, &err), 413);
    ASSERT(req == NULL);
    ASSERT_EQ(err.kind, API_ERR_LIMIT_EXCEEDED);
    ASSERT_CONTAINS(err.message, "B*H*Lq*Lk = 1*1*16384*16384 = 268435456 elements exceeds this "
                                 "server's limit of 67108864 for returned weights");
    ASSERT_CONTAINS(err.message, "\"return_weights\": false");

    /* Through the codec: the score limit alone does not refuse a request without weights. */
    api_limits scores = {.max_elements = 1000, .max_score_elements = 3};
    ASSERT_EQ(api_test_decode("{\"query\": [[1, 2], [3, 4]], \"return_weights\": false}", &scores,
                              &req, &err),
              0);
    api_attention_request_free(req);
    api_test_check_error(__FILE__, __LINE__, "{\"query\": [[1, 2], [3, 4]]}", &scores, 413,
                         API_ERR_LIMIT_EXCEEDED, "", "B*H*Lq*Lk = 1*1*2*2 = 4 elements");
}

TEST(api_limits_count_new_inputs)
{
    /* query [2, 2] self-attention without weights: query 4 + context 4; key_lengths 1. */
    api_limits lim = {.max_elements = 8, .max_score_elements = 1};
    api_test_check_error(__FILE__, __LINE__,
                         "{\"query\": [[1, 2], [3, 4]], \"return_weights\": false,"
                         " \"key_lengths\": [1]}",
                         &lim, 413, API_ERR_LIMIT_EXCEEDED, "",
                         "the request needs 9 elements (query 4, key 0, value 0, mask 0, context "
                         "4, weights 0, key_lengths 1), more than this server's limit of 8");
    /* Additive: weight [da = 3, 4] + bias 3 + v 3 = 18 parameters, key projections
     * B*H*Lk*da = 1*1*2*3 = 6, plus query 4 and context 4. */
    lim.max_elements = 31;
    api_test_check_error(__FILE__, __LINE__,
                         "{\"query\": [[1, 2], [3, 4]], \"return_weights\": false,"
                         " \"score\": \"additive\", \"additive\": {\"weight\": [[1, 1, 1, 1],"
                         " [1, 1, 1, 1], [1, 1, 1, 1]], \"bias\": [0, 0, 0], \"v\": [1, 1, 1]}}",
                         &lim, 413, API_ERR_LIMIT_EXCEEDED, "",
                         "the request needs 32 elements (query 4, key 0, value 0, mask 0, context "
                         "4, weights 0, additive parameters 18, additive key projections "
                         "B*H*Lk*da 6)");
    lim.max_elements = 32;
    api_attention_request *req;
    api_error err;
    ASSERT_EQ(
        api_test_decode("{\"query\": [[1, 2], [3, 4]], \"return_weights\": false,"
                        " \"score\": \"additive\", \"additive\": {\"weight\": [[1, 1, 1, 1],"
                        " [1, 1, 1, 1], [1, 1, 1, 1]], \"bias\": [0, 0, 0], \"v\": [1, 1, 1]}}",
                        &lim, &req, &err),
        0);
    api_attention_request_free(req);
}

/* ---- end to end, hand-checked ---- */

TEST(api_topk_hand_checked)
{
    /* Dot scores 3, 1, 2 against one-hot values: the top 2 are keys 0 and 2. */
    const char *body = "{\"query\": [[1]], \"key\": [[3], [1], [2]],"
                       " \"value\": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], \"score\": \"dot\","
                       " \"selection\": \"topk\", \"k\": 2%s}";
    char text[512];
    snprintf(text, sizeof text, body, "");
    cJSON *r = api_test_compute(text);
    const cJSON *w = api_test_get(r, "weights"), *ctx = api_test_get(r, "context");
    ASSERT_EQ(AT(w, 0, 0), 1);
    ASSERT_EQ(AT(w, 0, 1), 0);
    ASSERT_EQ(AT(w, 0, 2), 1);
    ASSERT_EQ(AT(ctx, 0, 0), 1);
    ASSERT_EQ(AT(ctx, 0, 1), 0);
    ASSERT_EQ(AT(ctx, 0, 2), 1);
    const cJSON *meta = api_test_get(r, "meta");
    ASSERT_STREQ(api_test_get(meta, "selection")->valuestring, "topk");
    ASSERT_EQ(api_test_get(meta, "k")->valuedouble, 2);
    ASSERT(cJSON_IsFalse(api_test_get(meta, "normalize")));
    ASSERT(cJSON_GetObjectItemCaseSensitive(meta, "seed") == NULL);
    cJSON_Delete(r);

    snprintf(text, sizeof text, body, ", \"normalize\": true");
    r = api_test_compute(text);
    w = api_test_get(r, "weights");
    ASSERT_EQ(AT(w, 0, 0), 0.5);
    ASSERT_EQ(AT(w, 0, 1), 0);
    ASSERT_EQ(AT(w, 0, 2), 0.5);
    ASSERT(cJSON_IsTrue(api_test_get(api_test_get(r, "meta"), "normalize")));
    cJSON_Delete(r);

    /* Exact ties go to the lower key index; k larger than the allowed keys takes them all. */
    r = api_test_compute("{\"query\": [[1]], \"key\": [[1], [1], [1]], \"selection\": \"topk\","
                         " \"k\": 2}");
    w = api_test_get(r, "weights");
    ASSERT_EQ(AT(w, 0, 0), 1);
    ASSERT_EQ(AT(w, 0, 1), 1);
    ASSERT_EQ(AT(w, 0, 2), 0);
    cJSON_Delete(r);
    r = api_test_compute("{\"query\": [[1]], \"key\": [[1], [2], [3]], \"selection\": \"topk\","
                         " \"k\": 5, \"mask\": [true, false, true], \"normalize\": true}");
    w = api_test_get(r, "weights");
    ASSERT_EQ(AT(w, 0, 0), 0.5);
    ASSERT_EQ(AT(w, 0, 1), 0);
    ASSERT_EQ(AT(w, 0, 2), 0.5);
    cJSON_Delete(r);
}

/* The context and weights of a response as text, without meta (compute_ms varies). */
static char *result_text(const char *body)
{
    cJSON *r = api_test_compute(body);
    cJSON_DeleteItemFromObjectCaseSensitive(r, "meta");
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return text;
}

TEST(api_sample_reproducible_and_seeded)
{
    /* 64 heads of one query row against 8 keys of equal score, one key drawn per row. */
    char q[1024], kv[4096];
    size_t qn = 0, kn = 0;
    for (int h = 0; h < 64; h++) {
        qn += (size_t)snprintf(q + qn, sizeof q - qn, "%s[[0]]", h ? "," : "");
        kn += (size_t)snprintf(kv + kn, sizeof kv - kn, "%s[[0],[1],[2],[3],[4],[5],[6],[7]]",
                               h ? "," : "");
    }
    static const char fmt[] = "{\"query\": [%s], \"key\": [%s], \"value\": [%s],"
                              " \"score\": \"dot\", \"selection\": \"sample\", \"k\": 1%s}";
    char a[16384], b[16384], c[16384];
    snprintf(a, sizeof a, fmt, q, kv, kv, ", \"seed\": 1");
    snprintf(b, sizeof b, fmt, q, kv, kv, ", \"seed\": 2");
    snprintf(c, sizeof c, fmt, q, kv, kv, "");
    char *a1 = result_text(a), *a2 = result_text(a), *b1 = result_text(b);
    ASSERT_STREQ(a1, a2);
    ASSERT(strcmp(a1, b1) != 0);

    cJSON *r = api_test_compute(a);
    const cJSON *w = api_test_get(r, "weights"), *meta = api_test_get(r, "meta");
    for (int h = 0; h < 64; h++) {
        double sum = 0;
        for (int j = 0; j < 8; j++) {
            double x = AT(w, h, 0, j);
            ASSERT(x == 0 || x == 1);
            sum += x;
        }
        ASSERT_EQ(sum, 1);
    }
    ASSERT_STREQ(api_test_get(meta, "selection")->valuestring, "sample");
    ASSERT_EQ(api_test_get(meta, "seed")->valuedouble, 1);
    cJSON_Delete(r);

    /* Without a seed, meta says seed 0 was used. */
    char *text = api_test_compute_text(c);
    ASSERT_CONTAINS(text, "\"selection\":\"sample\",\"k\":1,\"normalize\":false,\"seed\":0,");
    free(text);

    /* The largest seed is echoed digit for digit. */
    text = api_test_compute_text("{\"query\": [[1]], \"selection\": \"sample\", \"k\": 1,"
                                 " \"seed\": 18446744073709551615}");
    ASSERT_CONTAINS(text, "\"seed\":18446744073709551615,");
    free(text);
    free(a1);
    free(a2);
    free(b1);
}

TEST(api_key_lengths_hand_checked)
{
    /* Batch 0 may attend key 0 only; batch 1 all three (equal scores: 1/3 each). */
    cJSON *r = api_test_compute("{\"query\": [[[[0]]], [[[0]]]], \"key\": [[[[1], [2], [3]]],"
                                " [[[1], [2], [3]]]], \"key_lengths\": [1, 3]}");
    const cJSON *w = api_test_get(r, "weights"), *ctx = api_test_get(r, "context");
    ASSERT_EQ(AT(w, 0, 0, 0, 0), 1);
    ASSERT_EQ(AT(w, 0, 0, 0, 1), 0);
    ASSERT_EQ(AT(w, 0, 0, 0, 2), 0);
    ASSERT_NEAR(AT(w, 1, 0, 0, 2), 1.0 / 3, 1e-7);
    ASSERT_NEAR(AT(ctx, 0, 0, 0, 0), 1, 1e-7);
    ASSERT_NEAR(AT(ctx, 1, 0, 0, 0), 2, 1e-6);
    cJSON_Delete(r);

    /* Length 0: no key at all, zero weights and a zero context. */
    r = api_test_compute("{\"query\": [[1], [2]], \"key_lengths\": [0]}");
    w = api_test_get(r, "weights");
    ASSERT_EQ(AT(w, 0, 0), 0);
    ASSERT_EQ(AT(w, 1, 1), 0);
    ASSERT_EQ(AT(api_test_get(r, "context"), 1, 0), 0);
    cJSON_Delete(r);

    /* With causal: row 0 sees key 0, row 2 sees keys 0..1 (cut by the length 2). */
    r = api_test_compute("{\"query\": [[0], [0], [0]], \"causal\": true, \"key_lengths\": [2]}");
    w = api_test_get(r, "weights");
    ASSERT_EQ(AT(w, 0, 0), 1);
    ASSERT_NEAR(AT(w, 2, 0), 0.5, 1e-7);
    ASSERT_NEAR(AT(w, 2, 1), 0.5, 1e-7);
    ASSERT_EQ(AT(w, 2, 2), 0);
    cJSON_Delete(r);
}

TEST(api_additive_hand_checked)
{
    /* dq = 2, dk = 1, da = 2: W = [[1, 0, 1], [0, 1, -1]], b = [0.5, -0.5], v = [2, 3].
     * score_j = 2 tanh(q0 + k_j + 0.5) + 3 tanh(q1 - k_j - 0.5), q = [1, 2], k = [1], [0]. */
    cJSON *r = api_test_compute("{" ADD_QK ", \"value\": [[10], [20]],"
                                " \"additive\": {\"weight\": [[1, 0, 1], [0, 1, -1]],"
                                " \"bias\": [0.5, -0.5], \"v\": [2, 3]}}");
    double s0 = 2 * tanh(1 + 1 + 0.5) + 3 * tanh(2 - 1 - 0.5);
    double s1 = 2 * tanh(1 + 0 + 0.5) + 3 * tanh(2 - 0 - 0.5);
    double w0 = 1 / (1 + exp(s1 - s0));
    const cJSON *w = api_test_get(r, "weights");
    ASSERT_NEAR(AT(w, 0, 0), w0, 1e-6);
    ASSERT_NEAR(AT(w, 0, 1), 1 - w0, 1e-6);
    ASSERT_NEAR(AT(api_test_get(r, "context"), 0, 0), 10 * w0 + 20 * (1 - w0), 1e-4);
    const cJSON *meta = api_test_get(r, "meta");
    ASSERT_STREQ(api_test_get(meta, "score")->valuestring, "additive");
    ASSERT_EQ(api_test_get(meta, "scale")->valuedouble, 1);
    CHECK_SHAPE(api_test_get(meta, "key_shape"), 2, 1);
    cJSON_Delete(r);

    /* No bias, no v (sum of tanh), and a scale: score_j = 0.5 * tanh(q0 + k_j). */
    r = api_test_compute("{\"query\": [[1]], \"key\": [[0], [1]], \"score\": \"additive\","
                         " \"scale\": 0.5, \"additive\": {\"weight\": [[1, 1]]}}");
    s0 = 0.5 * tanh(1.0);
    s1 = 0.5 * tanh(2.0);
    w0 = 1 / (1 + exp(s1 - s0));
    ASSERT_NEAR(AT(api_test_get(r, "weights"), 0, 0), w0, 1e-6);
    ASSERT_EQ(api_test_get(api_test_get(r, "meta"), "scale")->valuedouble, 0.5);
    cJSON_Delete(r);
}
