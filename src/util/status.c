/* Error helpers shared by every module. */
#include "util/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

ps_status ps_err_set(ps_err *err, ps_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

ps_status ps_err_prefix(ps_err *err, const char *prefix) {
    if (!err) return PS_ERR_ARG;
    size_t plen = strlen(prefix) + 2, mlen = strlen(err->msg);
    if (plen >= sizeof err->msg) return err->code;
    if (plen + mlen >= sizeof err->msg) mlen = sizeof err->msg - plen - 1;
    memmove(err->msg + plen, err->msg, mlen);
    err->msg[plen + mlen] = 0;
    memcpy(err->msg, prefix, plen - 2);
    memcpy(err->msg + plen - 2, ": ", 2);
    return err->code;
}
