/* Unit tests of server/auth.c (the API key file, constant-time checks, reload keeping the old
 * keys on a bad file, the open paths), server/request_id.c and server/cors.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../server/auth.h"
#include "../server/cors.h"
#include "../server/request_id.h"
#include "harness.h"

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    ASSERT_EQ(fputs(text, f) >= 0, 1);
    ASSERT_EQ(fclose(f), 0);
}

TEST(auth_key_file_and_checks)
{
    char path[] = "/tmp/attnd-keys-XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    close(fd);
    write_text(path, "# the keys of team a\n\n  alpha-123  \n\t# indented comment\nbeta\r\n");
    char err[512];
    srv_auth *a = srv_auth_new(path, err, sizeof err);
    if (!a) harness_fail(__FILE__, __LINE__, "srv_auth_new: %s", err);
    ASSERT_EQ(srv_auth_count(a), 2);
    ASSERT(srv_auth_check(a, "Bearer alpha-123", NULL));
    ASSERT(srv_auth_check(a, "bearer   beta", NULL));
    ASSERT(srv_auth_check(a, NULL, "beta"));
    ASSERT(srv_auth_check(a, "Basic Zm9vOmJhcg==", "alpha-123")); /* not Bearer: X-Api-Key */
    ASSERT(!srv_auth_check(a, NULL, NULL));
    ASSERT(!srv_auth_check(a, "Bearer alpha-12", NULL));   /* a prefix */
    ASSERT(!srv_auth_check(a, "Bearer alpha-1234", NULL)); /* longer */
    ASSERT(!srv_auth_check(a, "Bearer ", NULL));
    ASSERT(!srv_auth_check(a, "Bearer # the keys of team a", NULL)); /* comments are no keys */
    ASSERT(!srv_auth_check(a, "Bearerbeta", NULL));
    ASSERT(!srv_auth_check(a, NULL, ""));

    /* Reload: a new file replaces the keys; a bad one keeps them and says why, naming the line
     * but never the key. */
    write_text(path, "gamma\n");
    size_t n = 0;
    ASSERT_EQ(srv_auth_reload(a, &n, err, sizeof err), 0);
    ASSERT_EQ(n, 1);
    ASSERT(srv_auth_check(a, "Bearer gamma", NULL));
    ASSERT(!srv_auth_check(a, "Bearer alpha-123", NULL));
    write_text(path, "delta\nhas space inside\n");
    ASSERT_EQ(srv_auth_reload(a, &n, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "line 2");
    ASSERT(!strstr(err, "space inside") && !strstr(err, "delta"));
    ASSERT(srv_auth_check(a, "Bearer gamma", NULL));
    write_text(path, "# only a comment\n");
    ASSERT_EQ(srv_auth_reload(a, &n, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "holds no key");
    unlink(path);
    ASSERT_EQ(srv_auth_reload(a, &n, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "cannot open");
    ASSERT(srv_auth_check(a, NULL, "gamma"));
    ASSERT_EQ(srv_auth_count(a), 1);
    srv_auth_free(a);

    /* A start with a missing file or an over-long key fails with the reason. */
    ASSERT(srv_auth_new("/nonexistent/keys", err, sizeof err) == NULL);
    ASSERT_CONTAINS(err, "--api-key-file /nonexistent/keys: cannot open");
    char longkey[SRV_AUTH_KEY_MAX + 3];
    memset(longkey, 'k', SRV_AUTH_KEY_MAX + 1);
    longkey[SRV_AUTH_KEY_MAX + 1] = '\n';
    longkey[SRV_AUTH_KEY_MAX + 2] = '\0';
    fd = mkstemp(path);
    close(fd);
    write_text(path, longkey);
    ASSERT(srv_auth_new(path, err, sizeof err) == NULL);
    ASSERT_CONTAINS(err, "longer than 256 characters");
    longkey[SRV_AUTH_KEY_MAX] = '\n'; /* exactly SRV_AUTH_KEY_MAX: fine */
    longkey[SRV_AUTH_KEY_MAX + 1] = '\0';
    write_text(path, longkey);
    a = srv_auth_new(path, err, sizeof err);
    ASSERT(a != NULL);
    longkey[SRV_AUTH_KEY_MAX] = '\0';
    ASSERT(srv_auth_check(a, NULL, longkey));
    srv_auth_free(a);
    unlink(path);
}

TEST(auth_open_paths)
{
    ASSERT(srv_auth_open_path("/healthz", false));
    ASSERT(srv_auth_open_path("/readyz", true));
    ASSERT(srv_auth_open_path("/v2/health/ready", true));
    ASSERT(srv_auth_open_path("/metrics", false));
    ASSERT(!srv_auth_open_path("/metrics", true));
    ASSERT(!srv_auth_open_path("/healthz/", false));
    ASSERT(!srv_auth_open_path("/v1/attention", false));
    ASSERT(!srv_auth_open_path("/v1/models", false));
    ASSERT(!srv_auth_open_path("/v2/healthy", false));
    ASSERT(!srv_auth_open_path("/v2/health/../../v1/attention", false));
    /* The explorer page, its files and the API description: the page asks for the key. */
    ASSERT(srv_auth_open_path("/", true));
    ASSERT(srv_auth_open_path("/ui/app.js", true));
    ASSERT(srv_auth_open_path("/openapi.json", true));
    ASSERT(!srv_auth_open_path("/ui/../v1/attention", true));
    ASSERT(!srv_auth_open_path("/v1/", false));
}

TEST(request_id_sane_or_made)
{
    char id[SRV_REQUEST_ID_MAX + 1], other[SRV_REQUEST_ID_MAX + 1];
    srv_request_id_make("abc-123_x.y:z", id, sizeof id);
    ASSERT_STREQ(id, "abc-123_x.y:z");
    char longest[SRV_REQUEST_ID_MAX + 2];
    memset(longest, 'a', SRV_REQUEST_ID_MAX);
    longest[SRV_REQUEST_ID_MAX] = '\0';
    srv_request_id_make(longest, id, sizeof id);
    ASSERT_STREQ(id, longest);
    const char *insane[] = {"", "has space", "new\nline", "quote\"", "semi;colon", "ü"};
    for (size_t i = 0; i < sizeof insane / sizeof insane[0]; i++)
        ASSERT(!srv_request_id_sane(insane[i]));
    longest[SRV_REQUEST_ID_MAX] = 'a';
    longest[SRV_REQUEST_ID_MAX + 1] = '\0';
    ASSERT(!srv_request_id_sane(longest));
    srv_request_id_make(longest, id, sizeof id); /* too long: a new id instead */
    srv_request_id_make(NULL, other, sizeof other);
    ASSERT_EQ(strlen(id), 29);
    ASSERT(srv_request_id_sane(id) && srv_request_id_sane(other));
    ASSERT(strcmp(id, other) != 0);
    ASSERT_EQ(strncmp(id, other, 13), 0); /* the per-process prefix and the dash */
    ASSERT_EQ(strspn(id, "0123456789abcdef"), 12);
    ASSERT_EQ(strspn(id + 13, "0123456789abcdef"), 16);
    ASSERT_EQ(strtoull(other + 13, NULL, 16), strtoull(id + 13, NULL, 16) + 1); /* the counter */
}

TEST(cors_origins)
{
    srv_cors c = {0};
    char err[512];
    ASSERT(!srv_cors_enabled(&c));
    ASSERT(srv_cors_allow(&c, "https://a.example") == NULL);
    ASSERT_EQ(srv_cors_add(&c, "--cors-origin", "https://a.example", 17, err, sizeof err), 0);
    ASSERT_EQ(srv_cors_add(&c, "--cors-origin", "http://localhost:3000", 21, err, sizeof err), 0);
    ASSERT(srv_cors_enabled(&c));
    ASSERT_STREQ(srv_cors_allow(&c, "https://a.example"), "https://a.example");
    ASSERT_STREQ(srv_cors_allow(&c, "http://localhost:3000"), "http://localhost:3000");
    ASSERT(srv_cors_allow(&c, "https://b.example") == NULL);
    ASSERT(srv_cors_allow(&c, "http://a.example") == NULL);
    ASSERT(srv_cors_allow(&c, NULL) == NULL);
    const char *bad[] = {"a.example", "https://a.example/", "ftp://a.example",
                         "https://",  "https://a b",        "https://*.example"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ(srv_cors_add(&c, "--cors-origin", bad[i], strlen(bad[i]), err, sizeof err), -1);
        ASSERT_CONTAINS(err, "--cors-origin: expected * or an origin scheme://host[:port]");
    }
    ASSERT_EQ(srv_cors_add(&c, "ATTND_CORS_ORIGIN", "*", 1, err, sizeof err), 0);
    ASSERT_STREQ(srv_cors_allow(&c, "https://b.example"), "*");
    ASSERT_STREQ(srv_cors_allow(&c, NULL), "*");
}
