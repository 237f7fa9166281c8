/* Test support shared by the float text tests (test_float_format.c, test_float_parse.c): a
 * seeded generator, bit casts, and api_float_parse run where AddressSanitizer sees overreads. */
#ifndef TESTS_FLOAT_SUPPORT_H
#define TESTS_FLOAT_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define FS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FS_SANITIZED 1
#endif
#endif
#ifndef FS_SANITIZED
#define FS_SANITIZED 0
#endif

/* Random cases per property test: about a second in the normal build. */
#define CASES (FS_SANITIZED ? 100000 : 1000000)

/* xorshift64 from a fixed seed: the same cases every run. */
uint64_t rng(void);

uint32_t bits_of(float v);
float float_of(uint32_t b);

/* api_float_parse on text[0..n) placed at the very end of a heap block, so that AddressSanitizer
 * sees any read past the token (the careful path runs near the end). Returns the bytes read, -1
 * when the text does not start a number, -3 when api_json_number_end disagrees on the token. */
long parse_at_end(const char *text, size_t n, float *out);

/* The same with the text followed by `tail` and more, so that the fast path runs. */
long parse_padded(const char *text, size_t n, const char *tail, float *out);

#endif
