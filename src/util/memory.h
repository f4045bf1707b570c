/* The process's and the machine's host memory, from /proc (Linux): what
 * the stream manager admits streams against; and growing by-id tables. */
#ifndef PS_UTIL_MEMORY_H
#define PS_UTIL_MEMORY_H

#include <stddef.h>

/* The process's resident memory now, bytes; 0 when unknown. */
size_t ps_mem_resident(void);

/* arr, an array of *n elements of size bytes, grown to hold at least need
 * (its new elements zeroed, *n set): the by-id tables of streams. Returns
 * the array (moved or not), or NULL leaving arr and *n untouched. */
void *ps_grow_zeroed(void *arr, int *n, int need, size_t size);

/* Memory the machine could still give without swapping (MemAvailable),
 * bytes; 0 when unknown. */
size_t ps_mem_available(void);

#endif
