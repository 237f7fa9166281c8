/* Keeps README.md's "Access control, HTTPS, CORS and reload" section honest. Its examples need
 * a daemon started with a flag, so test_readme.c (one default daemon) cannot run them. Here the
 * section's ```sh blocks run in order in a scratch directory: the lines before a
 * "build/attnd ..." line run as they are (they make keys.txt, cert.pem), that line starts the
 * real daemon with its flags (on a free port instead of 8080), and a block with curl followed
 * by a plain ``` block is run verbatim (port swapped) and must print exactly that block. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "harness.h"
#include "model_support.h"

/* The text of the fenced block whose ``` line starts at *p, advancing *p past it; its info
 * string ("sh", "" ...) into info. */
static char *next_block(const char **p, char *info, size_t infolen)
{
    const char *open = strstr(*p, "\n```");
    if (!open) return NULL;
    open += 4;
    const char *nl = strchr(open, '\n');
    if (!nl) return NULL;
    snprintf(info, infolen, "%.*s", (int)(nl - open), open);
    const char *end = strstr(nl + 1, "\n```");
    if (!end) return NULL;
    *p = end + 4;
    *p += strcspn(*p, "\n"); /* past the closing fence's line */
    return strndup(nl + 1, (size_t)(end - nl));
}

/* Copies s with every "127.0.0.1:8080" made "127.0.0.1:<port>". */
static char *swap_port(const char *s, int port)
{
    size_t cap = strlen(s) * 2 + 64, n = 0;
    char *out = malloc(cap);
    const char *needle = "127.0.0.1:8080";
    while (*s) {
        if (!strncmp(s, needle, strlen(needle))) {
            n += (size_t)snprintf(out + n, cap - n, "127.0.0.1:%d", port);
            s += strlen(needle);
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    return out;
}

/* Runs a shell script in the current directory; its stdout with \r removed, into out. */
static int run_sh(const char *script, char *out, size_t cap)
{
    FILE *p = popen(script, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    char *w = out;
    for (const char *r = out; *r; r++)
        if (*r != '\r') *w++ = *r;
    *w = '\0';
    return st;
}

/* Starts the daemon of a "build/attnd FLAGS [# comment]" line. */
static void start_daemon(test_daemon *d, const char *line)
{
    char buf[1024], *args[32], *save = NULL;
    snprintf(buf, sizeof buf, "%.*s", (int)strcspn(line, "#\n"), line);
    int n = 0;
    for (char *t = strtok_r(buf + strlen("build/attnd"), " ", &save); t && n < 31;
         t = strtok_r(NULL, " ", &save)) {
        size_t len = strlen(t);
        if (len >= 2 && t[0] == '\'' && t[len - 1] == '\'') t[len - 1] = '\0', t++;
        args[n++] = t;
    }
    args[n] = NULL;
    ASSERT_EQ(test_daemon_start(d, (const char *const *)args), 0);
}

TEST(readme_access_examples_give_documented_output)
{
    const char *path = getenv("ATTND_README");
    char *readme = test_read_file(path && *path ? path : "README.md", NULL);
    ASSERT(readme);
    const char *sec = strstr(readme, "\n## Access control, HTTPS, CORS and reload\n");
    ASSERT(sec);
    const char *sec_end = strstr(sec + 5, "\n## ");
    ASSERT(sec_end);

    /* The daemon runs in a scratch directory, where the examples write their files. */
    char cwd[PATH_MAX], bin[PATH_MAX], dir[256];
    ASSERT(getcwd(cwd, sizeof cwd));
    const char *b = getenv("ATTND_BIN");
    ASSERT(realpath(b && *b ? b : "build/attnd", bin));
    char *old_bin = b ? strdup(b) : NULL;
    setenv("ATTND_BIN", bin, 1);
    mt_tmpdir(dir, sizeof dir);
    ASSERT_EQ(chdir(dir), 0);

    test_daemon d = {0};
    int started = 0, checked = 0;
    const char *p = sec;
    char info[32], pending[512] = "";
    char *block;
    while ((block = next_block(&p, info, sizeof info)) && p < sec_end) {
        if (strcmp(info, "sh") == 0 && strstr(block, "\nbuild/attnd ") == NULL &&
            strncmp(block, "build/attnd ", 12) != 0 && strstr(block, "curl ")) {
            snprintf(pending, sizeof pending, "%s", block); /* its output follows */
        } else if (strcmp(info, "sh") == 0) {
            char *attnd =
                strncmp(block, "build/attnd ", 12) == 0 ? block : strstr(block, "\nbuild/attnd ");
            pending[0] = '\0';
            if (attnd) {
                if (attnd != block) { /* setup lines first, in the scratch directory */
                    *attnd++ = '\0';
                    char setup[4096], out[4096];
                    snprintf(setup, sizeof setup, "(%s) 2>&1", block);
                    if (run_sh(setup, out, sizeof out) != 0)
                        harness_fail(__FILE__, __LINE__, "README setup failed: %s\n%s", block, out);
                }
                if (started) ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
                start_daemon(&d, attnd);
                started = 1;
            }
        } else if (info[0] == '\0' && pending[0] && started) {
            char *cmd = swap_port(pending, d.port), out[8192];
            int st = run_sh(cmd, out, sizeof out);
            if (st != 0 || strcmp(out, block) != 0)
                harness_fail(__FILE__, __LINE__, "%s\nexit %d, printed:\n%s\nREADME shows:\n%s",
                             pending, st, out, block);
            free(cmd);
            pending[0] = '\0';
            checked++;
        } else {
            pending[0] = '\0';
        }
        free(block);
    }
    free(block);
    if (started) ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
    ASSERT_EQ(chdir(cwd), 0);
    if (old_bin)
        setenv("ATTND_BIN", old_bin, 1);
    else
        unsetenv("ATTND_BIN");
    free(old_bin);
    mt_tmpdir_remove(dir);
    free(readme);
    ASSERT(checked >= 3); /* API keys, HTTPS, CORS */
}
