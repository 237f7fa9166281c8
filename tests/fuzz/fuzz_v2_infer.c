/* libFuzzer harness: any bytes as a POST /v2/models/attention/infer request: the first line
 * (up to '\n') is the Inference-Header-Content-Length value ("-" for none), the rest the body.
 * Parsed and framed, decoded with small limits, computed when valid and encoded, as the server
 * does. Built and run by `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../api/api.h"
#include "../../api/buf.h"
#include "../../api/v2/attention_model.h"
#include "../../api/v2/infer_request.h"
#include "../../api/v2/metadata.h"
#include "../../api/v2/response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const api_limits limits = {.max_elements = 4096, .max_score_elements = 4096};
    const uint8_t *nl = memchr(data, '\n', size < 24 ? size : 24);
    char hl[24] = "";
    const char *header = NULL;
    if (nl) {
        memcpy(hl, data, (size_t)(nl - data));
        header = strcmp(hl, "-") == 0 ? NULL : hl;
        size -= (size_t)(nl - data) + 1;
        data = nl + 1;
    }
    api_v2_infer r;
    api_job_wire *w = NULL;
    api_attention_request *req = NULL;
    api_error err;
    api_buf out = {0};
    size_t header_len;
    int rc = api_v2_infer_parse((const char *)data, size, header, limits.max_elements, &r, &err);
    if (!rc) {
        rc = api_v2_infer_check_names(&r, "attention", api_v2_attention_inputs,
                                      API_V2_ATTENTION_NINPUTS, api_v2_attention_outputs,
                                      API_V2_ATTENTION_NOUTPUTS, &err);
        if (!rc) rc = api_v2_wire_new(&r, "attention", &w, &err);
        if (!rc) rc = api_v2_attention_decode(&r, w, &limits, &req, &err);
        api_v2_infer_free(&r);
    }
    if (!rc) rc = api_attention_run(req, NULL, 0, &err);
    if (!rc)
        api_v2_attention_encode(req, w, &out, &header_len, &err);
    else
        api_v2_error_body(&err, &out);
    api_buf_free(&out);
    api_attention_request_free(req);
    api_v2_wire_free(w);
    return 0;
}
