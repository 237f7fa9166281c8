/* A model's vocabulary in BERT's vocab.txt convention: one token per line, the line number
 * (from 0) is the token's id. Looks tokens up by hash in O(1) and ids up by index. Built once
 * when a model loads, then read-only: safe to share between threads. */
#ifndef AT_VOCAB_H
#define AT_VOCAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct at_vocab at_vocab;

/* The most lines a vocabulary may have (ids fit an int32). */
#define AT_VOCAB_MAX_SIZE ((int64_t)INT32_MAX)

/* Builds a vocabulary from the contents of a vocab.txt file, text[0..len), which is copied.
 * Lines end with "\n" (a "\r" before it is dropped, for CRLF files); a final line without "\n"
 * counts, and a final "\n" does not start an empty last line. A token listed twice maps to its
 * last line, as Hugging Face's load_vocab does; every line keeps its own id. Empty lines are
 * entries too (so later ids stay right) but no tokenizer output can match them. Returns AT_OK
 * and the vocabulary in *out (free with at_vocab_free); AT_EPARSE for invalid UTF-8 ("line 12:
 * invalid UTF-8 at byte 3: ..."), for a NUL byte, or for an empty text; AT_ELIMIT for more
 * than AT_VOCAB_MAX_SIZE lines; AT_ENOMEM. On error *out is NULL and err says why. */
int at_vocab_new(const char *text, size_t len, at_vocab **out, char *err, size_t errlen);

/* Frees the vocabulary. NULL is a no-op. */
void at_vocab_free(at_vocab *v);

/* Number of entries (lines). */
int64_t at_vocab_size(const at_vocab *v);

/* The id of token s[0..len) (exact byte comparison), or -1 when it is not in the vocabulary.
 * Thread-safe. */
int64_t at_vocab_find(const at_vocab *v, const char *s, size_t len);

/* The token of `id` (0 <= id < size) as a NUL-terminated string owned by the vocabulary, with
 * its length in *len when len is not NULL; NULL for an id out of range. Thread-safe. */
const char *at_vocab_token(const at_vocab *v, int64_t id, size_t *len);

/* Length in bytes of the longest token: a longer string is never found. */
size_t at_vocab_max_token_len(const at_vocab *v);

/* 64-bit FNV-1a of s[0..len): the vocabulary's hash and the hashing embeddings' token id. */
uint64_t at_fnv1a64(const char *s, size_t len);

#endif
