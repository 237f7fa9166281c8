/* The Open Inference Protocol's metadata and error bodies: GET /v2 (the server), GET
 * /v2/models/{name}[/versions/1] (a model: its inputs and outputs with -1 for variable
 * dimensions, and its parameters), and {"error": "message"}. Internal to api/v2/. */
#ifndef API_V2_METADATA_H
#define API_V2_METADATA_H

#include "../api.h"

/* The one version of every model. */
#define API_V2_MODEL_VERSION "1"

/* Appends {"name": "attnd", "version": version, "extensions": ["binary_tensor_data"]}. */
void api_v2_server_metadata(const char *version, api_buf *out);

/* Appends the metadata of the model "attention" (model NULL) or of a token model. */
void api_v2_model_metadata(const api_model *model, api_buf *out);

/* Appends {"error": err->message}. */
void api_v2_error_body(const api_error *err, api_buf *out);

#endif
