/* libFuzzer harness: any bytes as a safetensors model file (written to a memfd, opened through
 * /proc/self/fd as attnd opens a --model path): the header parsed, every tensor converted, and
 * the whole model loaded and checked. Built and run by `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../api/model_registry.h"
#include "../../api/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.safetensors", 0);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64], err[512];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    api_safetensors *st = NULL;
    if (api_safetensors_open(path, &st, err, sizeof err) == 0) {
        for (size_t i = 0; i < api_safetensors_count(st); i++) {
            const float *f = NULL;
            if (api_safetensors_f32(st, api_safetensors_at(st, i), &f, err, sizeof err) != 0) break;
        }
        api_safetensors_metadata(st, "num_heads");
        api_safetensors_close(st);
    }
    /* One registry for the run (making one builds the default model, which costs more than
     * the load): a load that succeeds would keep the name, later ones then fail early, which
     * cannot happen here anyway, as no vocab.txt lies beside /proc/self/fd/N. */
    static api_model_registry *r;
    if (!r) r = api_model_registry_new();
    api_model_registry_load(r, "fuzz", path, err, sizeof err);
    close(fd);
    return 0;
}
