/* Exact integers from JSON: finding a top-level member's token in the body (json_scan.c's
 * lexer steps over the values before it), and the checks that turn a number into an integer
 * in range or say why it is not one. */
#include "json_number.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "float_format.h"
#include "json_scan.h"
#include "json_tensor.h"

#define TOKEN_SHOWN 40 /* characters of a client's number echoed in a message */

bool api_json_member_text(const char *body, size_t len, int index, const char **text,
                          size_t *text_len)
{
    const char *p = body, *end = body + len;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3; /* cJSON skips a UTF-8 BOM */
    p = api_json_skip_blank(p, end);
    if (p == end || *p != '{') return false;
    p++;
    for (int m = 0;; m++) {
        p = api_json_skip_blank(p, end);
        if (p == end || *p != '"') return false;
        p = api_json_skip_value(p, end); /* the key */
        if (!p) return false;
        p = api_json_skip_blank(p, end);
        if (p == end || *p != ':') return false;
        p = api_json_skip_blank(p + 1, end);
        const char *start = p;
        p = api_json_skip_value(p, end);
        if (!p) return false;
        if (m == index) {
            *text = start;
            *text_len = (size_t)(p - start);
            return p > start;
        }
        p = api_json_skip_blank(p, end);
        if (p == end || *p != ',') return false;
        p++;
    }
}

/* The number as the client wrote it when known, else its shortest double text. */
static const char *shown(const cJSON *node, const char *text, size_t text_len, char *buf,
                         size_t buflen)
{
    if (text && text_len) {
        if (text_len > TOKEN_SHOWN)
            snprintf(buf, buflen, "%.*s...", TOKEN_SHOWN, text);
        else
            snprintf(buf, buflen, "%.*s", (int)text_len, text);
        return buf;
    }
    char num[API_FLOAT_FORMAT_MAX];
    if (api_double_format(node->valuedouble, num) == 0) snprintf(num, sizeof num, "a number");
    snprintf(buf, buflen, "%s", num);
    return buf;
}

int api_json_read_int(const cJSON *node, const char *name, const char *field, const char *want,
                      int64_t min, int64_t max, int64_t *out, api_error *err)
{
    if (!cJSON_IsNumber(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, field, "%s: expected %s, got %s", name,
                             want, api_json_type_name(node));
    double v = node->valuedouble;
    char num[TOKEN_SHOWN + 8];
    if (!(v >= (double)min && v <= (double)max) || v != floor(v))
        return api_error_set(err, API_ERR_INVALID_VALUE, field, "%s: expected %s, got %s", name,
                             want, shown(node, NULL, 0, num, sizeof num));
    *out = (int64_t)v;
    return 0;
}

int api_json_read_u64(const cJSON *node, const char *text, size_t text_len, const char *name,
                      uint64_t *out, api_error *err)
{
    static const char range[] = "an integer 0..18446744073709551615 (2^64 - 1)";
    if (!cJSON_IsNumber(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, name, "%s: expected %s, got %s", name,
                             range, api_json_type_name(node));
    char num[TOKEN_SHOWN + 8];
    shown(node, text, text_len, num, sizeof num);
    bool digits = text && text_len > 0;
    for (size_t i = 0; digits && i < text_len; i++)
        digits = text[i] >= '0' && text[i] <= '9';
    if (digits) {
        uint64_t v = 0;
        for (size_t i = 0; i < text_len; i++) {
            unsigned dgt = (unsigned)(text[i] - '0');
            if (v > (UINT64_MAX - dgt) / 10)
                return api_error_set(err, API_ERR_INVALID_VALUE, name,
                                     "%s: %s is larger than 18446744073709551615 (2^64 - 1)", name,
                                     num);
            v = v * 10 + dgt;
        }
        *out = v;
        return 0;
    }
    /* A sign, a fraction or an exponent: judge the double, exact up to 2^53. */
    double v = node->valuedouble;
    if (!(v >= 0) || v != floor(v))
        return api_error_set(err, API_ERR_INVALID_VALUE, name, "%s: expected %s, got %s", name,
                             range, num);
    if (v > (double)API_JSON_EXACT_INT)
        return api_error_set(err, API_ERR_INVALID_VALUE, name,
                             "%s: %s is above 2^53, where JSON numbers are no longer exact in "
                             "doubles; write the seed as plain digits (up to "
                             "18446744073709551615)",
                             name, num);
    *out = (uint64_t)v;
    return 0;
}
