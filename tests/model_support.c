/* Shared helpers of the model tests: fixture paths and files, the fixture registry, a pool
 * job that runs multi-head attention, and scratch directories. */
#include "model_support.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/status.h"
#include "core_support.h"
#include "harness.h"

const char *mt_fixture_path(const char *rel, char *buf, size_t len)
{
    const char *dir = getenv("ATTND_FIXTURES_DIR");
    snprintf(buf, len, "%s/%s", dir && *dir ? dir : "tests/fixtures", rel);
    return buf;
}

cJSON *mt_load_json(const char *rel)
{
    char path[1024];
    mt_fixture_path(rel, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) harness_fail(__FILE__, __LINE__, "cannot open %s (run from the repo root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    size_t got = text ? fread(text, 1, (size_t)n, f) : 0;
    fclose(f);
    ASSERT(text != NULL);
    text[got] = '\0';
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (!doc) harness_fail(__FILE__, __LINE__, "%s: not valid JSON", path);
    return doc;
}

api_model_registry *mt_fixture_registry(void)
{
    static const char *const names[] = {"tiny", "tiny_f16", "tiny_bf16"};
    api_model_registry *r = api_model_registry_new();
    ASSERT(r != NULL);
    for (int i = 0; i < 3; i++) {
        char rel[64], path[1024], err[512];
        snprintf(rel, sizeof rel, "models/%s.safetensors", names[i]);
        int rc = api_model_registry_load(r, NULL, mt_fixture_path(rel, path, sizeof path), err,
                                         sizeof err);
        if (rc != AT_OK) harness_fail(__FILE__, __LINE__, "loading %s: %s", path, err);
    }
    return r;
}

typedef struct mha_call {
    const at_mha_weights *w;
    const float *x, *src;
    int64_t len, src_len;
    const at_attention_desc *opts;
    const at_mha_out *out;
    void *ws;
} mha_call;

static int mha_call_run(void *ctx, at_pool *pool, int worker)
{
    mha_call *c = ctx;
    return at_mha_forward(c->w, c->x, c->len, c->src, c->src_len, c->opts, c->out, c->ws, pool,
                          worker);
}

int mt_run_mha(at_pool *pool, const at_mha_weights *w, const float *x, int64_t len,
               const float *src, int64_t src_len, const at_attention_desc *opts,
               const at_mha_out *out)
{
    char err[512];
    if (at_mha_check(w, len, src_len, opts, NULL, err, sizeof err) != AT_OK)
        harness_fail(__FILE__, __LINE__, "at_mha_check: %s", err);
    size_t size = at_mha_workspace_size(w, len, src_len, opts, at_pool_threads(pool));
    /* Exactly the size asked for (rounded to the alignment), so ASan sees any overrun. */
    void *ws = aligned_alloc(64, (size + 63) / 64 * 64);
    ASSERT(ws != NULL);
    mha_call c = {w, x, src, len, src_len, opts, out, ws};
    int rc = ct_run_on_pool(pool, mha_call_run, &c);
    free(ws);
    return rc;
}

void mt_tmpdir(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/attnd_model_test_XXXXXX");
    if (!mkdtemp(dir)) harness_fail(__FILE__, __LINE__, "mkdtemp failed");
}

void mt_tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (unlink(path) != 0) rmdir(path);
        }
    closedir(d);
    rmdir(dir);
}

const char *mt_write_file(const char *dir, const char *name, const void *data, size_t n, char *buf,
                          size_t len)
{
    snprintf(buf, len, "%s/%s", dir, name);
    FILE *f = fopen(buf, "wb");
    if (!f) harness_fail(__FILE__, __LINE__, "cannot write %s", buf);
    size_t put = n ? fwrite(data, 1, n, f) : 0;
    fclose(f);
    if (put != n) harness_fail(__FILE__, __LINE__, "short write to %s", buf);
    return buf;
}

const char *mt_write_tiny_variant(const char *dir, const char *name, const char *drop_prefix,
                                  const char *reshape_name, const char *reshape, char *buf,
                                  size_t len)
{
    char path[1024];
    size_t size = 0;
    unsigned char *file = NULL;
    FILE *f = fopen(mt_fixture_path("models/tiny.safetensors", path, sizeof path), "rb");
    if (!f) harness_fail(__FILE__, __LINE__, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    file = malloc(size);
    ASSERT(file != NULL && fread(file, 1, size, f) == size);
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | file[i];
    cJSON *header = cJSON_ParseWithLength((const char *)file + 8, (size_t)hlen);
    ASSERT(header != NULL);

    uint64_t data_end = 0;
    cJSON *t = header->child;
    while (t) {
        cJSON *next = t->next;
        if (drop_prefix && !strncmp(t->string, drop_prefix, strlen(drop_prefix))) {
            cJSON_Delete(cJSON_DetachItemViaPointer(header, t));
        } else if (strcmp(t->string, "__metadata__") != 0) {
            uint64_t end = (uint64_t)cJSON_GetArrayItem(cJSON_GetObjectItem(t, "data_offsets"), 1)
                               ->valuedouble;
            if (end > data_end) data_end = end;
            if (reshape_name && !strcmp(t->string, reshape_name))
                ASSERT(cJSON_ReplaceItemInObject(t, "shape", cJSON_Parse(reshape)));
        }
        t = next;
    }
    char *text = cJSON_PrintUnformatted(header);
    cJSON_Delete(header);
    ASSERT(text != NULL);
    size_t n = strlen(text), padded = (n + 7) / 8 * 8;
    unsigned char *out = malloc(8 + padded + data_end);
    ASSERT(out != NULL);
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(out + 8, text, n);
    memset(out + 8 + n, ' ', padded - n);
    memcpy(out + 8 + padded, file + 8 + hlen, data_end);
    mt_write_file(dir, name, out, 8 + padded + data_end, buf, len);
    free(out);
    cJSON_free(text);

    char *vocab = NULL, vpath[1024], vout[1024];
    f = fopen(mt_fixture_path("models/vocab.txt", vpath, sizeof vpath), "rb");
    ASSERT(f != NULL);
    fseek(f, 0, SEEK_END);
    size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    vocab = malloc(size);
    ASSERT(vocab != NULL && fread(vocab, 1, size, f) == size);
    fclose(f);
    mt_write_file(dir, "vocab.txt", vocab, size, vout, sizeof vout);
    free(vocab);
    free(file);
    return buf;
}

char *mt_case_body(const cJSON *c)
{
    cJSON *body = cJSON_Duplicate(cJSON_GetObjectItem(c, "input"), true);
    ASSERT(body != NULL);
    const cJSON *src = cJSON_GetObjectItem(c, "source");
    if (src) cJSON_AddItemToObject(body, "source", cJSON_Duplicate(src, true));
    cJSON_AddBoolToObject(body, "causal", cJSON_IsTrue(cJSON_GetObjectItem(c, "causal")));
    cJSON_AddBoolToObject(body, "average_heads",
                          cJSON_IsTrue(cJSON_GetObjectItem(c, "average_heads")));
    cJSON_AddStringToObject(body, "score", cJSON_GetObjectItem(c, "score")->valuestring);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    ASSERT(text != NULL);
    return text;
}

/* Line `id` of the fixture vocabulary, into buf. */
static const char *vocab_line(uint64_t id, char *buf, size_t len)
{
    char path[1024], line[256];
    FILE *f = fopen(mt_fixture_path("models/vocab.txt", path, sizeof path), "rb");
    ASSERT(f != NULL);
    buf[0] = '\0';
    for (uint64_t i = 0; fgets(line, sizeof line, f); i++)
        if (i == id) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(buf, len, "%s", line);
            break;
        }
    fclose(f);
    return buf;
}

/* Strings, or ids (numbers or decimal strings), equal one by one. */
static void check_list(const char *name, const char *what, const cJSON *want, const cJSON *got)
{
    if (cJSON_GetArraySize(want) != cJSON_GetArraySize(got))
        harness_fail(__FILE__, __LINE__, "%s: %s has %d items, want %d", name, what,
                     cJSON_GetArraySize(got), cJSON_GetArraySize(want));
    const cJSON *g = got->child;
    for (const cJSON *w = want->child; w; w = w->next, g = g->next) {
        bool same = cJSON_IsString(w) ? cJSON_IsString(g) && !strcmp(w->valuestring, g->valuestring)
                                      : cJSON_IsNumber(g) && g->valuedouble == w->valuedouble;
        if (!same) {
            char *gs = cJSON_PrintUnformatted(g), *ws = cJSON_PrintUnformatted(w);
            harness_fail(__FILE__, __LINE__, "%s: %s has %s where %s is expected", name, what, gs,
                         ws);
        }
    }
}

/* Compares nested arrays of numbers element by element; returns the count compared. */
static size_t compare_numbers(const cJSON *want, const cJSON *got, double abs_tol, double rel_tol,
                              const char *what, const char *name, size_t at)
{
    if (cJSON_IsNumber(want)) {
        if (!cJSON_IsNumber(got))
            harness_fail(__FILE__, __LINE__, "%s: %s[%zu] is not a number", name, what, at);
        double w = want->valuedouble, g = got->valuedouble;
        if (!(fabs(g - w) <= abs_tol + rel_tol * fabs(w)))
            harness_fail(__FILE__, __LINE__, "%s: %s[%zu] is %.9g, want %.9g", name, what, at, g,
                         w);
        return at + 1;
    }
    if (!cJSON_IsArray(got) || cJSON_GetArraySize(got) != cJSON_GetArraySize(want))
        harness_fail(__FILE__, __LINE__, "%s: %s: nesting differs near element %zu", name, what,
                     at);
    const cJSON *g = got->child;
    for (const cJSON *w = want->child; w; w = w->next, g = g->next)
        at = compare_numbers(w, g, abs_tol, rel_tol, what, name, at);
    return at;
}

/* A member of obj, failing the test when it is missing. */
static const cJSON *member(const cJSON *obj, const char *key, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!m) harness_fail(__FILE__, __LINE__, "%s: the response has no \"%s\"", name, key);
    return m;
}

static void check_tokens(const char *name, const char *what, const cJSON *want,
                         const cJSON *want_ids, const cJSON *got, bool vocabulary)
{
    if (!cJSON_IsNull(want)) {
        check_list(name, what, want, got);
        return;
    }
    if (!vocabulary) { /* ids sent to a hashing model: no token can be read back */
        if (!cJSON_IsNull(got)) harness_fail(__FILE__, __LINE__, "%s: %s not null", name, what);
        return;
    }
    ASSERT_EQ(cJSON_GetArraySize(got), cJSON_GetArraySize(want_ids));
    const cJSON *g = got->child;
    for (const cJSON *id = want_ids->child; id; id = id->next, g = g->next) {
        char line[256];
        ASSERT(cJSON_IsString(g));
        ASSERT_STREQ(g->valuestring, vocab_line((uint64_t)id->valuedouble, line, sizeof line));
    }
}

void mt_check_case_response(const cJSON *c, const cJSON *got)
{
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const char *model = cJSON_GetObjectItem(c, "model")->valuestring;
    const cJSON *exp = cJSON_GetObjectItem(c, "expected");
    const bool cross = cJSON_GetObjectItem(c, "source") != NULL;
    const bool vocabulary = strcmp(model, "default") != 0;
    const bool average = cJSON_IsTrue(cJSON_GetObjectItem(c, "average_heads"));
    const cJSON *ids = cJSON_GetObjectItem(exp, "ids");
    check_tokens(name, "tokens", cJSON_GetObjectItem(exp, "tokens"), ids,
                 member(got, "tokens", name), vocabulary);
    check_list(name, "ids", ids, member(got, "ids", name));
    if (cross) {
        const cJSON *sids = cJSON_GetObjectItem(exp, "source_ids");
        check_tokens(name, "source_tokens", cJSON_GetObjectItem(exp, "source_tokens"), sids,
                     member(got, "source_tokens", name), vocabulary);
        check_list(name, "source_ids", sids, member(got, "source_ids", name));
    } else {
        ASSERT(cJSON_GetObjectItem(got, "source_tokens") == NULL);
    }
    const cJSON *ctx = cJSON_GetObjectItem(exp, "context"),
                *w = cJSON_GetObjectItem(exp, "weights");
    compare_numbers(ctx, member(got, "context", name), 1e-5, 1e-4, "context", name, 0);
    compare_numbers(w, member(got, "weights", name), 1e-5, 0, "weights", name, 0);

    const cJSON *meta = member(got, "meta", name);
    ASSERT_STREQ(cJSON_GetStringValue(member(meta, "model", name)), model);
    ASSERT_STREQ(cJSON_GetStringValue(member(meta, "attention", name)), cross ? "cross" : "self");
    ASSERT_STREQ(cJSON_GetStringValue(member(meta, "score", name)),
                 cJSON_GetObjectItem(c, "score")->valuestring);
    ASSERT(cJSON_IsTrue(member(meta, "causal", name)) ==
           cJSON_IsTrue(cJSON_GetObjectItem(c, "causal")));
    int L = cJSON_GetArraySize(ctx), E = cJSON_GetArraySize(ctx->child);
    int S = average ? cJSON_GetArraySize(w->child) : cJSON_GetArraySize(w->child->child);
    ASSERT_EQ(member(meta, "length", name)->valueint, L);
    ASSERT_EQ(member(meta, "embed_dim", name)->valueint, E);
    const cJSON *cs = member(meta, "context_shape", name),
                *ws = member(meta, "weights_shape", name);
    ASSERT(cJSON_GetArraySize(cs) == 2 && cJSON_GetArrayItem(cs, 0)->valueint == L &&
           cJSON_GetArrayItem(cs, 1)->valueint == E);
    ASSERT_EQ(cJSON_GetArraySize(ws), average ? 2 : 3);
    ASSERT_EQ(cJSON_GetArrayItem(ws, average ? 1 : 2)->valueint, S);
    if (cross) ASSERT_EQ(member(meta, "source_length", name)->valueint, S);
    ASSERT(cJSON_IsNumber(member(meta, "compute_ms", name)));
}
