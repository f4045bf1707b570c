/* Errors: a ps_status plus a one-line message naming the thing and the reason. */
#ifndef PS_UTIL_STATUS_H
#define PS_UTIL_STATUS_H

#include "posestream.h"

/* Sets err (when not NULL) to code and a printf-style message; returns code. */
ps_status ps_err_set(ps_err *err, ps_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes err's message with "<prefix>: ", keeping its code; returns it. */
ps_status ps_err_prefix(ps_err *err, const char *prefix);

#endif
