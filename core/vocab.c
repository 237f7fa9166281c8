/* The vocabulary: one copy of the file's text with each line end replaced by NUL, an array of
 * (offset, length) per id, and an open-addressing hash table (linear probing, load <= 1/2) of
 * ids keyed by FNV-1a. Three allocations in all, whatever the size. */
#include "vocab.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "tokenizer.h"

typedef struct vocab_entry {
    size_t offset;
    uint32_t len;
} vocab_entry;

struct at_vocab {
    char *text;           /* the lines, each NUL-terminated */
    vocab_entry *entries; /* [size] */
    uint32_t *slots;      /* [mask + 1]: id + 1, or 0 for an empty slot */
    size_t mask;
    int64_t size;
    size_t max_len;
};

uint64_t at_fnv1a64(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static bool entry_is(const at_vocab *v, uint32_t id, const char *s, size_t len)
{
    const vocab_entry *e = &v->entries[id];
    return e->len == len && memcmp(v->text + e->offset, s, len) == 0;
}

/* Puts id into the table, replacing an earlier line with the same token. */
static void insert(at_vocab *v, uint32_t id)
{
    const vocab_entry *e = &v->entries[id];
    const char *s = v->text + e->offset;
    size_t i = (size_t)at_fnv1a64(s, e->len) & v->mask;
    while (v->slots[i] && !entry_is(v, v->slots[i] - 1, s, e->len))
        i = (i + 1) & v->mask;
    v->slots[i] = id + 1;
}

int at_vocab_new(const char *text, size_t len, at_vocab **out, char *err, size_t errlen)
{
    int rc = AT_ENOMEM;
    *out = NULL;
    if (errlen) err[0] = '\0';
    if (len == 0) {
        snprintf(err, errlen, "the vocabulary is empty");
        return AT_EPARSE;
    }
    size_t lines = text[len - 1] == '\n' ? 0 : 1;
    for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))); p++)
        lines++;
    if ((int64_t)lines > AT_VOCAB_MAX_SIZE) {
        snprintf(err, errlen, "the vocabulary has %zu lines, more than the %lld allowed", lines,
                 (long long)AT_VOCAB_MAX_SIZE);
        return AT_ELIMIT;
    }
    size_t cap = 16;
    while (cap < 2 * lines)
        cap *= 2;
    at_vocab *v = calloc(1, sizeof *v);
    if (!v) goto fail;
    v->text = malloc(len + 1);
    v->entries = malloc(lines * sizeof *v->entries);
    v->slots = calloc(cap, sizeof *v->slots);
    if (!v->text || !v->entries || !v->slots) goto fail;
    memcpy(v->text, text, len);
    v->text[len] = '\0';
    v->mask = cap - 1;

    size_t a = 0;
    for (size_t id = 0; id < lines; id++) {
        const char *nl = memchr(text + a, '\n', len - a);
        size_t b = nl ? (size_t)(nl - text) : len, next = b + 1;
        if (b > a && text[b - 1] == '\r') b--;
        char why[160];
        if (memchr(text + a, '\0', b - a)) {
            snprintf(err, errlen, "line %zu: contains a NUL byte", id + 1);
            rc = AT_EPARSE;
            goto fail;
        }
        if (at_utf8_check(text + a, b - a, NULL, why, sizeof why) != AT_OK) {
            snprintf(err, errlen, "line %zu: %s", id + 1, why);
            rc = AT_EPARSE;
            goto fail;
        }
        if (b - a > UINT32_MAX) {
            snprintf(err, errlen, "line %zu: longer than %u bytes", id + 1, UINT32_MAX);
            rc = AT_ELIMIT;
            goto fail;
        }
        v->text[b] = '\0';
        v->entries[id] = (vocab_entry){a, (uint32_t)(b - a)};
        if (b - a > v->max_len) v->max_len = b - a;
        insert(v, (uint32_t)id);
        a = next;
    }
    v->size = (int64_t)lines;
    *out = v;
    return AT_OK;

fail:
    if (rc == AT_ENOMEM)
        snprintf(err, errlen, "out of memory for a vocabulary of %zu lines", lines);
    at_vocab_free(v);
    return rc;
}

void at_vocab_free(at_vocab *v)
{
    if (!v) return;
    free(v->text);
    free(v->entries);
    free(v->slots);
    free(v);
}

int64_t at_vocab_size(const at_vocab *v)
{
    return v->size;
}

int64_t at_vocab_find(const at_vocab *v, const char *s, size_t len)
{
    if (len > v->max_len) return -1;
    size_t i = (size_t)at_fnv1a64(s, len) & v->mask;
    while (v->slots[i]) {
        if (entry_is(v, v->slots[i] - 1, s, len)) return (int64_t)v->slots[i] - 1;
        i = (i + 1) & v->mask;
    }
    return -1;
}

const char *at_vocab_token(const at_vocab *v, int64_t id, size_t *len)
{
    if (id < 0 || id >= v->size) return NULL;
    if (len) *len = v->entries[id].len;
    return v->text + v->entries[id].offset;
}

size_t at_vocab_max_token_len(const at_vocab *v)
{
    return v->max_len;
}
