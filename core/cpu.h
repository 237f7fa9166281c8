/* What the processor can do, read from its own feature bits (cpuid and xgetbv), never from model
 * numbers: a CPU that arrives after this code was written is still classified by what it has.
 * Used to pick BLAS kernels that match the machine. */
#ifndef AT_CPU_H
#define AT_CPU_H

#include <stdbool.h>

/* Vector feature levels, each a superset of the one before. AVX2 means AVX2 and FMA3; AVX512
 * means AVX-512 F, BW, VL, DQ and CD (what Skylake-X kernels use). A level counts only when the
 * operating system saves the registers it needs (xgetbv), so a VM that hides AVX-512 state is
 * classified below it. */
typedef enum at_cpu_level {
    AT_CPU_BASELINE, /* x86-64 SSE2, or not x86 */
    AT_CPU_AVX,
    AT_CPU_AVX2,
    AT_CPU_AVX512,
} at_cpu_level;

typedef enum at_cpu_vendor {
    AT_CPU_VENDOR_OTHER,
    AT_CPU_VENDOR_INTEL,
    AT_CPU_VENDOR_AMD,
} at_cpu_vendor;

typedef struct at_cpu {
    at_cpu_vendor vendor;
    at_cpu_level level;
    bool avx512_bf16; /* AVX512_BF16 (Cooper Lake, Zen 4 and later) */
} at_cpu;

/* Reads this processor's features into *out. Thread-safe; cheap (a few cpuid instructions). */
void at_cpu_detect(at_cpu *out);

/* "avx512", "avx2", "avx" or "baseline". Static storage. */
const char *at_cpu_level_name(at_cpu_level level);

/* "intel", "amd" or "other". Static storage. */
const char *at_cpu_vendor_name(at_cpu_vendor vendor);

#endif
