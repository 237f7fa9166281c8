/* The protocols attnd speaks, and what their responses share. */
#include "protocol.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const api_protocol *const api_protocols[] = {&api_v1_protocol, &api_v2_protocol, NULL};

const api_protocol *api_protocol_for(const char *path)
{
    for (int i = 0; api_protocols[i]; i++) {
        const char *prefix = api_protocols[i]->prefix;
        size_t n = strlen(prefix);
        if (strncmp(path, prefix, n) == 0 && (path[n] == '/' || path[n] == '\0'))
            return api_protocols[i];
    }
    return NULL;
}

int api_http_response_header(api_http_response *r, const char *name, const char *fmt, ...)
{
    if (r->nheaders >= API_HTTP_HEADERS_MAX) return -1;
    r->headers[r->nheaders].name = name;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->headers[r->nheaders].value, sizeof r->headers[r->nheaders].value, fmt, ap);
    va_end(ap);
    r->nheaders++;
    return 0;
}

void api_http_response_error(api_http_response *out, const api_error *err)
{
    out->status = api_error_http_status(err->kind);
    if (out->status == 503) api_http_response_header(out, "Retry-After", "1");
}

void api_http_response_free(api_http_response *r)
{
    api_buf_free(&r->body);
    *r = (api_http_response){0};
}
