/* The fused kernel for a few query rows over many keys (decoding, retrieval): one pass over each
 * key and value row computes the rows' scores, updates their online softmax and accumulates
 * p * v, so K and V stream from memory once and together, which is what bounds this shape.
 * Internal to core/: core/flash.c runs its tiles of few rows through it. */
#ifndef AT_DECODE_INT_H
#define AT_DECODE_INT_H

#include <stdbool.h>
#include <stdint.h>

/* Query rows one call handles, and the largest head dimensions (dk and dv) it takes. */
#define AT_DECODE_MAX_ROWS 4
#define AT_DECODE_MAX_DIM  256

/* One query row and its running softmax state, which at_decode_rows updates. */
typedef struct at_decode_row {
    const float *query;   /* dk floats */
    int64_t limit;        /* keys [0, limit) may be attended (at_row_key_limit) */
    const uint8_t *allow; /* at_mask_row's flags, key j's at allow[j * allow_stride]; or NULL */
    int64_t allow_stride;
    float *acc;      /* dv floats: sum_j e^(s_j - max) v_j so far, unnormalised */
    float max, sum;  /* the running maximum (-inf before any allowed key) and sum */
    bool not_finite; /* set once a score was not finite: acc, max and sum are then meaningless */
} at_decode_row;

/* The keys and values of one (batch, head), shared by the rows. */
typedef struct at_decode_keys {
    const float *key, *value;         /* the rows of key 0 and value 0 */
    int64_t key_stride, value_stride; /* floats from one key (value) row to the next */
    int64_t keys;                     /* key (value) rows there are: nothing past them is read */
    int64_t dk, dv;
    float scale; /* score = scale * q . k */
} at_decode_keys;

/* True when at_decode_rows takes `rows` query rows with head dimensions dk and dv. */
bool at_decode_applies(int64_t rows, int64_t dk, int64_t dv);

/* Walks keys [j_begin, j_end) once for rows[0..nrows) (at_decode_applies holds): for every key
 * a row may attend (below its limit and allowed by its flags), adds e^(s - max) v to its acc and
 * e^(s - max) to its sum, rescaling both by e^(old - new) when its maximum grows. A row meeting
 * a score that is not finite (float32 overflow) is marked not_finite and left alone after that;
 * the caller turns it into NaN for at_attention_fix_overflow. The order of every sum depends only
 * on j_begin and j_end, so equal calls give equal bits. Pure: no allocation, reentrant. */
void at_decode_rows(const at_decode_keys *kv, at_decode_row *rows, int nrows, int64_t j_begin,
                    int64_t j_end);

#endif
