/* The counter-based random numbers of sampled attention. Every number is a pure function of
 * (seed, batch entry, head, query row, key), so the keys drawn never depend on the thread count
 * or on how the work is split. The generator is part of the specification: the reference and
 * the fast path both use these functions, and a given seed draws the same keys in every release
 * that keeps them. */
#ifndef AT_RNG_H
#define AT_RNG_H

#include <stdint.h>

#define AT_RNG_GOLDEN 0x9E3779B97F4A7C15ull /* 2^64 / golden ratio, splitmix64's increment */

/* splitmix64's finaliser (Stafford's Mix13): a bijection of 64-bit words that avalanches. */
static inline uint64_t at_rng_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The stream of query row i of head h of batch entry b: each coordinate is absorbed by a round
 * of the mixer, so rows with different coordinates get unrelated streams. */
static inline uint64_t at_rng_row_stream(uint64_t seed, int64_t b, int64_t h, int64_t i)
{
    uint64_t s = at_rng_mix(seed + AT_RNG_GOLDEN);
    s = at_rng_mix(s ^ ((uint64_t)b + 1 * AT_RNG_GOLDEN));
    s = at_rng_mix(s ^ ((uint64_t)h + 2 * AT_RNG_GOLDEN));
    return at_rng_mix(s ^ ((uint64_t)i + 3 * AT_RNG_GOLDEN));
}

/* 64 random bits for key j of a row's stream: splitmix64's j-th output from that state. */
static inline uint64_t at_rng_bits(uint64_t stream, int64_t j)
{
    return at_rng_mix(stream + ((uint64_t)j + 1) * AT_RNG_GOLDEN);
}

/* Bits -> uniform in the open interval (0, 1): (m + 1/2) / 2^23 for the top 23 bits m, so
 * 2^-24 <= u <= 1 - 2^-24. Every such u is exact in a float (24 significant bits) and so is
 * 1 - u, which lets a float kernel compute log(u) near 1 without cancellation. */
#define AT_RNG_UNIFORM_BITS 23

static inline float at_rng_uniform(uint64_t bits)
{
    return ((float)(uint32_t)(bits >> (64 - AT_RNG_UNIFORM_BITS)) + 0.5f) *
           (1.0f / (float)(1u << AT_RNG_UNIFORM_BITS));
}

#endif
