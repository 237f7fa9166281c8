/* The body of POST /v2/models/{name}/infer as the Open Inference Protocol frames it: a JSON
 * header (id, parameters, inputs, outputs), followed, when the Inference-Header-Content-Length
 * header gives the JSON's length, by the raw bytes of the inputs that say
 * "parameters": {"binary_data_size": N}, in the order of the inputs (Triton's binary tensor
 * data extension). Parsed here into a model-neutral form; each model (attention_model.c,
 * token_model.c) maps the inputs it knows into its request. Internal to api/v2/. */
#ifndef API_V2_INFER_REQUEST_H
#define API_V2_INFER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../api.h"
#include "../shape.h"
#include "datatype.h"

#define API_V2_MAX_TENSORS 16 /* inputs, and outputs, a request may list */

/* One input as the header declares it, with its bytes once the body is framed. */
typedef struct api_v2_input {
    const char *name; /* in the parsed header */
    api_v2_datatype datatype;
    api_shape shape;     /* as declared: rank 0..API_SHAPE_MAX_RANK, sizes >= 1 */
    int64_t elements;    /* product of the sizes (saturating) */
    int64_t binary_size; /* its binary_data_size, or -1 when it carries JSON data */
    const void *bin;     /* its binary_size bytes in the body (binary inputs) */
    const cJSON *data;   /* its "data" (JSON inputs): a text tensor (json_scan.h) or value */
} api_v2_input;

/* One output the request asks for. */
typedef struct api_v2_output {
    const char *name; /* in the parsed header */
    int binary;       /* its "binary_data": 1 true, 0 false, -1 not said */
} api_v2_output;

typedef struct api_v2_infer {
    cJSON *root;           /* the header (owned; refers to the body's text) */
    const char *id;        /* "id", or NULL */
    const cJSON *params;   /* the "parameters" object, or NULL */
    bool binary_output;    /* parameters.binary_data_output */
    int ninputs, noutputs; /* noutputs 0 and has_outputs false: every output */
    bool has_outputs;
    api_v2_input inputs[API_V2_MAX_TENSORS];
    api_v2_output outputs[API_V2_MAX_TENSORS];
} api_v2_infer;

/* Parses and frames body[0..len). `header_length` is the value of the request's
 * Inference-Header-Content-Length header, or NULL when it has none (the body is then JSON
 * only). Checks, each with a 400 naming what is wrong: the header length (digits, at most the
 * body's length), the JSON of the header (json_scan.h's rules; unknown members refused; at most
 * API_V2_MAX_TENSORS inputs and outputs, else 413), each input's name (distinct), shape (rank
 * <= API_SHAPE_MAX_RANK, sizes >= 1: attnd has no empty tensors), datatype (datatype.h) and exactly
 * one of data and binary_data_size, each binary input's size against its shape and datatype (BYTES:
 * the elements' lengths walked), and that the binary sizes add up to exactly the bytes after the
 * header. `max_values` bounds the JSON numbers kept while parsing (json_scan.h). The
 * parameters are left for the model to read (parameters.h), except binary_data_output. Returns 0
 * and *out (free with api_v2_infer_free; the body must outlive it), or an HTTP status with *err
 * filled and *out empty. Thread-safe. */
int api_v2_infer_parse(const char *body, size_t len, const char *header_length, int64_t max_values,
                       api_v2_infer *out, api_error *err);

/* Frees what api_v2_infer_parse made and empties r. An empty r is a no-op. */
void api_v2_infer_free(api_v2_infer *r);

/* The input called `name`, or NULL. */
const api_v2_input *api_v2_infer_input(const api_v2_infer *r, const char *name);

/* Checks every input name against names[0..n) (400 invalid_value "unknown input 'input0' of
 * model 'attention'; its inputs are query, key, ...") and, when the request lists outputs,
 * every output name against outputs[0..nout). Returns 0 or 400. */
int api_v2_infer_check_names(const api_v2_infer *r, const char *model, const char *const *names,
                             int n, const char *const *outputs, int nout, api_error *err);

#endif
