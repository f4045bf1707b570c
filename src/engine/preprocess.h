/* CPU preprocessing: letterbox an RGB8 image into the network input. */
#ifndef PS_ENGINE_PREPROCESS_H
#define PS_ENGINE_PREPROCESS_H

#include <stdint.h>

#include "util/letterbox.h" /* the geometry: ps_letterbox, ps_letterbox_fit */
#include "util/picture.h"

/* Resizes rgb (src_w x src_h, rows `stride` bytes apart) into dst, a
 * dst_h x dst_w x 3 float32 NHWC image holding values 0..255 rounded to
 * whole numbers (the model's input is int32), with zero padding around it.
 * Sampling is bilinear with half-pixel centres (TF's resize_bilinear with
 * half_pixel_centers=true) from the image into the scaled rectangle.
 * Returns the letterbox used. */
ps_letterbox ps_letterbox_rgb8(const uint8_t *rgb, int src_w, int src_h,
                               int stride, float *dst, int dst_w, int dst_h);

/* The same letterbox from any host picture: RGB24 exactly as
 * ps_letterbox_rgb8; YUV420P and NV12 as if first converted to RGB24 by
 * picture.h's rule, then ps_letterbox_rgb8 (each of the four bilinear taps
 * is converted, so no full-size RGB copy is made). The GPU preprocessing
 * (cuda_pre.cu) computes the same way and matches it exactly. */
ps_letterbox ps_letterbox_picture(const ps_picture *pic, float *dst, int dst_w, int dst_h);

#endif
