/* Choosing the wire format of a request from its Content-Type. The codecs are listed here; a
 * new format is one more entry. */
#include "api.h"

static const api_codec *const codecs[] = {&api_json_codec};

const api_codec *api_codec_for(const char *content_type)
{
    const char *p = content_type;
    while (p && (*p == ' ' || *p == '\t'))
        p++;
    if (!p || !*p) return &api_json_codec; /* no type: clients that send none mean JSON */
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        if (codecs[i]->accepts(content_type)) return codecs[i];
    return NULL;
}
