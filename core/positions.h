/* The sinusoidal position table of a model, computed once and shared by its requests: the
 * sines and cosines at_positional_add_sinusoidal would compute per request, kept in double so
 * that adding them gives the same floats bit for bit. */
#ifndef AT_POSITIONS_H
#define AT_POSITIONS_H

#include <stddef.h>
#include <stdint.h>

typedef struct at_positions at_positions;

/* Bytes a table may reach when at_positions_new is given no smaller limit: 4 MB, 8192 positions
 * of E = 64, 682 of E = 768. Positions beyond the table are computed per request. */
#define AT_POSITIONS_MAX_BYTES ((size_t)4 << 20)

/* An empty table for embeddings of `dim` (>= 1) features, holding at most `max_rows` positions
 * (0: as many as AT_POSITIONS_MAX_BYTES allows; it is capped by that too). Returns NULL when out
 * of memory. The caller owns it (at_positions_free). */
at_positions *at_positions_new(int64_t dim, int64_t max_rows);

/* Frees the table and every smaller one it replaced. NULL is a no-op. No call may be running. */
void at_positions_free(at_positions *p);

/* Does what at_positional_add_rows(x, p0, p1, dim) does, with the same result bit for bit:
 * adds the encoding of positions p0..p1-1 (0 <= p0 <= p1) to x [p1 - p0, dim]. The table grows
 * (at least doubling, up to its cap) to cover the longest p1 seen; positions beyond the cap, or
 * all of them if memory runs out, are computed as at_positional_add_rows does. Thread-safe: readers
 * never wait, and a grower holds a lock only while it fills the new table. A table never shrinks or
 * moves while p lives, so memory stays at most twice the cap. */
void at_positions_add(at_positions *p, float *x, int64_t p0, int64_t p1);

/* Bytes the tables hold now (for tests and logs). Thread-safe. */
size_t at_positions_bytes(const at_positions *p);

#endif
