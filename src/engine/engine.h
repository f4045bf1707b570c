/* Engine internals shared with tests and benchmarks: run letterboxed input
 * tensors and read the heads directly. */
#ifndef PS_ENGINE_ENGINE_H
#define PS_ENGINE_ENGINE_H

#include "engine/backend.h"
#include "model/decode.h"
#include "posestream.h"
#include "util/picture.h"

/* Runs n images already in the engine's input layout ([n, H, W, 3] float32,
 * RGB 0..255). Afterwards ps_engine_head gives the heads. */
ps_status ps_engine_run(ps_engine *e, const float *input, int n, ps_err *err);

/* Head h of the last run: [n, H/4, W/4, ps_head_channels[h]] NHWC. */
const float *ps_engine_head(const ps_engine *e, ps_head h);

/* The heads of image i of the last run, for the decoder. */
ps_heads ps_engine_image_heads(const ps_engine *e, int i);

/* The engine's input buffer ([max_batch, H, W, 3]), for callers that fill it
 * in place before ps_engine_run(e, ps_engine_input(e), n, err). */
float *ps_engine_input(ps_engine *e);

void ps_engine_size(const ps_engine *e, int *input_h, int *input_w, int *max_batch);

/* Bytes held by the backend. */
size_t ps_engine_memory(const ps_engine *e);

/* Like ps_engine_detect, for pictures in any ps_pixfmt: host memory, or GPU
 * memory when the engine runs there. People in pixels of each picture. */
ps_status ps_engine_detect_pictures(ps_engine *e, const ps_picture *pics, int n, float min_score,
                                    ps_person (*people)[PS_MAX_PEOPLE], int32_t *counts,
                                    ps_err *err);

/* Whether the engine can split detection in two (the GPU): submit starts a
 * batch of pictures and returns, collect waits for the oldest batch in flight
 * (at most two); the next batch is prepared while one runs. Host pictures
 * are copied by submit; device pictures must live until collected. */
int ps_engine_async(const ps_engine *e);
ps_status ps_engine_submit_pictures(ps_engine *e, const ps_picture *pics, int n, ps_err *err);
ps_status ps_engine_collect(ps_engine *e, float min_score, ps_person (*people)[PS_MAX_PEOPLE],
                            int32_t *counts, int *n, ps_err *err);

/* Device time of the last detect or collect call (CUDA events), 0 on the
 * CPU. */
int64_t ps_engine_device_ns(const ps_engine *e);

/* Device memory of the process now and at its peak; 0 on the CPU. */
void ps_engine_vram(const ps_engine *e, size_t *current, size_t *peak);

/* The device's free memory now (0 on the CPU or when unknown), and the
 * bytes of the buffers of pictures prepared on arrival (part of
 * ps_engine_memory). */
size_t ps_engine_vram_free(const ps_engine *e);
size_t ps_engine_prepared_bytes(const ps_engine *e);

/* The device's total memory (0 on the CPU). */
size_t ps_engine_vram_total(const ps_engine *e);

/* Percent busy of the GPU and of its video decoders (NVML); -1 unknown. */
void ps_engine_utilization(const ps_engine *e, int *gpu, int *decoder);

/* Whether the engine letterboxes pictures as they arrive (the GPU):
 * ps_engine_prepare_picture turns a decoded device picture, or a host one
 * (uploaded first), into a PS_PIX_INPUT one in a buffer of the engine's
 * (*slot), synchronously and from any thread, so the decoder's surface can
 * be let go at once and the readers share the uploads; the buffer goes
 * back with ps_engine_unprepare once its batch is collected.
 * Returns non-OK (out and slot untouched) naming the reason. */
int ps_engine_prepares(const ps_engine *e);
ps_status ps_engine_prepare_picture(ps_engine *e, const ps_picture *pic, ps_picture *out,
                                    void **slot, ps_err *err);
void ps_engine_unprepare(ps_engine *e, void *slot);

/* After a failed detect, submit or collect of n pictures: every batch in
 * flight is lost (the caller counts its frames as failed) and the engine is
 * made ready for new batches. Returns non-OK naming why it cannot go on. */
ps_status ps_engine_recover(ps_engine *e, int n, ps_err *err);

/* The device's name ("CPU" for the CPU backend). */
const char *ps_engine_device(const ps_engine *e);

#endif
