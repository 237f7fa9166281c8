/* BERT's tokenizer as Hugging Face's tokenizers library runs it (BertNormalizer,
 * BertPreTokenizer, WordPiece, the [CLS] A [SEP] B [SEP] template): clean the text (drop NUL,
 * U+FFFD and control characters, map white space to a space), put spaces around CJK
 * ideographs, optionally strip accents (NFD, drop nonspacing marks) and lower-case, split on
 * white space and punctuation, then split each word greedily into the longest vocabulary
 * pieces ("##" marks a continuation); a word of more than max_chars characters, or one that
 * cannot be split, is [UNK]. Special tokens written in the text ("[SEP]") are kept as such,
 * as Hugging Face keeps its added tokens. Unicode properties come from core/unicode.h. */
#ifndef AT_WORDPIECE_H
#define AT_WORDPIECE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"
#include "vocab.h"

typedef struct at_wordpiece {
    const at_vocab *vocab; /* not owned */
    bool lowercase;        /* do_lower_case */
    bool strip_accents;    /* default: as lowercase */
    bool chinese_chars;    /* tokenize_chinese_chars, default true */
    int64_t max_chars;     /* max_input_chars_per_word, 100 */
    int64_t unk_id, cls_id, sep_id;
} at_wordpiece;

/* Fills *w for `vocab` with BERT's defaults and the given lower-casing; the vocabulary must
 * hold [UNK], [CLS] and [SEP]. Returns AT_OK or AT_EINVAL naming the missing token. */
int at_wordpiece_init(at_wordpiece *w, const at_vocab *vocab, bool lowercase, char *err,
                      size_t errlen);

/* Tokenizes text[0..len) and, when pair is not NULL, pair[0..pair_len) (both UTF-8): [CLS],
 * the text's pieces (type 0), [SEP], then the pair's pieces and [SEP] (type 1). Offsets are
 * code points of the text each piece came from (of the pair for type 1 pieces); -1 for
 * [CLS] and [SEP]. Returns AT_OK with a malloc'd array in *out (the caller frees it), its
 * length in *count and the number of [UNK] pieces in *unknown; AT_EPARSE for invalid UTF-8
 * ("invalid UTF-8 at byte 5: ..."), AT_ENOMEM. Pure and reentrant. */
int at_wordpiece_tokenize(const at_wordpiece *w, const char *text, size_t len, const char *pair,
                          size_t pair_len, at_piece **out, size_t *count, size_t *unknown,
                          char *err, size_t errlen);

#endif
