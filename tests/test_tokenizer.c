/* Unit tests of core/tokenizer.c and core/vocab.c: splitting on every kind of space, CJK
 * characters as tokens of their own, UTF-8 validation with byte offsets, lower-casing, and
 * vocabularies (lines, CRLF, duplicates, lookups, errors). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../core/tokenizer.h"
#include "../core/vocab.h"
#include "harness.h"

/* Tokenizes text and checks the tokens against want[0..n), a NULL-terminated list. */
static void expect_tokens(const char *text, const char *const *want, int line)
{
    at_token toks[64];
    size_t count = 0;
    char err[256];
    int rc = at_tokenize(text, strlen(text), toks, 64, &count, err, sizeof err);
    if (rc != AT_OK) harness_fail(__FILE__, line, "\"%s\": %s", text, err);
    size_t n = 0;
    while (want[n])
        n++;
    if (count != n) harness_fail(__FILE__, line, "\"%s\": %zu tokens, want %zu", text, count, n);
    for (size_t i = 0; i < n; i++)
        if (toks[i].len != strlen(want[i]) || memcmp(toks[i].ptr, want[i], toks[i].len))
            harness_fail(__FILE__, line, "\"%s\": token %zu is \"%.*s\", want \"%s\"", text, i,
                         (int)toks[i].len, toks[i].ptr, want[i]);
}
#define EXPECT_TOKENS(text, ...)                                                                   \
    expect_tokens((text), (const char *[]){__VA_ARGS__, NULL}, __LINE__)

TEST(tok_cjk_characters_are_tokens)
{
    EXPECT_TOKENS("欢迎来北京", "欢", "迎", "来", "北", "京");
    EXPECT_TOKENS("hello世界", "hello", "世", "界");
    EXPECT_TOKENS("a世b", "a", "世", "b");
    EXPECT_TOKENS("東京タワーへ行きます。", "東", "京", "タ", "ワ", "ー", "へ", "行", "き", "ま",
                  "す", "。");
    EXPECT_TOKENS("안녕하세요 world", "안", "녕", "하", "세", "요", "world");
    EXPECT_TOKENS("（注）", "（", "注", "）");
    EXPECT_TOKENS("𠀀x", "𠀀", "x"); /* Extension B, 4 bytes */
    /* Full-width Latin letters join runs like other letters. */
    EXPECT_TOKENS("ＡＢ世", "ＡＢ", "世");
}

/* Spaces between CJK words anywhere in the text keep CJK runs whole (issue 13). */
TEST(tok_spaced_cjk_words_stay_whole)
{
    EXPECT_TOKENS("欢迎 来 北京", "欢迎", "来", "北京");
    EXPECT_TOKENS("你好 世界 hello世界", "你好", "世界", "hello", "世界");
    EXPECT_TOKENS("안녕하세요 세계", "안녕하세요", "세계");
    /* A space between CJK and Latin only: still text written without spaces. */
    EXPECT_TOKENS("hello 世界", "hello", "世", "界");
}

/* Without spaces, a vocabulary splits CJK runs by longest match, then characters. */
TEST(tok_cjk_runs_by_longest_vocabulary_match)
{
    const char text[] = "[UNK]\n欢迎\n北京\n北京大学\n来\n";
    at_vocab *v = NULL;
    char err[256];
    ASSERT_EQ(at_vocab_new(text, sizeof text - 1, &v, err, sizeof err), AT_OK);
    struct {
        const char *in;
        const char *want[8];
    } cases[] = {
        {"欢迎来北京", {"欢迎", "来", "北京"}},
        {"欢迎来北京大学玩", {"欢迎", "来", "北京大学", "玩"}},
        {"我们欢迎you", {"我", "们", "欢迎", "you"}},
        {"欢 迎", {"欢", "迎"}}, /* spaced: whole runs, here single characters */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        at_token toks[16];
        size_t n = 0, want = 0;
        ASSERT_EQ(
            at_tokenize_vocab(cases[c].in, strlen(cases[c].in), v, toks, 16, &n, err, sizeof err),
            AT_OK);
        while (cases[c].want[want])
            want++;
        ASSERT_EQ(n, want);
        for (size_t i = 0; i < n; i++) {
            ASSERT_EQ(toks[i].len, strlen(cases[c].want[i]));
            ASSERT(memcmp(toks[i].ptr, cases[c].want[i], toks[i].len) == 0);
        }
    }
    at_vocab_free(v);
}

TEST(tok_whitespace_of_every_kind)
{
    EXPECT_TOKENS("  the cat\tsat\r\non\v\fthe mat  ", "the", "cat", "sat", "on", "the", "mat");
    EXPECT_TOKENS("a\u3000b\u00a0c\u2003d\u2028e\u202ff\u205fg\u1680h\xc2\x85"
                  "i",
                  "a", "b", "c", "d", "e", "f", "g", "h", "i");
    EXPECT_TOKENS("Привет, мир! 🙂🙂 café", "Привет,", "мир!", "🙂🙂", "café");
    EXPECT_TOKENS("مرحبا بالعالم", "مرحبا", "بالعالم");
    /* A zero-width space is not White_Space: it stays inside the run. */
    EXPECT_TOKENS("a\u200bb", "a\u200bb");
}

TEST(tok_empty_and_blank)
{
    size_t count = 7;
    char err[64];
    ASSERT_EQ(at_tokenize("", 0, NULL, 0, &count, err, sizeof err), AT_OK);
    ASSERT_EQ(count, 0);
    ASSERT_EQ(at_tokenize(" \t\u3000 ", strlen(" \t\u3000 "), NULL, 0, &count, err, sizeof err),
              AT_OK);
    ASSERT_EQ(count, 0);
}

TEST(tok_count_first_then_fill)
{
    const char *text = "one two 三 four";
    at_token toks[2];
    size_t count = 0;
    ASSERT_EQ(at_tokenize(text, strlen(text), NULL, 0, &count, NULL, 0), AT_OK);
    ASSERT_EQ(count, 4);
    ASSERT_EQ(at_tokenize(text, strlen(text), toks, 2, &count, NULL, 0), AT_OK);
    ASSERT_EQ(count, 4); /* the total, though only two were written */
    ASSERT(toks[0].ptr == text && toks[0].len == 3);
    ASSERT(toks[1].ptr == text + 4 && toks[1].len == 3);
}

TEST(tok_nul_is_a_character)
{
    const char text[] = "a\0b c";
    at_token toks[4];
    size_t count;
    ASSERT_EQ(at_tokenize(text, 5, toks, 4, &count, NULL, 0), AT_OK);
    ASSERT_EQ(count, 2);
    ASSERT_EQ(toks[0].len, 3);
}

/* Bad UTF-8 at a known byte, with the message at_utf8_check and at_tokenize give. */
static void expect_bad(const char *s, size_t len, size_t offset, const char *why, int line)
{
    char err[256], err2[256];
    size_t at = 999, count;
    if (at_utf8_check(s, len, &at, err, sizeof err) != AT_EPARSE)
        harness_fail(__FILE__, line, "accepted bad UTF-8");
    if (at != offset) harness_fail(__FILE__, line, "offset %zu, want %zu", at, offset);
    char want[64];
    snprintf(want, sizeof want, "invalid UTF-8 at byte %zu: ", offset);
    if (strncmp(err, want, strlen(want)) || !strstr(err, why))
        harness_fail(__FILE__, line, "message \"%s\", want \"%s...%s\"", err, want, why);
    if (at_tokenize(s, len, NULL, 0, &count, err2, sizeof err2) != AT_EPARSE || strcmp(err, err2))
        harness_fail(__FILE__, line, "at_tokenize said \"%s\"", err2);
}
#define EXPECT_BAD(s, offset, why) expect_bad((s), sizeof(s) - 1, (offset), (why), __LINE__)

TEST(tok_invalid_utf8_with_offsets)
{
    EXPECT_BAD("\xff", 0, "0xff: cannot start a character");
    EXPECT_BAD("ab\x80", 2, "0x80: unexpected continuation byte");
    EXPECT_BAD("x\xc0\xaf", 1, "cannot start a character"); /* C0/C1 are always overlong */
    EXPECT_BAD("\xe0\x80\xaf", 0, "overlong encoding");
    EXPECT_BAD("\xf0\x8f\xbf\xbf", 0, "overlong encoding");
    EXPECT_BAD("ok \xed\xa0\x80", 3, "UTF-16 surrogate");
    EXPECT_BAD("\xf4\x90\x80\x80", 0, "above U+10FFFF");
    EXPECT_BAD("\xf5\x80\x80\x80", 0, "cannot start a character");
    EXPECT_BAD("世\xe4\xb8", 3, "truncated sequence at the end");
    EXPECT_BAD("\xe4\x41\x42", 0, "missing continuation byte");
}

TEST(tok_valid_utf8_edges)
{
    static const char *const ok[] = {"",
                                     "\x7f",
                                     "\xc2\x80",
                                     "\xdf\xbf",
                                     "\xe0\xa0\x80",
                                     "\xed\x9f\xbf",
                                     "\xee\x80\x80",
                                     "\xef\xbf\xbf",
                                     "\xf0\x90\x80\x80",
                                     "\xf4\x8f\xbf\xbf"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ASSERT_EQ(at_utf8_check(ok[i], strlen(ok[i]), NULL, NULL, 0), AT_OK);
}

TEST(tok_space_and_cjk_classes)
{
    ASSERT(at_is_space(0x3000) && !at_is_cjk(0x3000));
    ASSERT(at_is_space(' ') && at_is_space(0x0A) && at_is_space(0xA0) && at_is_space(0x200A));
    ASSERT(!at_is_space(0x200B) && !at_is_space('a') && !at_is_space(0xFEFF));
    ASSERT(at_is_cjk(0x3001) && at_is_cjk(0x4E00) && at_is_cjk(0x9FFF) && at_is_cjk(0x3042));
    ASSERT(at_is_cjk(0x30A2) && at_is_cjk(0xAC00) && at_is_cjk(0xD7A3) && at_is_cjk(0x20000));
    ASSERT(at_is_cjk(0xFF01) && at_is_cjk(0xFF66) && at_is_cjk(0x3400));
    ASSERT(!at_is_cjk('a') && !at_is_cjk(0xFF21) && !at_is_cjk(0xFF10) && !at_is_cjk(0x1F642));
    ASSERT(!at_is_cjk(0x0416) && !at_is_cjk(0x10FFFF));
}

TEST(tok_lowercase_keeps_lengths)
{
    const char *in = "HELLO World ÀÉÎÞ × ΑΒΓΩ ΪΫ ПРИВЕТ ЁЖЏ İ Ǆ 北京 ＡＢ Άλφα ѠМЕГА Ɐ Ⱥ";
    /* İ, Ɐ and Ⱥ lower-case to characters of another length: kept. */
    const char *want = "hello world àéîþ × αβγω ϊϋ привет ёжџ İ ǆ 北京 ａｂ άλφα ѡмега Ɐ Ⱥ";
    size_t n = strlen(in);
    ASSERT_EQ(strlen(want), n);
    char *out = malloc(n + 1);
    ASSERT(out != NULL);
    at_utf8_lower(in, n, out);
    out[n] = '\0';
    ASSERT_STREQ(out, want);
    at_utf8_lower(out, n, out); /* in place, and idempotent */
    ASSERT_STREQ(out, want);
    free(out);
}

/* ---- vocabularies ---- */

TEST(tok_vocab_lines_and_lookups)
{
    const char text[] = "[PAD]\n[UNK]\r\n欢迎\n\nhello\nlast";
    at_vocab *v = NULL;
    char err[256];
    ASSERT_EQ(at_vocab_new(text, sizeof text - 1, &v, err, sizeof err), AT_OK);
    ASSERT_EQ(at_vocab_size(v), 6);
    ASSERT_EQ(at_vocab_find(v, "[PAD]", 5), 0);
    ASSERT_EQ(at_vocab_find(v, "[UNK]", 5), 1); /* the \r of CRLF is not part of the token */
    ASSERT_EQ(at_vocab_find(v, "欢迎", strlen("欢迎")), 2);
    ASSERT_EQ(at_vocab_find(v, "hello", 5), 4);
    ASSERT_EQ(at_vocab_find(v, "last", 4), 5);
    ASSERT_EQ(at_vocab_find(v, "hell", 4), -1);
    ASSERT_EQ(at_vocab_find(v, "hello!", 6), -1);
    size_t len = 0;
    ASSERT_STREQ(at_vocab_token(v, 2, &len), "欢迎");
    ASSERT_EQ(len, strlen("欢迎"));
    ASSERT_STREQ(at_vocab_token(v, 3, NULL), "");
    ASSERT(at_vocab_token(v, 6, NULL) == NULL && at_vocab_token(v, -1, NULL) == NULL);
    ASSERT_EQ(at_vocab_max_token_len(v), 6); /* 欢迎 */
    at_vocab_free(v);
    at_vocab_free(NULL);
}

TEST(tok_vocab_final_newline_and_duplicates)
{
    at_vocab *v = NULL;
    ASSERT_EQ(at_vocab_new("a\nb\na\n", 6, &v, NULL, 0), AT_OK);
    ASSERT_EQ(at_vocab_size(v), 3);
    ASSERT_EQ(at_vocab_find(v, "a", 1), 2); /* the last line wins, as in Hugging Face */
    ASSERT_STREQ(at_vocab_token(v, 0, NULL), "a");
    at_vocab_free(v);
}

TEST(tok_vocab_large_table)
{
    /* Enough entries to exercise probing: "t0".."t19999". */
    size_t cap = 20000 * 8, n = 0;
    char *text = malloc(cap);
    ASSERT(text != NULL);
    for (int i = 0; i < 20000; i++)
        n += (size_t)snprintf(text + n, cap - n, "t%d\n", i);
    at_vocab *v = NULL;
    ASSERT_EQ(at_vocab_new(text, n, &v, NULL, 0), AT_OK);
    ASSERT_EQ(at_vocab_size(v), 20000);
    char tok[16];
    for (int i = 0; i < 20000; i += 7) {
        snprintf(tok, sizeof tok, "t%d", i);
        ASSERT_EQ(at_vocab_find(v, tok, strlen(tok)), i);
    }
    ASSERT_EQ(at_vocab_find(v, "t20000", 6), -1);
    at_vocab_free(v);
    free(text);
}

TEST(tok_vocab_errors)
{
    at_vocab *v = (at_vocab *)1;
    char err[256];
    ASSERT_EQ(at_vocab_new("", 0, &v, err, sizeof err), AT_EPARSE);
    ASSERT(v == NULL);
    ASSERT_STREQ(err, "the vocabulary is empty");
    ASSERT_EQ(at_vocab_new("ok\nb\xffx\n", 7, &v, err, sizeof err), AT_EPARSE);
    ASSERT_STREQ(err, "line 2: invalid UTF-8 at byte 1: 0xff: cannot start a character");
    ASSERT_EQ(at_vocab_new("a\nb\0c\n", 6, &v, err, sizeof err), AT_EPARSE);
    ASSERT_STREQ(err, "line 2: contains a NUL byte");
    ASSERT(v == NULL);
}

TEST(tok_fnv1a64_known_values)
{
    ASSERT(at_fnv1a64("", 0) == 0xcbf29ce484222325ull);
    ASSERT(at_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
    ASSERT(at_fnv1a64("foobar", 6) == 0x85944171f73967e8ull);
}
