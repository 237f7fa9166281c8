/* Half-precision conversions for model files: IEEE 754 binary16 (F16) and bfloat16 (BF16) to
 * float. Exact: every F16 and BF16 value, subnormals, infinities and NaNs included, is a float. */
#ifndef AT_HALF_H
#define AT_HALF_H

#include <stddef.h>
#include <stdint.h>

/* The float with the value of the binary16 bit pattern h: subnormals are normalised, infinities
 * keep their sign, and a NaN stays a NaN with its sign and payload (shifted into the top bits of
 * the float's mantissa, so a quiet NaN stays quiet). Pure. */
float at_f16_to_f32(uint16_t h);

/* The float with the value of the bfloat16 bit pattern h (the top half of a float). Pure. */
float at_bf16_to_f32(uint16_t h);

/* Converts n little-endian 2-byte values at src (any alignment) into dst[0..n). Pure. */
void at_f16_to_f32_array(const void *src, size_t n, float *dst);
void at_bf16_to_f32_array(const void *src, size_t n, float *dst);

#endif
