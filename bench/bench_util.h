/* Small helpers shared by the benchmarks. */
#ifndef PS_BENCH_UTIL_H
#define PS_BENCH_UTIL_H

#include <stdlib.h>
#include <string.h>

/* Parses "1,8,32" into out (at most cap values); returns the count. */
static inline int bench_parse_list(const char *s, int *out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        out[n++] = atoi(s);
        s = strchr(s, ',');
        if (!s) break;
        s++;
    }
    return n;
}

#endif
