/* Unit tests of api/json_tensor.c: tensors written as nested JSON arrays. */
#include <math.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "../api/buf.h"
#include "../api/json_tensor.h"
#include "harness.h"

TEST(api_json_tensor_write_shapes_and_null)
{
    api_buf out = {0};
    const float data[] = {1, 2.5f, -0.0f, INFINITY, NAN, 0.1f};
    int64_t ne[] = {2, 1, 3};
    api_json_tensor_write_f32(&out, data, 3, ne);
    ASSERT_STREQ(out.data, "[[[1,2.5,-0]],[[null,null,0.1]]]");
    api_buf_free(&out);

    /* A row longer than one formatting chunk. */
    enum { N = 10000 };
    float *row = malloc(N * sizeof *row);
    for (int i = 0; i < N; i++)
        row[i] = (float)i * -1.2345678e-3f;
    int64_t n1[] = {N};
    api_json_tensor_write_f32(&out, row, 1, n1);
    cJSON *r = cJSON_Parse(out.data);
    ASSERT(cJSON_IsArray(r));
    ASSERT_EQ(cJSON_GetArraySize(r), N);
    int i = 0;
    for (const cJSON *c = r->child; c; c = c->next, i++)
        ASSERT((float)c->valuedouble == row[i]);
    cJSON_Delete(r);
    free(row);
    api_buf_free(&out);
}
