/* The small JSON writers of responses (json_write.h). */
#include "json_write.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "float_format.h"

/* The UTF-8 sequence at s[0..n) (s[0] >= 0x80): returns its length when it is valid, else 0
 * with *bad the bytes to replace by one U+FFFD (the lead byte and the continuation bytes that
 * follow it, as far as the sequence it announces goes). */
static size_t utf8_len(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned char c = s[0];
    size_t len = c >= 0xf0 && c <= 0xf4  ? 4
                 : c >= 0xe0 && c < 0xf0 ? 3
                 : c >= 0xc2 && c < 0xe0 ? 2
                                         : 0;
    unsigned cp = len == 4 ? c & 0x07u : len == 3 ? c & 0x0fu : c & 0x1fu;
    size_t i = 1;
    for (; i < len && i < n && (s[i] & 0xc0) == 0x80; i++)
        cp = cp << 6 | (s[i] & 0x3fu);
    bool ok = len > 0 && i == len && !(len == 3 && cp < 0x800) && !(len == 4 && cp < 0x10000) &&
              cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    *bad = i;
    return ok ? len : 0;
}

void api_json_write_string(api_buf *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    api_buf_append(out, "\"", 1);
    size_t run = 0; /* bytes since the last escape, copied as they are in one append */
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        size_t bad = 1, u = c >= 0x80 ? utf8_len(p + i, n - i, &bad) : 0;
        if (u) {
            i += u;
            continue;
        }
        api_buf_append(out, s + run, i - run);
        if (c == '"' || c == '\\')
            api_buf_printf(out, "\\%c", c);
        else if (c < 0x20)
            api_buf_printf(out, "\\u%04x", c);
        else
            api_buf_puts(out, "\\ufffd");
        i += bad;
        run = i;
    }
    api_buf_append(out, s + run, n - run);
    api_buf_append(out, "\"", 1);
}

/* v in decimal at w (room for 20 bytes), without printf: every response writes a dozen of
 * these for its shapes, and printf was a tenth of a tiny request's instructions. Returns the
 * length. */
static size_t int_text(int64_t v, char *w)
{
    char rev[20];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
    do {
        rev[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) w[len++] = '-';
    while (n)
        w[len++] = rev[--n];
    return len;
}

void api_json_write_ints(api_buf *out, const int64_t *v, int64_t n)
{
    api_buf_append(out, "[", 1);
    for (int64_t i = 0; i < n; i++) {
        char num[24];
        size_t len = 0;
        if (i) num[len++] = ',';
        len += int_text(v[i], num + len);
        api_buf_append(out, num, len);
    }
    api_buf_append(out, "]", 1);
}

void api_json_write_shape(api_buf *out, const api_shape *s)
{
    api_json_write_ints(out, s->ne, s->rank < API_SHAPE_MAX_RANK ? s->rank : API_SHAPE_MAX_RANK);
}

void api_json_write_options(api_buf *out, const api_attention_spec *o, float scale)
{
    char num[API_FLOAT_FORMAT_MAX];
    if (api_float_format(scale, num) == 0) memcpy(num, "null", sizeof "null");
    api_buf_puts(out, ",\"score\":\"");
    api_buf_puts(out, api_score_name(o->score));
    api_buf_puts(out, "\",\"scale\":");
    api_buf_puts(out, num);
    api_buf_puts(out, ",\"selection\":\"");
    api_buf_puts(out, api_selection_name(o->selection));
    api_buf_puts(out, "\"");
    if (o->selection != AT_SELECT_SOFT) {
        api_buf_puts(out, ",\"k\":");
        size_t len = int_text(o->k, num);
        api_buf_append(out, num, len);
        api_buf_puts(out, o->normalize ? ",\"normalize\":true" : ",\"normalize\":false");
    }
    if (o->selection == AT_SELECT_SAMPLE)
        api_buf_printf(out, ",\"seed\":%llu", (unsigned long long)o->seed);
    api_buf_puts(out, o->causal ? ",\"causal\":true" : ",\"causal\":false");
}

void api_json_write_fixed3(api_buf *out, double v)
{
    /* Rounded to thousandths in integers: the same text as printf's but for halfway cases,
     * which printf rounds on the binary value, and -0 (a timing's last digit either way). */
    if (!(v > -1e15 && v < 1e15)) {
        api_buf_printf(out, "%.3f", v);
        return;
    }
    char num[32];
    size_t len = 0;
    if (v < 0) {
        num[len++] = '-';
        v = -v;
    }
    int64_t t = (int64_t)(v * 1000.0 + 0.5);
    len += int_text(t / 1000, num + len);
    num[len++] = '.';
    int64_t frac = t % 1000;
    num[len++] = (char)('0' + frac / 100);
    num[len++] = (char)('0' + frac / 10 % 10);
    num[len++] = (char)('0' + frac % 10);
    api_buf_append(out, num, len);
}
