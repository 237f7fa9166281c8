/* The small JSON writers of responses (api/json_write.h): integers and shapes as JSON text. */
#include <stdint.h>
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
