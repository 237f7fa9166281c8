/* Names and messages for at_status, generated from the same X-macro list as the enum. */
#include "status.h"

const char *at_status_name(int status)
{
    switch (status) {
#define AT_STATUS_NAME(name, value, msg)                                                           \
    case value: return "AT_" #name;
        AT_STATUS_MAP(AT_STATUS_NAME)
#undef AT_STATUS_NAME
    }
    return "AT_UNKNOWN";
}

const char *at_strerror(int status)
{
    switch (status) {
#define AT_STATUS_MSG(name, value, msg)                                                            \
    case value: return msg;
        AT_STATUS_MAP(AT_STATUS_MSG)
#undef AT_STATUS_MSG
    }
    return "unknown status";
}
