/* Status codes shared by every layer of attnd. The list is an X-macro so that the enum, the
 * names and the messages can never drift apart (libuv's UV_ERRNO_MAP). 0 is success, negative is
 * an error. Only api/ and server/ translate a status into an HTTP code. */
#ifndef AT_STATUS_H
#define AT_STATUS_H

#define AT_STATUS_MAP(X)                                                                           \
    X(OK, 0, "success")                                                                            \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ESHAPE, -2, "shapes do not agree")                                                           \
    X(ENOMEM, -3, "out of memory")                                                                 \
    X(ELIMIT, -4, "request exceeds a configured limit")                                            \
    X(EBUSY, -5, "queue is full")                                                                  \
    X(ESHUTDOWN, -6, "shutting down")                                                              \
    X(ERANGE, -7, "value out of range")                                                            \
    X(EPARSE, -8, "malformed input")                                                               \
    X(ETYPE, -9, "wrong type")                                                                     \
    X(EIO, -10, "input/output error")                                                              \
    X(ETIMEDOUT, -11, "deadline exceeded")                                                         \
    X(ECANCELED, -12, "canceled")

typedef enum at_status {
#define AT_STATUS_ENUM(name, value, msg) AT_##name = value,
    AT_STATUS_MAP(AT_STATUS_ENUM)
#undef AT_STATUS_ENUM
} at_status;

/* "AT_EINVAL" for AT_EINVAL; "AT_UNKNOWN" for a value not in the list. Static storage. */
const char *at_status_name(int status);

/* A short human message for the status ("invalid argument"). Static storage. */
const char *at_strerror(int status);

#endif
