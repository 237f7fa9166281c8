/* Byte-level BPE: a hash table of merges keyed by the pair of token ids, the hand-written
 * pre-tokenizer, and a merge loop over a linked list of symbols driven by a binary heap of
 * candidate pairs (lowest rank first, then leftmost), so a long word costs O(n log n). */
#include "bpe.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "unicode.h"

typedef struct merge {
    uint64_t key; /* left id << 32 | right id; 0 marks an empty slot (id 0 + id 0 is never a
                   * merge of a real vocabulary: both sides would be the same first token) */
    uint32_t rank, merged;
} merge;

struct at_bpe {
    const at_vocab *vocab;
    merge *table;
    size_t mask, count;
    int64_t byte_id[256]; /* the id of each byte's character, or -1 */
};

uint32_t at_bpe_byte_char(unsigned byte)
{
    if ((byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174)) return byte;
    /* The others, in byte order, from U+0100. */
    unsigned n = 0;
    for (unsigned b = 0; b < byte; b++)
        if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) n++;
    return 256 + n;
}

static uint64_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

static const merge *find(const at_bpe *b, uint32_t left, uint32_t right)
{
    uint64_t key = (uint64_t)left << 32 | right;
    if (!key) return NULL;
    for (size_t i = mix(key) & b->mask;; i = (i + 1) & b->mask) {
        if (b->table[i].key == key) return &b->table[i];
        if (!b->table[i].key) return NULL;
    }
}

int at_bpe_new(const at_vocab *vocab, const char *text, size_t len, at_bpe **out, char *err,
               size_t errlen)
{
    *out = NULL;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    at_bpe *b = calloc(1, sizeof *b);
    size_t cap = 16;
    while (cap < 2 * lines)
        cap *= 2;
    if (!b || !(b->table = calloc(cap, sizeof *b->table))) {
        free(b);
        snprintf(err, errlen, "out of memory for %zu merges", lines);
        return AT_ENOMEM;
    }
    b->vocab = vocab;
    b->mask = cap - 1;
    char joined[1024];
    size_t line = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        line++;
        size_t n = e > i && text[e - 1] == '\r' ? e - 1 - i : e - i;
        const char *s = text + i;
        i = e + 1;
        if (n == 0 || (line == 1 && n >= 8 && !memcmp(s, "#version", 8))) continue;
        const char *sp = memchr(s, ' ', n);
        size_t ln = sp ? (size_t)(sp - s) : 0, rn = sp ? n - ln - 1 : 0;
        int64_t l = sp ? at_vocab_find(vocab, s, ln) : -1,
                r = sp ? at_vocab_find(vocab, sp + 1, rn) : -1;
        int64_t m = -1;
        if (l >= 0 && r >= 0 && ln + rn < sizeof joined) {
            memcpy(joined, s, ln);
            memcpy(joined + ln, sp + 1, rn);
            m = at_vocab_find(vocab, joined, ln + rn);
        }
        if (m < 0 || l > UINT32_MAX || r > UINT32_MAX) {
            snprintf(err, errlen,
                     "merges.txt line %zu: \"%.*s\" is not two tokens of the vocabulary whose "
                     "concatenation is one too",
                     line, (int)(n < 80 ? n : 80), s);
            at_bpe_free(b);
            return AT_EPARSE;
        }
        uint64_t key = (uint64_t)l << 32 | (uint64_t)r;
        if (!key) continue;
        size_t k = mix(key) & b->mask;
        while (b->table[k].key && b->table[k].key != key)
            k = (k + 1) & b->mask;
        if (b->table[k].key) continue; /* listed twice: the first rank holds */
        b->table[k] = (merge){key, (uint32_t)b->count++, (uint32_t)m};
    }
    for (unsigned c = 0; c < 256; c++) {
        char u[4];
        size_t n = at_utf8_put(at_bpe_byte_char(c), u);
        b->byte_id[c] = at_vocab_find(vocab, u, n);
    }
    *out = b;
    return AT_OK;
}

void at_bpe_free(at_bpe *b)
{
    if (!b) return;
    free(b->table);
    free(b);
}

size_t at_bpe_merges(const at_bpe *b)
{
    return b->count;
}

/* ---- pre-tokenization: GPT-2's pattern by hand ---- */

typedef enum cls { C_SPACE, C_LETTER, C_NUMBER, C_OTHER } cls;

static cls classify(uint32_t cp)
{
    if (at_uc_is_white_space(cp)) return C_SPACE;
    if (at_uc_is_letter(cp)) return C_LETTER;
    if (at_uc_is_number(cp)) return C_NUMBER;
    return C_OTHER;
}

/* The code points and their classes of the text. */
typedef struct chars {
    const uint32_t *cp;
    const cls *c;
    size_t n;
} chars;

/* The length in characters of the match at i (>= 1). */
static size_t match_at(const chars *t, size_t i)
{
    const uint32_t *cp = t->cp;
    size_t n = t->n;
    if (cp[i] == '\'' && i + 1 < n) {
        uint32_t a = cp[i + 1], b = i + 2 < n ? cp[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
    size_t j = i;
    if (cp[i] == ' ' && i + 1 < n && t->c[i + 1] != C_SPACE) j = i + 1; /* " ?" */
    if (t->c[j] != C_SPACE) {
        cls k = t->c[j];
        size_t e = j + 1;
        while (e < n && t->c[e] == k)
            e++;
        return e - i;
    }
    /* \s+(?!\S) | \s+ */
    size_t e = i;
    while (e < n && t->c[e] == C_SPACE)
        e++;
    if (e == n || e - i == 1) return e - i;
    return e - i - 1;
}

/* ---- merging ---- */

typedef struct cand {
    uint32_t rank;
    int32_t pos;
    uint32_t left, right;
} cand;

static bool before(const cand *a, const cand *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(cand *h, size_t *n, cand c)
{
    size_t i = (*n)++;
    h[i] = c;
    while (i && before(&h[i], &h[(i - 1) / 2])) {
        cand t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static cand heap_pop(cand *h, size_t *n)
{
    cand top = h[0];
    h[0] = h[--*n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && before(&h[l], &h[m])) m = l;
        if (r < *n && before(&h[r], &h[m])) m = r;
        if (m == i) break;
        cand t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
    return top;
}

typedef struct sym {
    uint32_t id;
    int32_t prev, next; /* -1 at the ends */
    int32_t bytes;      /* bytes covered; 0 once merged away */
    int64_t first;      /* first byte (index into the word) */
} sym;

static void add_pair(const at_bpe *b, const sym *s, int32_t pos, cand *h, size_t *nh)
{
    if (pos < 0 || s[pos].next < 0) return;
    const merge *m = find(b, s[pos].id, s[s[pos].next].id);
    if (m) heap_push(h, nh, (cand){m->rank, pos, s[pos].id, s[s[pos].next].id});
}

typedef struct out_list {
    at_piece *v;
    size_t n, cap;
} out_list;

/* Merges the word of n bytes starting at byte `at` of the text; byte_char[k] is the index of
 * the character holding byte k of the text. */
static int bpe_word(const at_bpe *b, const unsigned char *bytes, size_t n, size_t at,
                    const int64_t *byte_char, sym *s, cand *h, out_list *out, char *err,
                    size_t errlen)
{
    for (size_t k = 0; k < n; k++) {
        int64_t id = b->byte_id[bytes[k]];
        if (id < 0) {
            char u[5] = {0};
            at_utf8_put(at_bpe_byte_char(bytes[k]), u);
            snprintf(err, errlen, "byte 0x%02x (\"%s\") is not in the vocabulary", bytes[k], u);
            return AT_EINVAL;
        }
        s[k] = (sym){(uint32_t)id, (int32_t)k - 1, k + 1 < n ? (int32_t)k + 1 : -1, 1, (int64_t)k};
    }
    size_t nh = 0;
    for (size_t k = 0; k + 1 < n; k++)
        add_pair(b, s, (int32_t)k, h, &nh);
    while (nh) {
        cand c = heap_pop(h, &nh);
        sym *l = &s[c.pos];
        if (!l->bytes || l->id != c.left || l->next < 0 || s[l->next].id != c.right) continue;
        sym *r = &s[l->next];
        l->id = find(b, c.left, c.right)->merged;
        l->bytes += r->bytes;
        r->bytes = 0;
        l->next = r->next;
        if (r->next >= 0) s[r->next].prev = c.pos;
        add_pair(b, s, l->prev, h, &nh);
        add_pair(b, s, c.pos, h, &nh);
    }
    for (int32_t k = 0; k >= 0; k = s[k].next) {
        if (out->n == out->cap) {
            size_t cap = out->cap ? 2 * out->cap : 64;
            at_piece *v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                snprintf(err, errlen, "out of memory tokenizing");
                return AT_ENOMEM;
            }
            out->v = v, out->cap = cap;
        }
        size_t first = at + (size_t)s[k].first, last = first + (size_t)s[k].bytes - 1;
        out->v[out->n++] =
            (at_piece){.id = s[k].id, .begin = byte_char[first], .end = byte_char[last] + 1};
    }
    return AT_OK;
}

int at_bpe_tokenize(const at_bpe *b, const char *text, size_t len, at_piece **out, size_t *count,
                    char *err, size_t errlen)
{
    *out = NULL;
    *count = 0;
    int rc = at_utf8_check(text, len, NULL, err, errlen);
    if (rc) return rc;
    uint32_t *cp = malloc((len + 1) * sizeof *cp);
    cls *c = malloc((len + 1) * sizeof *c);
    size_t *cbyte = malloc((len + 2) * sizeof *cbyte);
    int64_t *byte_char = malloc((len + 1) * sizeof *byte_char);
    sym *s = malloc((len + 1) * sizeof *s);
    cand *h = malloc((2 * len + 2) * sizeof *h);
    out_list o = {0};
    if (!cp || !c || !cbyte || !byte_char || !s || !h) {
        snprintf(err, errlen, "out of memory tokenizing %zu bytes", len);
        rc = AT_ENOMEM;
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        size_t k = at_utf8_next(text, len, i, &cp[n]);
        c[n] = classify(cp[n]);
        cbyte[n] = i;
        for (size_t j = 0; j < k; j++)
            byte_char[i + j] = (int64_t)n;
        i += k;
    }
    cbyte[n] = len;
    chars t = {cp, c, n};
    for (size_t i = 0; i < n && rc == AT_OK;) {
        size_t m = match_at(&t, i);
        size_t b0 = cbyte[i], b1 = cbyte[i + m];
        rc = bpe_word(b, (const unsigned char *)text + b0, b1 - b0, b0, byte_char, s, h, &o, err,
                      errlen);
        i += m;
    }
done:
    free(cp);
    free(c);
    free(cbyte);
    free(byte_char);
    free(s);
    free(h);
    if (rc) {
        free(o.v);
        return rc;
    }
    *out = o.v;
    *count = o.n;
    return AT_OK;
}
