/* The one small interface every compute backend implements. A backend runs
 * the network of a ps_net on batches of images already letterboxed to the
 * input size, and hands back the six heads; preprocessing and decoding around
 * it live in engine.c. */
#ifndef PS_ENGINE_BACKEND_H
#define PS_ENGINE_BACKEND_H

#include <stddef.h>

#include "model/net.h"
#include "util/picture.h"

typedef struct {
    int input_h, input_w; /* multiples of 32 */
    int max_batch;
    int threads;          /* CPU threads; >= 1 */
    int chunk;            /* CPU: images per network call; >= 1 */
    int side_by_side;     /* CPU: batches of >= threads images run one image per
                             thread */
    int max_people;       /* centres decoded per image, 1..PS_MAX_PEOPLE */
    int gpu;              /* GPU backends: the device (CUDA ordinal) */
} ps_backend_config;

typedef struct {
    const char *name;
    /* Prepares to run net at cfg's size; *state receives the backend's own
     * data. The net must outlive the state. */
    ps_status (*init)(void **state, const ps_net *net, const ps_backend_config *cfg,
                      ps_err *err);
    /* input: [n, input_h, input_w, 3] float32 RGB 0..255, NHWC.
     * heads[k]: [n, input_h / 4, input_w / 4, ps_head_channels[k]] NHWC. */
    ps_status (*run)(void *state, const float *input, int n,
                     float *const heads[PS_NUM_HEADS], ps_err *err);
    /* Bytes of memory the backend holds for activations and weights. */
    size_t (*memory)(const void *state);
    void (*free)(void *state);
    /* Optional: the whole detection on the backend's device (letterbox,
     * colour conversion, network, decoder) for n pictures; people in pixels
     * of each picture, scored min_score or more, sorted. *device_ns gets the
     * device time of the batch (CUDA events). NULL: engine.c does it around
     * run() on the CPU. */
    ps_status (*detect)(void *state, const ps_picture *pics, int n, float min_score,
                        ps_person (*people)[PS_MAX_PEOPLE], int32_t *counts,
                        int64_t *device_ns, ps_err *err);
    /* Optional: device memory of the process now and at its peak (bytes). */
    void (*vram)(void *state, size_t *current, size_t *peak);
    /* Optional: the device's name. */
    const char *(*device)(void *state);
    /* Optional: percent busy of the GPU's SMs and of its video decoders over
     * the driver's last sample period; -1 when unknown. */
    void (*utilization)(void *state, int *gpu, int *decoder);
    /* Optional, with detect: the same split in two, so the next batch can be
     * prepared while one runs. submit starts a batch (at most two in
     * flight; host pictures are copied before it returns, device pictures
     * must live until collected); collect waits for the oldest and gives its
     * people, *n its size. */
    ps_status (*submit)(void *state, const ps_picture *pics, int n, ps_err *err);
    ps_status (*collect)(void *state, float min_score, ps_person (*people)[PS_MAX_PEOPLE],
                         int32_t *counts, int *n, int64_t *device_ns, ps_err *err);
    /* Optional: makes batches of n fast before a run (the GPU captures their
     * CUDA graph). Called only while no other thread uses the device. */
    ps_status (*warm)(void *state, int n, ps_err *err);
    /* Optional, with detect: letterboxes picture pic (on the device, or on
     * the host: uploaded first) into an input buffer of the backend's own as
     * the frame arrives, so the decoder's surface can go back at once; *out
     * becomes the PS_PIX_INPUT picture
     * (done when this returns) and *slot the buffer, for unprepare. Any
     * thread. Returns non-OK (out, slot untouched) naming the reason. */
    ps_status (*prepare)(void *state, const ps_picture *pic, ps_picture *out, void **slot,
                         ps_err *err);
    void (*unprepare)(void *state, void *slot);
    /* Optional: after a failed batch of n (every batch in flight is then
     * lost: the caller counts them failed), brings the backend back to a
     * state that takes new batches. Returns non-OK naming why it cannot. */
    ps_status (*recover)(void *state, int n, ps_err *err);
    /* Optional: the device's free memory (bytes), and the device bytes of
     * the prepared-input buffers (part of memory()). */
    size_t (*vram_free)(void *state);
    size_t (*prepared_bytes)(void *state);
    /* Optional: the device's total memory (bytes). */
    size_t (*vram_total)(void *state);
} ps_backend_ops;

/* PS_ERR_ARG naming n unless 1 <= n <= max_batch: the one batch-size check
 * of the engine and the backends (engine.c). */
ps_status ps_backend_check_batch(int n, int max_batch, ps_err *err);

extern const ps_backend_ops ps_backend_cpu;

/* The CUDA backend, in builds with CUDA (POSESTREAM_HAVE_CUDA). Its init
 * fails with PS_ERR_UNSUPPORTED when no usable GPU is present. */
extern const ps_backend_ops ps_backend_cuda;

/* The GPUs it sees (0 when none or no driver). */
int ps_backend_cuda_count(void);

#endif
