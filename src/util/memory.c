/* Host memory figures from /proc, and growing by-id tables (see memory.h). */
#include "util/memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t ps_mem_resident(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size, resident;
    int ok = fscanf(f, "%lu %lu", &size, &resident) == 2;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? (size_t)resident * (size_t)page : 0;
}

size_t ps_mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lu kB", &kb) == 1) break;
    fclose(f);
    return (size_t)kb * 1024;
}

void *ps_grow_zeroed(void *arr, int *n, int need, size_t size) {
    if (need <= *n) return arr;
    char *grown = realloc(arr, size * (size_t)need);
    if (!grown) return NULL;
    memset(grown + size * (size_t)*n, 0, size * (size_t)(need - *n));
    *n = need;
    return grown;
}
