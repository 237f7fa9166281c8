/* The shape of a tensor as a client sent it: a rank and the sizes, outermost first. Shapes are
 * scanned from the request before any data is copied, so they may be deeper than a tensor can
 * be; the api layer checks them against what attention accepts and against its limits. */
#ifndef API_SHAPE_H
#define API_SHAPE_H

#include <stddef.h>
#include <stdint.h>

/* Deepest nesting whose sizes are kept; a deeper tensor keeps its true rank but only the first
 * API_SHAPE_MAX_RANK sizes (it is rejected anyway: attention takes rank 2 to 4). */
#define API_SHAPE_MAX_RANK 8

typedef struct api_shape {
    int rank;                       /* the nesting depth as sent, may exceed API_SHAPE_MAX_RANK */
    int64_t ne[API_SHAPE_MAX_RANK]; /* sizes, outermost first; each >= 1 once scanned */
} api_shape;

/* Writes "[2, 5, 64]" into buf (always NUL-terminated, "..." when it does not fit or the rank
 * exceeds API_SHAPE_MAX_RANK). When `star` is 0..rank-1, that size is written as "*" (for
 * messages such as "expected [2, *, 64]"); pass -1 for none. Returns buf. */
char *api_shape_str(const api_shape *s, int star, char *buf, size_t buflen);

/* a * b, or INT64_MAX when the product does not fit (sizes are >= 0). */
int64_t api_mul_sat(int64_t a, int64_t b);

/* a + b, or INT64_MAX when the sum does not fit (both >= 0). */
int64_t api_add_sat(int64_t a, int64_t b);

/* Number of elements of s (saturating at INT64_MAX). */
int64_t api_shape_elements(const api_shape *s);

#endif
