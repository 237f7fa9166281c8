/* The test runner: runs every registered test (or those whose name contains an argument) and
 * ends with "N passed, N failed". A failing assertion longjmps back here. With -j N it runs the
 * test files in up to N processes at once (each a fresh exec of this binary with --file, so
 * tests of one file keep their order and share nothing with other files), and prints each
 * file's output whole when it ends. */
#include "harness.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS 1024

static struct {
    const char *name, *file;
    harness_fn fn;
} tests[MAX_TESTS];
static int ntests;
static jmp_buf on_fail;

void harness_register(const char *name, const char *file, harness_fn fn)
{
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "harness: more than %d tests\n", MAX_TESTS);
        exit(2);
    }
    tests[ntests].name = name;
    tests[ntests].file = file;
    tests[ntests].fn = fn;
    ntests++;
}

void harness_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    longjmp(on_fail, 1);
}

/* Command line: [-j N] [--file F] [filter...]. */
typedef struct options {
    int jobs;         /* > 1: run files in that many processes */
    const char *file; /* only the tests of this source file */
    char **filters;   /* names must contain one of these, when any */
    int nfilters;
} options;

static int selected(int i, const options *o)
{
    if (o->file && strcmp(tests[i].file, o->file) != 0) return 0;
    if (o->nfilters == 0) return 1;
    for (int f = 0; f < o->nfilters; f++)
        if (strstr(tests[i].name, o->filters[f])) return 1;
    return 0;
}

/* Runs test i; true when it passed. Kept apart from main so no local of main lives across
 * the setjmp. */
static bool run_one(int i)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (setjmp(on_fail) != 0) {
        printf("FAIL %s (%s)\n", tests[i].name, tests[i].file);
        return false;
    }
    tests[i].fn();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("ok   %-48s %8.1f ms\n", tests[i].name, ms);
    return true;
}

/* One file's process of a parallel run. */
typedef struct child {
    pid_t pid;
    const char *file;
    FILE *out; /* its stdout and stderr */
} child;

/* Starts `self --file F filters...` with its output going to a temporary file. */
static int spawn(child *c, const char *file, const options *o)
{
    c->file = file;
    c->out = tmpfile();
    if (!c->out) return -1;
    fflush(stdout);
    c->pid = fork();
    if (c->pid < 0) return -1;
    if (c->pid == 0) {
        char *argv[260];
        int n = 0;
        argv[n++] = "attnd_tests";
        argv[n++] = "--file";
        argv[n++] = (char *)file;
        for (int f = 0; f < o->nfilters && n < 258; f++)
            argv[n++] = o->filters[f];
        argv[n] = NULL;
        dup2(fileno(c->out), STDOUT_FILENO);
        dup2(fileno(c->out), STDERR_FILENO);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "harness: exec: %s\n", strerror(errno));
        _exit(127);
    }
    return 0;
}

/* Prints a finished child's output and adds its counts (a child that did not end with its
 * summary line, e.g. one that crashed, counts as one failure). */
static void reap(child *c, int status, int *passed, int *failed)
{
    /* Every line but the child's own summary, which only the total replaces: one line is held
     * back until the next shows it was not the last. */
    char line[4096], last[4096] = "";
    bool held = false;
    rewind(c->out);
    while (fgets(line, sizeof line, c->out)) {
        if (held) fputs(last, stdout);
        snprintf(last, sizeof last, "%s", line);
        held = true;
    }
    fclose(c->out);
    int p, f;
    char rest;
    if (sscanf(last, "%d passed, %d failed%c", &p, &f, &rest) == 3 && rest == '\n') {
        *passed += p;
        *failed += f;
    } else {
        if (held) fputs(last, stdout);
        printf("FAIL %s: the test process ended without a summary (%s %d)\n", c->file,
               WIFSIGNALED(status) ? "signal" : "exit",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        *failed += 1;
    }
}

static int run_parallel(const options *o)
{
    /* The files that hold a selected test, in registration order. */
    const char *files[MAX_TESTS];
    int nfiles = 0;
    for (int i = 0; i < ntests; i++) {
        if (!selected(i, o)) continue;
        int seen = 0;
        for (int k = 0; k < nfiles && !seen; k++)
            seen = strcmp(files[k], tests[i].file) == 0;
        if (!seen) files[nfiles++] = tests[i].file;
    }
    child running[64];
    int nrunning = 0, next = 0, passed = 0, failed = 0;
    while (next < nfiles || nrunning > 0) {
        while (next < nfiles && nrunning < o->jobs) {
            if (spawn(&running[nrunning], files[next], o) != 0) {
                printf("FAIL %s: cannot start a test process: %s\n", files[next], strerror(errno));
                failed++;
            } else {
                nrunning++;
            }
            next++;
        }
        if (nrunning == 0) break;
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) break;
        for (int k = 0; k < nrunning; k++) {
            if (running[k].pid != pid) continue;
            reap(&running[k], status, &passed, &failed);
            running[k] = running[--nrunning];
            break;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    options o = {1, NULL, NULL, 0};
    char *filters[256];
    o.filters = filters;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-j") == 0 && a + 1 < argc) {
            o.jobs = atoi(argv[++a]);
            if (o.jobs < 1 || o.jobs > 64) o.jobs = 1;
        } else if (strcmp(argv[a], "--file") == 0 && a + 1 < argc) {
            o.file = argv[++a];
        } else if (o.nfilters < 256) {
            filters[o.nfilters++] = argv[a];
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (o.jobs > 1 && !o.file) return run_parallel(&o);
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (!selected(i, &o)) continue;
        if (run_one(i))
            passed++;
        else
            failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
