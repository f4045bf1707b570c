/* GPU preprocessing and decoding around the network (see cuda_net.h):
 * pictures (RGB24, YUV420P, NV12; device memory) -> letterbox + colour
 * conversion + normalisation -> the FP16 input tensor; the six heads -> the
 * MoveNet decoder's [np, 56] rows per image. Host-side C API over kernels. */
#ifndef PS_ENGINE_CUDA_PRE_H
#define PS_ENGINE_CUDA_PRE_H

#include "engine/cuda/cuda_net.h"
#include "engine/preprocess.h"
#include "util/picture.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the preprocessing kernel needs to know of one picture: its planes in
 * device memory and where it lands in the input (ps_letterbox_fit). */
typedef struct {
    ps_picture pic; /* on_device = 1 */
    ps_letterbox lb;
} ps_cuda_pre_item;

/* Enqueues on stream s: for n items (descriptors in device memory, items_dev)
 * writes the input tensor dst ([n, dst_h, dst_w, 4] FP16 NHWC): the picture
 * (a PS_PIX_INPUT one is read as it is, its lb unused) letterboxed exactly
 * as ps_letterbox_picture does (bilinear, half-pixel
 * centres, rounded to whole 0..255 values like the model's int32 input, zero
 * padding), then the model's normalisation steps (norm, n_norm) applied to
 * every pixel including the padding; channel 3 = 0. */
ps_status ps_cuda_preprocess(const ps_cuda_pre_item *items_dev, int n, void *dst, int dst_w,
                             int dst_h, const ps_norm_step *norm, int n_norm, ps_cuda_stream s,
                             ps_err *err);

/* Enqueues on s: picture pic (on_device; RGB24, YUV420P or NV12) letterboxed
 * as lb (ps_letterbox_fit for dst_w x dst_h) into dst, a [dst_h, dst_w] device array of 4-byte pixels (R, G, B, 0):
 * the same whole 0..255 values ps_cuda_preprocess computes before its
 * normalisation, so a PS_PIX_INPUT picture made of dst preprocesses to the
 * identical tensor. Returns PS_ERR_ARG for a picture it cannot take. */
ps_status ps_cuda_letterbox(const ps_picture *pic, ps_letterbox lb, void *dst, int dst_w,
                            int dst_h, ps_cuda_stream s, ps_err *err);

/* Enqueues: float32 host-layout input already in device memory ([n, h, w, 3]
 * RGB 0..255, as the CPU backend takes) -> normalised FP16 [n, h, w, 4]. */
ps_status ps_cuda_input_from_float(const float *src_dev, int n, int h, int w, void *dst,
                                   const ps_norm_step *norm, int n_norm, ps_cuda_stream s,
                                   ps_err *err);

/* Enqueues the decoder (model/decode.c's ps_decode_heads, same arithmetic)
 * for n images and np centres each (1..PS_MAX_PEOPLE, at most gh * gw):
 * heads[h] are compact FP32 NHWC [n, gh, gw, C_h] device arrays; rows_dev
 * receives [n, np, 56] floats. */
ps_status ps_cuda_decode(const float *const heads[PS_NUM_HEADS], int n, int gh, int gw,
                         int input_h, int input_w, int np, float *rows_dev, ps_cuda_stream s,
                         ps_err *err);

#ifdef __cplusplus
}
#endif
#endif
