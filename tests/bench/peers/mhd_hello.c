/* The request-rate ceiling: bare libmicrohttpd answering every request with a fixed JSON body
 * after reading (and dropping) its body, in the threading mode attnd uses (internal polling
 * threads). Usage: mhd_hello PORT [THREADS]. Build: cc -O2 mhd_hello.c -lmicrohttpd */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char body[] = "{\"ok\":true}";

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **state)
{
    static int started;
    (void)cls, (void)url, (void)method, (void)version, (void)data;
    if (*state == NULL) {
        *state = &started;
        return MHD_YES;
    }
    if (*size) {
        *size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 18080, threads = argc > 2 ? atoi(argv[2]) : 2;
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, (uint16_t)port, NULL, NULL,
                         handler, NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
                         MHD_OPTION_CONNECTION_LIMIT, 10000u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mhd_hello: cannot listen on port %d\n", port);
        return 1;
    }
    pause();
    return 0;
}
