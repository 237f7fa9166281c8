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

/* The method of `path`'s operation in the spec ("get" or "post"), or NULL. */
static const char *operation(const cJSON *paths, const char *path)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, path);
    if (!item) return NULL;
    if (cJSON_GetObjectItem(item, "post")) return "post";
    if (cJSON_GetObjectItem(item, "get")) return "get";
    return NULL;
}

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
    /* Every route server/http.c routes, with its method. */
    static const struct {
        const char *path, *method;
    } routes[] = {
        {"/v1/attention", "post"},    {"/v1/models", "get"},
        {"/v1/models/{name}", "get"}, {"/v1/models/{name}/attention", "post"},
        {"/healthz", "get"},          {"/readyz", "get"},
        {"/metrics", "get"},          {"/", "get"},
        {"/ui/app.js", "get"},        {"/ui/style.css", "get"},
        {"/openapi.json", "get"},
    };
    const size_t n = sizeof routes / sizeof routes[0];
    for (size_t i = 0; i < n; i++) {
        const char *m = operation(paths, routes[i].path);
        if (!m || strcmp(m, routes[i].method))
            harness_fail(__FILE__, __LINE__, "openapi.json: no %s %s", routes[i].method,
                         routes[i].path);
    }
    ASSERT_EQ(cJSON_GetArraySize(paths), (int)n);
    /* And the daemon answers each one the spec lists (no 404), {name} being a real model. */
    for (const cJSON *p = paths->child; p; p = p->next) {
        char url[128];
        const char *name = strstr(p->string, "{name}");
        if (name)
            snprintf(url, sizeof url, "%.*szh-en%s", (int)(name - p->string), p->string,
                     name + strlen("{name}"));
        else
            snprintf(url, sizeof url, "%s", p->string);
        bool post = !strcmp(operation(paths, p->string), "post");
        const char *body =
            strstr(url, "/v1/models/") ? "{\"text\": \"welcome\"}" : "{\"query\": [[1.0]]}";
        ASSERT_EQ(test_http(&d, post ? "POST" : "GET", url, post ? "application/json" : NULL,
                            post ? body : NULL, post ? strlen(body) : 0, &r),
                  0);
        if (r.status != 200)
            harness_fail(__FILE__, __LINE__, "%s %s: status %ld", post ? "POST" : "GET", url,
                         r.status);
        test_response_free(&r);
    }
    cJSON_Delete(doc);
    ASSERT_EQ(test_daemon_stop(&d, 15), 0);
}
