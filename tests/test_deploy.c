/* Tests of deploy/: the YAML and dashboard cross-checks (tests/deploy/check_manifests.py),
 * `promtool check config` on the shipped Prometheus config, and Debian's real prometheus server
 * scraping a running attnd with that config (its target pointed at the test daemon): the target
 * is up, attnd_http_requests_total is stored, and every query of the Grafana dashboard evaluates
 * to a number. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "harness.h"

#define PROMETHEUS  "/usr/bin/prometheus"
#define PROM_CONFIG "deploy/prometheus/prometheus.yml"
#define DASHBOARD   "deploy/grafana/dashboards/attnd.json"

/* Runs a shell command; returns its exit status and leaves stdout+stderr in a malloc'd *out. */
static int run(const char *cmd, char **out)
{
    char full[1024];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 1024) buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(deploy_manifests_check)
{
    char *out = NULL;
    int rc = run("/usr/bin/python3 tests/deploy/check_manifests.py", &out);
    if (rc != 0) harness_fail(__FILE__, __LINE__, "check_manifests.py exited %d:\n%s", rc, out);
    ASSERT_CONTAINS(out, "checks passed");
    free(out);
}

TEST(deploy_promtool_check_config)
{
    char *out = NULL;
    int rc = run("promtool check config " PROM_CONFIG, &out);
    if (rc != 0) harness_fail(__FILE__, __LINE__, "promtool check config exited %d:\n%s", rc, out);
    ASSERT_CONTAINS(out, "SUCCESS");
    free(out);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Copies s with every `from` replaced by `to` (malloc'd); *count gets the replacements. */
static char *replace_all(const char *s, const char *from, const char *to, int *count)
{
    size_t nf = strlen(from), nt = strlen(to), n = 0;
    char *out = malloc(strlen(s) * (nt > nf ? nt / nf + 2 : 1) + 1);
    *count = 0;
    while (*s) {
        if (strncmp(s, from, nf) == 0) {
            memcpy(out + n, to, nt);
            n += nt;
            s += nf;
            ++*count;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    return out;
}

/* The shipped config with its attnd target at 127.0.0.1:port and every scrape_interval 1 s,
 * so the test needs seconds rather than the production 15 s. */
static char *test_config(int port, char *why, size_t len)
{
    char *shipped = test_read_file(PROM_CONFIG, NULL);
    if (!shipped) return snprintf(why, len, "cannot read " PROM_CONFIG), NULL;
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    int n = 0;
    char *cfg = replace_all(shipped, "attnd:8080", target, &n);
    free(shipped);
    if (n == 0) {
        free(cfg);
        return snprintf(why, len, PROM_CONFIG " has no target attnd:8080"), NULL;
    }
    /* "scrape_interval: 15s" (any value) -> "scrape_interval: 1s". */
    size_t cap = strlen(cfg) + 64, o = 0;
    char *out = malloc(cap);
    const char *key = "scrape_interval:";
    for (const char *p = cfg; *p;) {
        if (strncmp(p, key, strlen(key)) == 0) {
            o += (size_t)snprintf(out + o, cap - o, "%s 1s", key);
            p += strlen(key);
            while (*p && *p != '\n' && *p != '#')
                p++;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    free(cfg);
    return out;
}

typedef struct prom {
    pid_t pid;
    test_daemon api; /* only .port is used: test_http talks to it like to attnd */
    char dir[64];
    char log[96];
} prom;

static int prom_start(prom *p, const char *config, char *why, size_t len)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/attnd-prometheus-XXXXXX");
    if (!mkdtemp(p->dir)) {
        p->dir[0] = '\0';
        return snprintf(why, len, "mkdtemp: %s", strerror(errno)), -1;
    }
    char cfg_path[96], data[96], cfg_flag[128], data_flag[128], listen_flag[64];
    snprintf(cfg_path, sizeof cfg_path, "%s/prometheus.yml", p->dir);
    snprintf(data, sizeof data, "%s/data", p->dir);
    snprintf(p->log, sizeof p->log, "%s/prometheus.log", p->dir);
    FILE *f = fopen(cfg_path, "w");
    if (!f || fputs(config, f) < 0 || fclose(f) != 0)
        return snprintf(why, len, "cannot write %s", cfg_path), -1;
    p->api.port = free_port();
    snprintf(cfg_flag, sizeof cfg_flag, "--config.file=%s", cfg_path);
    snprintf(data_flag, sizeof data_flag, "--storage.tsdb.path=%s", data);
    snprintf(listen_flag, sizeof listen_flag, "--web.listen-address=127.0.0.1:%d", p->api.port);
    int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return snprintf(why, len, "cannot create %s", p->log), -1;
    pid_t pid = fork();
    if (pid < 0) return close(fd), snprintf(why, len, "fork: %s", strerror(errno)), -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test runner */
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execl(PROMETHEUS, PROMETHEUS, cfg_flag, data_flag, listen_flag, "--log.level=warn",
              (char *)NULL);
        fprintf(stderr, "exec " PROMETHEUS ": %s\n", strerror(errno));
        _exit(127);
    }
    close(fd);
    p->pid = pid;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Stops prometheus (SIGTERM, SIGKILL after 10 s) and removes its directory. */
static void prom_stop(prom *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        int st;
        double t0 = seconds();
        while (waitpid(p->pid, &st, WNOHANG) == 0) {
            if (seconds() - t0 > 10) {
                kill(p->pid, SIGKILL);
                waitpid(p->pid, &st, 0);
                break;
            }
            sleep_ms(20);
        }
        p->pid = 0;
    }
    if (p->dir[0]) nftw(p->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Asks prometheus' API; returns the parsed answer (caller frees) when its status is "success",
 * else NULL. form is a form body for POST, or NULL for GET. */
static cJSON *prom_api(const prom *p, const char *path, const char *form)
{
    test_response r;
    int rc = form ? test_http(&p->api, "POST", path, "application/x-www-form-urlencoded", form,
                              strlen(form), &r)
                  : test_http(&p->api, "GET", path, NULL, NULL, 0, &r);
    cJSON *doc = rc == 0 && r.status == 200 ? cJSON_Parse(r.body) : NULL;
    test_response_free(&r);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(doc, "status");
    if (!cJSON_IsString(status) || strcmp(status->valuestring, "success") != 0) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

/* Whether the active target scraping attnd_port reports health "up"; seen gets what prometheus
 * reports about it (for the failure message). */
static int target_up(const prom *p, int attnd_port, char *seen, size_t len)
{
    cJSON *doc = prom_api(p, "/api/v1/targets?state=active", NULL);
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "data"), "activeTargets");
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d/", attnd_port);
    snprintf(seen, len, doc ? "no active target %s" : "no answer from prometheus", want);
    int up = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, targets)
    {
        const cJSON *url = cJSON_GetObjectItemCaseSensitive(t, "scrapeUrl");
        const cJSON *health = cJSON_GetObjectItemCaseSensitive(t, "health");
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(t, "lastError");
        if (cJSON_IsString(url) && strstr(url->valuestring, want) && cJSON_IsString(health)) {
            snprintf(seen, len, "%s %s: %s", url->valuestring, health->valuestring,
                     cJSON_IsString(err) ? err->valuestring : "");
            up = strcmp(health->valuestring, "up") == 0;
        }
    }
    cJSON_Delete(doc);
    return up;
}

/* Evaluates a PromQL instant query. Returns 1 when the result is a non-empty vector whose first
 * value is a finite number, 0 when it is empty or not finite, -1 when the query is rejected. */
static int query_has_number(const prom *p, const char *expr, char *seen, size_t len)
{
    CURL *c = curl_easy_init();
    char *esc = curl_easy_escape(c, expr, 0);
    size_t n = strlen(esc) + 16;
    char *form = malloc(n);
    snprintf(form, n, "query=%s", esc);
    curl_free(esc);
    curl_easy_cleanup(c);
    cJSON *doc = prom_api(p, "/api/v1/query", form);
    free(form);
    if (!doc) return snprintf(seen, len, "rejected"), -1;
    const cJSON *result =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "data"), "result");
    const cJSON *first = cJSON_GetArrayItem(result, 0);
    const cJSON *value = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(first, "value"), 1);
    int ok = 0;
    if (cJSON_IsString(value)) {
        double v = strtod(value->valuestring, NULL);
        ok = isfinite(v);
        snprintf(seen, len, "%d series, first %s", cJSON_GetArraySize(result), value->valuestring);
    } else {
        snprintf(seen, len, "empty");
    }
    cJSON_Delete(doc);
    return ok;
}

/* Some traffic, so that rates, ratios and quantiles have something to show. */
static void traffic(const test_daemon *d)
{
    test_response r;
    test_post_json(d, "/v1/attention",
                   "{\"query\": [[1.0]], \"key\": [[1.6094379], [1.0986123], [0.6931472]], "
                   "\"value\": [[1,0,0], [0,1,0], [0,0,1]], \"score\": \"dot\"}",
                   &r);
    test_response_free(&r);
    test_http(d, "GET", "/no-such-route", NULL, NULL, 0, &r); /* a 404 for the 4xx ratio */
    test_response_free(&r);
}

/* Runs the scrape check against a started attnd and prometheus; NULL when every check passed,
 * else what failed (in why). */
static const char *scrape_check(const test_daemon *d, const prom *p, char *why, size_t len)
{
    const double deadline = seconds() + 30;
    char seen[512] = "no answer from prometheus";

    /* 1. The target is up. */
    while (!target_up(p, d->port, seen, sizeof seen)) {
        traffic(d);
        if (seconds() > deadline)
            return snprintf(why, len, "attnd's target not up within 30 s: %s", seen), why;
        sleep_ms(200);
    }
    /* 2. The counter is stored. */
    while (query_has_number(p, "attnd_http_requests_total", seen, sizeof seen) != 1) {
        if (seconds() > deadline)
            return snprintf(why, len, "attnd_http_requests_total: %s", seen), why;
        sleep_ms(200);
    }
    /* 3. Every dashboard query evaluates to a number once there was traffic (a 5xx ratio is
     * only checked to be valid PromQL: this traffic has no 5xx). */
    char *text = test_read_file(DASHBOARD, NULL);
    cJSON *dash = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!dash) return snprintf(why, len, "cannot parse " DASHBOARD), why;
    const char *failed = NULL;
    int nexpr = 0;
    const cJSON *panel;
    cJSON_ArrayForEach(panel, cJSON_GetObjectItemCaseSensitive(dash, "panels"))
    {
        const cJSON *target;
        cJSON_ArrayForEach(target, cJSON_GetObjectItemCaseSensitive(panel, "targets"))
        {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(target, "expr");
            if (!cJSON_IsString(e) || failed) continue;
            int n = 0;
            char *expr = replace_all(e->valuestring, "$__rate_interval", "1m", &n);
            int want_number = strstr(expr, "code=~\"5..\"") == NULL;
            int rc;
            nexpr++;
            while ((rc = query_has_number(p, expr, seen, sizeof seen)) != 1) {
                if (rc < 0 || !want_number || seconds() > deadline) break;
                traffic(d);
                sleep_ms(250);
            }
            if (rc < 0 || (want_number && rc != 1)) {
                snprintf(why, len, "dashboard query %s: %s", expr, seen);
                failed = why;
            }
            free(expr);
        }
    }
    cJSON_Delete(dash);
    if (!failed && nexpr < 8)
        return snprintf(why, len, "only %d queries in " DASHBOARD, nexpr), why;
    return failed;
}

TEST(deploy_prometheus_scrapes_attnd)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start(&d, NULL), 0);
    char why[1024];
    char *config = test_config(d.port, why, sizeof why);
    if (!config) {
        test_daemon_stop(&d, SIGTERM);
        harness_fail(__FILE__, __LINE__, "%s", why);
    }
    prom p;
    double t0 = seconds();
    const char *failed = NULL;
    if (prom_start(&p, config, why, sizeof why) != 0)
        failed = why;
    else
        failed = scrape_check(&d, &p, why, sizeof why);
    free(config);
    char *log = failed && p.log[0] ? test_read_file(p.log, NULL) : NULL;
    prom_stop(&p);
    int attnd_exit = test_daemon_stop(&d, SIGTERM);
    if (failed) {
        size_t n = log ? strlen(log) : 0;
        harness_fail(__FILE__, __LINE__, "%s\nthe end of prometheus' log:\n%s", failed,
                     log ? log + (n > 2000 ? n - 2000 : 0) : "(none)");
    }
    free(log);
    ASSERT_EQ(attnd_exit, 0);
    ASSERT(seconds() - t0 < 30);
}
