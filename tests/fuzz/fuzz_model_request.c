/* libFuzzer harness: any bytes as a POST /v1/models/default/attention body for the built-in
 * model, decoded with small limits, run when valid and encoded. Built and run by `make fuzz`. */
#include <stddef.h>
#include <stdint.h>

#include "../../api/api.h"
#include "../../api/buf.h"
#include "../../api/model_registry.h"
#include "../../api/v1/v1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static api_model_registry *models;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!models) models = api_model_registry_new(); /* lives for the whole run */
    const api_model *model = api_model_registry_find(models, "default");
    const api_limits limits = {.max_elements = 1 << 14, .max_score_elements = 4096};
    api_model_request *req = NULL;
    api_error err;
    api_buf out = {0};
    if (api_v1_decode_model_attention((const char *)data, size, model, &limits, &req, &err) == 0 &&
        api_model_attention_run(req, NULL, 0, &err) == 0)
        api_v1_encode_model_attention(req, &out, &err);
    else
        api_v1_encode_error(&err, &out);
    api_buf_free(&out);
    api_model_request_free(req);
    return 0;
}
