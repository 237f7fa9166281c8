/* Makes OpenBLAS run kernels that match this CPU. OpenBLAS picks its kernel set ("core") once, in
 * a constructor, from OPENBLAS_CORETYPE or else from a table of CPU model numbers; a CPU newer
 * than the table gets its oldest kernels (Prescott: SSE3). Since that choice is made before main
 * runs, attnd decides from the CPU's feature bits and, when the library chose differently,
 * re-executes itself with OPENBLAS_CORETYPE set. A user's own choice always wins. */
#ifndef SRV_BLAS_CORE_H
#define SRV_BLAS_CORE_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/cpu.h"

/* What the process runs after srv_blas_core_setup, and why. */
typedef struct srv_blas_core {
    char core[32];      /* the core OpenBLAS reports: "SkylakeX" */
    const char *reason; /* "chosen" (by attnd from cpuid), "forced" (by the user), "detected"
                           (OpenBLAS's own choice) */
    const char *source; /* who decided: "cpuid", "--blas-core", "ATTND_BLAS_CORE",
                           "OPENBLAS_CORETYPE" or "openblas" */
    at_cpu cpu;
    int core_level; /* at_blas_core_level(core): -1 unknown */
    bool outdated;  /* the core's kernels are older than what the CPU supports */
    char note[160]; /* why a choice could not be followed, or "" */
} srv_blas_core;

/* Call once from main, after the configuration is read and before any thread of attnd's is
 * started. `setting` is "auto" (the default: OPENBLAS_CORETYPE when the environment sets it,
 * else attnd's choice from cpuid), "library" (OpenBLAS's own choice, untouched) or a core name,
 * which overrides everything; `setting_source` names the flag or variable it came from. When
 * OpenBLAS runs a different core than the one decided, the process image is replaced (execv of
 * /proc/self/exe with the same argv, OPENBLAS_CORETYPE set and a marker variable) and this does
 * not return; the new image calls it again and then it returns. Returns 0 with *out filled, or
 * -1 with err filled when a core the user named does not exist in the installed library. */
int srv_blas_core_setup(const char *setting, const char *setting_source, char **argv,
                        srv_blas_core *out, char *err, size_t errlen);

#endif
