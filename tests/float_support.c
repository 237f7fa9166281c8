/* The helpers of float_support.h. */
#include "float_support.h"

#include <stdlib.h>
#include <string.h>

#include "../api/float_parse.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

uint64_t rng(void)
{
    uint64_t s = rng_state; /* xorshift64 */
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return rng_state = s;
}

uint32_t bits_of(float v)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

float float_of(uint32_t b)
{
    float v;
    memcpy(&v, &b, sizeof v);
    return v;
}

long parse_at_end(const char *text, size_t n, float *out)
{
    static char *block;
    enum { BLOCK = 1024 };
    if (!block) block = malloc(BLOCK);
    if (n > BLOCK) return -2;
    char *p = block + BLOCK - n;
    memcpy(p, text, n);
    const char *end = api_float_parse(p, block + BLOCK, out);
    const char *end2 = api_json_number_end(p, block + BLOCK);
    if (end != end2) return -3; /* the two must agree on the token */
    return end ? end - p : -1;
}

long parse_padded(const char *text, size_t n, const char *tail, float *out)
{
    char buf[1200];
    if (n + 80 > sizeof buf) return -2;
    memcpy(buf, text, n);
    memset(buf + n, ' ', 80);
    memcpy(buf + n, tail, strlen(tail));
    const char *end = api_float_parse(buf, buf + n + 80, out);
    const char *end2 = api_json_number_end(buf, buf + n + 80);
    if (end != end2) return -3;
    return end ? end - buf : -1;
}
