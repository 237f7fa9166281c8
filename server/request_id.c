/* Request ids: a client's id is kept when it is made of a safe alphabet; otherwise one is made
 * from a per-process random prefix and an atomic counter, so no two responses share one. */
#include "request_id.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t prefix_once = PTHREAD_ONCE_INIT;
static unsigned long long prefix;
static atomic_ullong counter;

static void make_prefix(void)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        /* No entropy yet (early boot): time and pid still differ between restarts. */
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        r = (uint64_t)t.tv_sec * 1000000007ull ^ (uint64_t)t.tv_nsec ^ ((uint64_t)getpid() << 40);
    }
    prefix = r & 0xffffffffffffull;
}

/* v's low 4 * digits bits as `digits` lower-case hex digits at w (no NUL). */
static void hex(char *w, unsigned long long v, int digits)
{
    for (int i = digits - 1; i >= 0; i--, v >>= 4)
        w[i] = "0123456789abcdef"[v & 15];
}

bool srv_request_id_sane(const char *s)
{
    if (!s) return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= SRV_REQUEST_ID_MAX) return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return n > 0;
}

void srv_request_id_make(const char *client, char *out, size_t cap)
{
    if (srv_request_id_sane(client)) {
        snprintf(out, cap, "%s", client);
        return;
    }
    pthread_once(&prefix_once, make_prefix);
    unsigned long long n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed) + 1;
    /* "%012llx-%016llx" by hand: snprintf was 2 % of a tiny request's instructions. */
    char id[12 + 1 + 16 + 1];
    hex(id, prefix, 12);
    id[12] = '-';
    hex(id + 13, n, 16);
    id[29] = '\0';
    if (!cap) return;
    size_t len = sizeof id - 1 < cap - 1 ? sizeof id - 1 : cap - 1;
    memcpy(out, id, len);
    out[len] = '\0';
}
