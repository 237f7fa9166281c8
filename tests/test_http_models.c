/* End-to-end tests of the model endpoints on the real attnd: every case of
 * tests/fixtures/model_cases.json replayed over HTTP against a daemon started with --model for
 * the fixture models (PyTorch's numbers: weights to 1e-5, context to 1e-4 relative), the
 * listings and routing, bad token input sent as raw bytes, limits, metrics route labels,
 * concurrent clients, ATTND_MODEL, and start-up failures on bad model files. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "harness.h"
#include "model_support.h"

/* "--model", "tiny=<fixtures>/models/tiny.safetensors", ... for the three fixture models. */
typedef struct model_args {
    char spec[3][1100];
    const char *argv[16];
} model_args;

static const char *const *fixture_models(model_args *a, const char *const *extra)
{
    static const char *const names[] = {"tiny", "tiny_f16", "tiny_bf16"};
    int n = 0;
    for (int i = 0; i < 3; i++) {
        char rel[64], path[1024];
        snprintf(rel, sizeof rel, "models/%s.safetensors", names[i]);
        snprintf(a->spec[i], sizeof a->spec[i], "%s=%s", names[i],
                 mt_fixture_path(rel, path, sizeof path));
        a->argv[n++] = "--model";
        a->argv[n++] = a->spec[i];
    }
    for (int i = 0; extra && extra[i] && n < 15; i++)
        a->argv[n++] = extra[i];
    a->argv[n] = NULL;
    return a->argv;
}

static cJSON *parse(const test_response *r)
{
    cJSON *j = cJSON_Parse(r->body);
    if (!j) harness_fail(__FILE__, __LINE__, "response is not JSON: %.300s", r->body);
    return j;
}

/* POSTs body[0..len) to path; expects `status` and, for errors, code, field and a message part. */
static void expect(const test_daemon *d, const char *path, const char *body, size_t len,
                   long status, const char *code, const char *field, const char *part, int line)
{
    test_response r;
    ASSERT_EQ(test_http(d, "POST", path, "application/json", body, len, &r), 0);
    if (r.status != status)
        harness_fail(__FILE__, line, "%s %.200s -> %ld (want %ld): %.300s", path, body, r.status,
                     status, r.body);
    cJSON *j = parse(&r);
    if (code) {
        const cJSON *e = cJSON_GetObjectItem(j, "error");
        const char *got = cJSON_GetStringValue(cJSON_GetObjectItem(e, "code"));
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
        const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(e, "field"));
        if (!got || strcmp(got, code) || strcmp(f ? f : "", field) || !strstr(msg, part))
            harness_fail(__FILE__, line, "%.200s: got %s, want code %s field \"%s\" message ~ %s",
                         body, r.body, code, field, part);
    }
    cJSON_Delete(j);
    test_response_free(&r);
}

#define EXPECT(d, path, body, status, code, field, part)                                           \
    expect((d), (path), (body), sizeof(body) - 1, (status), (code), (field), (part), __LINE__)

/* ---- PyTorch's numbers over HTTP ---- */

TEST(http_models_fixture_cases_match_pytorch)
{
    model_args a;
    test_daemon d;
    const char *threads[] = {"--threads", "3", NULL};
    ASSERT_EQ(test_daemon_start(&d, fixture_models(&a, threads)), 0);
    cJSON *doc = mt_load_json("model_cases.json");
    int n = 0;
    for (const cJSON *c = cJSON_GetObjectItem(doc, "cases")->child; c; c = c->next, n++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/models/%s/attention",
                 cJSON_GetObjectItem(c, "model")->valuestring);
        char *body = mt_case_body(c);
        test_response r;
        ASSERT_EQ(test_post_json(&d, path, body, &r), 0);
        if (r.status != 200)
            harness_fail(__FILE__, __LINE__, "%s: HTTP %ld %.300s",
                         cJSON_GetObjectItem(c, "name")->valuestring, r.status, r.body);
        ASSERT_CONTAINS(r.headers, "Content-Type: application/json");
        cJSON *got = parse(&r);
        mt_check_case_response(c, got);
        cJSON_Delete(got);
        test_response_free(&r);
        free(body);
    }
    ASSERT(n >= 15);
    cJSON_Delete(doc);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* ---- listings, routing, errors ---- */

TEST(http_models_listing_and_routes)
{
    model_args a;
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, fixture_models(&a, NULL)), 0);
    test_response r;
    ASSERT_EQ(test_http(&d, "GET", "/v1/models", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.headers, "Content-Type: application/json");
    cJSON *j = parse(&r);
    const cJSON *models = cJSON_GetObjectItem(j, "models");
    ASSERT_EQ(cJSON_GetArraySize(models), 5);
    static const char *const names[] = {"default", "zh-en", "tiny", "tiny_f16", "tiny_bf16"};
    static const char *const keys[] = {
        "name",       "source",    "embedding", "vocab_size", "embed_dim", "num_heads", "head_dim",
        "positional", "lowercase", "max_len",   "additive",   "dtype",     "loaded_at"};
    int i = 0;
    for (const cJSON *m = models->child; m; m = m->next, i++) {
        ASSERT_STREQ(cJSON_GetObjectItem(m, "name")->valuestring, names[i]);
        ASSERT_EQ(cJSON_GetArraySize(m), 13);
        int k = 0;
        for (const cJSON *f = m->child; f; f = f->next, k++)
            ASSERT_STREQ(f->string, keys[k]);
    }
    const cJSON *dflt = models->child, *tiny = dflt->next->next;
    ASSERT(cJSON_IsNull(cJSON_GetObjectItem(dflt, "source")));
    ASSERT_STREQ(cJSON_GetObjectItem(dflt, "embedding")->valuestring, "hashing");
    ASSERT_EQ(cJSON_GetObjectItem(dflt, "embed_dim")->valueint, 64);
    ASSERT_EQ(cJSON_GetObjectItem(dflt, "num_heads")->valueint, 4);
    ASSERT_STREQ(cJSON_GetObjectItem(tiny, "embedding")->valuestring, "table");
    ASSERT_CONTAINS(cJSON_GetObjectItem(tiny, "source")->valuestring, "models/tiny.safetensors");
    ASSERT_EQ(cJSON_GetObjectItem(tiny, "max_len")->valueint, 32);
    ASSERT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(tiny, "additive"), "dim")->valueint, 6);
    ASSERT_STREQ(cJSON_GetObjectItem(tiny->next, "dtype")->valuestring, "F16");

    /* One model is the same object as in the listing. */
    test_response one;
    ASSERT_EQ(test_http(&d, "GET", "/v1/models/tiny", NULL, NULL, 0, &one), 0);
    ASSERT_EQ(one.status, 200);
    char *listed = cJSON_PrintUnformatted(tiny);
    one.body[strcspn(one.body, "\n")] = '\0';
    ASSERT_STREQ(one.body, listed);
    free(listed);
    test_response_free(&one);
    cJSON_Delete(j);
    test_response_free(&r);
    ASSERT_EQ(test_http(&d, "HEAD", "/v1/models/default", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);

    /* Unknown models: 404 naming the model and the loaded ones, for both routes. */
    const char *paths[] = {"/v1/models/nope", "/v1/models/nope/attention"};
    const char *methods[] = {"GET", "POST"};
    for (int p = 0; p < 2; p++) {
        ASSERT_EQ(
            test_http(&d, methods[p], paths[p], "application/json", "{\"text\": \"a\"}", 13, &r),
            0);
        ASSERT_EQ(r.status, 404);
        ASSERT_CONTAINS(r.body, "\"code\":\"not_found\"");
        ASSERT_CONTAINS(r.body, "no model \\\"nope\\\" is loaded; the models are: default, zh-en, "
                                "tiny, tiny_f16, tiny_bf16");
        test_response_free(&r);
    }
    /* Other paths under /v1/models are not routes; methods are checked per route. */
    const char *unmatched[] = {"/v1/models/", "/v1/models/tiny/", "/v1/models/tiny/weights",
                               "/v1/models/tiny/attention/x", "/v1/modelsx"};
    for (size_t u = 0; u < sizeof unmatched / sizeof unmatched[0]; u++) {
        ASSERT_EQ(test_http(&d, "GET", unmatched[u], NULL, NULL, 0, &r), 0);
        ASSERT_EQ(r.status, 404);
        ASSERT_CONTAINS(r.body, "POST /v1/models/{name}/attention");
        test_response_free(&r);
    }
    ASSERT_EQ(test_http(&d, "GET", "/v1/models/tiny/attention", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 405);
    ASSERT_CONTAINS(r.headers, "Allow: POST");
    test_response_free(&r);
    ASSERT_EQ(test_http(&d, "POST", "/v1/models", "application/json", "{}", 2, &r), 0);
    ASSERT_EQ(r.status, 405);
    ASSERT_CONTAINS(r.headers, "Allow: GET, HEAD");
    test_response_free(&r);
    ASSERT_EQ(test_http(&d, "POST", "/v1/models/tiny/attention", "text/plain", "hello", 5, &r), 0);
    ASSERT_EQ(r.status, 415);
    test_response_free(&r);

    /* Route labels are the templates, never the model asked for. */
    ASSERT_EQ(test_http(&d, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    ASSERT_CONTAINS(r.body, "attnd_http_requests_total{route=\"/v1/models\",code=\"200\"} 1\n");
    ASSERT_CONTAINS(r.body,
                    "attnd_http_requests_total{route=\"/v1/models/{name}\",code=\"404\"} 1\n");
    ASSERT_CONTAINS(r.body, "attnd_http_requests_total{route=\"/v1/models/{name}/attention\","
                            "code=\"404\"} 1\n");
    ASSERT_CONTAINS(r.body, "attnd_http_requests_total{route=\"/v1/models/{name}/attention\","
                            "code=\"415\"} 1\n");
    ASSERT(strstr(r.body, "nope") == NULL && strstr(r.body, "route=\"/v1/models/tiny") == NULL);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(http_models_bad_token_input)
{
    char dir[256], plain[512], spec[600];
    mt_tmpdir(dir, sizeof dir);
    mt_write_tiny_variant(dir, "plain.safetensors", "additive.", NULL, NULL, plain, sizeof plain);
    snprintf(spec, sizeof spec, "plain=%s", plain);
    const char *extra[] = {"--model", spec, NULL};
    model_args a;
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, fixture_models(&a, extra)), 0);
    const char *tiny = "/v1/models/tiny/attention", *dflt = "/v1/models/default/attention";

    /* Raw bytes that are not UTF-8 inside the JSON strings (a \u escape would be valid). */
    EXPECT(&d, tiny, "{\"text\": \"hello \xff world\"}", 400, "invalid_value", "text",
           "text: invalid UTF-8 at byte 6: 0xff");
    EXPECT(&d, dflt, "{\"text\": \"\xe6\xac\"}", 400, "invalid_value", "text", "invalid UTF-8");
    EXPECT(&d, tiny, "{\"tokens\": [\"ok\", \"\xc3\"]}", 400, "invalid_value", "tokens",
           "tokens[1]: invalid UTF-8");
    EXPECT(&d, tiny, "{\"text\": \"a\", \"source\": {\"text\": \"\xed\xa0\x80\"}}", 400,
           "invalid_value", "source", "source.text: invalid UTF-8");
    /* Ids out of range, empty sequences, too long for max_len (32 for tiny). */
    EXPECT(&d, tiny, "{\"ids\": [3, 32]}", 400, "invalid_value", "ids",
           "ids[1]: 32 is not a token id of this model (0..31)");
    EXPECT(&d, tiny, "{\"ids\": [-3]}", 400, "invalid_value", "ids", "ids[0]");
    EXPECT(&d, tiny, "{\"text\": \"\"}", 400, "invalid_value", "text", "text: no tokens");
    EXPECT(&d, dflt, "{\"text\": \"   \"}", 400, "invalid_value", "text", "text: no tokens");
    EXPECT(&d, tiny, "{\"tokens\": []}", 400, "invalid_value", "tokens", "no tokens");
    EXPECT(&d, tiny, "{\"ids\": [1], \"source\": {\"ids\": []}}", 400, "invalid_value", "source",
           "source: no tokens");
    EXPECT(&d, tiny,
           "{\"ids\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}", 400,
           "invalid_value", "ids", "ids: 33 tokens, but this model accepts at most 32");
    /* The additive score without the model's parameters; the fixture model has them. */
    EXPECT(&d, "/v1/models/plain/attention", "{\"text\": \"hello\", \"score\": \"additive\"}", 400,
           "invalid_value", "score", "model \"plain\" has no additive score parameters");
    EXPECT(&d, tiny, "{\"text\": \"hello\", \"score\": \"additive\"}", 200, NULL, "", "");
    /* Unknown fields, as on /v1/attention. */
    EXPECT(&d, tiny, "{\"text\": \"hello\", \"casual\": true}", 400, "unknown_field", "casual",
           "did you mean 'causal'?");
    EXPECT(&d, tiny, "{\"text\": \"hello\", \"query\": [[1]]}", 400, "unknown_field", "query",
           "known fields: text, tokens, ids, source");
    EXPECT(&d, tiny, "{\"text\": \"hello\"", 400, "invalid_json", "", "malformed JSON");

    /* The daemon serves on after every refusal. */
    EXPECT(&d, tiny, "{\"text\": \"hello world\", \"causal\": true}", 200, NULL, "", "");
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
    mt_tmpdir_remove(dir);
}

TEST(http_models_limits)
{
    const char *args[] = {"--max-elements", "2000", "--max-score-elements", "100", NULL};
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    const char *path = "/v1/models/default/attention";
    /* 4 heads * 6 * 6 = 144 weights > 100. */
    EXPECT(&d, path, "{\"text\": \"a b c d e f\"}", 413, "limit_exceeded", "",
           "H*L*S = 4*6*6 = 144 elements");
    EXPECT(&d, path, "{\"text\": \"a b c d e f\", \"average_heads\": true}", 413, "limit_exceeded",
           "", "H*L*S"); /* the core still holds every head's weights */
    EXPECT(&d, path, "{\"text\": \"a b\", \"return_weights\": false}", 200, NULL, "", "");
    /* 64-wide embeddings: 5 tokens need 5*64*(1 + 3 + 2) = 1920 elements, 6 need 2304. */
    EXPECT(&d, path, "{\"text\": \"a b c d e\", \"return_weights\": false}", 200, NULL, "", "");
    EXPECT(&d, path, "{\"text\": \"a b c d e f\", \"return_weights\": false}", 413,
           "limit_exceeded", "", "the request needs 2304 elements");
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* ---- many clients at once ---- */

typedef struct client {
    const test_daemon *d;
    const char *path, *body;
    char *first; /* the first response, which every later one must equal */
    int mismatches, failures;
} client;

/* The response without meta's compute_ms, which varies. */
static size_t stable_len(const char *text)
{
    const char *p = strstr(text, ",\"compute_ms\":");
    return p ? (size_t)(p - text) : strlen(text);
}

static void *client_run(void *arg)
{
    client *c = arg;
    for (int i = 0; i < 20; i++) {
        test_response r;
        if (test_post_json(c->d, c->path, c->body, &r) != 0 || r.status != 200) {
            c->failures++;
        } else if (!c->first) {
            c->first = r.body;
            r.body = NULL;
        } else {
            size_t n = stable_len(c->first);
            if (stable_len(r.body) != n || memcmp(r.body, c->first, n) != 0) c->mismatches++;
        }
        test_response_free(&r);
    }
    return NULL;
}

TEST(http_models_concurrent_clients)
{
    model_args a;
    test_daemon d;
    const char *threads[] = {"--threads", "4", NULL};
    ASSERT_EQ(test_daemon_start(&d, fixture_models(&a, threads)), 0);
    client cs[6] = {
        {&d, "/v1/models/tiny/attention", "{\"text\": \"the cat sat on the mat\"}", NULL, 0, 0},
        {&d, "/v1/models/default/attention", "{\"text\": \"欢迎 来 北京\", \"causal\": true}", NULL,
         0, 0},
        {&d, "/v1/models/tiny_f16/attention",
         "{\"text\": \"hello\", \"source\": {\"text\": \"欢迎来北京\"}}", NULL, 0, 0},
        {&d, "/v1/attention", "{\"query\": [[1, 0], [0, 1], [1, 1]], \"causal\": true}", NULL, 0,
         0},
        {&d, "/v1/models/tiny/attention",
         "{\"ids\": [4, 5, 6], \"selection\": \"sample\", \"k\": 1, \"seed\": 7}", NULL, 0, 0},
        {&d, "/v1/models/default/attention",
         "{\"text\": \"an attention daemon\", \"score\": \"additive\"}", NULL, 0, 0},
    };
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, client_run, &cs[i]), 0);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 6; i++) {
        if (cs[i].failures || cs[i].mismatches)
            harness_fail(__FILE__, __LINE__, "%s %s: %d failures, %d different answers", cs[i].path,
                         cs[i].body, cs[i].failures, cs[i].mismatches);
        free(cs[i].first);
    }
    test_response r;
    ASSERT_EQ(test_http(&d, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    ASSERT_CONTAINS(r.body, "attnd_http_requests_total{route=\"/v1/models/{name}/attention\","
                            "code=\"200\"} 100\n");
    ASSERT_CONTAINS(r.body, "attnd_http_request_duration_seconds_count{route=\"/v1/models/"
                            "{name}/attention\"} 100\n");
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* ---- loading models at start-up ---- */

/* Runs attnd with `env` and `args` until it exits (a bad model stops it before it serves);
 * returns the exit status and its output in out. */
static int run_attnd(const char *env, const char *args, char *out, size_t cap)
{
    const char *bin = getenv("ATTND_BIN");
    if (!bin || !*bin) bin = "build/attnd";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "env %s timeout 20 %s --port 0 %s 2>&1", env ? env : "", bin, args);
    FILE *p = popen(cmd, "r");
    ASSERT(p != NULL);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(http_models_startup_failures)
{
    char dir[256], path[512], args[1200], out[8192];
    mt_tmpdir(dir, sizeof dir);
    struct {
        const char *file, *problem;
    } bad[] = {
        {"shape.safetensors", "tensor out_proj.bias: expected [16] (E = 16 from embedding.weight), "
                              "got [4, 4]"},
        {"truncated.safetensors", "run past the end of the data"},
        {"text.safetensors", "too few for the 8-byte header length"},
        {"missing.safetensors", "cannot open"},
        {"novocab.safetensors", "vocabulary"},
    };
    /* A tensor of the wrong shape (the bytes still match it), a file cut short, a text file, a
     * file that is not there, and a model without its vocabulary. */
    mt_write_tiny_variant(dir, "shape.safetensors", NULL, "out_proj.bias", "[4,4]", path,
                          sizeof path);
    size_t size = 0;
    char tiny[1024];
    char *bytes =
        test_read_file(mt_fixture_path("models/tiny.safetensors", tiny, sizeof tiny), &size);
    ASSERT(bytes != NULL && size > 1000);
    mt_write_file(dir, "truncated.safetensors", bytes, size - 100, path, sizeof path);
    free(bytes);
    mt_write_file(dir, "text.safetensors", "hello\n", 6, path, sizeof path);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    ASSERT_EQ(mkdir(sub, 0755), 0);
    mt_write_tiny_variant(sub, "novocab.safetensors", NULL, NULL, NULL, path, sizeof path);
    snprintf(path, sizeof path, "%s/vocab.txt", sub);
    ASSERT_EQ(unlink(path), 0);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char file[600];
        snprintf(file, sizeof file, "%s/%s%s", i == 4 ? sub : dir, bad[i].file, "");
        snprintf(args, sizeof args, "--model m=%s", file);
        int st = run_attnd(NULL, args, out, sizeof out);
        if (st != 1 || !strstr(out, file) || !strstr(out, bad[i].problem) ||
            strstr(out, "msg=listening"))
            harness_fail(__FILE__, __LINE__, "--model m=%s: exit %d, output:\n%s", file, st, out);
        ASSERT_CONTAINS(out, "level=error msg=start_failed model=\"m=");
    }
    /* The same through ATTND_MODEL, after a good spec: the bad one still stops the start. */
    char env[1400], good[1024];
    mt_fixture_path("models/tiny.safetensors", good, sizeof good);
    snprintf(env, sizeof env, "ATTND_MODEL='tiny=%s, bad=%s/truncated.safetensors'", good, dir);
    ASSERT_EQ(run_attnd(env, "", out, sizeof out), 1);
    ASSERT_CONTAINS(out, "truncated.safetensors");
    ASSERT(strstr(out, "msg=listening") == NULL);
    /* A name taken twice, a bad name, and --model without a value. */
    snprintf(args, sizeof args, "--model default=%s", good);
    ASSERT_EQ(run_attnd(NULL, args, out, sizeof out), 1);
    ASSERT_CONTAINS(out, "model name \\\"default\\\" is already taken");
    snprintf(args, sizeof args, "--model 'a b=%s'", good);
    ASSERT_EQ(run_attnd(NULL, args, out, sizeof out), 1);
    ASSERT_CONTAINS(out, "must be 1 to 63 characters");
    ASSERT_EQ(run_attnd(NULL, "--model", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--model: missing value");
    ASSERT_EQ(run_attnd(NULL, "--model tiny=", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "--model: expected NAME=PATH or PATH");
    mt_tmpdir_remove(sub);
    mt_tmpdir_remove(dir);
}

/* ATTND_MODEL holds specs separated by commas or whitespace; --model flags replace them. */
TEST(http_models_env_and_flags)
{
    char tiny[1024], f16[1024], env[3200];
    mt_fixture_path("models/tiny.safetensors", tiny, sizeof tiny);
    mt_fixture_path("models/tiny_f16.safetensors", f16, sizeof f16);
    snprintf(env, sizeof env, " a=%s,\tb=%s ,%s", tiny, f16, tiny); /* the last one is "tiny" */
    ASSERT_EQ(setenv("ATTND_MODEL", env, 1), 0);
    test_daemon d;
    int started = test_daemon_start(&d, NULL);
    unsetenv("ATTND_MODEL"); /* read at start-up; no later test should see it */
    ASSERT_EQ(started, 0);
    test_response r;
    ASSERT_EQ(test_http(&d, "GET", "/v1/models", NULL, NULL, 0, &r), 0);
    cJSON *j = parse(&r);
    const cJSON *m = cJSON_GetObjectItem(j, "models")->child;
    const char *want[] = {"default", "zh-en", "a", "b", "tiny"};
    for (int i = 0; i < 5; i++, m = m->next) {
        ASSERT(m != NULL);
        ASSERT_STREQ(cJSON_GetObjectItem(m, "name")->valuestring, want[i]);
    }
    ASSERT(m == NULL);
    cJSON_Delete(j);
    test_response_free(&r);
    char *log = test_daemon_log(&d);
    ASSERT_CONTAINS(log, "msg=model_loaded name=b source=\"");
    ASSERT_CONTAINS(log, "models=5");
    free(log);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);

    char spec[1100];
    snprintf(spec, sizeof spec, "only=%s", f16);
    const char *args[] = {"--model", spec, NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    ASSERT_EQ(test_http(&d, "GET", "/v1/models", NULL, NULL, 0, &r), 0);
    ASSERT_CONTAINS(r.body, "\"name\":\"only\"");
    ASSERT(strstr(r.body, "\"name\":\"a\"") == NULL);
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}
