/* A reader of safetensors files (8-byte little-endian header length, a JSON header, then the
 * raw tensor bytes) that trusts nothing in the file: every size, offset, dtype and shape is
 * checked before a byte of tensor data is touched. The file is mapped read-only; F32 tensors
 * are used where they lie, F16 and BF16 ones are converted to F32 once. */
#ifndef API_SAFETENSORS_H
#define API_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_ST_MAX_RANK   8
#define API_ST_MAX_HEADER ((uint64_t)100 << 20) /* the header length limit, 100 MiB */

typedef enum api_st_dtype {
    API_ST_F32,
    API_ST_F16,
    API_ST_BF16,
} api_st_dtype;

/* One tensor of a file. Everything it points at belongs to the open file. */
typedef struct api_st_tensor {
    const char *name; /* NUL-terminated */
    api_st_dtype dtype;
    int rank;                       /* 0..API_ST_MAX_RANK */
    int64_t shape[API_ST_MAX_RANK]; /* each >= 0 */
    int64_t numel;                  /* product of the shape (1 for rank 0) */
    uint64_t begin, end;            /* data_offsets, relative to the start of the data */
    const unsigned char *bytes;     /* end - begin bytes in the mapping */
} api_st_tensor;

typedef struct api_safetensors api_safetensors;

/* Maps and validates the file at `path`: at least 8 bytes; a header length of at most
 * API_ST_MAX_HEADER and at most the file's size - 8; a header that is one JSON object (trailing
 * spaces allowed) whose "__metadata__", if present, maps strings to strings and whose other
 * members are tensors {"dtype", "shape", "data_offsets"} and nothing else; dtype F32, F16 or
 * BF16; a shape of at most API_ST_MAX_RANK integers >= 0; data_offsets [begin, end] holding
 * exactly numel * dtype size bytes inside the data; tensors that, sorted by offset, cover the
 * data exactly (no overlap, no gap, nothing left at the end); no name twice. Returns AT_OK with
 * the file in *out (close with api_safetensors_close), or AT_EIO (cannot open, read or map),
 * AT_EPARSE (format), AT_ELIMIT (header too long) or AT_ENOMEM, with *out NULL and a message
 * in err that starts with the path: "m.safetensors: tensor in_proj_weight: data_offsets
 * [0, 100] hold 100 bytes but shape [192, 64] F32 needs 49152". Thread-safe (no globals). */
int api_safetensors_open(const char *path, api_safetensors **out, char *err, size_t errlen);

/* api_safetensors_open for a file already in memory, bytes[0..size), e.g. one compiled into
 * the binary: the same checks, and `name` stands for the path in messages and in
 * api_safetensors_path. The bytes are not copied and must stay valid and unchanged until
 * api_safetensors_close (which does not free them). Same returns as api_safetensors_open. */
int api_safetensors_open_memory(const char *name, const unsigned char *bytes, size_t size,
                                api_safetensors **out, char *err, size_t errlen);

/* Unmaps the file and frees it and every converted tensor. NULL is a no-op. */
void api_safetensors_close(api_safetensors *st);

/* Tells the kernel that the file's bytes [p, p + bytes) will not be read for a while (a copy
 * is used instead), so they leave the process's resident memory; a later read maps them in
 * again from the file, unchanged. Does nothing for memory outside the file's mapping (a
 * converted F16 tensor, a model held in memory). */
void api_safetensors_release(const api_safetensors *st, const void *p, size_t bytes);

/* Whether [p, p + bytes) lies in the file's mapping (an F32 tensor used in place), rather than
 * in memory of its own (a converted F16 or BF16 tensor). */
bool api_safetensors_mapped(const api_safetensors *st, const void *p, size_t bytes);

/* The path the file was opened with (owned by st). */
const char *api_safetensors_path(const api_safetensors *st);

/* Number of tensors, and tensor i (0 <= i < count) in the order of their data offsets. */
size_t api_safetensors_count(const api_safetensors *st);
const api_st_tensor *api_safetensors_at(const api_safetensors *st, size_t i);

/* The tensor called `name`, or NULL. */
const api_st_tensor *api_safetensors_find(const api_safetensors *st, const char *name);

/* The "__metadata__" value of `key` (owned by st), or NULL when absent. */
const char *api_safetensors_metadata(const api_safetensors *st, const char *key);

/* "F32", "F16" or "BF16". Static storage. */
const char *api_st_dtype_name(api_st_dtype dtype);

/* The tensor's values as floats in *data: the mapped bytes themselves for an F32 tensor whose
 * data is 4-byte aligned, else a copy (converted from F16 or BF16, or realigned) that st owns
 * and frees at close; a second call for the same tensor converts again, so call it once per
 * tensor. Every value must be finite: a NaN or infinity is refused with AT_EPARSE, "tensor
 * out_proj.bias: element 3 is nan". Returns AT_OK or that, or AT_ENOMEM. Not thread-safe for
 * one st (it records the copies); loading is single-threaded. */
int api_safetensors_f32(api_safetensors *st, const api_st_tensor *t, const float **data, char *err,
                        size_t errlen);

#endif
