/* Engine internals shared with tests and benchmarks: run letterboxed input
 * tensors and read the heads directly. */
#ifndef PS_ENGINE_ENGINE_H
#define PS_ENGINE_ENGINE_H

#include "engine/backend.h"
#include "posestream.h"

/* Runs n images already in the engine's input layout ([n, H, W, 3] float32,
 * RGB 0..255). Afterwards ps_engine_head gives the heads. */
ps_status ps_engine_run(ps_engine *e, const float *input, int n, ps_err *err);

/* Head h of the last run: [n, H/4, W/4, ps_head_channels[h]] NHWC. */
const float *ps_engine_head(const ps_engine *e, ps_head h);

/* The engine's input buffer ([max_batch, H, W, 3]), for callers that fill it
 * in place before ps_engine_run(e, ps_engine_input(e), n, err). */
float *ps_engine_input(ps_engine *e);

void ps_engine_size(const ps_engine *e, int *input_h, int *input_w, int *max_batch);

/* Bytes held by the backend. */
size_t ps_engine_memory(const ps_engine *e);

#endif
