/* Unit tests of the source store (api/source_store.c) without HTTP: ids, put / acquire /
 * release / remove, replacement, the memory budget with LRU eviction, the time to live on an
 * injected clock, references that keep a removed source alive, and readers racing writers. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../api/source_store.h"
#include "harness.h"

static double fake_now;

static double fake_clock(void)
{
    return fake_now;
}

/* A source of `n` keys of width 4, key and value filled with `fill`, without key_lengths. */
static api_source *make_source(int64_t n, float fill)
{
    api_error err;
    api_shape k = {.rank = 2, .ne = {n, 4}};
    api_source *src = api_source_alloc(&k, &k, 0, &err);
    ASSERT(src != NULL);
    for (int64_t i = 0; i < n * 4; i++)
        src->key_data[i] = src->value_data[i] = fill;
    return src;
}

static void put(api_source_store *s, const char *id, api_source *src, bool want_replaced)
{
    api_error err;
    bool replaced = !want_replaced;
    ASSERT_EQ(api_source_store_put(s, id, src, &replaced, &err), 0);
    ASSERT_EQ(replaced, want_replaced);
}

/* Whether `id` is stored, by a lookup (which counts a hit or a miss and refreshes it). */
static bool present(api_source_store *s, const char *id)
{
    api_error err;
    const api_source *src = api_source_store_acquire(s, id, &err);
    if (!src) {
        ASSERT_EQ(api_error_http_status(err.kind), 404);
        ASSERT(strstr(err.message, id) != NULL);
        return false;
    }
    ASSERT(strcmp(src->id, id) == 0);
    api_source_store_release(s, src);
    return true;
}

TEST(source_id_check)
{
    api_error err;
    ASSERT_EQ(api_source_id_check("enc-1_v2.a", &err), 0);
    char longest[API_SOURCE_ID_MAX + 2];
    memset(longest, 'x', sizeof longest);
    longest[API_SOURCE_ID_MAX] = '\0';
    ASSERT_EQ(api_source_id_check(longest, &err), 0);
    longest[API_SOURCE_ID_MAX] = 'x';
    longest[API_SOURCE_ID_MAX + 1] = '\0';
    ASSERT_EQ(api_source_id_check(longest, &err), 400);
    ASSERT(strstr(err.message, "1 to 64 characters") != NULL);
    ASSERT_EQ(api_source_id_check("", &err), 400);
    const char *bad[] = {"a/b", "a b", "..%2f", "caf\xc3\xa9", "a?x=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ(api_source_id_check(bad[i], &err), 400);
        ASSERT(strcmp(err.field, "id") == 0);
        ASSERT(strstr(err.message, "not allowed") != NULL);
    }
}

TEST(source_put_acquire_info_remove)
{
    fake_now = 100;
    api_source_store *s = api_source_store_new(1 << 20, 60, fake_clock);
    ASSERT(s != NULL);
    api_source *src = make_source(10, 1.5f);
    size_t bytes = src->bytes;
    ASSERT(bytes >= 2 * 10 * 4 * sizeof(float));
    put(s, "a", src, false);

    api_error err;
    const api_source *got = api_source_store_acquire(s, "a", &err);
    ASSERT(got == src);
    ASSERT_EQ(got->key.ne[0], 10);
    ASSERT_EQ(got->value_data[39], 1.5);
    ASSERT(got->key_lengths == NULL);
    api_source_store_release(s, got);

    fake_now = 110;
    api_source_info info;
    ASSERT_EQ(api_source_store_info(s, "a", &info, &err), 0);
    ASSERT_EQ(info.bytes, bytes);
    ASSERT_NEAR(info.expires_in, 50, 1e-9);
    ASSERT_EQ(info.key.rank, 2);
    ASSERT_EQ(api_source_store_info(s, "b", &info, &err), 404);

    api_source_stats st;
    api_source_store_stats(s, &st);
    ASSERT_EQ(st.count, 1);
    ASSERT_EQ(st.bytes, (int64_t)bytes);
    ASSERT_EQ(st.hits, 1);
    ASSERT_EQ(st.misses, 0);

    ASSERT_EQ(api_source_store_remove(s, "a", &err), 0);
    ASSERT_EQ(api_source_store_remove(s, "a", &err), 404);
    ASSERT(strcmp(err.field, "source_id") == 0);
    ASSERT(!present(s, "a"));
    api_source_store_stats(s, &st);
    ASSERT_EQ(st.count, 0);
    ASSERT_EQ(st.bytes, 0);
    ASSERT_EQ(st.misses, 1);
    api_source_store_free(s);
}

TEST(source_key_lengths_are_kept)
{
    api_error err;
    api_shape k = {.rank = 4, .ne = {3, 2, 5, 4}}, v = {.rank = 4, .ne = {3, 2, 5, 7}};
    api_source *src = api_source_alloc(&k, &v, 3, &err);
    ASSERT(src != NULL);
    ASSERT(src->key_lengths != NULL);
    ASSERT_EQ(src->key_lengths_count, 3);
    /* The parts do not overlap: fill each, read each back. */
    for (int i = 0; i < 3 * 2 * 5 * 4; i++)
        src->key_data[i] = 1;
    for (int i = 0; i < 3 * 2 * 5 * 7; i++)
        src->value_data[i] = 2;
    for (int i = 0; i < 3; i++)
        src->key_lengths[i] = i;
    ASSERT_EQ(src->key_data[3 * 2 * 5 * 4 - 1], 1);
    ASSERT_EQ(src->key_lengths[2], 2);
    api_source_discard(src);
}

TEST(source_replace_keeps_the_held_one_alive)
{
    api_source_store *s = api_source_store_new(1 << 20, 60, NULL);
    put(s, "a", make_source(8, 1.0f), false);
    api_error err;
    const api_source *old = api_source_store_acquire(s, "a", &err);
    ASSERT(old != NULL);
    put(s, "a", make_source(8, 2.0f), true);
    /* The request holding the old one still reads it (ASan: no use after free). */
    ASSERT_EQ(old->key_data[31], 1.0);
    const api_source *cur = api_source_store_acquire(s, "a", &err);
    ASSERT_EQ(cur->key_data[31], 2.0);
    /* Deleted while held: still readable until released, then freed (ASan: no leak). */
    ASSERT_EQ(api_source_store_remove(s, "a", &err), 0);
    ASSERT_EQ(cur->value_data[0], 2.0);
    api_source_stats st;
    api_source_store_stats(s, &st);
    ASSERT_EQ(st.count, 0);
    ASSERT_EQ(st.bytes, 0);
    api_source_store_release(s, old);
    api_source_store_release(s, cur);
    api_source_store_free(s);
}

TEST(source_budget_evicts_least_recently_used)
{
    api_source *probe = make_source(100, 0);
    size_t one = probe->bytes;
    api_source_discard(probe);
    api_source_store *s = api_source_store_new(3 * one, 60, NULL);
    put(s, "a", make_source(100, 1), false);
    put(s, "b", make_source(100, 2), false);
    put(s, "c", make_source(100, 3), false);
    ASSERT(present(s, "a")); /* now b is the least recently used */
    put(s, "d", make_source(100, 4), false);
    ASSERT(!present(s, "b"));
    ASSERT(present(s, "a") && present(s, "c") && present(s, "d"));
    api_source_stats st;
    api_source_store_stats(s, &st);
    ASSERT_EQ(st.count, 3);
    ASSERT_EQ(st.bytes, (int64_t)(3 * one));
    ASSERT_EQ(st.evictions, 1);
    ASSERT_EQ(st.budget, (int64_t)(3 * one));

    /* A source of two slots evicts the two least recently used (a, then c). */
    put(s, "big", make_source(200, 5), false);
    api_source_store_stats(s, &st);
    ASSERT_EQ(st.evictions, 3);
    ASSERT(present(s, "d") && present(s, "big"));
    ASSERT(!present(s, "a") && !present(s, "c"));

    /* Larger than the whole budget: 413, and nothing stored is touched. */
    api_error err;
    bool replaced;
    ASSERT_EQ(api_source_store_put(s, "huge", make_source(400, 6), &replaced, &err), 413);
    ASSERT(strstr(err.message, "--source-memory") != NULL);
    ASSERT(present(s, "d") && present(s, "big"));
    api_source_store_stats(s, &st);
    ASSERT_EQ(st.evictions, 3);
    api_source_store_free(s);
}

TEST(source_ttl_counts_from_last_use)
{
    fake_now = 1000;
    api_source_store *s = api_source_store_new(1 << 20, 10, fake_clock);
    put(s, "a", make_source(4, 1), false);
    put(s, "b", make_source(4, 2), false);
    fake_now = 1009;
    ASSERT(present(s, "a")); /* a's ttl starts again at 1009 */
    fake_now = 1010;         /* b: 10 s unused */
    ASSERT(!present(s, "b"));
    api_source_stats st;
    api_source_store_stats(s, &st);
    ASSERT_EQ(st.expirations, 1);
    ASSERT_EQ(st.count, 1);
    api_error err;
    api_source_info info;
    ASSERT_EQ(api_source_store_info(s, "a", &info, &err), 0);
    ASSERT_NEAR(info.expires_in, 9, 1e-9);
    fake_now = 1018.5; /* info does not refresh */
    ASSERT(present(s, "a"));
    fake_now = 1028.5;
    api_source_store_stats(s, &st);
    ASSERT_EQ(st.count, 0);
    ASSERT_EQ(st.expirations, 2);
    api_source_store_free(s);
}

/* Readers acquire, check that every element of the source is the same value (a source is never
 * changed or freed under them) and release, while a writer replaces and deletes the ids and a
 * small budget evicts. */
typedef struct race {
    api_source_store *s;
    int iterations;
    int bad;
} race;

static void *reader(void *arg)
{
    race *r = arg;
    char id[8];
    for (int i = 0; i < r->iterations; i++) {
        snprintf(id, sizeof id, "s%d", i % 4);
        api_error err;
        const api_source *src = api_source_store_acquire(r->s, id, &err);
        if (!src) continue;
        float first = src->key_data[0];
        for (int64_t j = 0; j < 64 * 4; j++)
            if (src->key_data[j] != first || src->value_data[j] != first) r->bad++;
        api_source_store_release(r->s, src);
    }
    return NULL;
}

TEST(source_readers_race_writers)
{
    api_source *probe = make_source(64, 0);
    size_t one = probe->bytes;
    api_source_discard(probe);
    api_source_store *s = api_source_store_new(3 * one, 60, NULL);
    race r[2] = {{.s = s, .iterations = 20000}, {.s = s, .iterations = 20000}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, reader, &r[i]), 0);
    api_error err;
    for (int i = 0; i < 4000; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", i % 4);
        bool replaced;
        ASSERT_EQ(api_source_store_put(s, id, make_source(64, (float)i), &replaced, &err), 0);
        if (i % 7 == 0) api_source_store_remove(s, id, &err);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    ASSERT_EQ(r[0].bad + r[1].bad, 0);
    api_source_stats st;
    api_source_store_stats(s, &st);
    ASSERT(st.evictions > 0);
    ASSERT(st.bytes <= (int64_t)(3 * one));
    api_source_store_free(s);
}

/* A request's "source_id": a bad id is a 400 in that field, no store a 404 saying so, an unknown
 * id a 404, a stored one a reference. */
TEST(source_store_acquire_request)
{
    api_error err;
    const api_source *src = (const api_source *)&err;
    ASSERT_EQ(api_source_store_acquire_request(NULL, "bad id", &src, &err), 400);
    ASSERT(src == NULL);
    ASSERT_STREQ(err.field, "source_id");
    ASSERT_EQ(api_source_store_acquire_request(NULL, "enc", &src, &err), 404);
    ASSERT(src == NULL);
    ASSERT_CONTAINS(err.message, "keeps no sources");
    api_source_store *s = api_source_store_new(1 << 20, 60, fake_clock);
    ASSERT(s != NULL);
    ASSERT_EQ(api_source_store_acquire_request(s, "enc", &src, &err), 404);
    ASSERT(src == NULL);
    ASSERT_CONTAINS(err.message, "enc");
    put(s, "enc", make_source(3, 1.0f), false);
    ASSERT_EQ(api_source_store_acquire_request(s, "enc", &src, &err), 0);
    ASSERT(src != NULL && strcmp(src->id, "enc") == 0);
    api_source_store_release(s, src);
    api_source_store_free(s);
}
