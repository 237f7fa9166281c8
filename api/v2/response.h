/* The response of an Open Inference Protocol infer request: what its decode keeps for the
 * encode (the request id, the outputs asked for and in which form: the job's wire state), and
 * the response itself, {"model_name", "model_version", "id", "outputs": [{"name",
 * "datatype", "shape", "data" or "parameters": {"binary_data_size"}}]} followed by the binary
 * outputs' bytes in the order of the outputs. Internal to api/v2/. */
#ifndef API_V2_RESPONSE_H
#define API_V2_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../api.h"
#include "../shape.h"
#include "datatype.h"
#include "infer_request.h"

#define API_V2_OUTPUT_NAME_MAX 32

/* What the encode of an infer request needs of its request, copied out of the body. */
typedef struct api_job_wire {
    char model[64];     /* the model's name, echoed as model_name */
    char *id;           /* the request's id (malloc'd), or NULL */
    bool has_outputs;   /* the request listed its outputs */
    bool binary_output; /* parameters.binary_data_output */
    int noutputs;
    struct {
        char name[API_V2_OUTPUT_NAME_MAX];
        int binary; /* 1, 0, or -1: binary_output decides */
    } outputs[API_V2_MAX_TENSORS];
} api_job_wire;

/* The wire state of `r` for model `model`, whose output names api_v2_infer_check_names has
 * checked (each shorter than API_V2_OUTPUT_NAME_MAX). Returns 0 and *out (free with
 * api_v2_wire_free), or 500 when out of memory. */
int api_v2_wire_new(const api_v2_infer *r, const char *model, api_job_wire **out, api_error *err);
void api_v2_wire_free(api_job_wire *w);

/* Whether the response carries output `name`: every output when the request listed none
 * (`by_default` then says whether this one is part of "every"), else those it listed. */
bool api_v2_wire_wants(const api_job_wire *w, const char *name, bool by_default);

/* Whether output `name` goes out as binary: its own "binary_data" when it said, else the
 * request's binary_data_output. */
bool api_v2_wire_binary(const api_job_wire *w, const char *name);

/* One output of a computed request. Exactly the pointer of its datatype is set. */
typedef struct api_v2_result {
    const char *name;
    api_v2_datatype datatype; /* FP32, INT64 or BYTES */
    api_shape shape;
    const float *f32;
    const int64_t *i64;
    /* BYTES: element i's bytes and length (valid UTF-8 for the JSON form). */
    const char *(*bytes_at)(const void *ctx, int64_t i, size_t *n);
    const void *ctx;
} api_v2_result;

/* Appends the response of `w`'s request holding res[0..n) to out, in the order the request
 * listed its outputs (else res' order), each as binary or JSON data as `w` says; *header_len
 * gets the JSON header's length when any output is binary (answer with it as
 * Inference-Header-Content-Length and application/octet-stream), else 0 (application/json).
 * Returns 0, or 500 with *err filled when out of memory. */
int api_v2_write_response(const api_job_wire *w, const api_v2_result *res, int n, api_buf *out,
                          size_t *header_len, api_error *err);

#endif
