/* BERT tokenization in three passes over a segment: normalise into an array of (code point,
 * index of the input character it came from), split that into words, and split each word into
 * vocabulary pieces by greedy longest match. Pieces keep the input-character span of their
 * first and last normalised character, so offsets point into the text the client sent. */
#include "wordpiece.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "unicode.h"

typedef struct nchar {
    uint32_t cp;
    int64_t src; /* index of the input character */
} nchar;

typedef struct pieces {
    at_piece *v;
    size_t n, cap;
    size_t unknown;
} pieces;

static int push(pieces *p, uint64_t id, uint8_t type, int64_t begin, int64_t end)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        at_piece *v = realloc(p->v, cap * sizeof *v);
        if (!v) return AT_ENOMEM;
        p->v = v, p->cap = cap;
    }
    p->v[p->n++] = (at_piece){.id = id, .type = type, .begin = begin, .end = end};
    return AT_OK;
}

int at_wordpiece_init(at_wordpiece *w, const at_vocab *vocab, bool lowercase, char *err,
                      size_t errlen)
{
    *w = (at_wordpiece){.vocab = vocab,
                        .lowercase = lowercase,
                        .strip_accents = lowercase,
                        .chinese_chars = true,
                        .max_chars = 100};
    static const char *const names[3] = {"[UNK]", "[CLS]", "[SEP]"};
    int64_t *ids[3] = {&w->unk_id, &w->cls_id, &w->sep_id};
    for (int i = 0; i < 3; i++)
        if ((*ids[i] = at_vocab_find(vocab, names[i], strlen(names[i]))) < 0) {
            snprintf(err, errlen, "the vocabulary has no %s token", names[i]);
            return AT_EINVAL;
        }
    return AT_OK;
}

/* The CJK Unified Ideographs blocks BERT puts spaces around (its _is_chinese_char). */
static bool is_chinese(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static bool is_bert_space(uint32_t cp)
{
    return cp == '\t' || cp == '\n' || cp == '\r' || at_uc_is_white_space(cp);
}

static bool is_bert_control(uint32_t cp)
{
    return cp != '\t' && cp != '\n' && cp != '\r' && at_uc_is_other(cp);
}

static bool is_bert_punct(uint32_t cp)
{
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
           (cp >= 123 && cp <= 126) || at_uc_is_punctuation(cp);
}

/* The normalised characters of s[0..len) into a malloc'd array (at most 3 + AT_UC_NFD_MAX
 * per input character). */
static nchar *normalize(const at_wordpiece *w, const char *s, size_t len, int64_t base,
                        size_t *count)
{
    nchar *out = malloc((len * (AT_UC_NFD_MAX + 2) + 1) * sizeof *out);
    if (!out) return NULL;
    size_t n = 0;
    int64_t ci = base;
    for (size_t i = 0; i < len; ci++) {
        uint32_t cp;
        i += at_utf8_next(s, len, i, &cp);
        if (cp == 0 || cp == 0xFFFD || is_bert_control(cp)) continue;
        if (is_bert_space(cp)) cp = ' ';
        if (w->chinese_chars && is_chinese(cp)) {
            out[n++] = (nchar){' ', ci};
            out[n++] = (nchar){cp, ci};
            out[n++] = (nchar){' ', ci};
            continue;
        }
        uint32_t d[AT_UC_NFD_MAX];
        int nd = 1;
        d[0] = cp;
        if (w->strip_accents) nd = at_uc_nfd(cp, d);
        for (int k = 0; k < nd; k++) {
            uint32_t c = d[k];
            if (w->strip_accents && at_uc_is_mark_nonspacing(c)) continue;
            if (w->lowercase) c = at_uc_lower(c);
            out[n++] = (nchar){c, ci};
        }
    }
    *count = n;
    return out;
}

/* WordPiece of the word c[0..n): pieces, or one [UNK] for the whole word. `buf` holds at least
 * 4n bytes and `tmp` 4n + 2. */
static int word_pieces(const at_wordpiece *w, const nchar *c, size_t n, uint8_t type, char *buf,
                       char *tmp, size_t *offs, pieces *out)
{
    int64_t begin = c[0].src, end = c[n - 1].src + 1;
    if ((int64_t)n > w->max_chars) {
        out->unknown++;
        return push(out, (uint64_t)w->unk_id, type, begin, end);
    }
    /* buf = the word's UTF-8; offs[k] = byte offset of character k in it. */
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        offs[k] = at;
        at += at_utf8_put(c[k].cp, buf + at);
    }
    offs[n] = at;
    tmp[0] = tmp[1] = '#';
    size_t first = out->n;
    for (size_t start = 0; start < n;) {
        int64_t id = -1;
        size_t end_k = n;
        for (; end_k > start; end_k--) {
            size_t bytes = offs[end_k] - offs[start];
            if (start == 0) {
                id = at_vocab_find(w->vocab, buf, bytes);
            } else { /* a continuation: "##" + the piece */
                memcpy(tmp + 2, buf + offs[start], bytes);
                id = at_vocab_find(w->vocab, tmp, bytes + 2);
            }
            if (id >= 0) break;
        }
        if (id < 0) { /* no piece: the whole word is unknown */
            out->n = first;
            out->unknown++;
            return push(out, (uint64_t)w->unk_id, type, begin, end);
        }
        int rc = push(out, (uint64_t)id, type, c[start].src, c[end_k - 1].src + 1);
        if (rc) return rc;
        start = end_k;
    }
    return AT_OK;
}

/* Text without special tokens, s[0..len), whose first character is character `base` of the
 * input. */
static int plain_segment(const at_wordpiece *w, const char *s, size_t len, int64_t base,
                         uint8_t type, pieces *out, char *err, size_t errlen)
{
    int rc = AT_OK;
    size_t n = 0;
    nchar *c = normalize(w, s, len, base, &n);
    char *buf = malloc(4 * n + 8), *tmp = malloc(4 * n + 8);
    size_t *offs = malloc((n + 1) * sizeof *offs);
    if (!c || !buf || !tmp || !offs) {
        rc = AT_ENOMEM;
        snprintf(err, errlen, "out of memory tokenizing %zu bytes", len);
        goto done;
    }
    for (size_t i = 0; i < n && rc == AT_OK;) {
        if (c[i].cp == ' ') {
            i++;
            continue;
        }
        size_t j = i;
        if (is_bert_punct(c[i].cp)) {
            j = i + 1;
        } else {
            while (j < n && c[j].cp != ' ' && !is_bert_punct(c[j].cp))
                j++;
        }
        rc = word_pieces(w, c + i, j - i, type, buf, tmp, offs, out);
        i = j;
    }
    if (rc == AT_ENOMEM) snprintf(err, errlen, "out of memory tokenizing %zu bytes", len);
done:
    free(c);
    free(buf);
    free(tmp);
    free(offs);
    return rc;
}

/* A segment: the special tokens written in the text ([CLS], [SEP], [PAD], [UNK], [MASK], as
 * the vocabulary has them, matched exactly before any normalisation, as Hugging Face matches
 * its added tokens) become their ids, and the text between them is tokenized as usual. */
static int segment(const at_wordpiece *w, const char *s, size_t len, uint8_t type, pieces *out,
                   char *err, size_t errlen)
{
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    int rc = at_utf8_check(s, len, NULL, err, errlen);
    if (rc) return rc;
    size_t start = 0;
    int64_t base = 0; /* characters before s + start */
    for (size_t i = 0; i < len;) {
        int64_t id = -1;
        size_t n = 0;
        if (s[i] == '[')
            for (size_t k = 0; k < sizeof specials / sizeof specials[0] && id < 0; k++) {
                n = strlen(specials[k]);
                if (n <= len - i && !memcmp(s + i, specials[k], n))
                    id = at_vocab_find(w->vocab, specials[k], n);
            }
        if (id < 0) {
            i++;
            continue;
        }
        if (i > start &&
            (rc = plain_segment(w, s + start, i - start, base, type, out, err, errlen)))
            return rc;
        for (size_t k = start; k < i; k++) /* count the characters skipped over */
            base += ((unsigned char)s[k] & 0xC0) != 0x80;
        if ((rc = push(out, (uint64_t)id, type, base, base + (int64_t)n))) return rc;
        base += (int64_t)n;
        i += n;
        start = i;
    }
    if (start < len) rc = plain_segment(w, s + start, len - start, base, type, out, err, errlen);
    return rc;
}

int at_wordpiece_tokenize(const at_wordpiece *w, const char *text, size_t len, const char *pair,
                          size_t pair_len, at_piece **out, size_t *count, size_t *unknown,
                          char *err, size_t errlen)
{
    pieces p = {0};
    *out = NULL;
    int rc = push(&p, (uint64_t)w->cls_id, 0, -1, -1);
    if (!rc) rc = segment(w, text, len, 0, &p, err, errlen);
    if (!rc) rc = push(&p, (uint64_t)w->sep_id, 0, -1, -1);
    if (!rc && pair) rc = segment(w, pair, pair_len, 1, &p, err, errlen);
    if (!rc && pair) rc = push(&p, (uint64_t)w->sep_id, 1, -1, -1);
    if (rc) {
        if (rc == AT_ENOMEM) snprintf(err, errlen, "out of memory tokenizing");
        free(p.v);
        return rc;
    }
    *out = p.v;
    *count = p.n;
    *unknown = p.unknown;
    return AT_OK;
}
