/* The built-in trained model "zh-en" (models/zh-en/, made by its train.py): its cross-attention
 * aligns English words with their Chinese source on sentences it never saw in training, asked
 * over HTTP of the real daemon; and the model compiled in is checked like a file. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/model_registry.h"
#include "../core/status.h"
#include "daemon.h"
#include "harness.h"

#define HELDOUT "models/zh-en/heldout.json"

/* POST /v1/models/zh-en/attention for `target` over `source`, head-averaged; parsed answer. */
static cJSON *align(const test_daemon *d, const char *target, const char *source)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "text", target);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(body, "source"), "text", source);
    cJSON_AddBoolToObject(body, "average_heads", 1);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    test_response r;
    ASSERT_EQ(test_post_json(d, "/v1/models/zh-en/attention", text, &r), 0);
    free(text);
    if (r.status != 200) harness_fail(__FILE__, __LINE__, "status %ld: %s", r.status, r.body);
    cJSON *j = cJSON_Parse(r.body);
    test_response_free(&r);
    ASSERT(j != NULL);
    return j;
}

/* The index of the largest weight of row i of [L, S] weights. */
static int argmax_row(const cJSON *weights, int i)
{
    const cJSON *row = cJSON_GetArrayItem(weights, i);
    int best = -1, k = 0;
    double top = -1;
    for (const cJSON *c = row->child; c; c = c->next, k++)
        if (c->valuedouble > top) {
            top = c->valuedouble;
            best = k;
        }
    return best;
}

static bool contains(const cJSON *list, int v)
{
    for (const cJSON *c = list->child; c; c = c->next)
        if (c->valueint == v) return true;
    return false;
}

TEST(zh_en_aligns_heldout_sentences_over_http)
{
    size_t len;
    char *text = test_read_file(HELDOUT, &len);
    if (!text) harness_fail(__FILE__, __LINE__, "cannot read %s (run from the repo root)", HELDOUT);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    ASSERT(doc != NULL);
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    int hits = 0, total = 0, sentences = 0;
    const cJSON *cases = cJSON_GetObjectItem(doc, "cases");
    for (const cJSON *c = cases->child; c; c = c->next, sentences++) {
        const char *target = cJSON_GetObjectItem(c, "target")->valuestring;
        const char *source = cJSON_GetObjectItem(c, "source")->valuestring;
        const cJSON *gold = cJSON_GetObjectItem(c, "align");
        cJSON *j = align(&d, target, source);
        const cJSON *w = cJSON_GetObjectItem(j, "weights");
        /* One row per English word, one column per Chinese character. */
        ASSERT_EQ(cJSON_GetArraySize(w), cJSON_GetArraySize(gold));
        ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "source_tokens")),
                  cJSON_GetArraySize(cJSON_GetArrayItem(w, 0)));
        int i = 0;
        for (const cJSON *g = gold->child; g; g = g->next, i++, total++)
            hits += contains(g, argmax_row(w, i));
        cJSON_Delete(j);
    }
    cJSON_Delete(doc);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
    printf("  zh-en: %d of %d target words of %d held-out sentences aligned (%.1f %%)\n", hits,
           total, sentences, 100.0 * hits / total);
    ASSERT(sentences >= 100);
    ASSERT(hits * 10 >= total * 9); /* >= 90 % */
}

TEST(zh_en_welcome_to_beijing)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    cJSON *j = align(&d, "welcome to Beijing", "欢迎来北京");
    const cJSON *w = cJSON_GetObjectItem(j, "weights");
    /* Source characters 欢 迎 来 北 京: welcome <- 欢迎, to <- 来, Beijing <- 北京. */
    int welcome = argmax_row(w, 0), to = argmax_row(w, 1), beijing = argmax_row(w, 2);
    ASSERT(welcome == 0 || welcome == 1);
    ASSERT_EQ(to, 2);
    ASSERT(beijing == 3 || beijing == 4);
    const cJSON *meta = cJSON_GetObjectItem(j, "meta");
    ASSERT_STREQ(cJSON_GetObjectItem(meta, "attention")->valuestring, "cross");
    ASSERT_EQ(cJSON_GetObjectItem(meta, "unknown_tokens")->valueint, 0);
    cJSON_Delete(j);
    test_response r;
    ASSERT_EQ(test_http(&d, "GET", "/v1/models/zh-en", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "\"source\":null");
    ASSERT_CONTAINS(r.body, "\"positional\":\"none\"");
    ASSERT_CONTAINS(r.body, "\"dtype\":\"F16\"");
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}

TEST(zh_en_name_is_taken_for_model_files)
{
    test_daemon d;
    const char *args[] = {"--model", "zh-en=tests/fixtures/models/tiny.safetensors", NULL};
    ASSERT(test_daemon_start(&d, args) != 0);
    char *log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "model name \\\"zh-en\\\" is already taken");
    free(log);
    test_daemon_stop(&d, 0);
}

TEST(zh_en_memory_model_is_checked_like_a_file)
{
    api_model_registry *r = api_model_registry_new();
    ASSERT(r != NULL);
    char err[512];
    ASSERT_EQ(api_model_registry_add_builtins(r, err, sizeof err), AT_OK);
    ASSERT_EQ(api_model_registry_count(r), 2);
    api_model_info in;
    api_model_get_info(api_model_registry_find(r, API_MODEL_ZH_EN), &in);
    ASSERT(in.source == NULL && in.vocab_path == NULL);
    ASSERT_EQ(in.num_heads, 4);
    /* A truncated file and a vocabulary of the wrong size are refused, naming the model. */
    static const unsigned char shortfile[] = {1, 0, 0};
    ASSERT_EQ(api_model_registry_add_memory(r, "m", shortfile, sizeof shortfile, "[UNK]\n", 6, err,
                                            sizeof err),
              AT_EPARSE);
    ASSERT_CONTAINS(err, "built-in m: 3 bytes, too few");
    ASSERT_EQ(api_model_registry_count(r), 2);
    ASSERT_EQ(api_model_registry_add_builtins(r, err, sizeof err), AT_EINVAL); /* name taken */
    ASSERT_CONTAINS(err, "already taken");
    api_model_registry_free(r);
}
