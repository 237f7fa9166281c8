/* Reading a whole small file (a config.json, a vocabulary) into memory, with a size limit and
 * errors that name the file. */
#ifndef API_READ_FILE_H
#define API_READ_FILE_H

#include <stddef.h>

/* Reads the file at `path` (at most `limit` bytes) into a malloc'd buffer with a NUL after the
 * data, *out (the caller frees it) and its length *len. Returns AT_OK, or AT_EIO (cannot open
 * or read), AT_ELIMIT (larger than limit) or AT_ENOMEM with "<path>: ..." in err. */
int api_read_file(const char *path, size_t limit, char **out, size_t *len, char *err,
                  size_t errlen);

#endif
