/* The small JSON writers of responses (api/json_write.h): integers and shapes as JSON text. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../api/json_write.h"
#include "harness.h"

TEST(json_write_ints_all_of_int64)
{
    const int64_t v[] = {0, 7, -7, 10, 1234567890123, INT64_MAX, INT64_MIN, -1};
    api_buf out = {0};
    api_json_write_ints(&out, v, (int64_t)(sizeof v / sizeof v[0]));
    ASSERT(!out.oom);
    ASSERT_STREQ(out.data, "[0,7,-7,10,1234567890123,9223372036854775807,-9223372036854775808,-1]");
    api_buf_free(&out);
    api_json_write_ints(&out, v, 0);
    ASSERT_STREQ(out.data, "[]");
    api_buf_free(&out);
    api_shape s = {.rank = 3, .ne = {8, 128, 64}};
    api_json_write_shape(&out, &s);
    ASSERT_STREQ(out.data, "[8,128,64]");
    api_buf_free(&out);
}

/* compute_ms: the text printf's "%.3f" writes, for timings from nanoseconds to days, and
 * printf's own text past the integer range. */
TEST(json_write_fixed3_as_printf)
{
    char want[64];
    const double fixed[] = {0.0,     0.001,    0.0004,     0.0006,     0.25, 1.5, 9.9996,
                            12.3456, 999.9999, 123456.789, 86400000.0, -2.5, 1e17};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        api_buf out = {0};
        api_json_write_fixed3(&out, fixed[i]);
        snprintf(want, sizeof want, "%.3f", fixed[i]);
        ASSERT_STREQ(out.data, want);
        api_buf_free(&out);
    }
    uint64_t x = 88172645463325252ull; /* xorshift: values that are not halfway cases */
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v = (double)(x >> 11) / 9007199254740992.0 * (i % 2 ? 1e6 : 10.0);
        double t = v * 1000.0;
        if (t - (double)(int64_t)t > 0.4999 && t - (double)(int64_t)t < 0.5001) continue;
        api_buf out = {0};
        api_json_write_fixed3(&out, v);
        snprintf(want, sizeof want, "%.3f", v);
        ASSERT_STREQ(out.data, want);
        api_buf_free(&out);
    }
    api_buf out = {0};
    api_json_write_fixed3(&out, INFINITY);
    snprintf(want, sizeof want, "%.3f", INFINITY);
    ASSERT_STREQ(out.data, want);
    api_buf_free(&out);
}
