/* The safetensors reader: mmap, the header length, the JSON header through cJSON, then each
 * tensor entry and finally the layout of the data as a whole (sorted by offset, the entries
 * must tile the data section exactly). Conversions to F32 are recorded so close frees them. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../core/half.h"
#include "../core/status.h"
#include "../core/tensor.h"
#include "error_int.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; F32 tensors are used in place on little-endian hosts"
#endif

#define MAX_EXACT 9007199254740992.0 /* 2^53: JSON integers above it are not exact in cJSON */

struct api_safetensors {
    char *path;
    unsigned char *map;
    size_t size;               /* file size */
    bool borrowed;             /* map is the caller's memory (api_safetensors_open_memory) */
    const unsigned char *data; /* the data section */
    uint64_t data_size;
    cJSON *header;
    const cJSON *metadata;  /* in header, or NULL */
    api_st_tensor *tensors; /* [count], sorted by begin */
    size_t count;
    float **copies; /* converted tensors, freed at close */
    size_t ncopies;
};

const char *api_st_dtype_name(api_st_dtype dtype)
{
    return dtype == API_ST_F16 ? "F16" : dtype == API_ST_BF16 ? "BF16" : "F32";
}

static size_t dtype_size(api_st_dtype dtype)
{
    return dtype == API_ST_F32 ? 4 : 2;
}

/* An exact non-negative JSON integer below 2^53. */
static bool get_uint(const cJSON *n, uint64_t *out)
{
    if (!cJSON_IsNumber(n)) return false;
    double v = n->valuedouble;
    if (!(v >= 0 && v < MAX_EXACT) || v != floor(v)) return false;
    *out = (uint64_t)v;
    return true;
}

static int by_begin(const void *a, const void *b)
{
    const api_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const api_st_tensor *const *)a)->name,
                  (*(const api_st_tensor *const *)b)->name);
}

static int check_metadata(api_safetensors *st, const cJSON *m, char *err, size_t errlen)
{
    if (!cJSON_IsObject(m))
        return api_path_error(st->path, err, errlen, AT_EPARSE,
                              "__metadata__ must be an object of strings, got another JSON type");
    for (const cJSON *kv = m->child; kv; kv = kv->next)
        if (!cJSON_IsString(kv))
            return api_path_error(
                st->path, err, errlen, AT_EPARSE,
                "__metadata__: the value of \"%s\" must be a string (write \"%s\": "
                "\"...\")",
                kv->string, kv->string);
    st->metadata = m;
    return AT_OK;
}

/* One tensor entry: its keys, dtype, shape and offsets, and that its size adds up. */
static int parse_tensor(api_safetensors *st, const cJSON *e, api_st_tensor *t, char *err,
                        size_t errlen)
{
    const char *name = e->string;
    t->name = name;
    if (!cJSON_IsObject(e))
        return api_path_error(st->path, err, errlen, AT_EPARSE,
                              "tensor %s: expected an object with dtype, shape and data_offsets",
                              name);
    for (const cJSON *kv = e->child; kv; kv = kv->next)
        if (strcmp(kv->string, "dtype") && strcmp(kv->string, "shape") &&
            strcmp(kv->string, "data_offsets"))
            return api_path_error(
                st->path, err, errlen, AT_EPARSE,
                "tensor %s: unknown key \"%s\" (expected dtype, shape and data_offsets)", name,
                kv->string);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!dt || !sh || !off)
        return api_path_error(st->path, err, errlen, AT_EPARSE, "tensor %s: missing %s", name,
                              !dt   ? "dtype"
                              : !sh ? "shape"
                                    : "data_offsets");
    if (!cJSON_IsString(dt))
        return api_path_error(st->path, err, errlen, AT_EPARSE, "tensor %s: dtype must be a string",
                              name);
    if (!strcmp(dt->valuestring, "F32"))
        t->dtype = API_ST_F32;
    else if (!strcmp(dt->valuestring, "F16"))
        t->dtype = API_ST_F16;
    else if (!strcmp(dt->valuestring, "BF16"))
        t->dtype = API_ST_BF16;
    else
        return api_path_error(st->path, err, errlen, AT_EPARSE,
                              "tensor %s: dtype %.32s is not supported (expected F32, F16 or BF16)",
                              name, dt->valuestring);

    int rank = cJSON_IsArray(sh) ? cJSON_GetArraySize(sh) : -1;
    if (rank < 0 || rank > API_ST_MAX_RANK)
        return api_path_error(st->path, err, errlen, AT_EPARSE,
                              "tensor %s: shape must be an array of at most %d integers", name,
                              API_ST_MAX_RANK);
    t->rank = rank;
    int i = 0;
    bool empty = false;
    for (const cJSON *d = sh->child; d; d = d->next, i++) {
        uint64_t v;
        if (!get_uint(d, &v))
            return api_path_error(st->path, err, errlen, AT_EPARSE,
                                  "tensor %s: shape[%d] must be an integer >= 0", name, i);
        t->shape[i] = (int64_t)v;
        empty = empty || v == 0;
    }
    /* The product saturates: a shape too large for 64 bits cannot match any file anyway. */
    const uint64_t size = dtype_size(t->dtype);
    uint64_t need = empty ? 0 : size;
    bool overflow = false;
    for (i = 0; i < rank && !empty; i++) {
        uint64_t v = (uint64_t)t->shape[i];
        if (overflow || need > UINT64_MAX / v)
            overflow = true;
        else
            need *= v;
    }
    uint64_t b, en;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !get_uint(off->child, &b) ||
        !get_uint(off->child->next, &en) || b > en)
        return api_path_error(st->path, err, errlen, AT_EPARSE,
                              "tensor %s: data_offsets must be [begin, end], integers with "
                              "0 <= begin <= end",
                              name);
    t->begin = b, t->end = en;
    char shape[160];
    at_shape_str(rank, t->shape, shape, sizeof shape);
    if (overflow || en - b != need)
        return api_path_error(
            st->path, err, errlen, AT_EPARSE,
            "tensor %s: data_offsets [%llu, %llu] hold %llu bytes but shape %s %s needs "
            "%s%llu",
            name, (unsigned long long)b, (unsigned long long)en, (unsigned long long)(en - b),
            shape, api_st_dtype_name(t->dtype), overflow ? "more than " : "",
            (unsigned long long)(overflow ? UINT64_MAX : need));
    t->numel = (int64_t)(need / size); /* need <= en < 2^53: fits */
    if (en > st->data_size)
        return api_path_error(
            st->path, err, errlen, AT_EPARSE,
            "tensor %s: data_offsets [%llu, %llu] run past the end of the data, which "
            "has %llu bytes",
            name, (unsigned long long)b, (unsigned long long)en, (unsigned long long)st->data_size);
    t->bytes = st->data + b;
    return AT_OK;
}

/* Sorted by offset, each tensor must start where the previous one ended, and the last must end
 * at the end of the data: the safetensors format indexes every byte exactly once. */
static int check_layout(api_safetensors *st, char *err, size_t errlen)
{
    qsort(st->tensors, st->count, sizeof *st->tensors, by_begin);
    uint64_t at = 0;
    const api_st_tensor *prev = NULL;
    for (size_t i = 0; i < st->count; i++) {
        const api_st_tensor *t = &st->tensors[i];
        if (t->begin < at)
            return api_path_error(
                st->path, err, errlen, AT_EPARSE,
                "tensors %s and %s overlap: data_offsets [%llu, %llu] and [%llu, %llu]", prev->name,
                t->name, (unsigned long long)prev->begin, (unsigned long long)prev->end,
                (unsigned long long)t->begin, (unsigned long long)t->end);
        if (t->begin > at)
            return api_path_error(
                st->path, err, errlen, AT_EPARSE,
                "bytes %llu..%llu of the data belong to no tensor (a gap before tensor "
                "%s, data_offsets [%llu, %llu])",
                (unsigned long long)at, (unsigned long long)t->begin - 1, t->name,
                (unsigned long long)t->begin, (unsigned long long)t->end);
        at = t->end;
        prev = t;
    }
    if (at != st->data_size)
        return api_path_error(
            st->path, err, errlen, AT_EPARSE,
            "the last %llu bytes of the data (from offset %llu) belong to no tensor",
            (unsigned long long)(st->data_size - at), (unsigned long long)at);
    /* Names: cJSON keeps duplicate keys, so look for neighbours in name order. */
    const api_st_tensor **names = malloc((st->count ? st->count : 1) * sizeof *names);
    if (!names) return api_path_error(st->path, err, errlen, AT_ENOMEM, "out of memory");
    for (size_t i = 0; i < st->count; i++)
        names[i] = &st->tensors[i];
    qsort(names, st->count, sizeof *names, by_name);
    int rc = AT_OK;
    for (size_t i = 1; i < st->count && rc == AT_OK; i++)
        if (!strcmp(names[i - 1]->name, names[i]->name))
            rc = api_path_error(st->path, err, errlen, AT_EPARSE, "tensor %s is listed twice",
                                names[i]->name);
    free(names);
    return rc;
}

static int parse_header(api_safetensors *st, const char *text, size_t len, char *err, size_t errlen)
{
    const char *end = NULL;
    st->header = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!st->header) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        return api_path_error(st->path, err, errlen, AT_EPARSE,
                              "the header is not valid JSON (error near byte %zu of %zu)", at, len);
    }
    if (!cJSON_IsObject(st->header))
        return api_path_error(st->path, err, errlen, AT_EPARSE, "the header is not a JSON object");
    for (const char *p = end; p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return api_path_error(st->path, err, errlen, AT_EPARSE,
                                  "the header has data after its JSON object, at byte %zu",
                                  (size_t)(p - text));
    size_t n = 0;
    for (const cJSON *e = st->header->child; e; e = e->next)
        n += strcmp(e->string, "__metadata__") != 0;
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    if (!st->tensors) return api_path_error(st->path, err, errlen, AT_ENOMEM, "out of memory");
    int rc;
    for (const cJSON *e = st->header->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if (st->metadata)
                return api_path_error(st->path, err, errlen, AT_EPARSE,
                                      "__metadata__ is listed twice");
            if ((rc = check_metadata(st, e, err, errlen))) return rc;
            continue;
        }
        if ((rc = parse_tensor(st, e, &st->tensors[st->count], err, errlen))) return rc;
        st->count++;
    }
    return check_layout(st, err, errlen);
}

bool api_safetensors_mapped(const api_safetensors *st, const void *p, size_t bytes)
{
    if (!st || !st->map || !p) return false;
    const uintptr_t lo = (uintptr_t)st->map, hi = lo + st->size, a = (uintptr_t)p;
    return a >= lo && a <= hi && bytes <= hi - a;
}

void api_safetensors_release(const api_safetensors *st, const void *p, size_t bytes)
{
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    if (!api_safetensors_mapped(st, p, bytes)) return;
    const uintptr_t a = (uintptr_t)p;
    uintptr_t from = (a + page - 1) / page * page, to = (a + bytes) / page * page;
    if (from < to) (void)madvise((void *)from, to - from, MADV_DONTNEED);
}

/* The header length, then the header, of st->map[0..st->size) (at least 8 bytes). */
static int parse_mapped(api_safetensors *st, char *err, size_t errlen)
{
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | st->map[i];
    if (hlen > API_ST_MAX_HEADER)
        return api_path_error(st->path, err, errlen, AT_ELIMIT,
                              "the header length %llu is over the limit of %llu bytes (100 MiB)",
                              (unsigned long long)hlen, (unsigned long long)API_ST_MAX_HEADER);
    if (hlen > st->size - 8)
        return api_path_error(
            st->path, err, errlen, AT_EPARSE,
            "the header length %llu runs past the end of the file (%zu bytes follow the "
            "length field)",
            (unsigned long long)hlen, st->size - 8);
    st->data = st->map + 8 + hlen;
    st->data_size = st->size - 8 - hlen;
    return parse_header(st, (const char *)st->map + 8, (size_t)hlen, err, errlen);
}

int api_safetensors_open(const char *path, api_safetensors **out, char *err, size_t errlen)
{
    int rc, fd = -1;
    *out = NULL;
    if (errlen) err[0] = '\0';
    api_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return api_path_error(path, err, errlen, AT_ENOMEM, "out of memory");
    }
    struct stat sb;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0) {
        rc = api_path_error(path, err, errlen, AT_EIO, "cannot open: %s", strerror(errno));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = api_path_error(path, err, errlen, AT_EIO, "not a regular file");
        goto done;
    }
    if (sb.st_size < 8) {
        rc = api_path_error(path, err, errlen, AT_EPARSE,
                            "the file has %lld bytes, too few for the 8-byte header length",
                            (long long)sb.st_size);
        goto done;
    }
    st->size = (size_t)sb.st_size;
    st->map = mmap(NULL, st->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (st->map == MAP_FAILED) {
        st->map = NULL;
        rc = api_path_error(path, err, errlen, AT_EIO, "cannot map %zu bytes: %s", st->size,
                            strerror(errno));
        goto done;
    }
    rc = parse_mapped(st, err, errlen);

done:
    if (fd >= 0) close(fd);
    if (rc == AT_OK)
        *out = st;
    else
        api_safetensors_close(st);
    return rc;
}

int api_safetensors_open_memory(const char *name, const unsigned char *bytes, size_t size,
                                api_safetensors **out, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen) err[0] = '\0';
    api_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(name))) {
        free(st);
        return api_path_error(name, err, errlen, AT_ENOMEM, "out of memory");
    }
    if (size < 8) {
        api_safetensors_close(st);
        return api_path_error(name, err, errlen, AT_EPARSE,
                              "%zu bytes, too few for the 8-byte header length", size);
    }
    st->map = (unsigned char *)bytes; /* never written: tensors are read or copied */
    st->size = size;
    st->borrowed = true;
    int rc = parse_mapped(st, err, errlen);
    if (rc == AT_OK)
        *out = st;
    else
        api_safetensors_close(st);
    return rc;
}

void api_safetensors_close(api_safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->ncopies; i++)
        free(st->copies[i]);
    free(st->copies);
    free(st->tensors);
    cJSON_Delete(st->header);
    if (st->map && !st->borrowed) munmap(st->map, st->size);
    free(st->path);
    free(st);
}

const char *api_safetensors_path(const api_safetensors *st)
{
    return st->path;
}

size_t api_safetensors_count(const api_safetensors *st)
{
    return st->count;
}

const api_st_tensor *api_safetensors_at(const api_safetensors *st, size_t i)
{
    return i < st->count ? &st->tensors[i] : NULL;
}

const api_st_tensor *api_safetensors_find(const api_safetensors *st, const char *name)
{
    for (size_t i = 0; i < st->count; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

const char *api_safetensors_metadata(const api_safetensors *st, const char *key)
{
    const cJSON *v = st->metadata ? cJSON_GetObjectItemCaseSensitive(st->metadata, key) : NULL;
    return v ? v->valuestring : NULL;
}

int api_safetensors_f32(api_safetensors *st, const api_st_tensor *t, const float **data, char *err,
                        size_t errlen)
{
    size_t n = (size_t)t->numel;
    const float *vals;
    *data = NULL;
    if (t->dtype == API_ST_F32 && ((uintptr_t)t->bytes % sizeof(float)) == 0) {
        vals = (const float *)(const void *)t->bytes;
    } else {
        float **grown = realloc(st->copies, (st->ncopies + 1) * sizeof *grown);
        if (!grown) return api_path_error(st->path, err, errlen, AT_ENOMEM, "out of memory");
        st->copies = grown;
        float *copy = malloc(n ? n * sizeof(float) : 1);
        if (!copy)
            return api_path_error(st->path, err, errlen, AT_ENOMEM,
                                  "tensor %s: out of memory for %zu floats", t->name, n);
        st->copies[st->ncopies++] = copy;
        if (t->dtype == API_ST_F16)
            at_f16_to_f32_array(t->bytes, n, copy);
        else if (t->dtype == API_ST_BF16)
            at_bf16_to_f32_array(t->bytes, n, copy);
        else
            memcpy(copy, t->bytes, n * sizeof(float));
        vals = copy;
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(vals[i]))
            return api_path_error(st->path, err, errlen, AT_EPARSE, "tensor %s: element %zu is %s",
                                  t->name, i,
                                  isnan(vals[i]) ? "nan"
                                  : vals[i] > 0  ? "inf"
                                                 : "-inf");
    *data = vals;
    return AT_OK;
}
