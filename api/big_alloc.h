/* Memory for the large buffers of a request: its body, its arena, the core's workspace and the
 * encoded response. A buffer of megabytes is written once, start to end, as soon as it is
 * allocated, and with 4 KiB pages every page of it is a fault: on the shared VMs attnd runs on,
 * copying 34 MB into fresh memory measured 380-500 ms, against 9-17 ms with transparent huge
 * pages (2 MiB, one fault each). So buffers from API_BIG_ALLOC_MIN up are aligned to huge pages
 * and advised to use them (madvise MADV_HUGEPAGE: the kernel's default THP mode, "madvise",
 * gives huge pages only where asked). Smaller ones are plain aligned_alloc. Everything is
 * freed with free(). */
#ifndef API_BIG_ALLOC_H
#define API_BIG_ALLOC_H

#include <stddef.h>

#define API_BIG_ALLOC_MIN ((size_t)4 << 20)

/* `bytes` (> 0) aligned to `align` (a power of two, at least sizeof(void *)), or NULL when out
 * of memory. */
void *api_big_alloc(size_t bytes, size_t align);

/* Grows p (NULL, or from api_big_alloc or malloc) to `bytes`, like realloc, which it is: a
 * large block grows by mremap, with no copy and no second buffer resident meanwhile (a copy into
 * a fresh huge-page buffer held both at once: a response grown by doubling peaked 2x its size).
 * The huge pages wholly inside a large result are advised as api_big_alloc's are. NULL when out
 * of memory (p is then untouched). */
void *api_big_realloc(void *p, size_t bytes);

#endif
