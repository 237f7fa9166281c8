/* The files attnd serves as they are: the explorer page (GET /, its script and style under
 * /ui/) and the OpenAPI description (GET /openapi.json). They live in server/ui/ and are
 * compiled into the binary by the Makefile (tools/embed_files.sh), so the page works with no
 * files beside the daemon and no network. */
#ifndef SRV_UI_H
#define SRV_UI_H

#include <stdbool.h>
#include <stddef.h>

typedef struct srv_asset {
    const char *path;         /* the URL path, e.g. "/ui/app.js" */
    const char *content_type; /* with charset for text */
    const unsigned char *data;
    size_t len;
    bool is_page; /* an HTML page: answered with a Content-Security-Policy */
} srv_asset;

/* The asset served at the URL path `url` (exact match, no query string) into *out; false when
 * there is none. Its data is static: valid for the life of the process. Thread-safe. */
bool srv_ui_find(const char *url, srv_asset *out);

#endif
