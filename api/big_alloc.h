/* Memory for the large buffers of a request: its body, its arena, the core's workspace and the
 * encoded response. A buffer of megabytes is written once, start to end, as soon as it is
 * allocated, and with 4 KiB pages every page of it is a fault: on the shared VMs attnd runs on,
 * copying 34 MB into fresh memory measured 380-500 ms, against 9-17 ms with transparent huge
 * pages (2 MiB, one fault each). So buffers from API_BIG_ALLOC_MIN up are aligned to huge pages
 * and advised to use them (madvise MADV_HUGEPAGE: the kernel's default THP mode, "madvise",
 * gives huge pages only where asked). Smaller ones are plain aligned_alloc. Everything is
 * freed with free().
 * A huge page is resident whole, so a buffer's last one wastes up to 2 MiB: from 4 MiB up, the
 * buffers of one [16384, 64] request (a 10 MB body) held 10 MB more at peak than with 4 KiB
 * pages (+40 against +30 MB), for no gain in time; from 16 MiB up the waste is at most an
 * eighth of the buffer and that request's peak is back to +31 MB. */
#ifndef API_BIG_ALLOC_H
#define API_BIG_ALLOC_H

#include <stddef.h>

#define API_BIG_ALLOC_MIN ((size_t)16 << 20)

/* `bytes` (> 0) aligned to `align` (a power of two, at least sizeof(void *)), or NULL when out
 * of memory. */
void *api_big_alloc(size_t bytes, size_t align);

/* Grows p (NULL, or from api_big_alloc or malloc, holding `used` bytes worth keeping) to
 * `bytes`, like realloc; large sizes move to huge pages. NULL when out of memory (p is then
 * untouched). */
void *api_big_realloc(void *p, size_t used, size_t bytes);

#endif
