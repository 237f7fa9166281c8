/* Unicode character properties for the tokenizers, from utf8proc (Debian's libutf8proc-dev):
 * general categories, simple lower-casing, canonical decomposition (NFD). The one door to
 * utf8proc, as core/blas.c is to OpenBLAS. Plus UTF-8 decoding and encoding of valid text. */
#ifndef AT_UNICODE_H
#define AT_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AT_UC_NFD_MAX 8 /* code points a canonical decomposition can have (4 in Unicode 15) */

bool at_uc_is_letter(uint32_t cp);          /* L*: Lu Ll Lt Lm Lo */
bool at_uc_is_number(uint32_t cp);          /* N*: Nd Nl No */
bool at_uc_is_punctuation(uint32_t cp);     /* P*: Pc Pd Ps Pe Pi Pf Po */
bool at_uc_is_other(uint32_t cp);           /* C*: Cc Cf Cs Co Cn (unassigned) */
bool at_uc_is_mark_nonspacing(uint32_t cp); /* Mn */
/* The White_Space property: Zs, Zl, Zp, U+0009..U+000D and U+0085. */
bool at_uc_is_white_space(uint32_t cp);

/* The simple lower-case mapping (UnicodeData.txt), cp itself when it has none. */
uint32_t at_uc_lower(uint32_t cp);

/* The canonical decomposition (NFD) of cp into out[0..AT_UC_NFD_MAX), Hangul syllables
 * included; returns the count (1 and cp itself when it has none). */
int at_uc_nfd(uint32_t cp, uint32_t *out);

/* The code point at s[i] of valid UTF-8 s[0..len) into *cp; returns its length in bytes. */
size_t at_utf8_next(const char *s, size_t len, size_t i, uint32_t *cp);

/* Writes cp (<= U+10FFFF, not a surrogate) as UTF-8 to out[0..4); returns its length. */
size_t at_utf8_put(uint32_t cp, char *out);

#endif
