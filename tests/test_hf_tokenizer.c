/* BERT's WordPiece (uncased and cased) and GPT-2's byte-level BPE against the real Hugging Face
 * tokenizers library: tests/fixtures/tokenizers/expected.json holds what the Rust crate gave
 * (through npm's @anush008/tokenizers, run by gen_tokenizer_fixtures.mjs) for a corpus of
 * English, accented Latin, Greek, Cyrillic, CJK, emoji, punctuation, control characters and
 * white space; ids, tokens, token types and character offsets must match exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bpe.h"
#include "../core/status.h"
#include "../core/tokenizer.h"
#include "../core/unicode.h"
#include "../core/vocab.h"
#include "../core/wordpiece.h"
#include "harness.h"
#include "model_support.h"

static char *slurp(const char *rel, size_t *len)
{
    char path[1024];
    mt_fixture_path(rel, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) harness_fail(__FILE__, __LINE__, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ASSERT(s != NULL);
    *len = fread(s, 1, (size_t)n, f);
    s[*len] = '\0';
    fclose(f);
    return s;
}

static at_vocab *vocab_txt(void)
{
    size_t len;
    char *text = slurp("tokenizers/bert/vocab.txt", &len), err[256];
    at_vocab *v = NULL;
    ASSERT_EQ(at_vocab_new(text, len, &v, err, sizeof err), AT_OK);
    free(text);
    return v;
}

/* vocab.json as an at_vocab (line i = the token of id i), as api/hf_model.c reads it. */
static at_vocab *vocab_json(void)
{
    cJSON *doc = mt_load_json("tokenizers/gpt2/vocab.json");
    int n = cJSON_GetArraySize(doc);
    const char **tok = calloc((size_t)n, sizeof *tok);
    size_t total = 0;
    for (const cJSON *c = doc->child; c; c = c->next) {
        ASSERT(c->valueint >= 0 && c->valueint < n && !tok[c->valueint]);
        tok[c->valueint] = c->string;
        total += strlen(c->string) + 1;
    }
    char *lines = malloc(total + 1), err[256];
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        memcpy(lines + at, tok[i], strlen(tok[i]));
        at += strlen(tok[i]);
        lines[at++] = '\n';
    }
    at_vocab *v = NULL;
    ASSERT_EQ(at_vocab_new(lines, at, &v, err, sizeof err), AT_OK);
    free(lines);
    free(tok);
    cJSON_Delete(doc);
    return v;
}

typedef struct tk {
    const at_wordpiece *wp;
    const at_bpe *bpe;
    const at_vocab *vocab;
} tk;

/* Every encoding of expected.json's list `name`; returns how many matched. */
static int check_all(const char *name, const tk *t)
{
    cJSON *doc = mt_load_json("tokenizers/expected.json");
    int n = 0;
    for (const cJSON *e = cJSON_GetObjectItem(doc, name)->child; e; e = e->next, n++) {
        const char *text = cJSON_GetObjectItem(e, "text")->valuestring;
        const cJSON *pair = cJSON_GetObjectItem(e, "pair");
        const char *ptext = cJSON_IsString(pair) ? pair->valuestring : NULL;
        at_piece *p = NULL;
        size_t count = 0, unknown = 0;
        char err[256];
        int rc = t->wp ? at_wordpiece_tokenize(t->wp, text, strlen(text), ptext,
                                               ptext ? strlen(ptext) : 0, &p, &count, &unknown, err,
                                               sizeof err)
                       : at_bpe_tokenize(t->bpe, text, strlen(text), &p, &count, err, sizeof err);
        if (rc != AT_OK) harness_fail(__FILE__, __LINE__, "%s %d: %s", name, n, err);
        const cJSON *ids = cJSON_GetObjectItem(e, "ids"), *toks = cJSON_GetObjectItem(e, "tokens");
        const cJSON *types = cJSON_GetObjectItem(e, "type_ids"),
                    *offs = cJSON_GetObjectItem(e, "offsets");
        if ((int)count != cJSON_GetArraySize(ids)) {
            fprintf(stderr, "  %s %d: text \"%s\": got", name, n, text);
            for (size_t i = 0; i < count; i++)
                fprintf(stderr, " %s", at_vocab_token(t->vocab, (int64_t)p[i].id, NULL));
            fprintf(stderr, "\n");
            harness_fail(__FILE__, __LINE__, "%s %d: %zu tokens, expected %d", name, n, count,
                         cJSON_GetArraySize(ids));
        }
        for (size_t i = 0; i < count; i++) {
            const cJSON *o = cJSON_GetArrayItem(offs, (int)i);
            int64_t b = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, 0)->valueint : -1;
            int64_t end = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, 1)->valueint : -1;
            const char *want = cJSON_GetArrayItem(toks, (int)i)->valuestring;
            const char *got = at_vocab_token(t->vocab, (int64_t)p[i].id, NULL);
            if (p[i].id != (uint64_t)cJSON_GetArrayItem(ids, (int)i)->valuedouble ||
                p[i].type != cJSON_GetArrayItem(types, (int)i)->valueint || p[i].begin != b ||
                p[i].end != end)
                harness_fail(__FILE__, __LINE__,
                             "%s %d (\"%.60s\") token %zu: got %s (%llu) type %u [%lld, %lld], "
                             "expected %s type %d [%lld, %lld]",
                             name, n, text, i, got, (unsigned long long)p[i].id, p[i].type,
                             (long long)p[i].begin, (long long)p[i].end, want,
                             cJSON_GetArrayItem(types, (int)i)->valueint, (long long)b,
                             (long long)end);
            ASSERT_STREQ(got, want);
        }
        free(p);
    }
    cJSON_Delete(doc);
    return n;
}

TEST(wordpiece_uncased_matches_hf_tokenizers)
{
    at_vocab *v = vocab_txt();
    at_wordpiece wp;
    char err[128];
    ASSERT_EQ(at_wordpiece_init(&wp, v, true, err, sizeof err), AT_OK);
    tk t = {.wp = &wp, .vocab = v};
    ASSERT_EQ(check_all("bert_uncased", &t), 29);
    at_vocab_free(v);
}

TEST(wordpiece_cased_matches_hf_tokenizers)
{
    at_vocab *v = vocab_txt();
    at_wordpiece wp;
    char err[128];
    ASSERT_EQ(at_wordpiece_init(&wp, v, false, err, sizeof err), AT_OK);
    tk t = {.wp = &wp, .vocab = v};
    ASSERT_EQ(check_all("bert_cased", &t), 29);
    at_vocab_free(v);
}

TEST(bpe_matches_hf_tokenizers)
{
    at_vocab *v = vocab_json();
    size_t len;
    char *merges = slurp("tokenizers/gpt2/merges.txt", &len), err[256];
    at_bpe *b = NULL;
    ASSERT_EQ(at_bpe_new(v, merges, len, &b, err, sizeof err), AT_OK);
    ASSERT_EQ(at_bpe_merges(b), 177); /* every line of merges.txt but the #version one */
    tk t = {.bpe = b, .vocab = v};
    ASSERT_EQ(check_all("gpt2", &t), 26);
    at_bpe_free(b);
    free(merges);
    at_vocab_free(v);
}

TEST(bpe_refuses_bad_merges_and_unknown_bytes)
{
    at_vocab *v = NULL;
    char err[256];
    const char *vocab = "a\nb\nab\n";
    ASSERT_EQ(at_vocab_new(vocab, strlen(vocab), &v, err, sizeof err), AT_OK);
    at_bpe *b = NULL;
    ASSERT_EQ(at_bpe_new(v, "#version: 0.2\na c\n", 18, &b, err, sizeof err), AT_EPARSE);
    ASSERT_CONTAINS(err, "merges.txt line 2: \"a c\"");
    ASSERT_EQ(at_bpe_new(v, "a b\n", 4, &b, err, sizeof err), AT_OK);
    at_piece *p = NULL;
    size_t n = 0;
    ASSERT_EQ(at_bpe_tokenize(b, "abba", 4, &p, &n, err, sizeof err), AT_OK);
    ASSERT_EQ(n, 3); /* ab, b, a */
    ASSERT_EQ(p[0].id, 2);
    free(p);
    ASSERT_EQ(at_bpe_tokenize(b, "abc", 3, &p, &n, err, sizeof err), AT_EINVAL);
    ASSERT_CONTAINS(err, "byte 0x63 (\"c\") is not in the vocabulary");
    ASSERT_EQ(at_bpe_tokenize(b, "a\xff", 2, &p, &n, err, sizeof err), AT_EPARSE);
    at_bpe_free(b);
    at_vocab_free(v);
}

TEST(unicode_properties_come_from_utf8proc)
{
    ASSERT_EQ(at_uc_lower(0x0386), 0x03AC); /* Ά -> ά */
    ASSERT_EQ(at_uc_lower(0x0460), 0x0461); /* Ѡ -> ѡ */
    ASSERT_EQ(at_uc_lower(0x00C9), 0x00E9);
    uint32_t d[AT_UC_NFD_MAX];
    ASSERT_EQ(at_uc_nfd(0x00E9, d), 2);
    ASSERT_EQ(d[0], 'e');
    ASSERT_EQ(d[1], 0x0301);
    ASSERT(at_uc_is_mark_nonspacing(0x0301));
    ASSERT_EQ(at_uc_nfd(0xD55C, d), 3); /* 한: Hangul decomposes into jamo */
    ASSERT(at_uc_is_punctuation(0x300C) && at_uc_is_punctuation('!'));
    ASSERT(!at_uc_is_punctuation('$')); /* Sc, a symbol: BERT splits it as ASCII punctuation */
    ASSERT(at_uc_is_white_space(0x3000) && at_uc_is_white_space(0x85) &&
           !at_uc_is_white_space(0x200B));
    ASSERT(at_uc_is_other(0x200B) && at_uc_is_other(0x7F) && !at_uc_is_other('a'));
    ASSERT(at_uc_is_letter(0x6B22) && at_uc_is_number(0x0663) && at_uc_is_number(0x216B));
    ASSERT_EQ(at_bpe_byte_char(' '), 0x120);  /* Ġ */
    ASSERT_EQ(at_bpe_byte_char('\n'), 0x10A); /* Ċ */
    ASSERT_EQ(at_bpe_byte_char('A'), 'A');
}
