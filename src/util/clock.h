/* Monotonic time in nanoseconds, the one clock every frame timestamp uses. */
#ifndef PS_UTIL_CLOCK_H
#define PS_UTIL_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

int64_t ps_now_ns(void);

/* t_ns of that clock as a deadline for pthread_cond_timedwait on a
 * condition variable made by ps_cond_init_mono. */
struct timespec ps_timespec_at(int64_t t_ns);

/* A condition variable whose timed waits use that clock too (not the wall
 * clock, which can jump). */
void ps_cond_init_mono(pthread_cond_t *cv);

/* Sleeps until the monotonic clock reads t_ns (returns at once if past). */
void ps_sleep_until_ns(int64_t t_ns);

#endif
