/* The trained models compiled into attnd: their safetensors files and vocabularies are turned
 * into byte arrays by the Makefile (tools/embed_files.sh over models/zh-en/) and registered like
 * files, with every check a file gets. */
#include <stddef.h>

#include "model_registry.h"

/* $(BUILD)/gen/builtin_models_data.c */
extern const unsigned char api_builtin_zh_en_safetensors[];
extern const size_t api_builtin_zh_en_safetensors_len;
extern const unsigned char api_builtin_vocab_txt[];
extern const size_t api_builtin_vocab_txt_len;

int api_model_registry_add_builtins(api_model_registry *r, char *err, size_t errlen)
{
    return api_model_registry_add_memory(
        r, API_MODEL_ZH_EN, api_builtin_zh_en_safetensors, api_builtin_zh_en_safetensors_len,
        (const char *)api_builtin_vocab_txt, api_builtin_vocab_txt_len, err, errlen);
}
