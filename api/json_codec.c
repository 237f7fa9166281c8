/* The JSON wire format of POST /v1/attention: parsing a body (its fields are read in
 * json_request.c), encoding the result and errors. Small objects are written by hand; tensors
 * go through json_tensor.c. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "float_format.h"
#include "json_model.h"
#include "json_request.h"
#include "json_scan.h"
#include "json_tensor.h"
#include "request.h"

/* ---- content type ---- */

/* "application/json" or "application/<anything>+json", any case, parameters after ';' and
 * surrounding blanks ignored. */
static bool json_accepts(const char *ct)
{
    if (!ct) return true;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (!*ct) return true; /* like api_codec_for: no type means JSON */
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    static const char prefix[] = "application/";
    size_t p = sizeof prefix - 1;
    if (n <= p || strncasecmp(ct, prefix, p) != 0) return false;
    const char *sub = ct + p;
    size_t sn = n - p;
    if (sn == 4 && strncasecmp(sub, "json", 4) == 0) return true;
    return sn > 5 && strncasecmp(sub + sn - 5, "+json", 5) == 0;
}

/* ---- decoding ---- */

static int decode_attention(const char *body, size_t len, const api_limits *limits,
                            api_attention_request **out, api_error *err)
{
    /* The fields api_json_read_attention reads: tensors from the text, not cJSON; the options
     * small; key_lengths one count per batch. Nothing else is built. */
    static const api_json_member schema[] = {
        {"query", API_JSON_TENSOR, 0},
        {"key", API_JSON_TENSOR, 0},
        {"value", API_JSON_TENSOR, 0},
        {"mask", API_JSON_TENSOR, 0},
        {"key_lengths", API_JSON_LIST, API_JSON_MAX_BATCH},
        {"additive", API_JSON_OBJECT, 0},
        {"additive.weight", API_JSON_TENSOR, 0},
        {"additive.bias", API_JSON_TENSOR, 0},
        {"additive.v", API_JSON_TENSOR, 0},
#define OPTION_MEMBER(name, str) {str, API_JSON_VALUE, 0},
        API_JSON_OPTIONS(OPTION_MEMBER)
#undef OPTION_MEMBER
            {NULL, API_JSON_VALUE, 0},
    };
    *out = NULL;
    cJSON *root;
    int rc = api_json_parse_checked(body, len, "{\"query\": [[1, 0], [0, 1]]}", schema,
                                    limits ? limits->max_elements : 0, &root, err);
    if (rc) return rc;
    rc = api_json_read_attention(root, body, len, limits, out, err);
    cJSON_Delete(root);
    return rc;
}

/* ---- encoding ---- */

/* Appends s as a JSON string: quotes, backslashes and control characters escaped, and bytes
 * that are not valid UTF-8 (a client's field name may hold any) replaced by U+FFFD, so the
 * output is always valid JSON in UTF-8. */
static void write_string(api_buf *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    api_buf_append(out, "\"", 1);
    while (*p) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            api_buf_append(out, esc, 2);
            p++;
        } else if (c < 0x20) {
            api_buf_printf(out, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            api_buf_append(out, p, 1);
            p++;
        } else {
            /* Length and minimum value of a UTF-8 sequence starting with c. */
            int n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            if (c >= 0xf5) n = 0;
            unsigned cp = n == 4 ? c & 0x07u : n == 3 ? c & 0x0fu : c & 0x1fu;
            int i = 1;
            for (; i < n && (p[i] & 0xc0) == 0x80; i++)
                cp = cp << 6 | (p[i] & 0x3fu);
            bool ok = n > 0 && i == n && !(n == 3 && cp < 0x800) && !(n == 4 && cp < 0x10000) &&
                      cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
            if (ok) {
                api_buf_append(out, p, (size_t)n);
                p += n;
            } else {
                api_buf_puts(out, "\\ufffd");
                p += i > 1 ? i : 1;
            }
        }
    }
    api_buf_append(out, "\"", 1);
}

static void write_shape(api_buf *out, const api_shape *s)
{
    api_buf_append(out, "[", 1);
    for (int i = 0; i < s->rank && i < API_SHAPE_MAX_RANK; i++)
        api_buf_printf(out, i ? ",%lld" : "%lld", (long long)s->ne[i]);
    api_buf_append(out, "]", 1);
}

static int encode_attention(const api_attention_request *req, api_buf *out, api_error *err)
{
    if (!req || !req->computed)
        return api_error_set(err, API_ERR_INTERNAL, "", "the request has not been computed");
    const api_attention_spec *s = &req->spec;
    char num[API_FLOAT_FORMAT_MAX];

    const char *sep = "{";
    if (s->return_context) {
        api_buf_puts(out, "{\"context\":");
        api_json_tensor_write_f32(out, req->out.context, req->context_shape.rank,
                                  req->context_shape.ne);
        sep = ",";
    }
    if (s->return_weights) {
        api_buf_printf(out, "%s\"weights\":", sep);
        api_json_tensor_write_f32(out, req->out.weights, req->weights_shape.rank,
                                  req->weights_shape.ne);
        sep = ",";
    }
    api_buf_printf(out, "%s\"meta\":{\"query_shape\":", sep);
    write_shape(out, &s->query);
    api_buf_puts(out, ",\"key_shape\":");
    write_shape(out, &s->key);
    api_buf_puts(out, ",\"value_shape\":");
    write_shape(out, &s->value);
    api_buf_puts(out, ",\"context_shape\":");
    write_shape(out, &req->context_shape);
    if (s->return_weights) {
        api_buf_puts(out, ",\"weights_shape\":");
        write_shape(out, &req->weights_shape);
    }
    if (api_float_format(at_attention_scale(&req->desc), num) == 0)
        snprintf(num, sizeof num, "null");
    api_buf_printf(out, ",\"score\":\"%s\",\"scale\":%s,\"selection\":\"%s\"",
                   api_score_name(s->score), num, api_selection_name(s->selection));
    if (s->selection != AT_SELECT_SOFT)
        api_buf_printf(out, ",\"k\":%lld,\"normalize\":%s", (long long)s->k,
                       s->normalize ? "true" : "false");
    if (s->selection == AT_SELECT_SAMPLE)
        api_buf_printf(out, ",\"seed\":%llu", (unsigned long long)s->seed);
    api_buf_printf(out, ",\"causal\":%s,\"compute_ms\":%.3f}}\n", s->causal ? "true" : "false",
                   req->compute_seconds * 1e3);
    if (out->oom)
        return api_error_set(err, API_ERR_INTERNAL, "", "out of memory encoding the response");
    return 0;
}

static int encode_error(const api_error *err, api_buf *out)
{
    api_buf_puts(out, "{\"error\":{\"code\":");
    write_string(out, api_error_code(err->kind));
    api_buf_puts(out, ",\"message\":");
    write_string(out, err->message);
    if (err->field[0]) {
        api_buf_puts(out, ",\"field\":");
        write_string(out, err->field);
    }
    api_buf_puts(out, "}}\n"); /* a final newline keeps shells and line-based tools tidy */
    return out->oom ? -1 : 0;
}

const api_codec api_json_codec = {
    .name = "json",
    .media_type = "application/json",
    .accepts = json_accepts,
    .decode_attention = decode_attention,
    .encode_attention = encode_attention,
    .encode_error = encode_error,
    .decode_model_attention = api_json_decode_model_attention,
    .encode_model_attention = api_json_encode_model_attention,
    .encode_models = api_json_encode_models,
    .encode_model = api_json_encode_model,
};
