/* A pool of equal device buffers, taken and given back from any thread: the
 * letterboxed network inputs frames carry from their arrival (reader
 * threads) to their batch (engine thread). It grows a chunk at a time as
 * frames in flight need more and keeps what it grew until freed, so a
 * steady run allocates nothing. */
#ifndef PS_ENGINE_CUDA_POOL_H
#define PS_ENGINE_CUDA_POOL_H

#include <stddef.h>

#include "util/status.h"

typedef struct ps_cuda_pool ps_cuda_pool;

/* A pool of slot_bytes buffers (rounded up to 256 bytes), empty. Returns
 * NULL when out of host memory. */
ps_cuda_pool *ps_cuda_pool_create(size_t slot_bytes);

/* Takes a buffer, growing the pool by a chunk when none is free. Returns
 * NULL with err naming the CUDA error (the pool is left as it was) when the
 * device is out of memory. */
void *ps_cuda_pool_take(ps_cuda_pool *p, ps_err *err);

/* Gives a buffer taken from p back. */
void ps_cuda_pool_give(ps_cuda_pool *p, void *slot);

/* Device bytes the pool holds. */
size_t ps_cuda_pool_bytes(ps_cuda_pool *p);

/* Frees every chunk; buffers still taken become invalid. */
void ps_cuda_pool_free(ps_cuda_pool *p);

#endif
