/* libFuzzer harness: any bytes as a POST /v1/attention body, decoded with small limits (so
 * that each input runs in microseconds), computed when valid and encoded, as the server does.
 * Built and run by `make fuzz`. */
#include <stddef.h>
#include <stdint.h>

#include "../../api/api.h"
#include "../../api/buf.h"
#include "../../api/v1/v1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const api_limits limits = {.max_elements = 4096, .max_score_elements = 4096};
    api_attention_request *req = NULL;
    api_error err;
    api_buf out = {0};
    if (api_v1_decode_attention((const char *)data, size, &limits, &req, &err) == 0 &&
        api_attention_run(req, NULL, 0, &err) == 0)
        api_v1_encode_attention(req, &out, &err);
    else
        api_v1_encode_error(&err, &out);
    api_buf_free(&out);
    api_attention_request_free(req);
    return 0;
}
