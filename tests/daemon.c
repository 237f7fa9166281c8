/* Starting and stopping the real daemon for the HTTP tests, and a small libcurl client. */
#include "daemon.h"
#include "harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 1024 > cap) buf = realloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (got == 0) break;
        n += got;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

char *test_daemon_log(const test_daemon *d)
{
    char *s = test_read_file(d->log_path, NULL);
    return s ? s : strdup("");
}

/* Daemons still running when the test process exits (a failed assertion skips the stop) are
 * killed here, so a failing test never leaves a server behind. */
#define MAX_DAEMONS 32
static pid_t running[MAX_DAEMONS];
static char logs[MAX_DAEMONS * 4][64];
static int nlogs;

static void reap_all(void)
{
    for (int i = 0; i < nlogs; i++)
        unlink(logs[i]);
    for (int i = 0; i < MAX_DAEMONS; i++)
        if (running[i] > 0) {
            kill(running[i], SIGKILL);
            waitpid(running[i], NULL, 0);
            running[i] = 0;
        }
}

static void track(pid_t pid, pid_t old)
{
    static int registered;
    if (!registered) registered = !atexit(reap_all);
    for (int i = 0; i < MAX_DAEMONS; i++)
        if (running[i] == old) {
            running[i] = pid;
            return;
        }
}

int test_daemon_start(test_daemon *d, const char *const *extra_args)
{
    return test_daemon_start_env(d, extra_args, NULL);
}

int test_daemon_start_env(test_daemon *d, const char *const *extra_args, const char *const *env)
{
    const char *bin = getenv("ATTND_BIN");
    if (!bin || !*bin) bin = "build/attnd";
    memset(d, 0, sizeof *d);
    snprintf(d->log_path, sizeof d->log_path, "/tmp/attnd-test-XXXXXX");
    int fd = mkstemp(d->log_path);
    if (fd < 0) return -1;
    if (nlogs < MAX_DAEMONS * 4) snprintf(logs[nlogs++], sizeof logs[0], "%s", d->log_path);

    const char *argv[64] = {bin, "--host", "127.0.0.1", "--port", "0"};
    int argc = 5;
    for (int i = 0; extra_args && extra_args[i] && argc < 62; i++)
        argv[argc++] = extra_args[i];
    argv[argc] = NULL;

    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test runner */
        dup2(fd, STDERR_FILENO);
        for (int i = 0; env && env[i]; i++) {
            const char *eq = strchr(env[i], '=');
            char name[128];
            snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - env[i]) : 127, env[i]);
            if (eq)
                setenv(name, eq + 1, 1);
            else
                unsetenv(name);
        }
        execv(bin, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(fd);
    d->pid = pid;
    track(pid, 0);
    for (int waited = 0; waited < 20000; waited += 10) {
        char *log = test_daemon_log(d);
        char *p = strstr(log, "msg=listening");
        char *u = p ? strstr(p, "url=http") : NULL; /* http:// or, with --tls-cert, https:// */
        if (u && !strncmp(u + 8 + (u[8] == 's'), "://127.0.0.1:", 13)) {
            d->port = atoi(u + 8 + (u[8] == 's') + 13);
            free(log);
            return d->port > 0 ? 0 : -1;
        }
        free(log);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            char *l = test_daemon_log(d);
            fprintf(stderr, "attnd exited during start-up:\n%s\n", l);
            free(l);
            track(0, pid);
            d->pid = 0;
            return -1;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "attnd did not report listening within 20 s\n");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    track(0, pid);
    d->pid = 0;
    return -1;
}

int test_daemon_stop(test_daemon *d, int sig)
{
    if (d->pid <= 0) return -1;
    if (sig) kill(d->pid, sig);
    int st = 0;
    for (int waited = 0; waited < 30000; waited += 5) {
        pid_t r = waitpid(d->pid, &st, WNOHANG);
        if (r == d->pid) {
            track(0, d->pid);
            d->pid = 0;
            int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            if (code != 0) { /* show why, or a failure in CI cannot be diagnosed */
                char *log = test_daemon_log(d);
                size_t n = strlen(log);
                fprintf(stderr, "attnd exited with %d; the end of its log:\n%s\n", code,
                        log + (n > 3000 ? n - 3000 : 0));
                free(log);
            }
            return code;
        }
        sleep_ms(5);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, NULL, 0);
    track(0, d->pid);
    d->pid = 0;
    return -1;
}

size_t test_curl_collect(char *data, size_t size, size_t nmemb, void *ud)
{
    test_growbuf *b = ud;
    size_t k = size * nmemb;
    char *p = realloc(b->p, b->n + k + 1);
    if (!p) return 0;
    memcpy(p + b->n, data, k);
    b->p = p;
    b->n += k;
    b->p[b->n] = '\0';
    return k;
}

int test_http_headers(const test_daemon *d, const char *method, const char *path,
                      const char *const *headers, const void *body, size_t body_len,
                      test_response *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (!c) return CURLE_FAILED_INIT;
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", d->port, path);
    test_growbuf b = {0}, h = {0};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
    for (int i = 0; headers && headers[i]; i++)
        hdrs = curl_slist_append(hdrs, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, test_curl_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, test_curl_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = b.p ? b.p : strdup("");
    out->len = b.n;
    out->headers = h.p ? h.p : strdup("");
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return (int)rc;
}

int test_http(const test_daemon *d, const char *method, const char *path, const char *content_type,
              const char *body, size_t body_len, test_response *out)
{
    char ct[256];
    snprintf(ct, sizeof ct, "Content-Type:%s%s", content_type ? " " : "",
             content_type ? content_type : "");
    const char *headers[] = {ct, NULL};
    return test_http_headers(d, method, path, headers, body, body_len, out);
}

int test_post_json(const test_daemon *d, const char *path, const char *json, test_response *out)
{
    return test_http(d, "POST", path, "application/json", json, strlen(json), out);
}

void test_response_free(test_response *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

int test_run_attnd(const char *env, const char *args, char *out, size_t cap)
{
    const char *bin = getenv("ATTND_BIN");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "env %s %s %s 2>&1", env ? env : "",
             bin && *bin ? bin : "build/attnd", args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

long test_request(const test_daemon *d, const char *method, const char *path, const char *body,
                  test_response *out)
{
    ASSERT_EQ(test_http(d, method, path, body ? "application/json" : NULL, body,
                        body ? strlen(body) : 0, out),
              0);
    return out->status;
}

void test_expect_at(const char *file, int line, const test_daemon *d, const char *method,
                    const char *path, const char *body, long status, const char *needle)
{
    test_response r;
    long got = test_request(d, method, path, body, &r);
    if (got != status || (needle && !strstr(r.body, needle)))
        harness_fail(file, line, "%s %s: status %ld (want %ld), body %.500s (want %s)", method,
                     path, got, status, r.body, needle ? needle : "anything");
    test_response_free(&r);
}

double test_metric_value(const char *exposition, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = exposition; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ') return atof(p + n + 1);
    return -1;
}

double test_metric(const test_daemon *d, const char *series)
{
    test_response r;
    if (test_http(d, "GET", "/metrics", NULL, NULL, 0, &r) != 0) return -2;
    double v = r.status == 200 ? test_metric_value(r.body, series) : -2;
    test_response_free(&r);
    return v;
}

void test_wait_log(const test_daemon *d, const char *needle, int count)
{
    for (int waited = 0; waited < 30000; waited += 10) {
        char *log = test_daemon_log(d);
        int n = 0;
        for (const char *p = log; log && (p = strstr(p, needle)); p++)
            n++;
        free(log);
        if (n >= count) return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    harness_fail(__FILE__, __LINE__, "the log never held \"%s\" %d times", needle, count);
}
