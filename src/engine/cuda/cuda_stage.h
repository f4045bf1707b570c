/* Device buffers for host pictures going up on arrival (the CUDA backend's
 * prepare, on the reader threads, many at once): each call takes a buffer
 * at least as big as its picture and gives it back once its letterbox has
 * run, so there are about as many as prepares run at once (bounded by the
 * reader threads), kept until the backend goes. */
#ifndef PS_ENGINE_CUDA_STAGE_H
#define PS_ENGINE_CUDA_STAGE_H

#include <stddef.h>

#include "util/status.h"

typedef struct ps_cuda_stage ps_cuda_stage;

/* An empty set; NULL when out of host memory. */
ps_cuda_stage *ps_cuda_stage_create(void);

/* A free buffer of at least bytes, allocated when none is. Returns NULL
 * with err naming the CUDA error (nothing taken) when the device or the
 * host is out of memory. */
void *ps_cuda_stage_take(ps_cuda_stage *s, size_t bytes, ps_err *err);

/* Gives a buffer taken from s back. */
void ps_cuda_stage_give(ps_cuda_stage *s, void *buf);

/* Device bytes the set holds. */
size_t ps_cuda_stage_bytes(ps_cuda_stage *s);

/* Frees every buffer (none may be taken). */
void ps_cuda_stage_free(ps_cuda_stage *s);

#endif
