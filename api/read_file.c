/* Whole-file reads for the small files beside a checkpoint. */
#include "read_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "error_int.h"

int api_read_file(const char *path, size_t limit, char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return api_path_error(path, err, errlen, AT_EIO, "cannot open: %s", strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    int rc = AT_OK;
    char *buf = NULL;
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
        rc = api_path_error(path, err, errlen, AT_EIO, "cannot read: %s", strerror(errno));
    else if ((size_t)size > limit)
        rc = api_path_error(path, err, errlen, AT_ELIMIT, "%ld bytes, over the limit of %zu", size,
                            limit);
    else if (!(buf = malloc((size_t)size + 1)))
        rc = api_path_error(path, err, errlen, AT_ENOMEM, "out of memory");
    else if (fread(buf, 1, (size_t)size, f) != (size_t)size)
        rc = api_path_error(path, err, errlen, AT_EIO, "short read");
    fclose(f);
    if (rc != AT_OK) {
        free(buf);
        return rc;
    }
    buf[size] = '\0';
    *out = buf;
    *len = (size_t)size;
    return AT_OK;
}
