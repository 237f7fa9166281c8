/* Tests of the BLAS core choice (server/blas_core.c, core/cpu.c, core/blas.c): the candidates
 * for each feature level, the CPU detection against the compiler's own, and, in the running
 * daemon, that attnd's own choice has kernels for this CPU's level while a user's
 * OPENBLAS_CORETYPE, --blas-core or ATTND_BLAS_CORE always wins. The numerical suite under
 * attnd's own choice is test_http_fixtures.c's fixture_http_blas_core_auto. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../core/blas.h"
#include "../core/cpu.h"
#include "daemon.h"
#include "harness.h"

TEST(blas_core_candidates_by_features)
{
    const char *c[4];
    at_cpu intel512 = {AT_CPU_VENDOR_INTEL, AT_CPU_AVX512, false};
    ASSERT_EQ(at_blas_core_candidates(&intel512, c, 4), 2);
    ASSERT_STREQ(c[0], "SkylakeX");
    ASSERT_STREQ(c[1], "Haswell");
    at_cpu amd512 = {AT_CPU_VENDOR_AMD, AT_CPU_AVX512, true};
    ASSERT_EQ(at_blas_core_candidates(&amd512, c, 4), 3);
    ASSERT_STREQ(c[0], "Cooperlake");
    ASSERT_STREQ(c[1], "SkylakeX");
    ASSERT_EQ(at_blas_core_candidates(&amd512, c, 1), 1); /* max is respected */
    at_cpu amd2 = {AT_CPU_VENDOR_AMD, AT_CPU_AVX2, false};
    ASSERT_EQ(at_blas_core_candidates(&amd2, c, 4), 2);
    ASSERT_STREQ(c[0], "Zen");
    at_cpu intel2 = {AT_CPU_VENDOR_INTEL, AT_CPU_AVX2, false};
    ASSERT_EQ(at_blas_core_candidates(&intel2, c, 4), 1);
    ASSERT_STREQ(c[0], "Haswell");
    at_cpu avx = {AT_CPU_VENDOR_OTHER, AT_CPU_AVX, false};
    ASSERT_EQ(at_blas_core_candidates(&avx, c, 4), 1);
    ASSERT_STREQ(c[0], "Sandybridge");
    at_cpu base = {AT_CPU_VENDOR_INTEL, AT_CPU_BASELINE, false};
    ASSERT_EQ(at_blas_core_candidates(&base, c, 4), 0);
    /* Every candidate's kernels are of its CPU's level or, for the last resort, one below. */
    at_cpu all[] = {intel512, amd512, amd2, intel2, avx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        int n = at_blas_core_candidates(&all[i], c, 4);
        ASSERT_EQ(at_blas_core_level(c[0]), all[i].level);
        for (int k = 0; k < n; k++)
            ASSERT(at_blas_core_level(c[k]) >= (int)all[i].level - 1);
    }
}

TEST(blas_core_levels_of_names)
{
    ASSERT_EQ(at_blas_core_level("Prescott"), AT_CPU_BASELINE);
    ASSERT_EQ(at_blas_core_level("Sandybridge"), AT_CPU_AVX);
    ASSERT_EQ(at_blas_core_level("HASWELL"), AT_CPU_AVX2);
    ASSERT_EQ(at_blas_core_level("zen"), AT_CPU_AVX2);
    ASSERT_EQ(at_blas_core_level("SkylakeX"), AT_CPU_AVX512);
    ASSERT_EQ(at_blas_core_level("Cooperlake"), AT_CPU_AVX512);
    ASSERT_EQ(at_blas_core_level("NoSuchCore"), -1);
    ASSERT_EQ(at_blas_core_level(NULL), -1);
}

/* This CPU's level as the compiler's runtime (libgcc's cpuinfo) sees it: an independent read. */
static int compiler_cpu_level(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd"))
        return AT_CPU_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return AT_CPU_AVX2;
    if (__builtin_cpu_supports("avx")) return AT_CPU_AVX;
    return AT_CPU_BASELINE;
}

TEST(blas_cpu_detect_matches_compiler)
{
    at_cpu cpu;
    at_cpu_detect(&cpu);
    ASSERT_EQ(cpu.level, compiler_cpu_level());
    if (__builtin_cpu_is("intel")) ASSERT_EQ(cpu.vendor, AT_CPU_VENDOR_INTEL);
    if (__builtin_cpu_is("amd")) ASSERT_EQ(cpu.vendor, AT_CPU_VENDOR_AMD);
}

/* The value of label `name` in /metrics' attnd_build_info, into out. */
static void build_info_label(const test_daemon *d, const char *name, char *out, size_t cap)
{
    test_response r;
    ASSERT_EQ(test_http(d, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    ASSERT_EQ(r.status, 200);
    const char *line = strstr(r.body, "\nattnd_build_info{");
    ASSERT(line != NULL);
    char key[64];
    snprintf(key, sizeof key, "%s=\"", name);
    const char *v = strstr(line, key);
    const char *eol = strchr(line + 1, '\n');
    if (!v || (eol && v > eol))
        harness_fail(__FILE__, __LINE__, "attnd_build_info has no %s: %.300s", name, line);
    v += strlen(key);
    size_t n = strcspn(v, "\"");
    ASSERT(n < cap);
    memcpy(out, v, n);
    out[n] = '\0';
    test_response_free(&r);
}

/* Starts a daemon with `args` and `env`, reads its core and reason, stops it. */
static void core_of(const char *const *args, const char *const *env, char *core, char *reason,
                    char **log)
{
    test_daemon d;
    ASSERT_EQ(test_daemon_start_env(&d, args, env), 0);
    build_info_label(&d, "blas_core", core, 32);
    build_info_label(&d, "blas_core_reason", reason, 32);
    *log = test_daemon_log(&d);
    ASSERT_EQ(test_daemon_stop(&d, SIGTERM), 0);
}

/* Cores whose kernels are written for a level (OpenBLAS 0.3.x names). */
static int core_fits_level(const char *core, int level)
{
    static const char *const by_level[][4] = {
        [AT_CPU_AVX512] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL},
        [AT_CPU_AVX2] = {"Haswell", "Zen", NULL},
        [AT_CPU_AVX] = {"Sandybridge", "Bulldozer", "Piledriver", "Steamroller"},
    };
    if (level == AT_CPU_BASELINE) return 1; /* any core runs; the library decides */
    for (int i = 0; i < 4 && by_level[level][i]; i++)
        if (strcmp(core, by_level[level][i]) == 0) return 1;
    return 0;
}

TEST(blas_core_auto_fits_this_cpu)
{
    char core[32], reason[32], *log;
    const char *env[] = {"OPENBLAS_CORETYPE", "ATTND_BLAS_CORE", NULL};
    core_of(NULL, env, core, reason, &log);
    int level = compiler_cpu_level();
    if (!core_fits_level(core, level))
        harness_fail(__FILE__, __LINE__, "attnd runs OpenBLAS core %s on a CPU of level %d", core,
                     level);
    ASSERT(strcmp(reason, "chosen") == 0 || strcmp(reason, "detected") == 0);
    ASSERT_CONTAINS(log, "msg=blas core=");
    ASSERT(strstr(log, "blas_core_outdated") == NULL);
    free(log);
}

TEST(blas_core_user_variable_wins)
{
    char core[32], reason[32], *log;
    const char *env[] = {"OPENBLAS_CORETYPE=Sandybridge", "ATTND_BLAS_CORE", NULL};
    core_of(NULL, env, core, reason, &log);
    ASSERT_STREQ(core, "Sandybridge");
    ASSERT_STREQ(reason, "forced");
    ASSERT_CONTAINS(log, "by=OPENBLAS_CORETYPE");
    if (compiler_cpu_level() > AT_CPU_AVX) ASSERT_CONTAINS(log, "msg=blas_core_outdated");
    free(log);
}

TEST(blas_core_flag_and_variable_win_over_openblas_coretype)
{
    char core[32], reason[32], *log;
    const char *args[] = {"--blas-core", "Prescott", NULL};
    const char *env[] = {"OPENBLAS_CORETYPE=Sandybridge", "ATTND_BLAS_CORE=Sandybridge", NULL};
    core_of(args, env, core, reason, &log);
    ASSERT_STREQ(core, "Prescott");
    ASSERT_STREQ(reason, "forced");
    ASSERT_CONTAINS(log, "by=--blas-core");
    free(log);
    const char *env2[] = {"OPENBLAS_CORETYPE=Sandybridge", "ATTND_BLAS_CORE=Prescott", NULL};
    core_of(NULL, env2, core, reason, &log);
    ASSERT_STREQ(core, "Prescott");
    ASSERT_CONTAINS(log, "by=ATTND_BLAS_CORE");
    free(log);
}

TEST(blas_core_library_leaves_openblas_alone)
{
    char core[32], reason[32], *log;
    const char *args[] = {"--blas-core", "library", NULL};
    const char *env[] = {"OPENBLAS_CORETYPE", "ATTND_BLAS_CORE", NULL};
    core_of(args, env, core, reason, &log);
    ASSERT_STREQ(reason, "detected");
    ASSERT_CONTAINS(log, "by=openblas");
    free(log);
}

TEST(blas_core_unknown_name_exits_2)
{
    char out[4096];
    ASSERT_EQ(test_run_attnd(NULL, "--port 0 --blas-core NoSuchCore", out, sizeof out), 2);
    ASSERT_CONTAINS(out, "no core \"NoSuchCore\"");
}
