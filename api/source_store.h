/* Stored key/value sets ("sources"): tensors a client uploads once (PUT /v1/sources/{id}) and
 * then names by id in attention requests instead of sending them every time (one query per
 * decoding step against the same encoder keys, many small lookups against one key set). The
 * store keeps them within a memory budget, evicting the least recently used, and forgets those
 * unused for a time to live. A source in use by a running request is never freed under it:
 * lookups hand out references, and a source that is replaced, deleted, evicted or expired
 * meanwhile is freed when its last reference is released. */
#ifndef API_SOURCE_STORE_H
#define API_SOURCE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "shape.h"

/* Longest id: letters, digits, '-', '_' and '.', 1 to this many characters. */
#define API_SOURCE_ID_MAX 64

struct api_encoded_source;

/* A stored key/value set. Immutable once put in the store: any number of threads may read it
 * while they hold a reference. */
typedef struct api_source {
    char id[API_SOURCE_ID_MAX + 1];
    api_shape key, value; /* as the client sent them: rank 2 to 4, same leading dims and Lk */
    float *key_data;      /* contiguous row-major, api_shape_elements(&key) floats */
    float *value_data;    /* api_shape_elements(&value) floats */
    int64_t *key_lengths; /* [key_lengths_count] (the batch size B), or NULL */
    int64_t key_lengths_count;
    size_t bytes; /* the whole allocation: what the source counts against the budget */
    void *extra;  /* api_source_alloc_extra's extra bytes, or NULL */
    /* For a source a model encoded (encoded_source.h, which sets it and lays it out in extra),
     * what the model requests need besides the keys and values; NULL for tensors a client sent. */
    const struct api_encoded_source *encoded;
} api_source;

typedef struct api_source_store api_source_store;

/* What /metrics shows of a store (a snapshot). */
typedef struct api_source_stats {
    int64_t count;       /* sources stored now */
    int64_t bytes;       /* their bytes */
    int64_t budget;      /* the memory budget */
    int64_t evictions;   /* sources evicted to make room, since start */
    int64_t expirations; /* sources dropped after ttl seconds unused, since start */
    int64_t hits;        /* lookups that found their source */
    int64_t misses;      /* lookups that did not (unknown, deleted, evicted or expired) */
} api_source_stats;

/* Metadata of one source, for GET /v1/sources/{id} and the PUT response. */
typedef struct api_source_info {
    api_shape key, value;
    int64_t key_lengths_count;         /* 0 without key_lengths */
    char model[API_SOURCE_ID_MAX + 1]; /* the model that encoded it, or "" for tensors */
    int64_t source_length;             /* a model's source: its tokens; else 0 */
    size_t bytes;
    double expires_in; /* seconds until it expires unless used again */
} api_source_info;

/* A monotonic clock in seconds; tests pass their own. */
typedef double (*api_source_clock)(void);

/* Creates an empty store holding at most `budget` bytes of sources (> 0) and forgetting a
 * source `ttl` seconds (> 0) after its last use. `clock` is NULL for CLOCK_MONOTONIC. Returns
 * NULL when out of memory. Free with api_source_store_free. */
api_source_store *api_source_store_new(size_t budget, double ttl, api_source_clock clock);

/* Frees the store and every source in it. No reference may be held any more. NULL is a no-op. */
void api_source_store_free(api_source_store *store);

/* Checks an id from a URL: 1 to API_SOURCE_ID_MAX characters from [A-Za-z0-9._-]. Returns 0,
 * or 400 invalid_value (field "id") with a message naming what is wrong. Thread-safe. */
int api_source_id_check(const char *id, api_error *err);

/* Allocates a source (one allocation) for tensors of the given shapes, whose validity the
 * caller has checked, with room for `key_lengths_count` lengths (0: none); the data is left
 * for the caller to fill. Returns NULL (with *err: 413 when the sizes overflow, 500 when out of
 * memory). The caller owns it until api_source_store_put; api_source_discard frees it. */
api_source *api_source_alloc(const api_shape *key, const api_shape *value,
                             int64_t key_lengths_count, api_error *err);

/* api_source_alloc with `extra_bytes` more (aligned like the tensors) at src->extra, for the
 * caller to lay out (0: extra is NULL). The same returns. */
api_source *api_source_alloc_extra(const api_shape *key, const api_shape *value,
                                   int64_t key_lengths_count, size_t extra_bytes, api_error *err);

/* Frees a source that was never put in a store. NULL is a no-op. */
void api_source_discard(api_source *src);

/* Stores `src` under `id` (which must have passed api_source_id_check), replacing any source of
 * that id (*replaced says whether one was), evicting the least recently used sources until the
 * budget holds it. Takes ownership of src in every case (freed on failure). Returns 0, or 413
 * limit_exceeded when src alone is larger than the budget. Thread-safe. */
int api_source_store_put(api_source_store *store, const char *id, api_source *src, bool *replaced,
                         api_error *err);

/* Looks up `id` and takes a reference: the source stays valid until api_source_store_release,
 * whatever happens to the id meanwhile. Counts a hit and makes the source the most recently
 * used (its ttl starts again), or counts a miss and returns NULL with *err set to 404
 * not_found naming the id (unknown, deleted, evicted or expired). Thread-safe. */
const api_source *api_source_store_acquire(api_source_store *store, const char *id, api_error *err);

/* A request's "source_id": checks `id` (400 naming the field "source_id"), answers 404 when
 * there is no store (NULL: the server keeps no sources), then api_source_store_acquire. Returns
 * 0 and *out, or an HTTP status with *err filled and *out NULL. Thread-safe. */
int api_source_store_acquire_request(api_source_store *store, const char *id,
                                     const api_source **out, api_error *err);

/* Drops a reference that api_source_store_acquire gave. NULL is a no-op. Thread-safe. */
void api_source_store_release(api_source_store *store, const api_source *src);

/* Fills *info for `id` without taking a reference or counting a lookup, and without making it
 * recently used. Returns 0, or 404 with *err set. Thread-safe. */
int api_source_store_info(api_source_store *store, const char *id, api_source_info *info,
                          api_error *err);

/* Removes `id` from the store (it is freed once no request holds it). Returns 0, or 404 with
 * *err set when there is no such source. Thread-safe. */
int api_source_store_remove(api_source_store *store, const char *id, api_error *err);

/* A snapshot of the counters (expired sources are dropped first). Thread-safe. */
void api_source_store_stats(api_source_store *store, api_source_stats *out);

/* The ttl the store was made with, in seconds. */
double api_source_store_ttl(const api_source_store *store);

#endif
