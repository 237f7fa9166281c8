/* Keeps README.md honest: every ```sh block with a curl command, and every ```python block, that
 * is followed by a ```json block is run verbatim (with 127.0.0.1:8080 pointed at a test daemon
 * started, from the repo root, with --model tiny=tests/fixtures/models/tiny.safetensors and the
 * Hugging Face fixture folders bert and gpt2) and its output compared with the documented JSON:
 * same structure and strings, numbers to 1e-6 relative, meta's compute_ms and the models'
 * loaded_at (a time stamp) ignored. */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "harness.h"

/* Compares documented vs actual JSON; returns a description of the first difference or NULL. */
static const char *json_differs(const cJSON *doc, const cJSON *got, const char *key, char *why,
                                size_t len)
{
    if (key && (strcmp(key, "compute_ms") == 0 || strcmp(key, "loaded_at") == 0)) return NULL;
    if (cJSON_IsNumber(doc)) {
        if (!cJSON_IsNumber(got)) return snprintf(why, len, "%s: not a number", key), why;
        double a = doc->valuedouble, b = got->valuedouble;
        if (fabs(a - b) > 1e-6 * fmax(1.0, fabs(a)))
            return snprintf(why, len, "%s: documented %.9g, got %.9g", key, a, b), why;
        return NULL;
    }
    if (cJSON_IsString(doc)) {
        if (!cJSON_IsString(got) || strcmp(doc->valuestring, got->valuestring) != 0)
            return snprintf(why, len, "%s: documented \"%s\"", key, doc->valuestring), why;
        return NULL;
    }
    if (cJSON_IsBool(doc) || cJSON_IsNull(doc)) {
        if (doc->type != got->type) return snprintf(why, len, "%s: type differs", key), why;
        return NULL;
    }
    if (cJSON_IsArray(doc) || cJSON_IsObject(doc)) {
        if (doc->type != got->type || cJSON_GetArraySize(doc) != cJSON_GetArraySize(got))
            return snprintf(why, len, "%s: size or type differs", key ? key : "(top)"), why;
        const cJSON *d = doc->child, *g = got->child;
        for (; d && g; d = d->next, g = g->next) {
            if (cJSON_IsObject(doc) && strcmp(d->string, g->string) != 0)
                return snprintf(why, len, "key %s documented, got %s", d->string, g->string), why;
            const char *r = json_differs(d, g, d->string ? d->string : key, why, len);
            if (r) return r;
        }
        return NULL;
    }
    return NULL;
}

/* Copies s replacing every "127.0.0.1:8080" by "127.0.0.1:<port>". */
static char *with_port(const char *s, int port)
{
    size_t cap = strlen(s) * 2 + 64, n = 0;
    char *out = malloc(cap);
    const char *needle = "127.0.0.1:8080";
    while (*s) {
        if (strncmp(s, needle, strlen(needle)) == 0) {
            n += (size_t)snprintf(out + n, cap - n, "127.0.0.1:%d", port);
            s += strlen(needle);
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    return out;
}

/* The text of the fenced block starting at *p (after its ``` line), advancing *p past it. */
static char *block_body(const char **p)
{
    const char *start = strchr(*p, '\n');
    if (!start) return NULL;
    start++;
    const char *end = strstr(start, "\n```");
    if (!end) return NULL;
    *p = end + 4;
    return strndup(start, (size_t)(end - start + 1));
}

/* Runs `cmd` through the shell with Debian's python3 first on PATH (the one whose python3-*
 * packages make run installs) and compares what it prints with the documented JSON. */
static void check_example(const char *cmd, const char *doc_text, int port)
{
    char *run = with_port(cmd, port);
    FILE *f = popen(run, "r");
    ASSERT(f);
    char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    pclose(f);
    cJSON *doc = cJSON_Parse(doc_text), *got = cJSON_Parse(out);
    if (!doc)
        harness_fail(__FILE__, __LINE__, "README's documented output is not JSON: %s", doc_text);
    if (!got) harness_fail(__FILE__, __LINE__, "%s\nprinted non-JSON: %s", cmd, out);
    char why[512];
    const char *diff = json_differs(doc, got, NULL, why, sizeof why);
    if (diff) harness_fail(__FILE__, __LINE__, "%s\n  %s\n  printed %s", cmd, diff, out);
    cJSON_Delete(doc);
    cJSON_Delete(got);
    free(run);
}

/* The Python examples: a ```python block followed by a ```json block of what it prints. */
TEST(readme_python_examples_give_documented_output)
{
    const char *path = getenv("ATTND_README");
    char *readme = test_read_file(path && *path ? path : "README.md", NULL);
    ASSERT(readme);
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    int checked = 0;
    const char *p = readme;
    while ((p = strstr(p, "```python\n"))) {
        char *code = block_body(&p);
        ASSERT(code);
        const char *next = p;
        while (*next == '\n')
            next++;
        if (strncmp(next, "```json\n", 8) != 0) {
            free(code);
            continue;
        }
        p = next;
        char *doc_text = block_body(&p);
        char script[] = "/tmp/attnd-readme-XXXXXX";
        int fd = mkstemp(script);
        ASSERT(fd >= 0);
        FILE *f = fdopen(fd, "w");
        fputs(code, f);
        fclose(f);
        char cmd[256];
        snprintf(cmd, sizeof cmd, "PATH=/usr/bin:$PATH python3 %s 2>&1", script);
        /* The port is in the code, not the command: rewrite the file's text. */
        char *text = test_read_file(script, NULL), *ported = with_port(text, d.port);
        f = fopen(script, "w");
        fputs(ported, f);
        fclose(f);
        check_example(cmd, doc_text, d.port);
        unlink(script);
        free(text);
        free(ported);
        free(doc_text);
        free(code);
        checked++;
    }
    free(readme);
    ASSERT(checked >= 1);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

TEST(readme_curl_examples_give_documented_output)
{
    const char *path = getenv("ATTND_README");
    char *readme = test_read_file(path && *path ? path : "README.md", NULL);
    ASSERT(readme);
    /* The daemon of the README's model examples: the built-in model and the fixture model. */
    test_daemon d;
    const char *args[] = {"--model", "tiny=tests/fixtures/models/tiny.safetensors",
                          "--model", "bert=tests/fixtures/hf/bert_l2_f32",
                          "--model", "gpt2=tests/fixtures/hf/gpt2_bpe_f32",
                          NULL};
    ASSERT_EQ(test_daemon_start(&d, args), 0);
    int checked = 0;
    const char *p = readme;
    while ((p = strstr(p, "```sh\n"))) {
        char *cmd = block_body(&p);
        ASSERT(cmd);
        const char *next = p;
        while (*next == '\n')
            next++;
        if (!strstr(cmd, "curl") || strncmp(next, "```json\n", 8) != 0) {
            free(cmd);
            continue;
        }
        p = next;
        char *doc_text = block_body(&p);
        check_example(cmd, doc_text, d.port);
        free(doc_text);
        free(cmd);
        checked++;
    }
    free(readme);
    ASSERT(checked >= 4);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}
