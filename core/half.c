/* binary16 and bfloat16 to float by bit manipulation: a float has more exponent and mantissa
 * bits than either, so the conversion is exact and needs no rounding. */
#include "half.h"

#include <string.h>

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float at_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f) return from_bits(sign | 0x7f800000u | (mant << 13)); /* inf, NaN */
    if (exp != 0) return from_bits(sign | ((exp + 112) << 23) | (mant << 13));
    if (mant == 0) return from_bits(sign); /* +-0 */
    /* Subnormal: mant * 2^-24. Shift the leading one into the implicit bit's place. */
    uint32_t e = 113;
    while (!(mant & 0x400)) {
        mant <<= 1;
        e--;
    }
    return from_bits(sign | (e << 23) | ((mant & 0x3ff) << 13));
}

float at_bf16_to_f32(uint16_t h)
{
    return from_bits((uint32_t)h << 16);
}

static uint16_t load_le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

void at_f16_to_f32_array(const void *src, size_t n, float *dst)
{
    const unsigned char *p = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = at_f16_to_f32(load_le16(p + 2 * i));
}

void at_bf16_to_f32_array(const void *src, size_t n, float *dst)
{
    const unsigned char *p = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = at_bf16_to_f32(load_le16(p + 2 * i));
}
