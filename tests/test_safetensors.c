/* Unit tests of api/safetensors.c, core/half.c and the model checks of api/model_registry.c:
 * the fixture files, then bad files written at run time into a directory under /tmp, each
 * refused with a message that names the file and the problem. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../api/model_registry.h"
#include "../api/safetensors.h"
#include "../core/half.h"
#include "../core/status.h"
#include "harness.h"
#include "model_support.h"

/* ---- half precision ---- */

TEST(st_half_conversions_are_exact)
{
    ASSERT(at_f16_to_f32(0x3C00) == 1.0f && at_f16_to_f32(0xC000) == -2.0f);
    ASSERT(at_f16_to_f32(0x7BFF) == 65504.0f);             /* largest normal */
    ASSERT(at_f16_to_f32(0x0400) == ldexpf(1.0f, -14));    /* smallest normal */
    ASSERT(at_f16_to_f32(0x0001) == ldexpf(1.0f, -24));    /* smallest subnormal */
    ASSERT(at_f16_to_f32(0x03FF) == ldexpf(1023.0f, -24)); /* largest subnormal */
    ASSERT(at_f16_to_f32(0x8200) == -ldexpf(1.0f, -15));   /* negative subnormal */
    ASSERT(at_f16_to_f32(0x3555) == 0x1.554p-2f);          /* ~1/3 */
    float nz = at_f16_to_f32(0x8000);
    ASSERT(nz == 0.0f && signbit(nz));
    ASSERT(isinf(at_f16_to_f32(0x7C00)) && at_f16_to_f32(0x7C00) > 0);
    ASSERT(isinf(at_f16_to_f32(0xFC00)) && at_f16_to_f32(0xFC00) < 0);
    ASSERT(isnan(at_f16_to_f32(0x7E00)) && isnan(at_f16_to_f32(0x7C01)));
    ASSERT(at_bf16_to_f32(0x3F80) == 1.0f && at_bf16_to_f32(0xC2F7) == -123.5f);
    ASSERT(at_bf16_to_f32(0x0001) == ldexpf(1.0f, -133)); /* bf16 subnormal */
    ASSERT(isnan(at_bf16_to_f32(0x7FC0)) && isinf(at_bf16_to_f32(0xFF80)));
    /* Every finite F16 converts to the value its fields describe. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
        if (e == 0x1F) continue;
        double want = e ? ldexp(1024.0 + m, (int)e - 25) : ldexp((double)m, -24);
        if (h & 0x8000) want = -want;
        if ((double)at_f16_to_f32((uint16_t)h) != want)
            harness_fail(__FILE__, __LINE__, "F16 0x%04x: %.9g, want %.9g", (unsigned)h,
                         (double)at_f16_to_f32((uint16_t)h), want);
    }
    const unsigned char le[4] = {0x00, 0x3C, 0x01, 0x00};
    float two[2];
    at_f16_to_f32_array(le + 0, 2, two);
    ASSERT(two[0] == 1.0f && two[1] == ldexpf(1.0f, -24));
}

/* ---- the fixture files ---- */

TEST(st_fixture_files_open)
{
    static const char *const files[] = {"models/tiny.safetensors", "models/tiny_f16.safetensors",
                                        "models/tiny_bf16.safetensors"};
    static const char *const dtypes[] = {"F32", "F16", "BF16"};
    for (int f = 0; f < 3; f++) {
        char path[1024], err[512];
        api_safetensors *st = NULL;
        mt_fixture_path(files[f], path, sizeof path);
        ASSERT_EQ(api_safetensors_open(path, &st, err, sizeof err), AT_OK);
        ASSERT_EQ(api_safetensors_count(st), 8);
        ASSERT_STREQ(api_safetensors_metadata(st, "num_heads"), "2");
        ASSERT_STREQ(api_safetensors_metadata(st, "format"), "pt");
        ASSERT(api_safetensors_metadata(st, "nope") == NULL);
        const api_st_tensor *t = api_safetensors_find(st, "in_proj_weight");
        ASSERT(t != NULL && t->rank == 2 && t->shape[0] == 48 && t->shape[1] == 16);
        ASSERT_STREQ(api_st_dtype_name(t->dtype), dtypes[f]);
        ASSERT(api_safetensors_at(st, 0)->begin == 0); /* sorted by offset */
        const float *w = NULL;
        ASSERT_EQ(api_safetensors_f32(st, t, &w, err, sizeof err), AT_OK);
        ASSERT(w != NULL && isfinite(w[0]));
        /* F32 data is used where it lies in the mapping. */
        ASSERT((f == 0) == ((const void *)w == (const void *)t->bytes));
        api_safetensors_close(st);
    }
    api_safetensors_close(NULL);
}

/* ---- files written at run time ---- */

typedef struct st_entry {
    const char *name, *dtype, *shape;
    long long begin, end;
} st_entry;

/* A valid model with V = 4, E = 4, H = 2 and 384 bytes of data. */
static const st_entry good[] = {
    {"embedding.weight", "F32", "[4,4]", 0, 64}, {"in_proj_weight", "F32", "[12,4]", 64, 256},
    {"in_proj_bias", "F32", "[12]", 256, 304},   {"out_proj.weight", "F32", "[4,4]", 304, 368},
    {"out_proj.bias", "F32", "[4]", 368, 384},
};
#define NGOOD     5
#define GOOD_DATA 384
#define GOOD_META "{\"num_heads\":\"2\"}"

static char tmp[256];

static const char *write_text(const char *name, const char *text, char *path, size_t len)
{
    return mt_write_file(tmp, name, text, strlen(text), path, len);
}

static void setup(void)
{
    mt_tmpdir(tmp, sizeof tmp);
    char path[512];
    const char vocab[] = "[PAD]\n[UNK]\nhello\nworld\n";
    mt_write_file(tmp, "vocab.txt", vocab, sizeof vocab - 1, path, sizeof path);
}

/* The header JSON of entries t[0..n) with metadata `meta` (NULL: none), malloc'd. */
static char *header_of(const char *meta, const st_entry *t, int n)
{
    size_t cap = 4096, len = 0;
    char *h = malloc(cap);
    ASSERT(h != NULL);
    len += (size_t)snprintf(h + len, cap - len, "{");
    if (meta) len += (size_t)snprintf(h + len, cap - len, "\"__metadata__\":%s", meta);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(h + len, cap - len,
                                "%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%lld,"
                                "%lld]}",
                                meta || i ? "," : "", t[i].name, t[i].dtype, t[i].shape, t[i].begin,
                                t[i].end);
    snprintf(h + len, cap - len, "}");
    return h;
}

/* Writes tmp/name: the 8-byte length (hlen, or the header's length when hlen < 0), the
 * header and `data` bytes (small floats 0.01 * i where they fit). Returns the path. */
static const char *write_st(const char *name, const char *header, long long hlen, size_t data,
                            char *path, size_t pathlen)
{
    size_t n = strlen(header), total = 8 + n + data;
    unsigned char *buf = calloc(total ? total : 1, 1);
    ASSERT(buf != NULL);
    unsigned long long len = hlen < 0 ? n : (unsigned long long)hlen;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(len >> (8 * i));
    memcpy(buf + 8, header, n);
    for (size_t i = 0; i + 4 <= data; i += 4) {
        float v = 0.01f * (float)(i / 4 % 50);
        memcpy(buf + 8 + n + i, &v, 4);
    }
    mt_write_file(tmp, name, buf, total, path, pathlen);
    free(buf);
    return path;
}

/* Opens the file and expects status rc with a message "<path>: ...needle...". */
static void expect_open(const char *path, int rc, const char *needle, int line)
{
    api_safetensors *st = (api_safetensors *)1;
    char err[1024], prefix[600];
    int got = api_safetensors_open(path, &st, err, sizeof err);
    if (got != rc) harness_fail(__FILE__, line, "status %d, want %d: %s", got, rc, err);
    if (st != NULL) harness_fail(__FILE__, line, "*out not NULL on error");
    snprintf(prefix, sizeof prefix, "%s: ", path);
    if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, needle))
        harness_fail(__FILE__, line, "message \"%s\" lacks \"%s\"", err, needle);
}

/* The same through the registry (model-level checks). */
static void expect_load(const char *path, int rc, const char *needle, int line)
{
    api_model_registry *r = api_model_registry_new();
    char err[1024], prefix[600];
    int got = api_model_registry_load(r, "m", path, err, sizeof err);
    if (got != rc) harness_fail(__FILE__, line, "status %d, want %d: %s", got, rc, err);
    snprintf(prefix, sizeof prefix, "%s: ", path);
    if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, needle))
        harness_fail(__FILE__, line, "message \"%s\" lacks \"%s\"", err, needle);
    ASSERT_EQ(api_model_registry_count(r), 1); /* unchanged */
    api_model_registry_free(r);
}

/* A model file whose entries are `good` with entry `i` replaced by `e` (i < 0: none) and
 * extra entry `add` appended when not NULL. */
static const char *variant(const char *name, const char *meta, int i, st_entry e,
                           const st_entry *add, size_t data, char *path, size_t len)
{
    st_entry t[NGOOD + 1];
    memcpy(t, good, sizeof good);
    if (i >= 0) t[i] = e;
    int n = NGOOD;
    if (add) t[n++] = *add;
    char *h = header_of(meta, t, n);
    write_st(name, h, -1, data, path, len);
    free(h);
    return path;
}

TEST(st_valid_model_loads)
{
    setup();
    char path[512], err[512];
    variant("m.safetensors", GOOD_META, -1, good[0], NULL, GOOD_DATA, path, sizeof path);
    api_model_registry *r = api_model_registry_new();
    ASSERT_EQ(api_model_registry_load(r, NULL, path, err, sizeof err), AT_OK);
    const api_model *m = api_model_registry_find(r, "m");
    ASSERT(m != NULL);
    const at_model *c = api_model_core(m);
    ASSERT(c->mha.embed_dim == 4 && c->mha.num_heads == 2 && c->vocab_size == 4);
    ASSERT(c->unk_id == 1 && c->mha.additive == NULL && !c->lowercase && c->max_len == 0);
    ASSERT_NEAR(c->mha.in_proj_weight[1], 0.17, 1e-7); /* byte 68 of the data: float 17 */
    api_model_registry_free(r);
    mt_tmpdir_remove(tmp);
}

TEST(st_unaligned_and_half_tensors_are_converted)
{
    setup();
    /* One space after the header makes its length odd: the F32 data is then misaligned. */
    st_entry t[2] = {{"a", "F32", "[2]", 0, 8}, {"b", "F16", "[3]", 8, 14}};
    char *h = header_of("{}", t, 2), path[512], err[512];
    size_t n = strlen(h);
    h = realloc(h, n + 2);
    strcpy(h + n, " ");
    if ((n + 1) % 4 == 0) strcat(h, " ");
    write_st("u.safetensors", h, -1, 14, path, sizeof path);
    free(h);
    FILE *f = fopen(path, "r+b"); /* set b to 1, 2^-24 (subnormal) and -0 */
    ASSERT(f != NULL);
    long data = 0;
    fseek(f, 0, SEEK_END);
    data = ftell(f) - 14;
    fseek(f, data + 8, SEEK_SET);
    const unsigned char b[6] = {0x00, 0x3C, 0x01, 0x00, 0x00, 0x80};
    fwrite(b, 1, 6, f);
    fclose(f);
    api_safetensors *st = NULL;
    ASSERT_EQ(api_safetensors_open(path, &st, err, sizeof err), AT_OK);
    const float *a = NULL, *bf = NULL;
    const api_st_tensor *ta = api_safetensors_find(st, "a");
    ASSERT_EQ(api_safetensors_f32(st, ta, &a, err, sizeof err), AT_OK);
    ASSERT((const void *)a != (const void *)ta->bytes && ((uintptr_t)a % 4) == 0);
    ASSERT(a[0] == 0.0f && a[1] == 0.01f);
    ASSERT_EQ(api_safetensors_f32(st, api_safetensors_find(st, "b"), &bf, err, sizeof err), AT_OK);
    ASSERT(bf[0] == 1.0f && bf[1] == ldexpf(1.0f, -24) && bf[2] == 0.0f && signbit(bf[2]));
    api_safetensors_close(st);
    mt_tmpdir_remove(tmp);
}

TEST(st_empty_and_zero_sized_tensors)
{
    setup();
    char path[512], err[512];
    api_safetensors *st = NULL;
    write_st("e.safetensors", "{}", -1, 0, path, sizeof path);
    ASSERT_EQ(api_safetensors_open(path, &st, err, sizeof err), AT_OK);
    ASSERT_EQ(api_safetensors_count(st), 0);
    api_safetensors_close(st);
    st_entry t[2] = {{"z", "F32", "[0,7]", 0, 0}, {"s", "BF16", "[]", 0, 2}};
    char *h = header_of(NULL, t, 2);
    write_st("z.safetensors", h, -1, 2, path, sizeof path);
    free(h);
    ASSERT_EQ(api_safetensors_open(path, &st, err, sizeof err), AT_OK);
    ASSERT_EQ(api_safetensors_find(st, "z")->numel, 0);
    ASSERT_EQ(api_safetensors_find(st, "s")->numel, 1);
    api_safetensors_close(st);
    mt_tmpdir_remove(tmp);
}

#define EXPECT_OPEN(path, rc, needle) expect_open((path), (rc), (needle), __LINE__)
#define EXPECT_LOAD(path, rc, needle) expect_load((path), (rc), (needle), __LINE__)

TEST(st_bad_framing)
{
    setup();
    char path[512];
    mt_write_file(tmp, "short.safetensors", "\x10\0\0\0\0", 5, path, sizeof path);
    EXPECT_OPEN(path, AT_EPARSE, "the file has 5 bytes, too few for the 8-byte header length");
    EXPECT_OPEN(write_st("long.safetensors", "{}", 1000, 0, path, sizeof path), AT_EPARSE,
                "the header length 1000 runs past the end of the file (2 bytes follow the "
                "length field)");
    EXPECT_OPEN(write_st("huge.safetensors", "{}", (100LL << 20) + 1, 0, path, sizeof path),
                AT_ELIMIT, "the header length 104857601 is over the limit of 104857600 bytes");
    EXPECT_OPEN(write_st("json.safetensors", "{\"a\": [1, 2", -1, 0, path, sizeof path), AT_EPARSE,
                "the header is not valid JSON (error near byte");
    EXPECT_OPEN(write_st("arr.safetensors", "[1, 2]", -1, 0, path, sizeof path), AT_EPARSE,
                "the header is not a JSON object");
    EXPECT_OPEN(write_st("tail.safetensors", "{}  x", -1, 0, path, sizeof path), AT_EPARSE,
                "the header has data after its JSON object, at byte 4");
    snprintf(path, sizeof path, "%s/absent.safetensors", tmp);
    EXPECT_OPEN(path, AT_EIO, "cannot open: No such file or directory");
    EXPECT_OPEN(tmp, AT_EIO, "not a regular file");
    mt_tmpdir_remove(tmp);
}

TEST(st_bad_entries)
{
    setup();
    char path[512];
    st_entry one = {"in_proj_weight", "F32", "[192,64]", 0, 100};
    char *h = header_of(NULL, &one, 1);
    EXPECT_OPEN(write_st("count.safetensors", h, -1, 100, path, sizeof path), AT_EPARSE,
                "tensor in_proj_weight: data_offsets [0, 100] hold 100 bytes but shape [192, 64] "
                "F32 needs 49152");
    free(h);
    EXPECT_OPEN(variant("i64.safetensors", GOOD_META, 2,
                        (st_entry){"in_proj_bias", "I64", "[12]", 256, 304}, NULL, GOOD_DATA, path,
                        sizeof path),
                AT_EPARSE,
                "tensor in_proj_bias: dtype I64 is not supported (expected F32, F16 or BF16)");
    EXPECT_OPEN(variant("range.safetensors", GOOD_META, -1, good[0],
                        &(st_entry){"extra", "F32", "[4]", 384, 400}, GOOD_DATA, path, sizeof path),
                AT_EPARSE,
                "tensor extra: data_offsets [384, 400] run past the end of the data, "
                "which has 384 bytes");
    EXPECT_OPEN(variant("overlap.safetensors", GOOD_META, 2,
                        (st_entry){"in_proj_bias", "F32", "[12]", 248, 296}, NULL, GOOD_DATA, path,
                        sizeof path),
                AT_EPARSE,
                "tensors in_proj_weight and in_proj_bias overlap: data_offsets [64, "
                "256] and [248, 296]");
    EXPECT_OPEN(variant("gap.safetensors", GOOD_META, 2,
                        (st_entry){"in_proj_bias", "F32", "[10]", 264, 304}, NULL, GOOD_DATA, path,
                        sizeof path),
                AT_EPARSE,
                "bytes 256..263 of the data belong to no tensor (a gap before tensor "
                "in_proj_bias, data_offsets [264, 304])");
    EXPECT_OPEN(variant("trail.safetensors", GOOD_META, -1, good[0], NULL, GOOD_DATA + 8, path,
                        sizeof path),
                AT_EPARSE, "the last 8 bytes of the data (from offset 384) belong to no tensor");
    EXPECT_OPEN(variant("neg.safetensors", GOOD_META, 4,
                        (st_entry){"out_proj.bias", "F32", "[-4]", 368, 384}, NULL, GOOD_DATA, path,
                        sizeof path),
                AT_EPARSE, "tensor out_proj.bias: shape[0] must be an integer >= 0");
    EXPECT_OPEN(write_st("frac.safetensors",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4]}}", -1,
                         4, path, sizeof path),
                AT_EPARSE,
                "tensor a: data_offsets must be [begin, end], integers with 0 <= begin <= end");
    EXPECT_OPEN(variant("twice.safetensors", GOOD_META, -1, good[0],
                        &(st_entry){"in_proj_bias", "F32", "[0]", 384, 384}, GOOD_DATA, path,
                        sizeof path),
                AT_EPARSE, "tensor in_proj_bias is listed twice");
    EXPECT_OPEN(variant("meta.safetensors", "{\"num_heads\":2}", -1, good[0], NULL, GOOD_DATA, path,
                        sizeof path),
                AT_EPARSE, "__metadata__: the value of \"num_heads\" must be a string");
    EXPECT_OPEN(write_st("key.safetensors",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}",
                         -1, 4, path, sizeof path),
                AT_EPARSE, "tensor a: unknown key \"x\" (expected dtype, shape and data_offsets)");
    EXPECT_OPEN(write_st("miss.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", -1, 0,
                         path, sizeof path),
                AT_EPARSE, "tensor a: missing data_offsets");
    EXPECT_OPEN(
        write_st("rank.safetensors",
                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
                 -1, 4, path, sizeof path),
        AT_EPARSE, "tensor a: shape must be an array of at most 8 integers");
    mt_tmpdir_remove(tmp);
}

/* ---- model-level checks (api/model_registry.c) ---- */

TEST(st_bad_models)
{
    setup();
    char path[512];
    st_entry t[NGOOD];
    memcpy(t, good, sizeof good);
    t[1] = (st_entry){"in_proj_weight", "F32", "[13,4]", 64, 272};
    for (int i = 2; i < NGOOD; i++)
        t[i].begin += 16, t[i].end += 16;
    char *h = header_of(GOOD_META, t, NGOOD);
    EXPECT_LOAD(write_st("shape.safetensors", h, -1, GOOD_DATA + 16, path, sizeof path), AT_ESHAPE,
                "tensor in_proj_weight: expected [12, 4] (3E, E with E = 4 from embedding.weight), "
                "got [13, 4]");
    free(h);
    st_entry no_in[NGOOD - 1] = {good[0],
                                 {"in_proj_bias", "F32", "[12]", 64, 112},
                                 {"out_proj.weight", "F32", "[4,4]", 112, 176},
                                 {"out_proj.bias", "F32", "[4]", 176, 192}};
    h = header_of(GOOD_META, no_in, NGOOD - 1);
    EXPECT_LOAD(write_st("missing.safetensors", h, -1, 192, path, sizeof path), AT_EINVAL,
                "missing tensor in_proj_weight (a model holds embedding.weight [V, E], ");
    free(h);
    EXPECT_LOAD(variant("extra.safetensors", GOOD_META, -1, good[0],
                        &(st_entry){"bias_k", "F32", "[4]", 384, 400}, GOOD_DATA + 16, path,
                        sizeof path),
                AT_EINVAL, "unexpected tensor bias_k (a model holds embedding.weight");
    EXPECT_LOAD(variant("heads.safetensors", "{\"num_heads\":\"3\"}", -1, good[0], NULL, GOOD_DATA,
                        path, sizeof path),
                AT_EINVAL,
                "metadata num_heads \"3\" must be a positive integer that divides the "
                "embedding dimension 4");
    EXPECT_LOAD(variant("noheads.safetensors", "{\"format\":\"pt\"}", -1, good[0], NULL, GOOD_DATA,
                        path, sizeof path),
                AT_EINVAL, "metadata num_heads is missing");
    EXPECT_LOAD(
        variant("nometa.safetensors", NULL, -1, good[0], NULL, GOOD_DATA, path, sizeof path),
        AT_EINVAL, "metadata num_heads is missing");
    EXPECT_LOAD(variant("pos.safetensors", "{\"num_heads\":\"2\",\"positional\":\"learned\"}", -1,
                        good[0], NULL, GOOD_DATA, path, sizeof path),
                AT_EINVAL, "metadata positional \"learned\": expected \"sinusoidal\" or \"none\"");
    EXPECT_LOAD(variant("lower.safetensors", "{\"num_heads\":\"2\",\"lowercase\":\"yes\"}", -1,
                        good[0], NULL, GOOD_DATA, path, sizeof path),
                AT_EINVAL, "metadata lowercase \"yes\": expected \"true\" or \"false\"");
    EXPECT_LOAD(variant("maxlen.safetensors", "{\"num_heads\":\"2\",\"max_len\":\"0\"}", -1,
                        good[0], NULL, GOOD_DATA, path, sizeof path),
                AT_EINVAL, "metadata max_len \"0\": expected an integer from 1 to 2147483647");
    EXPECT_LOAD(variant("emb.safetensors", GOOD_META, 0,
                        (st_entry){"embedding.weight", "F32", "[16]", 0, 64}, NULL, GOOD_DATA, path,
                        sizeof path),
                AT_ESHAPE,
                "tensor embedding.weight: expected [V, E] with 1 <= V <= 2147483647 and "
                "1 <= E <= 65536, got [16]");
    EXPECT_LOAD(variant("add.safetensors", GOOD_META, -1, good[0],
                        &(st_entry){"additive.weight", "F32", "[2,3]", 384, 408}, GOOD_DATA + 24,
                        path, sizeof path),
                AT_ESHAPE,
                "tensor additive.weight: expected [da, 4] (2 * head_dim, head_dim = E / "
                "num_heads = 4 / 2) with 1 <= da <= 65536, got [2, 3]");
    EXPECT_LOAD(variant("addv.safetensors", GOOD_META, -1, good[0],
                        &(st_entry){"additive.v", "F32", "[2]", 384, 392}, GOOD_DATA + 8, path,
                        sizeof path),
                AT_EINVAL, "additive.bias or additive.v without additive.weight [da, 4]");
    mt_tmpdir_remove(tmp);
}

TEST(st_bad_values_and_vocabularies)
{
    setup();
    char path[512], vpath[512];
    variant("nan.safetensors", GOOD_META, -1, good[0], NULL, GOOD_DATA, path, sizeof path);
    FILE *f = fopen(path, "r+b");
    ASSERT(f != NULL);
    fseek(f, -4, SEEK_END); /* the last element of out_proj.bias */
    fwrite("\x00\x00\xc0\x7f", 1, 4, f);
    fclose(f);
    EXPECT_LOAD(path, AT_EPARSE, "tensor out_proj.bias: element 3 is nan");

    variant("m.safetensors", GOOD_META, -1, good[0], NULL, GOOD_DATA, path, sizeof path);
    write_text("vocab.txt", "[PAD]\nhello\nworld\nmore\n", vpath, sizeof vpath);
    EXPECT_LOAD(path, AT_EINVAL, "has no [UNK] token");
    write_text("vocab.txt", "[PAD]\n[UNK]\nhello\n", vpath, sizeof vpath);
    EXPECT_LOAD(path, AT_ESHAPE, "vocab.txt has 3 tokens but embedding.weight has 4 rows");
    write_text("vocab.txt", "[PAD]\n[UNK]\nh\xe9llo\nworld\n", vpath, sizeof vpath);
    EXPECT_LOAD(path, AT_EPARSE, "vocab.txt: line 3: invalid UTF-8 at byte 1: 0xe9");
    unlink(vpath);
    EXPECT_LOAD(path, AT_EIO, "vocab.txt: cannot open: No such file or directory");
    /* metadata "vocab" names another file, relative to the model's directory */
    write_text("words.txt", "[PAD]\n[UNK]\nhello\nworld\n", vpath, sizeof vpath);
    variant("named.safetensors",
            "{\"num_heads\":\"2\",\"vocab\":\"words.txt\",\"lowercase\":\"true\","
            "\"max_len\":\"8\",\"positional\":\"none\"}",
            -1, good[0], NULL, GOOD_DATA, path, sizeof path);
    api_model_registry *r = api_model_registry_new();
    char err[512];
    ASSERT_EQ(api_model_registry_load(r, "named", path, err, sizeof err), AT_OK);
    api_model_info info;
    api_model_get_info(api_model_registry_find(r, "named"), &info);
    ASSERT_STREQ(info.vocab_path, vpath);
    ASSERT(info.lowercase && info.max_len == 8 && !strcmp(info.positional, "none"));
    api_model_registry_free(r);
    mt_tmpdir_remove(tmp);
}

/* Metadata "vocab" travels with the model file: it may only name a file in the model's
 * directory (or below), never /etc/passwd, ../x or a symbolic link leading out. */
TEST(st_vocab_metadata_confined_to_model_directory)
{
    setup();
    char path[512], vpath[512], meta[256], sub[600], link[600];
    static const struct {
        const char *vocab, *why;
    } bad[] = {
        {"/etc/passwd", "is an absolute path"},
        {"../vocab.txt", "has a '..' component"},
        {"sub/../../vocab.txt", "has a '..' component"},
        {"..", "has a '..' component"},
        {"", "is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(meta, sizeof meta, "{\"num_heads\":\"2\",\"vocab\":\"%s\"}", bad[i].vocab);
        variant("v.safetensors", meta, -1, good[0], NULL, GOOD_DATA, path, sizeof path);
        char want[200];
        snprintf(want, sizeof want, "metadata vocab \"%s\" %s", bad[i].vocab, bad[i].why);
        EXPECT_LOAD(path, AT_EINVAL, want);
    }
    /* A symbolic link in the directory that leads out of it is refused too. */
    snprintf(sub, sizeof sub, "%s/out", tmp);
    ASSERT_EQ(mkdir(sub, 0700), 0);
    write_text("out/words.txt", "[PAD]\n[UNK]\nhello\nworld\n", vpath, sizeof vpath);
    snprintf(sub, sizeof sub, "%s/model", tmp);
    ASSERT_EQ(mkdir(sub, 0700), 0);
    snprintf(link, sizeof link, "%s/model/words.txt", tmp);
    ASSERT_EQ(symlink(vpath, link), 0);
    variant("model/m.safetensors", "{\"num_heads\":\"2\",\"vocab\":\"words.txt\"}", -1, good[0],
            NULL, GOOD_DATA, path, sizeof path);
    EXPECT_LOAD(path, AT_EINVAL, "leads out of the model's directory");
    /* A file in a subdirectory of the model's directory is fine. */
    snprintf(sub, sizeof sub, "%s/model/tok", tmp);
    ASSERT_EQ(mkdir(sub, 0700), 0);
    write_text("model/tok/words.txt", "[PAD]\n[UNK]\nhello\nworld\n", vpath, sizeof vpath);
    variant("model/m.safetensors", "{\"num_heads\":\"2\",\"vocab\":\"tok/words.txt\"}", -1, good[0],
            NULL, GOOD_DATA, path, sizeof path);
    api_model_registry *r = api_model_registry_new();
    char err[512];
    ASSERT_EQ(api_model_registry_load(r, "sub", path, err, sizeof err), AT_OK);
    api_model_registry_free(r);
    unlink(link);
    snprintf(sub, sizeof sub, "%s/out/words.txt", tmp);
    unlink(sub);
    snprintf(sub, sizeof sub, "%s/model/tok/words.txt", tmp);
    unlink(sub);
    snprintf(sub, sizeof sub, "%s/model/m.safetensors", tmp);
    unlink(sub);
    snprintf(sub, sizeof sub, "%s/model/tok", tmp);
    rmdir(sub);
    snprintf(sub, sizeof sub, "%s/model", tmp);
    rmdir(sub);
    snprintf(sub, sizeof sub, "%s/out", tmp);
    rmdir(sub);
    mt_tmpdir_remove(tmp);
}
