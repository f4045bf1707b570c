/* Monotonic clock helpers (see clock.h). */
#include "util/clock.h"

#include <errno.h>
#include <time.h>

int64_t ps_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ps_sleep_until_ns(int64_t t_ns) {
    struct timespec ts = {(time_t)(t_ns / 1000000000), (long)(t_ns % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

struct timespec ps_timespec_at(int64_t t_ns) {
    return (struct timespec){(time_t)(t_ns / 1000000000), (long)(t_ns % 1000000000)};
}

void ps_cond_init_mono(pthread_cond_t *cv) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}
