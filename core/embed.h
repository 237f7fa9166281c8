/* Token vectors and positions: rows of an embedding table, the hashing embeddings of the
 * built-in model (a deterministic vector for any token, so no vocabulary is needed), and the
 * sinusoidal positional encoding of "Attention Is All You Need" added to them. */
#ifndef AT_EMBED_H
#define AT_EMBED_H

#include <stdint.h>

/* The hashing embedding of token id `id` (for the built-in model, at_fnv1a64 of the token's
 * bytes) into out[0..dim): component e is a standard normal draw z = sqrt(-2 ln u1) cos(2 pi u2)
 * (Box-Muller), where u1 and u2 are the two 32-bit halves, mapped into (0, 1), of the 64-bit
 * word at_rng_mix(at_rng_mix(seed ^ id) + (e + 1) * AT_RNG_GOLDEN) (core/rng.h). Components
 * have mean 0 and variance 1, like nn.Embedding's N(0, 1) initialisation, so the norm is about
 * sqrt(dim). A pure function of (seed, id, e): the same on every thread count and, as long as
 * libm's log and cos are, on every machine. Part of the built-in model's definition. */
void at_embed_hashed(uint64_t seed, uint64_t id, int64_t dim, float *out);

/* Copies rows ids[0..n) of table [vocab, dim] into out [n, dim]. Every id must be < vocab
 * (the caller checks; see at_model_check_ids). Pure. */
void at_embed_table(const float *table, int64_t dim, const uint64_t *ids, int64_t n, float *out);

/* Adds the sinusoidal encoding of positions 0..n-1 to x [n, dim]: for i = 0, 1, ...
 * x[pos, 2i] += sin(pos / 10000^(2i / dim)) and x[pos, 2i + 1] += cos(pos / 10000^(2i / dim)),
 * computed in double (the PyTorch tutorial's PositionalEncoding, without its sqrt(dim) scaling
 * of the embeddings; an odd dim ends with a sine). Pure. */
void at_positional_add_sinusoidal(float *x, int64_t n, int64_t dim);

/* The same for positions p0..p1-1 only, x [p1 - p0, dim] holding their rows. Pure. */
void at_positional_add_rows(float *x, int64_t p0, int64_t p1, int64_t dim);

/* The encoding's values themselves, out [p1 - p0, dim]: sin(pos / 10000^(2i / dim)) at 2i and
 * cos at 2i + 1, the doubles at_positional_add_rows adds (core/positions.c caches them). Pure. */
void at_positional_values(double *out, int64_t p0, int64_t p1, int64_t dim);

#endif
