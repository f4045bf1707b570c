/* Staging for host pictures going up on arrival (the CUDA backend's
 * prepare, on the reader threads, many at once): a pinned host buffer,
 * which the caller packs the picture into, and a device buffer it is
 * copied to by DMA (a copy straight from pageable memory is staged by the
 * driver, one thread at a time: about 4 GB/s in all). Each call takes a
 * pair at least as big as its picture and gives it back once its letterbox
 * has run, so there are about as many as prepares run at once (bounded by
 * the reader threads), kept until the backend goes. */
#ifndef PS_ENGINE_CUDA_STAGE_H
#define PS_ENGINE_CUDA_STAGE_H

#include <stddef.h>

#include "util/status.h"

typedef struct ps_cuda_stage ps_cuda_stage;

/* An empty set; NULL when out of host memory. */
ps_cuda_stage *ps_cuda_stage_create(void);

/* A free pair of at least bytes, allocated when none is: *host the pinned
 * buffer, the device buffer returned. Returns NULL with err naming the CUDA
 * error (nothing taken) when the device or the host is out of memory. */
void *ps_cuda_stage_take(ps_cuda_stage *s, size_t bytes, void **host, ps_err *err);

/* Gives a pair taken from s back (by its device buffer). */
void ps_cuda_stage_give(ps_cuda_stage *s, void *dev);

/* Waits for the work queued so far on stream (a cudaStream_t) to finish,
 * the calling thread sleeping meanwhile: an event recorded with blocking
 * sync, from a set of them kept here. A stream synchronisation would spin
 * (CUDA spins while the process has no more contexts than cores), and with
 * hundreds of readers waiting for their uploads the spinning took most of
 * the host's cores. Returns non-OK naming the CUDA error. */
ps_status ps_cuda_stage_sync(ps_cuda_stage *s, void *stream, ps_err *err);

/* Device bytes the set holds (as many again are pinned on the host). */
size_t ps_cuda_stage_bytes(ps_cuda_stage *s);

/* Frees every buffer (none may be taken). */
void ps_cuda_stage_free(ps_cuda_stage *s);

#endif
