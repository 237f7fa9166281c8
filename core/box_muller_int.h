/* Standard normal draws from 64-bit words (Box-Muller), rounded to float: the hashing
 * embedding's components. Internal to core/. */
#ifndef AT_BOX_MULLER_INT_H
#define AT_BOX_MULLER_INT_H

#include <stdint.h>

/* The draw of one word, the definition: with u1 and u2 its high and low 32-bit halves mapped
 * to (k + 1/2) / 2^32, (float)(sqrt(-2.0 * log(u1)) * cos(2 pi * u2)) in double with libm.
 * Pure. */
float at_box_muller_ref(uint64_t bits);

/* out[i] = at_box_muller_ref(bits[i]) for i < n, bit for bit (as long as libm's log and cos
 * are within 1 ulp, which glibc documents), several times faster: vector polynomials, and libm
 * for the few lanes whose float rounding their error could change. Pure. */
void at_box_muller(const uint64_t *bits, int64_t n, float *out);

#endif
