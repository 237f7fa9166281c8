/* One allocation per request: a header struct followed by parts (tensors, outputs), each
 * aligned for vector loads. The sizes are planned from validated shapes before anything is
 * allocated; saturated sizes (from api_mul_sat/api_add_sat) become a limit error, not a wrap. */
#ifndef API_ARENA_H
#define API_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

#define API_ARENA_ALIGN 64

/* n rounded up to API_ARENA_ALIGN; INT64_MAX (saturated) when that would overflow. */
int64_t api_arena_align(int64_t n);

/* Lays out `header` bytes followed by nparts parts of bytes[i] (0 = absent), writes each
 * part's offset to off[i], allocates the whole (aligned_alloc) and zeroes the header. Returns
 * the arena, which the caller frees with free(), and its size in *total; or NULL with *err set
 * (413 limit_exceeded when the total saturated or is absurd, 500 internal when out of
 * memory). */
char *api_arena_alloc(size_t header, const int64_t *bytes, int64_t *off, int nparts, size_t *total,
                      api_error *err);

/* The scratch memory a kernel asks for (`bytes`, 0 = none: *out = NULL), aligned like the
 * arena. Returns 0, or 500 with *err set when it cannot be had. Freed with free(). */
int api_workspace_alloc(size_t bytes, void **out, api_error *err);

/* A computation on the core: fn(ctx, work) returns an AT_* status. */
typedef int (*api_compute_fn)(void *ctx, void *work);

/* Runs fn on a fresh workspace of `bytes` (api_workspace_alloc), timing the call into
 * *seconds, frees the workspace and maps the core's status to the client's: 0 for AT_OK; 504
 * timeout / 499 canceled when the request's deadline passed or its client left (api_job_run
 * then names which); 400 for AT_ERANGE (api_overflow_error); else 500 "<what> failed: ...".
 * Every computing request of every protocol runs through here. */
int api_compute(size_t bytes, api_compute_fn fn, void *ctx, const char *what, double *seconds,
                api_error *err);

#endif
