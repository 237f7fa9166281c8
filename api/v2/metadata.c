/* Metadata bodies written by hand: every string in them is attnd's own (model names are
 * A-Z a-z 0-9 . _ -) except an error's message, which is escaped. */
#include "metadata.h"

#include <stdio.h>
#include <string.h>

#include "../json_write.h"
#include "../model_registry.h"
#include "attention_model.h"
#include "response.h"
#include "token_model.h"

void api_v2_server_metadata(const char *version, api_buf *out)
{
    api_buf_puts(out, "{\"name\":\"attnd\",\"version\":");
    api_json_write_string(out, version, strlen(version));
    api_buf_puts(out, ",\"extensions\":[\"binary_tensor_data\"]}");
}

typedef struct tensor_meta {
    const char *name, *datatype, *shape;
} tensor_meta;

static void tensors(api_buf *out, const char *key, const tensor_meta *t, int n)
{
    api_buf_printf(out, ",\"%s\":[", key);
    for (int i = 0; i < n; i++)
        api_buf_printf(out, "%s{\"name\":\"%s\",\"datatype\":\"%s\",\"shape\":%s}", i ? "," : "",
                       t[i].name, t[i].datatype, t[i].shape);
    api_buf_puts(out, "]");
}

/* The request parameters both kinds of model take. */
static const char options[] =
    "\"score\":\"scaled_dot (the default), dot or additive\","
    "\"scale\":\"a number multiplying the scores (default 1/sqrt(d) for scaled_dot)\","
    "\"selection\":\"soft (the default), topk or sample\","
    "\"k\":\"keys each query row selects, with topk and sample\","
    "\"normalize\":\"true: the selected keys' weights sum to 1 (topk, sample)\","
    "\"seed\":\"the sampling seed, an integer up to 2^53\","
    "\"causal\":\"true: query i attends to keys 0..i only\","
    "\"average_heads\":\"true: weights averaged over the heads\","
    "\"timeout\":\"microseconds, a deadline shorter than the server's\","
    "\"binary_data_output\":\"true: every output as binary data\"";

/* A BERT or GPT-2 folder model's. */
static void folder_metadata(const api_model_info *info, api_buf *out)
{
    bool bert = strcmp(info->model_type, "bert") == 0;
    char ctx[64], w[96];
    snprintf(ctx, sizeof ctx, "[-1,%lld]", (long long)info->embed_dim);
    snprintf(w, sizeof w, "[%lld,%lld,-1,-1]", (long long)info->num_layers,
             (long long)info->num_heads);
    const tensor_meta bert_in[] = {{"text", "BYTES", "[1]"},
                                   {"text_pair", "BYTES", "[1]"},
                                   {"ids", "INT64", "[-1]"},
                                   {"token_type_ids", "INT64", "[-1]"}};
    const tensor_meta gpt2_in[] = {{"text", "BYTES", "[1]"}, {"ids", "INT64", "[-1]"}};
    const tensor_meta outs[] = {{"context", "FP32", ctx},
                                {"weights", "FP32", w},
                                {"tokens", "BYTES", "[-1]"},
                                {"ids", "INT64", "[-1]"}};
    api_buf_puts(out, "{\"name\":");
    api_json_write_string(out, info->name, strlen(info->name));
    api_buf_puts(out, ",\"versions\":[\"1\"],\"platform\":\"attnd\"");
    tensors(out, "inputs", bert ? bert_in : gpt2_in, bert ? 4 : 2);
    tensors(out, "outputs", outs, 4);
    api_buf_printf(
        out,
        ",\"parameters\":{\"timeout\":\"microseconds, a deadline shorter than the "
        "server's\",\"binary_data_output\":\"true: every output as binary data\","
        "\"model\":\"%s, %lld layers, %lld dimensions, %lld heads\",\"sequences\":"
        "\"text (BYTES [1], tokenized by the folder's tokenizer%s) or ids (INT64 [L]%s); "
        "context is the last hidden state [L, E], weights every layer's attention "
        "[N, H, L, L]\"}}",
        info->model_type, (long long)info->num_layers, (long long)info->embed_dim,
        (long long)info->num_heads, bert ? ", with text_pair for a pair" : "",
        bert ? ", with token_type_ids" : "");
}

void api_v2_model_metadata(const api_model *model, api_buf *out)
{
    if (!model) {
        static const tensor_meta in[] = {
            {"query", "FP32", "[-1,-1,-1,-1]"}, {"key", "FP32", "[-1,-1,-1,-1]"},
            {"value", "FP32", "[-1,-1,-1,-1]"}, {"mask", "BOOL", "[-1,-1,-1,-1]"},
            {"key_lengths", "INT64", "[-1]"},   {"additive_weight", "FP32", "[-1,-1]"},
            {"additive_bias", "FP32", "[-1]"},  {"additive_v", "FP32", "[-1]"}};
        static const tensor_meta outs[] = {{"context", "FP32", "[-1,-1,-1,-1]"},
                                           {"weights", "FP32", "[-1,-1,-1,-1]"}};
        api_buf_puts(out, "{\"name\":\"" API_V2_ATTENTION_MODEL
                          "\",\"versions\":[\"1\"],\"platform\":\"attnd\"");
        tensors(out, "inputs", in, 8);
        tensors(out, "outputs", outs, 2);
        api_buf_printf(out,
                       ",\"parameters\":{%s,\"shapes\":\"query [Lq, d], [H, Lq, d] or [B, H, Lq, "
                       "d]; key [.., Lk, d] and value [.., Lk, dv] in the query's rank (both "
                       "optional: the key defaults to the query, the value to the key); mask "
                       "broadcastable to [.., Lq, Lk]; key_lengths [B] (INT32 or INT64); "
                       "additive_weight [da, dq + dk], additive_bias and additive_v [da] for "
                       "score additive; floats as FP32, FP16, BF16 or FP64; context [.., Lq, "
                       "dv], weights [.., Lq, Lk]; leaving weights out of the outputs runs the "
                       "memory-efficient path\"}}",
                       options);
        return;
    }
    api_model_info info;
    api_model_get_info(model, &info);
    if (api_model_hf(model)) {
        folder_metadata(&info, out);
        return;
    }
    char ctx[64], w[96];
    snprintf(ctx, sizeof ctx, "[-1,%lld]", (long long)info.embed_dim);
    snprintf(w, sizeof w, "[%lld,-1,-1]", (long long)info.num_heads);
    const tensor_meta in[] = {{"text", "BYTES", "[1]"},
                              {"ids", "INT64", "[-1]"},
                              {"source_text", "BYTES", "[1]"},
                              {"source_ids", "INT64", "[-1]"}};
    const tensor_meta outs[] = {
        {"context", "FP32", ctx},           {"weights", "FP32", w},
        {"tokens", "BYTES", "[-1]"},        {"ids", "INT64", "[-1]"},
        {"source_tokens", "BYTES", "[-1]"}, {"source_ids", "INT64", "[-1]"}};
    api_buf_puts(out, "{\"name\":");
    api_json_write_string(out, info.name, strlen(info.name));
    api_buf_puts(out, ",\"versions\":[\"1\"],\"platform\":\"attnd\"");
    tensors(out, "inputs", in, 4);
    tensors(out, "outputs", outs, 6);
    api_buf_printf(out,
                   ",\"parameters\":{%s,\"model\":\"%s embeddings, %lld dimensions, %lld heads"
                   "%s\",\"sequences\":\"text (BYTES [1], tokenized by the model) or ids (INT64 "
                   "[L]); source_text or source_ids for cross-attention; weights [H, L, S], "
                   "[L, S] with average_heads\"}}",
                   options, info.embedding, (long long)info.embed_dim, (long long)info.num_heads,
                   info.additive_dim ? ", additive score parameters" : "");
}

void api_v2_error_body(const api_error *err, api_buf *out)
{
    api_buf_puts(out, "{\"error\":");
    api_json_write_string(out, err->message, strlen(err->message));
    api_buf_puts(out, "}");
}
