/* GPT-2's byte-level BPE as Hugging Face's tokenizers library runs it (ByteLevel pre-tokenizer
 * without a prefix space, BPE model, no special tokens): the text is split by GPT-2's pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (implemented by hand over core/unicode.h's properties), each piece's bytes are mapped to
 * printable characters by GPT-2's byte-to-unicode table, and merged pairwise by the rank of
 * merges.txt until no listed pair is left; the ids come from vocab.json. */
#ifndef AT_BPE_H
#define AT_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"
#include "vocab.h"

typedef struct at_bpe at_bpe;

/* Builds the merge table from merges.txt, text[0..len): one "left right" pair per line, rank =
 * line number among pairs; a first line starting with "#version" and empty lines are skipped.
 * Both sides and their concatenation must be tokens of `vocab` (which must outlive the BPE).
 * Returns AT_OK and *out (free with at_bpe_free), AT_EPARSE ("merges.txt line 7: ...") or
 * AT_ENOMEM. */
int at_bpe_new(const at_vocab *vocab, const char *text, size_t len, at_bpe **out, char *err,
               size_t errlen);

/* Frees the table. NULL is a no-op. */
void at_bpe_free(at_bpe *b);

/* Number of merges. */
size_t at_bpe_merges(const at_bpe *b);

/* Tokenizes text[0..len) (UTF-8) into a malloc'd array *out of *count pieces (type 0; offsets
 * in code points of text; a piece that covers part of a character's bytes spans the whole
 * character). Returns AT_OK, AT_EPARSE for invalid UTF-8, AT_EINVAL when a byte's character
 * is not in the vocabulary ("byte 0x0a (\"Ċ\") is not in the vocabulary"), AT_ENOMEM.
 * Reentrant. */
int at_bpe_tokenize(const at_bpe *b, const char *text, size_t len, at_piece **out, size_t *count,
                    char *err, size_t errlen);

/* The character GPT-2 maps byte `byte` to (printable bytes keep their value, the others become
 * U+0100 onwards in byte order). */
uint32_t at_bpe_byte_char(unsigned byte);

#endif
