/* The library's log (see log.h): the callback and level are process-wide,
 * calls are serialised so a callback never runs twice at once. */
#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static ps_log_fn log_fn;
static void *log_user;
static atomic_int log_max = PS_LOG_WARN;

/* The default: stderr, one line per message. */
static void log_stderr(ps_log_level level, const char *msg, void *user) {
    (void)user;
    static const char *const tag[] = {"error: ", "warning: ", "", "debug: "};
    fprintf(stderr, "posestream: %s%s\n", tag[level], msg);
}

void ps_log_set(ps_log_fn fn, void *user) {
    pthread_mutex_lock(&log_mu);
    log_fn = fn;
    log_user = user;
    pthread_mutex_unlock(&log_mu);
}

void ps_log_set_level(ps_log_level max) {
    if (max < PS_LOG_ERROR) max = PS_LOG_ERROR;
    if (max > PS_LOG_DEBUG) max = PS_LOG_DEBUG;
    atomic_store(&log_max, (int)max);
}

int ps_log_on(ps_log_level level) {
    return (int)level <= atomic_load(&log_max);
}

void ps_log(ps_log_level level, const char *fmt, ...) {
    if (!ps_log_on(level)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = strlen(msg);
    if (len && msg[len - 1] == '\n') msg[len - 1] = '\0';
    pthread_mutex_lock(&log_mu);
    (log_fn ? log_fn : log_stderr)(level, msg, log_user);
    pthread_mutex_unlock(&log_mu);
}
