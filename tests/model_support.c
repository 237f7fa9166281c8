/* Shared helpers of the model tests: fixture paths and files, the fixture registry, a pool
 * job that runs multi-head attention, and scratch directories. */
#include "model_support.h"

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/status.h"
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

typedef struct mha_job {
    const at_mha_weights *w;
    const float *x, *src;
    int64_t len, src_len;
    const at_attention_desc *opts;
    const at_mha_out *out;
    void *ws;
    at_pool *pool;
    int rc;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} mha_job;

static void mha_job_run(void *arg, int worker)
{
    mha_job *j = arg;
    int rc = at_mha_forward(j->w, j->x, j->len, j->src, j->src_len, j->opts, j->out, j->ws, j->pool,
                            worker);
    pthread_mutex_lock(&j->mu);
    j->rc = rc;
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
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
    mha_job j = {.w = w,
                 .x = x,
                 .src = src,
                 .len = len,
                 .src_len = src_len,
                 .opts = opts,
                 .out = out,
                 .ws = ws,
                 .pool = pool};
    if (!pool) {
        j.rc = at_mha_forward(w, x, len, src, src_len, opts, out, ws, NULL, 0);
    } else {
        pthread_mutex_init(&j.mu, NULL);
        pthread_cond_init(&j.cv, NULL);
        int rc = at_pool_submit(pool, mha_job_run, &j);
        if (rc == AT_OK) {
            pthread_mutex_lock(&j.mu);
            while (!j.done)
                pthread_cond_wait(&j.cv, &j.mu);
            pthread_mutex_unlock(&j.mu);
        } else {
            j.rc = rc;
        }
        pthread_cond_destroy(&j.cv);
        pthread_mutex_destroy(&j.mu);
    }
    free(ws);
    return j.rc;
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
