/* Error helpers internal to api/: messages about a file, for start-up failures that name the
 * file at fault (model files, vocabularies). */
#ifndef API_ERROR_INT_H
#define API_ERROR_INT_H

#include <stddef.h>

/* Writes "<path>: <printf message>" into err (errlen 0: nothing) and returns rc, so a check can
 * `return api_path_error(...)`. */
int api_path_error(const char *path, char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
