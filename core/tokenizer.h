/* Splitting text into tokens without a vocabulary, so that any language works: whitespace
 * separates chunks, and inside a chunk every CJK character (Han, kana, Hangul, CJK punctuation)
 * is a token of its own while runs of other characters stay together. Plus UTF-8 validation and
 * the lower-casing that "lowercase" models apply before looking a token up. */
#ifndef AT_TOKENIZER_H
#define AT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vocab.h"

/* A token: `len` bytes at `ptr`, which points into a buffer the token does not own (the text
 * given to at_tokenize, or a string the caller holds). Not NUL-terminated. */
typedef struct at_token {
    const char *ptr;
    size_t len;
} at_token;

/* A token of a checkpoint's tokenizer (core/wordpiece.h, core/bpe.h): its vocabulary id, its
 * token type (BERT's segment: 0 for the text, 1 for the pair) and the characters (code points)
 * [begin, end) of the input it came from; begin = end = -1 for special tokens ([CLS], [SEP]) and
 * for tokens that did not come from a text. */
typedef struct at_piece {
    uint64_t id;
    uint8_t type;
    int64_t begin, end;
} at_piece;

/* Checks that s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF, no truncated sequence; U+0000 is allowed). Returns AT_OK, or AT_EPARSE
 * with the offset of the first bad byte in *bad_offset (when not NULL) and a message such as
 * "invalid UTF-8 at byte 5: 0xff cannot start a character" in err. */
int at_utf8_check(const char *s, size_t len, size_t *bad_offset, char *err, size_t errlen);

/* True for the code points that separate tokens: Unicode's White_Space property (ASCII tab, LF,
 * VT, FF, CR and space, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F
 * and the ideographic space U+3000). */
bool at_is_space(uint32_t cp);

/* True for the code points that are tokens on their own: CJK ideographs (U+3400..U+4DBF,
 * U+4E00..U+9FFF, U+F900..U+FAFF and the supplementary planes' extensions), radicals and
 * strokes, CJK symbols and punctuation (U+3001..U+303F), Hiragana, Katakana (also half-width),
 * Bopomofo, Hangul syllables and jamo, enclosed CJK and compatibility forms, and the full-width
 * punctuation of U+FF00..U+FF65. Full-width Latin letters and digits are not: they join runs. */
bool at_is_cjk(uint32_t cp);

/* Splits text[0..len) into tokens. White space separates chunks, and a chunk is cut where CJK
 * and other characters meet: "hello世界 42" gives "hello", "世界", "42" when the text separates
 * CJK words with spaces (some white space lies between two CJK characters: "欢迎 来 北京" gives
 * "欢迎", "来", "北京"), and otherwise, for CJK written without spaces, each CJK run is split by
 * the longest entry of `vocab` at each position, or into single characters where none matches
 * (vocab NULL: always characters; "欢迎来北京" with 欢迎 and 北京 in the vocabulary gives "欢迎",
 * "来", "北京"). Validates the UTF-8 first (errors as at_utf8_check, AT_EPARSE). Writes the
 * first min(count, cap) tokens to out (which may be NULL when cap is 0) and the total in
 * *count, so a caller can count first and fill second, with one allocation. Tokens point into
 * text. Returns AT_OK or AT_EPARSE. Pure and reentrant. */
int at_tokenize_vocab(const char *text, size_t len, const at_vocab *vocab, at_token *out,
                      size_t cap, size_t *count, char *err, size_t errlen);

/* at_tokenize_vocab without a vocabulary. */
int at_tokenize(const char *text, size_t len, at_token *out, size_t cap, size_t *count, char *err,
                size_t errlen);

/* Writes the lower-cased form of the valid UTF-8 s[0..len) to out[0..len) (out may be s):
 * every character whose simple lower-case mapping (Unicode's, through core/unicode.h's
 * utf8proc) encodes to as many bytes as the character itself is replaced by it ("Άλφα" ->
 * "άλφα", "ѠМЕГА" -> "ѡмега", "ＡＢ" -> "ａｂ"); the few whose mapping changes length (U+0130
 * İ, U+023A Ⱥ, ...) are kept, so the result has exactly len bytes and token boundaries do not
 * move. Pure. */
void at_utf8_lower(const char *s, size_t len, char *out);

#endif
