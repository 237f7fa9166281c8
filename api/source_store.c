/* The source store: a hash table of ids over reference-counted sources, an LRU list for the
 * budget and the time to live (the list is in order of last use, so the expired are always at
 * its tail), all under one mutex. The data of a source is never touched under the mutex:
 * requests read it through their reference. */
#include "source_store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "encoded_source.h"

typedef struct entry {
    api_source src;            /* first: a source pointer is its entry */
    struct entry *prev, *next; /* LRU list, most recently used first */
    struct entry *chain;       /* next in the hash bucket */
    uint64_t hash;
    int64_t refs;     /* references handed out by acquire and not yet released */
    bool stored;      /* in the table and the list; false once removed, evicted or expired */
    double last_used; /* clock time of the put or the last acquire */
} entry;

struct api_source_store {
    pthread_mutex_t mu;
    size_t budget;
    double ttl;
    api_source_clock clock;
    entry **buckets;
    size_t nbuckets; /* a power of two */
    entry *head, *tail;
    int64_t count;
    size_t bytes;
    int64_t evictions, expirations, hits, misses;
};

static double monotonic_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t hash_id(const char *id)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return h;
}

api_source_store *api_source_store_new(size_t budget, double ttl, api_source_clock clock)
{
    if (budget == 0 || !(ttl > 0)) return NULL;
    api_source_store *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->nbuckets = 64;
    s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
    if (!s->buckets || pthread_mutex_init(&s->mu, NULL) != 0) goto fail;
    s->budget = budget;
    s->ttl = ttl;
    s->clock = clock ? clock : monotonic_now;
    return s;

fail:
    free(s->buckets);
    free(s);
    return NULL;
}

void api_source_store_free(api_source_store *store)
{
    if (!store) return;
    for (entry *e = store->head, *next; e; e = next) {
        next = e->next;
        free(e);
    }
    free(store->buckets);
    pthread_mutex_destroy(&store->mu);
    free(store);
}

int api_source_id_check(const char *id, api_error *err)
{
    size_t n = strlen(id);
    if (n == 0 || n > API_SOURCE_ID_MAX)
        return api_error_set(err, API_ERR_INVALID_VALUE, "id",
                             "id: expected 1 to %d characters, got %zu", API_SOURCE_ID_MAX, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok)
            return api_error_set(err, API_ERR_INVALID_VALUE, "id",
                                 "id: character %zu (0x%02x) is not allowed; use letters, digits, "
                                 "'-', '_' and '.'",
                                 i + 1, c);
    }
    return 0;
}

api_source *api_source_alloc(const api_shape *key, const api_shape *value,
                             int64_t key_lengths_count, api_error *err)
{
    return api_source_alloc_extra(key, value, key_lengths_count, 0, err);
}

api_source *api_source_alloc_extra(const api_shape *key, const api_shape *value,
                                   int64_t key_lengths_count, size_t extra_bytes, api_error *err)
{
    int64_t header = api_arena_align((int64_t)sizeof(entry));
    int64_t kb = api_arena_align(api_mul_sat(api_shape_elements(key), sizeof(float)));
    int64_t vb = api_arena_align(api_mul_sat(api_shape_elements(value), sizeof(float)));
    int64_t lb = api_arena_align(api_mul_sat(key_lengths_count, sizeof(int64_t)));
    int64_t xb =
        extra_bytes > (uint64_t)INT64_MAX ? INT64_MAX : api_arena_align((int64_t)extra_bytes);
    int64_t total = api_add_sat(api_add_sat(api_add_sat(header, kb), api_add_sat(vb, lb)), xb);
    if (total == INT64_MAX || (uint64_t)total > SIZE_MAX / 2) {
        api_error_set(err, API_ERR_LIMIT_EXCEEDED, "", "source: its tensors are too large");
        return NULL;
    }
    char *mem = aligned_alloc(API_ARENA_ALIGN, (size_t)total);
    if (!mem) {
        api_error_set(err, API_ERR_INTERNAL, "",
                      "out of memory: a source of %lld bytes could not be allocated",
                      (long long)total);
        return NULL;
    }
    entry *e = (entry *)mem;
    memset(e, 0, sizeof *e);
    api_source *src = &e->src;
    src->key = *key;
    src->value = *value;
    src->key_data = (float *)(mem + header);
    src->value_data = (float *)(mem + header + kb);
    src->key_lengths = key_lengths_count ? (int64_t *)(mem + header + kb + vb) : NULL;
    src->key_lengths_count = key_lengths_count;
    src->extra = extra_bytes ? mem + header + kb + vb + lb : NULL;
    src->bytes = (size_t)total;
    return src;
}

void api_source_discard(api_source *src)
{
    free(src); /* the entry, which starts with the source */
}

/* ---- under the mutex ---- */

static entry **bucket_of(api_source_store *s, uint64_t hash)
{
    return &s->buckets[hash & (s->nbuckets - 1)];
}

static entry *find(api_source_store *s, const char *id)
{
    uint64_t h = hash_id(id);
    for (entry *e = *bucket_of(s, h); e; e = e->chain)
        if (e->hash == h && strcmp(e->src.id, id) == 0) return e;
    return NULL;
}

static void list_unlink(api_source_store *s, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push_front(api_source_store *s, entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head) s->head->prev = e;
    s->head = e;
    if (!s->tail) s->tail = e;
}

/* Takes e out of the table and the list; frees it unless a request still holds it. */
static void drop(api_source_store *s, entry *e)
{
    for (entry **p = bucket_of(s, e->hash); *p; p = &(*p)->chain)
        if (*p == e) {
            *p = e->chain;
            break;
        }
    list_unlink(s, e);
    e->stored = false;
    s->count--;
    s->bytes -= e->src.bytes;
    if (e->refs == 0) free(e);
}

/* Drops every source unused for ttl seconds: they are all at the tail. */
static void expire(api_source_store *s, double now)
{
    while (s->tail && now - s->tail->last_used >= s->ttl) {
        drop(s, s->tail);
        s->expirations++;
    }
}

/* Doubles the buckets when there are more sources than buckets; keeps them when out of memory
 * (chains just get longer). */
static void maybe_grow(api_source_store *s)
{
    if ((size_t)s->count <= s->nbuckets) return;
    size_t n = s->nbuckets * 2;
    entry **b = calloc(n, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < s->nbuckets; i++)
        for (entry *e = s->buckets[i], *next; e; e = next) {
            next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

static int not_found(const char *id, api_error *err)
{
    return api_error_set(err, API_ERR_NOT_FOUND, "source_id",
                         "source '%s' not found: it was never stored, or was deleted, evicted to "
                         "stay within --source-memory, or unused for --source-ttl seconds; "
                         "PUT /v1/sources/%s first",
                         id, id);
}

/* ---- the public functions ---- */

int api_source_store_put(api_source_store *store, const char *id, api_source *src, bool *replaced,
                         api_error *err)
{
    entry *e = (entry *)src;
    *replaced = false;
    if (src->bytes > store->budget) {
        int rc = api_error_set(err, API_ERR_LIMIT_EXCEEDED, "",
                               "source '%s' needs %zu bytes, more than the whole source memory "
                               "budget of %zu bytes (--source-memory)",
                               id, src->bytes, store->budget);
        free(e);
        return rc;
    }
    snprintf(src->id, sizeof src->id, "%s", id);
    e->hash = hash_id(src->id);
    e->refs = 0;

    pthread_mutex_lock(&store->mu);
    double now = store->clock();
    expire(store, now);
    entry *old = find(store, src->id);
    if (old) {
        drop(store, old);
        *replaced = true;
    }
    while (store->tail && store->bytes + src->bytes > store->budget) {
        drop(store, store->tail);
        store->evictions++;
    }
    entry **b = bucket_of(store, e->hash);
    e->chain = *b;
    *b = e;
    list_push_front(store, e);
    e->stored = true;
    e->last_used = now;
    store->count++;
    store->bytes += src->bytes;
    maybe_grow(store);
    pthread_mutex_unlock(&store->mu);
    return 0;
}

const api_source *api_source_store_acquire(api_source_store *store, const char *id, api_error *err)
{
    pthread_mutex_lock(&store->mu);
    double now = store->clock();
    expire(store, now);
    entry *e = find(store, id);
    if (!e) {
        store->misses++;
        pthread_mutex_unlock(&store->mu);
        not_found(id, err);
        return NULL;
    }
    store->hits++;
    e->refs++;
    e->last_used = now;
    list_unlink(store, e);
    list_push_front(store, e);
    pthread_mutex_unlock(&store->mu);
    return &e->src;
}

int api_source_store_acquire_request(api_source_store *store, const char *id,
                                     const api_source **out, api_error *err)
{
    *out = NULL;
    int rc = api_source_id_check(id, err);
    if (rc) {
        snprintf(err->field, sizeof err->field, "source_id");
        return rc;
    }
    if (!store)
        return api_error_set(err, API_ERR_NOT_FOUND, "source_id",
                             "source_id: this server keeps no sources");
    *out = api_source_store_acquire(store, id, err);
    return *out ? 0 : api_error_http_status(err->kind);
}

void api_source_store_release(api_source_store *store, const api_source *src)
{
    if (!src) return;
    entry *e = (entry *)src;
    pthread_mutex_lock(&store->mu);
    bool gone = --e->refs == 0 && !e->stored;
    pthread_mutex_unlock(&store->mu);
    if (gone) free(e);
}

int api_source_store_info(api_source_store *store, const char *id, api_source_info *info,
                          api_error *err)
{
    pthread_mutex_lock(&store->mu);
    double now = store->clock();
    expire(store, now);
    entry *e = find(store, id);
    if (e) {
        *info = (api_source_info){
            .key = e->src.key,
            .value = e->src.value,
            .key_lengths_count = e->src.key_lengths_count,
            .source_length = e->src.encoded ? e->src.encoded->seq.len : 0,
            .bytes = e->src.bytes,
            .expires_in = store->ttl - (now - e->last_used),
        };
    }
    if (e && e->src.encoded) snprintf(info->model, sizeof info->model, "%s", e->src.encoded->model);
    pthread_mutex_unlock(&store->mu);
    return e ? 0 : not_found(id, err);
}

int api_source_store_remove(api_source_store *store, const char *id, api_error *err)
{
    pthread_mutex_lock(&store->mu);
    expire(store, store->clock());
    entry *e = find(store, id);
    if (e) drop(store, e);
    pthread_mutex_unlock(&store->mu);
    return e ? 0 : not_found(id, err);
}

void api_source_store_stats(api_source_store *store, api_source_stats *out)
{
    pthread_mutex_lock(&store->mu);
    expire(store, store->clock());
    *out = (api_source_stats){
        .count = store->count,
        .bytes = (int64_t)store->bytes,
        .budget = (int64_t)store->budget,
        .evictions = store->evictions,
        .expirations = store->expirations,
        .hits = store->hits,
        .misses = store->misses,
    };
    pthread_mutex_unlock(&store->mu);
}

double api_source_store_ttl(const api_source_store *store)
{
    return store->ttl;
}
