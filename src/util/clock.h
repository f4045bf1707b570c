/* Monotonic time in nanoseconds, the one clock every frame timestamp uses. */
#ifndef PS_UTIL_CLOCK_H
#define PS_UTIL_CLOCK_H

#include <stdint.h>

int64_t ps_now_ns(void);

/* Sleeps until the monotonic clock reads t_ns (returns at once if past). */
void ps_sleep_until_ns(int64_t t_ns);

#endif
