/* The library's log (ps_log_set in posestream.h): one callback for what the
 * library and FFmpeg under it say, filtered by one level. */
#ifndef PS_UTIL_LOG_H
#define PS_UTIL_LOG_H

#include "posestream.h"

/* Whether a message at level would be passed on (cheap: check it before
 * building an expensive message). */
int ps_log_on(ps_log_level level);

/* Formats and passes one message on (a trailing newline is dropped). */
void ps_log(ps_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
