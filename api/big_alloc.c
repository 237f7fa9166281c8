/* Large buffers on transparent huge pages (big_alloc.h). */
#include "big_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

static size_t round_up(size_t n, size_t to)
{
    return n > SIZE_MAX - (to - 1) ? 0 : (n + to - 1) / to * to;
}

void *api_big_alloc(size_t bytes, size_t align)
{
    if (bytes < API_BIG_ALLOC_MIN) {
        size_t n = round_up(bytes, align);
        return n ? aligned_alloc(align, n) : NULL;
    }
    size_t n = round_up(bytes, HUGE_PAGE);
    if (!n) return NULL;
    void *p = aligned_alloc(HUGE_PAGE, n);
    /* Advice only: without THP the buffer works the same, on small pages. */
    if (p) (void)madvise(p, n, MADV_HUGEPAGE);
    return p;
}

void *api_big_realloc(void *p, size_t bytes)
{
    void *q = realloc(p, bytes);
    if (q && bytes >= API_BIG_ALLOC_MIN) {
        uintptr_t b = ((uintptr_t)q + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
        uintptr_t e = ((uintptr_t)q + bytes) & ~(uintptr_t)(HUGE_PAGE - 1);
        if (e > b) (void)madvise((void *)b, e - b, MADV_HUGEPAGE);
    }
    return q;
}
