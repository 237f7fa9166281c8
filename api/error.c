/* Client-facing error kinds: their wire codes and HTTP statuses, generated from API_ERROR_MAP so
 * that the three can never drift apart. */
#include "api.h"
#include "error_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *code;
    int http;
} error_info[API_ERR_COUNT] = {
#define API_ERROR_INFO(name, str, http) [API_ERR_##name] = {str, http},
    API_ERROR_MAP(API_ERROR_INFO)
#undef API_ERROR_INFO
};

int api_error_set(api_error *e, api_error_kind kind, const char *field, const char *fmt, ...)
{
    e->kind = kind;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return api_error_http_status(kind);
}

const char *api_error_code(api_error_kind kind)
{
    if ((int)kind < 0 || kind >= API_ERR_COUNT) return "internal";
    return error_info[kind].code;
}

int api_error_http_status(api_error_kind kind)
{
    if ((int)kind < 0 || kind >= API_ERR_COUNT) return 500;
    return error_info[kind].http;
}

int api_path_error(const char *path, char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (!errlen) return rc;
    int n = snprintf(err, errlen, "%s: ", path);
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return rc;
}
