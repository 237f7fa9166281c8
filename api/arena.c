/* The per-request arena: planning offsets with saturating arithmetic and one aligned_alloc;
 * the workspace of a computation and its timed run. */
#include "arena.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/status.h"
#include "big_alloc.h"
#include "request.h"
#include "shape.h"

int64_t api_arena_align(int64_t n)
{
    if (n > INT64_MAX - (API_ARENA_ALIGN - 1)) return INT64_MAX;
    return (n + API_ARENA_ALIGN - 1) / API_ARENA_ALIGN * API_ARENA_ALIGN;
}

char *api_arena_alloc(size_t header, const int64_t *bytes, int64_t *off, int nparts, size_t *total,
                      api_error *err)
{
    int64_t t = api_arena_align((int64_t)header);
    for (int i = 0; i < nparts; i++) {
        off[i] = t;
        t = api_add_sat(t, api_arena_align(bytes[i]));
    }
    if (t == INT64_MAX || (uint64_t)t > SIZE_MAX / 2) {
        api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                      "the request needs more memory than can be allocated");
        return NULL;
    }
    char *arena = api_big_alloc((size_t)t, API_ARENA_ALIGN);
    if (!arena) {
        api_error_set(err, API_ERR_INTERNAL, "", "out of memory: the request needs %lld bytes",
                      (long long)t);
        return NULL;
    }
    memset(arena, 0, header);
    *total = (size_t)t;
    return arena;
}

int api_workspace_alloc(size_t bytes, void **out, api_error *err)
{
    *out = NULL;
    if (!bytes) return 0;
    if (bytes > SIZE_MAX - API_ARENA_ALIGN)
        return api_error_set(err, API_ERR_INTERNAL, "", "attention workspace too large");
    *out = api_big_alloc(bytes, API_ARENA_ALIGN);
    if (!*out)
        return api_error_set(err, API_ERR_INTERNAL, "",
                             "out of memory: the attention workspace needs %zu bytes", bytes);
    return 0;
}

int api_compute(size_t bytes, api_compute_fn fn, void *ctx, const char *what, double *seconds,
                api_error *err)
{
    void *work;
    int st = api_workspace_alloc(bytes, &work, err);
    if (st) return st;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = fn(ctx, work);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(work);
    if (rc == AT_ETIMEDOUT || rc == AT_ECANCELED)
        return api_error_set(err, rc == AT_ETIMEDOUT ? API_ERR_TIMEOUT : API_ERR_CANCELED, "",
                             "stopped before it finished: %s", at_strerror(rc));
    if (rc == AT_ERANGE) return api_overflow_error(err);
    if (rc != AT_OK)
        return api_error_set(err, API_ERR_INTERNAL, "", "%s failed: %s", what, at_strerror(rc));
    *seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return 0;
}
