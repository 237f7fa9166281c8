/* The judge of the PyTorch fixtures (the files under tests/fixtures, made by make_fixtures.py),
 * shared by the core-level replay (test_fixtures.c) and the HTTP replay (test_http_fixtures.c):
 * loading a fixture file, flattening nested JSON arrays, and checking one case's outputs against
 * what the case expects. Soft cases are compared with PyTorch's numbers; top-k and sampled cases
 * with what defines a right answer (the true top k of the scores; k distinct keys of non-zero
 * probability, drawn with the right frequencies). */
#ifndef TESTS_FIXTURE_CHECK_H
#define TESTS_FIXTURE_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define FX_MAX_RANK 4

/* A nested JSON array of numbers (null read as NaN) or booleans, flattened row-major. */
typedef struct fx_tensor {
    int rank;
    int64_t ne[FX_MAX_RANK];
    int64_t count;
    double *d;  /* numbers, when flattened with booleans == false */
    uint8_t *b; /* booleans, when flattened with booleans == true */
} fx_tensor;

/* Flattens `node` (a regular nested array of rank 1..4); fails the test otherwise. `what` names
 * it in messages. Free with fx_tensor_free. */
fx_tensor fx_flatten(const cJSON *node, bool booleans, const char *what);

/* The numbers of t as floats (malloc'd). */
float *fx_floats(const fx_tensor *t);

void fx_tensor_free(fx_tensor *t);

/* Parses tests/fixtures/<file> ($ATTND_FIXTURES_DIR overrides the directory); fails the test
 * when it is missing or not JSON. cJSON_Delete the result. */
cJSON *fx_load(const char *file);

/* Member `name` of obj, or NULL. */
const cJSON *fx_field(const cJSON *obj, const char *name);

/* The case's name, for messages. */
const char *fx_case_name(const cJSON *c);

/* The case's request selection: "soft", "topk" or "sample". */
const char *fx_case_selection(const cJSON *c);

/* The seed of a sampled case, exact (from the case's "seed_decimal": JSON readers keep numbers
 * as doubles, which hold 64-bit seeds only up to 2^53); 0 when the case gives none. */
uint64_t fx_case_seed(const cJSON *c);

/* True for the sampled cases whose rows repeat one query per (batch, head), checked by
 * frequency. */
bool fx_case_is_distribution(const cJSON *c);

/* Checks the outputs of case `c`: context (n_context floats) and weights (n_weights floats, or
 * NULL when the request did not ask for them), contiguous in the response's order. Fails the
 * test with the case's name and the first difference. */
void fx_check_case(const cJSON *c, const float *context, int64_t n_context, const float *weights,
                   int64_t n_weights);

#endif
