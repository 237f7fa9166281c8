/* Tensor views: building contiguous views, counting elements without overflow, and printing
 * shapes the way a user wrote them ("[2, 3, 4]"). */
#include "tensor.h"

#include <stdio.h>

at_tensor at_tensor_make(at_dtype dtype, int rank, const int64_t *ne, void *data)
{
    at_tensor t = {.dtype = dtype, .rank = rank, .data = data};
    int64_t stride = 1;
    for (int i = AT_MAX_RANK - 1; i >= 0; i--) {
        if (i < rank) {
            t.ne[i] = ne[i];
            t.nb[i] = stride;
            stride *= ne[i];
        } else {
            t.ne[i] = 1;
            t.nb[i] = 0;
        }
    }
    return t;
}

int64_t at_tensor_elements(const at_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->ne[i];
    return n;
}

bool at_shape_elements_checked(int rank, const int64_t *ne, int64_t limit, int64_t *out)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (ne[i] < 1 || ne[i] > limit / n) return false;
        n *= ne[i];
    }
    if (n > limit) return false;
    *out = n;
    return true;
}

char *at_shape_str(int rank, const int64_t *ne, char *buf, size_t buflen)
{
    if (buflen == 0) return buf;
    size_t used = 0;
    buf[0] = '\0';
    for (int i = -1; i <= rank && used < buflen; i++) {
        int w;
        if (i == -1)
            w = snprintf(buf + used, buflen - used, "[");
        else if (i == rank)
            w = snprintf(buf + used, buflen - used, "]");
        else
            w = snprintf(buf + used, buflen - used, "%s%lld", i ? ", " : "", (long long)ne[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    return buf;
}
