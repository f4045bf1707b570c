/* The process's and the machine's host memory, from /proc (Linux): what
 * the stream manager admits streams against. */
#ifndef PS_UTIL_MEMORY_H
#define PS_UTIL_MEMORY_H

#include <stddef.h>

/* The process's resident memory now, bytes; 0 when unknown. */
size_t ps_mem_resident(void);

/* Memory the machine could still give without swapping (MemAvailable),
 * bytes; 0 when unknown. */
size_t ps_mem_available(void);

#endif
