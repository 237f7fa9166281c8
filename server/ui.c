/* The table of the files compiled into attnd from server/ui/: URL path, media type and bytes
 * (the byte arrays come from $(BUILD)/gen/ui_data.c, which the Makefile writes). */
#include "ui.h"

#include <string.h>

#define UI_FILE(sym)                                                                               \
    extern const unsigned char srv_ui_##sym[];                                                     \
    extern const size_t srv_ui_##sym##_len;
UI_FILE(index_html)
UI_FILE(app_js)
UI_FILE(style_css)
UI_FILE(openapi_json)
#undef UI_FILE

/* The lengths are link-time constants (sizes of arrays defined in another file), hence
 * pointers. */
static const struct {
    const char *path, *content_type;
    const unsigned char *data;
    const size_t *len;
    bool is_page;
} assets[] = {
    {"/", "text/html; charset=utf-8", srv_ui_index_html, &srv_ui_index_html_len, true},
    {"/ui/app.js", "text/javascript; charset=utf-8", srv_ui_app_js, &srv_ui_app_js_len, false},
    {"/ui/style.css", "text/css; charset=utf-8", srv_ui_style_css, &srv_ui_style_css_len, false},
    {"/openapi.json", "application/json", srv_ui_openapi_json, &srv_ui_openapi_json_len, false},
};

bool srv_ui_find(const char *url, srv_asset *out)
{
    for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++)
        if (!strcmp(assets[i].path, url)) {
            *out = (srv_asset){assets[i].path, assets[i].content_type, assets[i].data,
                               *assets[i].len, assets[i].is_page};
            return true;
        }
    return false;
}
