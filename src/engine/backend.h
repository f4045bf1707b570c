/* The one small interface every compute backend implements. A backend runs
 * the network of a ps_net on batches of images already letterboxed to the
 * input size, and hands back the six heads; preprocessing and decoding around
 * it live in engine.c. */
#ifndef PS_ENGINE_BACKEND_H
#define PS_ENGINE_BACKEND_H

#include <stddef.h>

#include "model/net.h"

typedef struct {
    int input_h, input_w; /* multiples of 32 */
    int max_batch;
    int threads;          /* CPU threads; >= 1 */
    int chunk;            /* CPU: images per network call; >= 1 */
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
} ps_backend_ops;

extern const ps_backend_ops ps_backend_cpu;

#endif
