/* The files attnd serves from its binary: the explorer page (GET /, /ui/app.js, /ui/style.css)
 * and the OpenAPI description (GET /openapi.json), against the real daemon. The page's
 * behaviour in a browser is checked by `make test-ui`; here: served, typed, self-contained,
 * and a spec that lists exactly the routes the daemon answers. */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "harness.h"

/* True when the text names no URL with a scheme other than the SVG namespace (which the SVG
 * export writes and nothing fetches). */
static bool no_absolute_urls(const char *text)
{
    static const char ns[] = "http://www.w3.org/2000/svg";
    for (const char *p = strstr(text, "://"); p; p = strstr(p + 3, "://"))
        if (p - text < 4 || strncmp(p - 4, ns, strlen(ns)) != 0) return false;
    return true;
}

TEST(ui_page_and_assets_are_served)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    static const struct {
        const char *path, *type;
    } assets[] = {
        {"/", "Content-Type: text/html; charset=utf-8"},
        {"/ui/app.js", "Content-Type: text/javascript; charset=utf-8"},
        {"/ui/style.css", "Content-Type: text/css; charset=utf-8"},
        {"/openapi.json", "Content-Type: application/json"},
    };
    for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++) {
        test_response r;
        ASSERT_EQ(test_http(&d, "GET", assets[i].path, NULL, NULL, 0, &r), 0);
        ASSERT_EQ(r.status, 200);
        ASSERT_CONTAINS(r.headers, assets[i].type);
        ASSERT(r.len > 500);
        /* Nothing from elsewhere: no CDN, no external font, no absolute URL. */
        if (strcmp(assets[i].path, "/openapi.json") != 0) ASSERT(no_absolute_urls(r.body));
        test_response_free(&r);
    }
    test_response r;
    ASSERT_EQ(test_http(&d, "GET", "/", NULL, NULL, 0, &r), 0);
    ASSERT_CONTAINS(r.headers, "Content-Security-Policy: default-src 'self'");
    ASSERT_CONTAINS(r.body, "<script src=\"/ui/app.js\"");
    ASSERT_CONTAINS(r.body, "href=\"/ui/style.css\"");
    test_response_free(&r);
    ASSERT_EQ(test_http(&d, "HEAD", "/", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 200);
    test_response_free(&r);
    ASSERT_EQ(test_http(&d, "POST", "/", "application/json", "{}", 2, &r), 0);
    ASSERT_EQ(r.status, 405);
    ASSERT_CONTAINS(r.headers, "Allow: GET, HEAD");
    test_response_free(&r);
    ASSERT_EQ(test_http(&d, "GET", "/ui/", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 404);
    test_response_free(&r);
    ASSERT_EQ(test_http(&d, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    ASSERT_CONTAINS(r.body, "attnd_http_requests_total{route=\"/\",code=\"200\"} 5");
    ASSERT_CONTAINS(r.body, "attnd_http_requests_total{route=\"/openapi.json\",code=\"200\"} 1");
    test_response_free(&r);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}

/* The object a "$ref": "#/components/<kind>/<name>" names in doc (node itself when it is no
 * reference), or NULL. */
static const cJSON *resolve(const cJSON *doc, const cJSON *node)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(node, "$ref");
    if (!cJSON_IsString(r)) return node;
    char kind[32], name[64];
    if (sscanf(r->valuestring, "#/components/%31[^/]/%63s", kind, name) != 2) return NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "components");
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, kind), name);
}

/* The spec's path template with {name} a model, {version} 1 and {id} a source id: `name` is
 * "zh-en" for a real model, or an unknown one. */
static void fill_path(const char *tmpl, const char *name, char *url, size_t len)
{
    static const struct {
        const char *param, *real;
    } params[] = {{"{name}", NULL}, {"{version}", "1"}, {"{id}", NULL}};
    size_t n = 0;
    for (const char *p = tmpl; *p && n + 1 < len;) {
        size_t i = 0, k = sizeof params / sizeof params[0];
        while (i < k && strncmp(p, params[i].param, strlen(params[i].param)) != 0)
            i++;
        if (i == k) {
            url[n++] = *p++;
            continue;
        }
        const char *v = params[i].real                         ? params[i].real
                        : strcmp(name, "zh-en") == 0 && i == 2 ? "spec-src"
                                                               : name;
        n += (size_t)snprintf(url + n, len - n, "%s", v);
        n = n < len ? n : len - 1;
        p += strlen(params[i].param);
    }
    url[n] = '\0';
}

/* A body the daemon accepts for a request with a body to `url`. */
static const char *body_for(const char *method, const char *url)
{
    if (!strcmp(method, "PUT")) return "{\"key\": [[1.0], [0.5]], \"value\": [[1, 0], [0, 1]]}";
    if (strstr(url, "/v2/"))
        return "{\"inputs\": [{\"name\": \"text\", \"shape\": [1], \"datatype\": \"BYTES\", "
               "\"data\": [\"welcome\"]}]}";
    if (strstr(url, "/v1/models/")) return "{\"text\": \"welcome\"}";
    return "{\"query\": [[1.0]]}";
}

/* Sends method to the spec's path (its placeholders filled by fill_path with name) and returns
 * the status; the response is left in *r. */
static long send_op(test_daemon *d, const char *method, const char *tmpl, const char *name,
                    test_response *r)
{
    char url[160];
    fill_path(tmpl, name, url, sizeof url);
    bool body = !strcmp(method, "POST") || !strcmp(method, "PUT");
    const char *b = body ? body_for(method, url) : NULL;
    if (test_http(d, method, url, body ? "application/json" : NULL, b, b ? strlen(b) : 0, r) != 0)
        harness_fail(__FILE__, __LINE__, "%s %s: no answer", method, url);
    return r->status;
}

/* The operations a spec path may have, in the order they are exercised (a source is stored,
 * read, then deleted). */
static const char *const methods[] = {"put", "post", "get", "delete"};

TEST(ui_openapi_lists_every_route)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    test_response r;
    ASSERT_EQ(test_http(&d, "GET", "/openapi.json", NULL, NULL, 0, &r), 0);
    cJSON *doc = cJSON_Parse(r.body);
    test_response_free(&r);
    ASSERT(doc != NULL);
    ASSERT_STREQ(cJSON_GetObjectItem(doc, "openapi")->valuestring, "3.1.0");
    const cJSON *paths = cJSON_GetObjectItem(doc, "paths");
    /* Every route server/http.c and the protocols (api/v1/protocol.c, api/v2/protocol.c) route,
     * with its methods but HEAD; a /v2 model route also under /versions/{version}. */
    static const struct {
        const char *path, *methods;
    } routes[] = {
        {"/v1/attention", "post"},
        {"/v1/models", "get"},
        {"/v1/models/{name}", "get"},
        {"/v1/models/{name}/attention", "post"},
        {"/v1/sources/{id}", "put get delete"},
        {"/v2", "get"},
        {"/v2/health/live", "get"},
        {"/v2/health/ready", "get"},
        {"/v2/models/{name}", "get"},
        {"/v2/models/{name}/versions/{version}", "get"},
        {"/v2/models/{name}/ready", "get"},
        {"/v2/models/{name}/versions/{version}/ready", "get"},
        {"/v2/models/{name}/infer", "post"},
        {"/v2/models/{name}/versions/{version}/infer", "post"},
        {"/healthz", "get"},
        {"/readyz", "get"},
        {"/metrics", "get"},
        {"/", "get"},
        {"/ui/app.js", "get"},
        {"/ui/style.css", "get"},
        {"/openapi.json", "get"},
    };
    const size_t n = sizeof routes / sizeof routes[0];
    for (size_t i = 0; i < n; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, routes[i].path);
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            bool want = strstr(routes[i].methods, methods[m]) != NULL;
            bool has = item && cJSON_GetObjectItemCaseSensitive(item, methods[m]);
            if (want != has)
                harness_fail(__FILE__, __LINE__, "openapi.json: %s %s %s", methods[m],
                             routes[i].path, want ? "missing" : "not routed by the daemon");
        }
    }
    ASSERT_EQ(cJSON_GetArraySize(paths), (int)n);
    /* And the daemon answers each operation the spec lists with a success status the spec
     * lists ({name} a real model, {version} 1); where the spec lists a 404, an unknown name
     * or id gets it, with the error body of the schema the spec gives (the /v1 object or the
     * /v2 string). */
    for (const cJSON *p = paths->child; p; p = p->next)
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            const cJSON *op = cJSON_GetObjectItemCaseSensitive(p, methods[m]);
            if (!op) continue;
            const cJSON *responses = cJSON_GetObjectItemCaseSensitive(op, "responses");
            char method[8], code[8];
            for (size_t c = 0; c <= strlen(methods[m]); c++)
                method[c] = (char)(methods[m][c] >= 'a' ? methods[m][c] - 32 : methods[m][c]);
            long status = send_op(&d, method, p->string, "zh-en", &r);
            snprintf(code, sizeof code, "%ld", status);
            if (status < 200 || status > 299 || !cJSON_GetObjectItemCaseSensitive(responses, code))
                harness_fail(__FILE__, __LINE__, "%s %s: status %ld, not a success the spec lists",
                             method, p->string, status);
            test_response_free(&r);
            const cJSON *nf = resolve(doc, cJSON_GetObjectItemCaseSensitive(responses, "404"));
            if (!nf || !strchr(p->string, '{') || !strcmp(method, "PUT")) continue;
            const cJSON *schema = resolve(
                doc, cJSON_GetObjectItemCaseSensitive(
                         cJSON_GetObjectItemCaseSensitive(
                             cJSON_GetObjectItemCaseSensitive(nf, "content"), "application/json"),
                         "schema"));
            const cJSON *err_schema = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(schema, "properties"), "error");
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(err_schema, "type");
            ASSERT(cJSON_IsString(type));
            ASSERT_EQ(send_op(&d, method, p->string, "nosuch", &r), 404);
            cJSON *body = cJSON_Parse(r.body);
            const cJSON *err = cJSON_GetObjectItemCaseSensitive(body, "error");
            bool shaped =
                !strcmp(type->valuestring, "string")
                    ? cJSON_IsString(err)
                    : cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "code")) &&
                          cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "message"));
            if (!shaped)
                harness_fail(__FILE__, __LINE__, "%s %s 404: %s is not the spec's error %s", method,
                             p->string, r.body, type->valuestring);
            cJSON_Delete(body);
            test_response_free(&r);
        }
    cJSON_Delete(doc);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}
