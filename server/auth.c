/* API keys. The key set is an immutable array swapped under a read-write lock on reload; checks
 * take the read side. A key is stored in a fixed SRV_AUTH_KEY_MAX-byte slot, zero-padded, so a
 * check compares every byte of every slot whatever the candidate is, leaking neither a key's
 * content nor its length through timing. */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct key_slot {
    unsigned char bytes[SRV_AUTH_KEY_MAX];
    size_t len;
} key_slot;

typedef struct key_set {
    key_slot *keys;
    size_t count;
} key_set;

struct srv_auth {
    char *path;
    pthread_rwlock_t lock;
    key_set set;
};

/* The paths every client may ask for without a key: the probes, and the explorer page with its
 * files and the API's description, which hold no data (the page asks the user for the key and
 * sends it with every API call). A trailing '/' after more than the root means "and everything
 * under it". /metrics is open too unless --metrics-auth (see srv_auth_open_path). */
static const char *const open_paths[] = {"/healthz", "/readyz",       "/v2/health/",
                                         "/",        "/openapi.json", "/ui/"};

bool srv_auth_open_path(const char *path, bool metrics_auth)
{
    if (!metrics_auth && strcmp(path, "/metrics") == 0) return true;
    for (size_t i = 0; i < sizeof open_paths / sizeof open_paths[0]; i++) {
        size_t n = strlen(open_paths[i]);
        /* A prefix opens what is under it, never a "/.." that would climb out of it. */
        if (n > 1 && open_paths[i][n - 1] == '/'
                ? strncmp(path, open_paths[i], n) == 0 && !strstr(path, "..")
                : strcmp(path, open_paths[i]) == 0)
            return true;
    }
    return false;
}

static void set_free(key_set *s)
{
    if (s->keys)
        explicit_bzero(s->keys, s->count * sizeof *s->keys); /* no keys left in freed memory */
    free(s->keys);
    s->keys = NULL;
    s->count = 0;
}

/* Reads the file into *out. Returns 0, or -1 with err set. */
static int read_keys(const char *path, key_set *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "--api-key-file %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    key_set s = {0};
    size_t cap = 0;
    char line[SRV_AUTH_KEY_MAX + 64];
    int lineno = 0, rc = -1;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n' && !feof(f)) {
            snprintf(err, errlen, "--api-key-file %s line %d: longer than %d characters", path,
                     lineno, SRV_AUTH_KEY_MAX);
            goto done;
        }
        char *b = line, *e = line + n;
        while (*b == ' ' || *b == '\t')
            b++;
        while (e > b && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e == b || *b == '#') continue;
        size_t len = (size_t)(e - b);
        if (len > SRV_AUTH_KEY_MAX) {
            snprintf(err, errlen, "--api-key-file %s line %d: longer than %d characters", path,
                     lineno, SRV_AUTH_KEY_MAX);
            goto done;
        }
        for (const char *p = b; p < e; p++)
            if (*p <= ' ' || *p > '~') {
                snprintf(err, errlen,
                         "--api-key-file %s line %d: a key is printable ASCII without spaces "
                         "(character %d is not)",
                         path, lineno, (int)(p - b) + 1);
                goto done;
            }
        if (s.count == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            key_slot *k = calloc(ncap, sizeof *k);
            if (!k) {
                snprintf(err, errlen, "--api-key-file %s: out of memory", path);
                goto done;
            }
            if (s.count) memcpy(k, s.keys, s.count * sizeof *k);
            set_free(&(key_set){s.keys, s.count});
            s.keys = k;
            cap = ncap;
        }
        memcpy(s.keys[s.count].bytes, b, len);
        s.keys[s.count].len = len;
        s.count++;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "--api-key-file %s: read error: %s", path, strerror(errno));
        goto done;
    }
    if (s.count == 0) {
        snprintf(err, errlen, "--api-key-file %s: holds no key (one key per line; # comments)",
                 path);
        goto done;
    }
    *out = s;
    s = (key_set){0};
    rc = 0;
done:
    explicit_bzero(line, sizeof line);
    set_free(&s);
    fclose(f);
    return rc;
}

srv_auth *srv_auth_new(const char *path, char *err, size_t errlen)
{
    srv_auth *a = calloc(1, sizeof *a);
    if (!a || !(a->path = strdup(path))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (read_keys(path, &a->set, err, errlen) != 0) goto fail;
    pthread_rwlock_init(&a->lock, NULL);
    return a;
fail:
    if (a) free(a->path);
    free(a);
    return NULL;
}

void srv_auth_free(srv_auth *a)
{
    if (!a) return;
    set_free(&a->set);
    pthread_rwlock_destroy(&a->lock);
    free(a->path);
    free(a);
}

int srv_auth_reload(srv_auth *a, size_t *nkeys, char *err, size_t errlen)
{
    key_set fresh;
    if (read_keys(a->path, &fresh, err, errlen) != 0) return -1;
    pthread_rwlock_wrlock(&a->lock);
    key_set old = a->set;
    a->set = fresh;
    pthread_rwlock_unlock(&a->lock);
    set_free(&old);
    if (nkeys) *nkeys = fresh.count;
    return 0;
}

size_t srv_auth_count(srv_auth *a)
{
    pthread_rwlock_rdlock(&a->lock);
    size_t n = a->set.count;
    pthread_rwlock_unlock(&a->lock);
    return n;
}

/* The key a request presents, or NULL: "Bearer KEY" of Authorization, else X-Api-Key. */
static const char *presented(const char *authorization, const char *x_api_key, size_t *len)
{
    const char *k = NULL;
    if (authorization && strncasecmp(authorization, "Bearer", 6) == 0 &&
        (authorization[6] == ' ' || authorization[6] == '\t')) {
        k = authorization + 7;
        while (*k == ' ' || *k == '\t')
            k++;
    } else if (x_api_key) {
        k = x_api_key;
    }
    if (!k) return NULL;
    size_t n = strlen(k);
    while (n && (k[n - 1] == ' ' || k[n - 1] == '\t'))
        n--;
    if (n == 0 || n > SRV_AUTH_KEY_MAX) return NULL;
    *len = n;
    return k;
}

bool srv_auth_check(srv_auth *a, const char *authorization, const char *x_api_key)
{
    size_t len = 0;
    const char *k = presented(authorization, x_api_key, &len);
    if (!k) return false;
    unsigned char cand[SRV_AUTH_KEY_MAX] = {0};
    memcpy(cand, k, len);
    unsigned match = 0;
    pthread_rwlock_rdlock(&a->lock);
    for (size_t i = 0; i < a->set.count; i++) {
        const key_slot *s = &a->set.keys[i];
        unsigned diff = (unsigned)(s->len ^ len);
        for (size_t j = 0; j < SRV_AUTH_KEY_MAX; j++)
            diff |= (unsigned)(s->bytes[j] ^ cand[j]);
        /* diff == 0 -> 1, else 0, without a branch on the key's bytes. */
        match |= 1u & (unsigned)(((uint64_t)diff - 1) >> 63);
    }
    pthread_rwlock_unlock(&a->lock);
    explicit_bzero(cand, sizeof cand);
    return match != 0;
}
