/* Replays every PyTorch fixture of tests/fixtures/attention_basic.json (computed in float64 by
 * make_fixtures.py) through the real daemon over HTTP: weights must agree to 1e-5 absolute,
 * context to 1e-4 relative. The core-level replay of the same file is in test_fixtures.c. */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "harness.h"

/* Walks two nested arrays of numbers in step; fails with the first index that differs. */
static void compare_nested(const char *casename, const char *what, const cJSON *got,
                           const cJSON *want, double abs_tol, double rel_tol, char *path,
                           size_t len)
{
    if (cJSON_IsNumber(want)) {
        if (!cJSON_IsNumber(got))
            harness_fail(__FILE__, __LINE__, "%s: %s%s is not a number", casename, what, path);
        double g = got->valuedouble, w = want->valuedouble;
        if (!(fabs(g - w) <= abs_tol + rel_tol * fabs(w)))
            harness_fail(__FILE__, __LINE__, "%s: %s%s = %.9g, PyTorch %.9g", casename, what, path,
                         g, w);
        return;
    }
    int n = cJSON_GetArraySize(want);
    if (!cJSON_IsArray(got) || cJSON_GetArraySize(got) != n)
        harness_fail(__FILE__, __LINE__, "%s: %s%s has %d elements, PyTorch %d", casename, what,
                     path, cJSON_GetArraySize(got), n);
    size_t at = strlen(path);
    for (int i = 0; i < n; i++) {
        snprintf(path + at, len - at, "[%d]", i);
        compare_nested(casename, what, cJSON_GetArrayItem(got, i), cJSON_GetArrayItem(want, i),
                       abs_tol, rel_tol, path, len);
    }
    path[at] = '\0';
}

TEST(fixture_http_attention_basic)
{
    const char *dir = getenv("ATTND_FIXTURES_DIR");
    char file[512];
    snprintf(file, sizeof file, "%s/attention_basic.json", dir && *dir ? dir : "tests/fixtures");
    char *text = test_read_file(file, NULL);
    if (!text) harness_fail(__FILE__, __LINE__, "cannot read %s", file);
    cJSON *root = cJSON_Parse(text);
    free(text);
    ASSERT(root);
    cJSON *cases = cJSON_GetObjectItem(root, "cases");
    ASSERT(cJSON_GetArraySize(cases) >= 20);

    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(c, "name"));
        char *body = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "request"));
        test_response r;
        ASSERT_EQ(test_post_json(&d, "/v1/attention", body, &r), 0);
        free(body);
        if (r.status != 200)
            harness_fail(__FILE__, __LINE__, "%s: HTTP %ld %s", name, r.status, r.body);
        cJSON *got = cJSON_Parse(r.body);
        ASSERT(got);
        const cJSON *want = cJSON_GetObjectItem(c, "expected");
        char path[128] = "";
        compare_nested(name, "context", cJSON_GetObjectItem(got, "context"),
                       cJSON_GetObjectItem(want, "context"), 1e-6, 1e-4, path, sizeof path);
        const cJSON *ww = cJSON_GetObjectItem(want, "weights");
        if (ww)
            compare_nested(name, "weights", cJSON_GetObjectItem(got, "weights"), ww, 1e-5, 0, path,
                           sizeof path);
        else
            ASSERT(cJSON_GetObjectItem(got, "weights") == NULL);
        cJSON_Delete(got);
        test_response_free(&r);
    }
    cJSON_Delete(root);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}
