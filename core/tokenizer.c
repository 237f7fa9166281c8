/* The tokenizer: one pass over the bytes that decodes and validates each character, then
 * classifies it as space, CJK or other. Code point classes are sorted range tables searched by
 * bisection. Nothing is allocated: tokens are (pointer, length) pairs into the input. */
#include "tokenizer.h"

#include <stdio.h>
#include <string.h>

#include "status.h"
#include "unicode.h"
#include "vocab.h"

typedef struct cp_range {
    uint32_t lo, hi;
} cp_range;

static const cp_range space_ranges[] = {
    {0x0009, 0x000D}, {0x0020, 0x0020}, {0x0085, 0x0085}, {0x00A0, 0x00A0}, {0x1680, 0x1680},
    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
};

static const cp_range cjk_ranges[] = {
    {0x1100, 0x11FF},   /* Hangul Jamo */
    {0x2E80, 0x2FDF},   /* CJK Radicals Supplement, Kangxi Radicals */
    {0x2FF0, 0x2FFF},   /* Ideographic Description Characters */
    {0x3001, 0x303F},   /* CJK Symbols and Punctuation (U+3000 is a space) */
    {0x3040, 0x30FF},   /* Hiragana, Katakana */
    {0x3100, 0x312F},   /* Bopomofo */
    {0x3130, 0x318F},   /* Hangul Compatibility Jamo */
    {0x3190, 0x31FF},   /* Kanbun, Bopomofo Extended, CJK Strokes, Katakana Extensions */
    {0x3200, 0x33FF},   /* Enclosed CJK Letters and Months, CJK Compatibility */
    {0x3400, 0x4DBF},   /* CJK Unified Ideographs Extension A */
    {0x4E00, 0x9FFF},   /* CJK Unified Ideographs */
    {0xA960, 0xA97F},   /* Hangul Jamo Extended-A */
    {0xAC00, 0xD7AF},   /* Hangul Syllables */
    {0xD7B0, 0xD7FF},   /* Hangul Jamo Extended-B */
    {0xF900, 0xFAFF},   /* CJK Compatibility Ideographs */
    {0xFE10, 0xFE1F},   /* Vertical Forms */
    {0xFE30, 0xFE4F},   /* CJK Compatibility Forms */
    {0xFF01, 0xFF0F},   /* full-width punctuation ! .. / */
    {0xFF1A, 0xFF20},   /* : .. @ */
    {0xFF3B, 0xFF40},   /* [ .. ` */
    {0xFF5B, 0xFF65},   /* { .. ~, full-width brackets, half-width CJK punctuation */
    {0xFF66, 0xFF9F},   /* Half-width Katakana */
    {0xFFA0, 0xFFDC},   /* Half-width Hangul */
    {0x1B000, 0x1B16F}, /* Kana Supplement, Kana Extended-A, Small Kana Extension */
    {0x20000, 0x2FA1F}, /* Extensions B..F, Compatibility Ideographs Supplement */
    {0x30000, 0x323AF}, /* Extensions G, H */
};

static bool in_ranges(const cp_range *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

bool at_is_space(uint32_t cp)
{
    return in_ranges(space_ranges, sizeof space_ranges / sizeof space_ranges[0], cp);
}

bool at_is_cjk(uint32_t cp)
{
    return cp >= 0x1100 && in_ranges(cjk_ranges, sizeof cjk_ranges / sizeof cjk_ranges[0], cp);
}

/* Decodes the character at s[i] (i < len) into *cp and returns its length in bytes, or 0 for
 * malformed UTF-8 with a reason in *why. */
static size_t decode(const unsigned char *s, size_t len, size_t i, uint32_t *cp, const char **why)
{
    unsigned c = s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        *why = c >= 0x80 && c <= 0xBF ? "unexpected continuation byte" : "cannot start a character";
        return 0;
    }
    if (len - i < n) {
        *why = "truncated sequence at the end";
        return 0;
    }
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xC0) != 0x80) {
            *why = "truncated sequence (missing continuation byte)";
            return 0;
        }
        v = (v << 6) | (s[i + k] & 0x3F);
    }
    if (v < min) {
        *why = "overlong encoding";
        return 0;
    }
    if (v >= 0xD800 && v <= 0xDFFF) {
        *why = "UTF-16 surrogate";
        return 0;
    }
    if (v > 0x10FFFF) {
        *why = "code point above U+10FFFF";
        return 0;
    }
    *cp = v;
    return n;
}

static int bad_utf8(const unsigned char *s, size_t i, const char *why, size_t *bad_offset,
                    char *err, size_t errlen)
{
    if (bad_offset) *bad_offset = i;
    if (errlen) snprintf(err, errlen, "invalid UTF-8 at byte %zu: 0x%02x: %s", i, s[i], why);
    return AT_EPARSE;
}

int at_utf8_check(const char *text, size_t len, size_t *bad_offset, char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) { /* ASCII fast path */
            i++;
            continue;
        }
        uint32_t cp;
        const char *why = NULL;
        size_t n = decode(s, len, i, &cp, &why);
        if (!n) return bad_utf8(s, i, why, bad_offset, err, errlen);
        i += n;
    }
    return AT_OK;
}

/* Appends text[begin, end) as a token (counting it even past cap). */
static void emit(const char *text, size_t begin, size_t end, at_token *out, size_t cap, size_t *n)
{
    if (*n < cap) out[*n] = (at_token){text + begin, end - begin};
    (*n)++;
}

/* The CJK run text[begin, end) of text written without spaces: the longest vocabulary entry at
 * each position, else one character. */
static void split_cjk(const char *text, size_t begin, size_t end, const at_vocab *vocab,
                      at_token *out, size_t cap, size_t *n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t longest = vocab ? at_vocab_max_token_len(vocab) : 0;
    for (size_t i = begin; i < end;) {
        uint32_t cp;
        const char *why = NULL;
        size_t take = decode(s, end, i, &cp, &why), m = i + take;
        for (size_t j = m; j < end && j - i <= longest;) { /* candidate ends, char by char */
            size_t w = decode(s, end, j, &cp, &why);
            j += w;
            if (j - i <= longest && at_vocab_find(vocab, text + i, j - i) >= 0) take = j - i;
        }
        emit(text, i, i + take, out, cap, n);
        i += take;
    }
}

int at_tokenize_vocab(const char *text, size_t len, const at_vocab *vocab, at_token *out,
                      size_t cap, size_t *count, char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)text;
    *count = 0;
    /* First pass: validate, and see whether spaces separate CJK words anywhere. */
    bool spaced = false, prev_cjk = false, gap = false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        const char *why = NULL;
        size_t w = decode(s, len, i, &cp, &why);
        if (!w) return bad_utf8(s, i, why, NULL, err, errlen);
        if (at_is_space(cp)) {
            gap = true;
        } else {
            bool cjk = at_is_cjk(cp);
            if (cjk && prev_cjk && gap) spaced = true;
            prev_cjk = cjk;
            gap = false;
        }
        i += w;
    }
    /* Second pass: chunks between spaces, cut where CJK and other characters meet. */
    size_t n = 0, start = 0;
    int run = 0; /* 0: none, 1: other characters, 2: CJK */
    for (size_t i = 0; i <= len;) {
        uint32_t cp = ' ';
        const char *why = NULL;
        size_t w = i < len ? decode(s, len, i, &cp, &why) : 1;
        int kind = at_is_space(cp) ? 0 : at_is_cjk(cp) ? 2 : 1;
        if (run && kind != run) { /* the run ends before this character */
            if (run == 2 && !spaced)
                split_cjk(text, start, i, vocab, out, cap, &n);
            else
                emit(text, start, i, out, cap, &n);
            run = 0;
        }
        if (kind && !run) {
            run = kind;
            start = i;
        }
        i += w;
    }
    *count = n;
    return AT_OK;
}

int at_tokenize(const char *text, size_t len, at_token *out, size_t cap, size_t *count, char *err,
                size_t errlen)
{
    return at_tokenize_vocab(text, len, NULL, out, cap, count, err, errlen);
}

void at_utf8_lower(const char *text, size_t len, char *dst)
{
    char buf[4];
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = at_utf8_next(text, len, i, &cp);
        uint32_t lo = at_uc_lower(cp);
        if (lo != cp && at_utf8_put(lo, buf) == n)
            memcpy(dst + i, buf, n);
        else
            memmove(dst + i, text + i, n);
        i += n;
    }
}
