/* The BLAS core decision of blas_core.h: read the CPU, compare with what OpenBLAS loaded, and
 * re-execute with OPENBLAS_CORETYPE when they differ. The marker variable carries who decided
 * and which candidate is being tried across the exec, so each candidate is tried at most once
 * and the process never loops. */
#include "blas_core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../core/blas.h"

#define MARKER         "ATTND_BLAS_EXEC"
#define CORETYPE       "OPENBLAS_CORETYPE"
#define MAX_CANDIDATES 4

/* Replaces the process image with OPENBLAS_CORETYPE=core; returns only when execv failed. */
static void reexec(char **argv, const char *core, const char *source, int attempt, char *note,
                   size_t notelen)
{
    char marker[64];
    snprintf(marker, sizeof marker, "%s:%d", source, attempt);
    if (setenv(CORETYPE, core, 1) == 0 && setenv(MARKER, marker, 1) == 0)
        execv("/proc/self/exe", argv);
    snprintf(note, notelen, "could not re-execute with %s=%s: %s", CORETYPE, core, strerror(errno));
    unsetenv(MARKER);
    unsetenv(CORETYPE);
}

static bool running(const char *core)
{
    const char *now = at_blas_core();
    return now && core && strcasecmp(now, core) == 0;
}

static void finish(srv_blas_core *out, const char *reason, const char *source)
{
    snprintf(out->core, sizeof out->core, "%s", at_blas_core() ? at_blas_core() : "unknown");
    out->reason = reason;
    out->source = source;
    out->core_level = at_blas_core_level(out->core);
    out->outdated = out->core_level >= 0 && out->core_level < (int)out->cpu.level;
}

/* The process was re-executed by us: did the library take the core, and if not, what next. */
static int after_exec(const char *marker, char **argv, srv_blas_core *out, char *err, size_t errlen)
{
    char source[32];
    const char *colon = strrchr(marker, ':');
    int attempt = colon ? atoi(colon + 1) : 0;
    size_t n = colon ? (size_t)(colon - marker) : strlen(marker);
    snprintf(source, sizeof source, "%.*s", (int)(n < sizeof source ? n : sizeof source - 1),
             marker);
    unsetenv(MARKER);
    const char *want = getenv(CORETYPE);
    bool from_cpuid = strcmp(source, "cpuid") == 0;
    const char *src = from_cpuid                               ? "cpuid"
                      : strcmp(source, "ATTND_BLAS_CORE") == 0 ? "ATTND_BLAS_CORE"
                                                               : "--blas-core";
    if (want && running(want)) {
        finish(out, from_cpuid ? "chosen" : "forced", src);
        return 0;
    }
    if (!from_cpuid) {
        snprintf(err, errlen,
                 "%s: this OpenBLAS has no core \"%s\" (it runs \"%s\"; library: %s); use a "
                 "core name it knows, \"auto\" or \"library\"",
                 src, want ? want : "", at_blas_core(), at_blas_version());
        return -1;
    }
    /* This library lacks the candidate: try the next one, or give up on choosing. */
    const char *cand[MAX_CANDIDATES];
    int ncand = at_blas_core_candidates(&out->cpu, cand, MAX_CANDIDATES);
    if (attempt + 1 < ncand && !running(cand[attempt + 1])) {
        reexec(argv, cand[attempt + 1], "cpuid", attempt + 1, out->note, sizeof out->note);
    } else if (attempt + 1 < ncand) {
        finish(out, "chosen", "cpuid");
        return 0;
    } else {
        snprintf(out->note, sizeof out->note, "OpenBLAS has none of the cores for %s; it chose",
                 at_cpu_level_name(out->cpu.level));
    }
    finish(out, "detected", "openblas");
    return 0;
}

int srv_blas_core_setup(const char *setting, const char *setting_source, char **argv,
                        srv_blas_core *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    at_cpu_detect(&out->cpu);
    const char *marker = getenv(MARKER);
    if (marker) return after_exec(marker, argv, out, err, errlen);

    const char *env = getenv(CORETYPE);
    bool env_set = env && *env;
    if (!setting || !*setting || strcasecmp(setting, "auto") == 0) {
        if (env_set) {
            /* The user's own variable wins; OpenBLAS ignores a name it does not know. */
            if (running(env))
                finish(out, "forced", CORETYPE);
            else {
                snprintf(out->note, sizeof out->note,
                         "OpenBLAS has no core \"%.40s\" (from %s); it chose", env, CORETYPE);
                finish(out, "detected", "openblas");
            }
            return 0;
        }
        const char *cand[MAX_CANDIDATES];
        int ncand = at_blas_core_candidates(&out->cpu, cand, MAX_CANDIDATES);
        if (ncand == 0 || running(cand[0])) {
            finish(out, "detected", "openblas");
            return 0;
        }
        reexec(argv, cand[0], "cpuid", 0, out->note, sizeof out->note);
        finish(out, "detected", "openblas");
        return 0;
    }
    if (strcasecmp(setting, "library") == 0) {
        if (env_set)
            finish(out, "forced", CORETYPE);
        else
            finish(out, "detected", "openblas");
        return 0;
    }
    if (running(setting)) {
        finish(out, "forced", setting_source);
        return 0;
    }
    reexec(argv, setting, setting_source, 0, out->note, sizeof out->note);
    snprintf(err, errlen, "%s: %s", setting_source, out->note);
    return -1;
}
