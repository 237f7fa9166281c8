/* Processor feature detection with cpuid/xgetbv. A feature is usable when the CPU reports it
 * and the OS has enabled the register state it needs (XCR0), as the Intel SDM prescribes. */
#include "cpu.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long read_xcr0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

void at_cpu_detect(at_cpu *out)
{
    memset(out, 0, sizeof *out);
    unsigned a, b, c, d, max_leaf;
    if (!__get_cpuid(0, &max_leaf, &b, &c, &d)) return;
    char vendor[13];
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = '\0';
    if (strcmp(vendor, "GenuineIntel") == 0)
        out->vendor = AT_CPU_VENDOR_INTEL;
    else if (strcmp(vendor, "AuthenticAMD") == 0 || strcmp(vendor, "HygonGenuine") == 0)
        out->vendor = AT_CPU_VENDOR_AMD;

    __cpuid(1, a, b, c, d);
    bool osxsave = c & bit_OSXSAVE, avx = c & bit_AVX, fma = c & bit_FMA;
    if (!osxsave || !avx) return;
    unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return; /* XMM and YMM state */
    out->level = AT_CPU_AVX;
    if (max_leaf < 7) return;
    unsigned b7, c7, d7, a71 = 0, b71, c71, d71;
    __cpuid_count(7, 0, a, b7, c7, d7);
    if ((b7 & bit_AVX2) && fma) out->level = AT_CPU_AVX2;
    const unsigned avx512 = bit_AVX512F | bit_AVX512BW | bit_AVX512VL | bit_AVX512DQ | bit_AVX512CD;
    bool zmm_state = (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM0-15 upper halves, ZMM16-31 */
    if (out->level == AT_CPU_AVX2 && (b7 & avx512) == avx512 && zmm_state) {
        out->level = AT_CPU_AVX512;
        if (a >= 1) __cpuid_count(7, 1, a71, b71, c71, d71);
        out->avx512_bf16 = a71 & (1u << 5);
    }
}
#else
void at_cpu_detect(at_cpu *out)
{
    memset(out, 0, sizeof *out);
}
#endif

const char *at_cpu_level_name(at_cpu_level level)
{
    switch (level) {
    case AT_CPU_AVX512: return "avx512";
    case AT_CPU_AVX2: return "avx2";
    case AT_CPU_AVX: return "avx";
    case AT_CPU_BASELINE: break;
    }
    return "baseline";
}

const char *at_cpu_vendor_name(at_cpu_vendor vendor)
{
    switch (vendor) {
    case AT_CPU_VENDOR_INTEL: return "intel";
    case AT_CPU_VENDOR_AMD: return "amd";
    case AT_CPU_VENDOR_OTHER: break;
    }
    return "other";
}
