/* The tensor view every kernel works on: a dtype, a rank, element counts and strides, and a
 * pointer to data the view does not own. Sizes are listed outermost first, in PyTorch's order,
 * so that the messages a user reads match the shapes they sent. */
#ifndef AT_TENSOR_H
#define AT_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AT_MAX_RANK 4

typedef enum at_dtype {
    AT_F32,  /* float */
    AT_BOOL, /* uint8_t, 0 or 1 */
} at_dtype;

typedef struct at_tensor {
    at_dtype dtype;
    int rank;                /* 0..AT_MAX_RANK */
    int64_t ne[AT_MAX_RANK]; /* element counts, outermost first; unused entries are 1 */
    int64_t nb[AT_MAX_RANK]; /* strides in elements; 0 marks a broadcast dimension */
    void *data;              /* not owned by the view */
} at_tensor;

/* A contiguous (row-major) view of `data` with the given sizes. `rank` must be 0..AT_MAX_RANK. */
at_tensor at_tensor_make(at_dtype dtype, int rank, const int64_t *ne, void *data);

/* Number of elements (product of ne[0..rank-1]); 1 for rank 0. Does not check for overflow:
 * callers validate each size first (see at_shape_elements_checked). */
int64_t at_tensor_elements(const at_tensor *t);

/* Product of `rank` sizes into *out. Returns false when a size is < 1 or the product exceeds
 * `limit` (so it never overflows). */
bool at_shape_elements_checked(int rank, const int64_t *ne, int64_t limit, int64_t *out);

/* Writes "[2, 3, 4]" into buf (always NUL-terminated). Returns buf. */
char *at_shape_str(int rank, const int64_t *ne, char *buf, size_t buflen);

#endif
