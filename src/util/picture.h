/* A picture in one of the pixel layouts decoders produce, in host memory or
 * (on_device) in GPU memory: what the engines' preprocessing reads. */
#ifndef PS_UTIL_PICTURE_H
#define PS_UTIL_PICTURE_H

#include <stdint.h>

typedef enum {
    PS_PIX_RGB24 = 0, /* plane[0]: packed R, G, B bytes */
    PS_PIX_YUV420P,   /* plane[0] Y, plane[1] U, plane[2] V (half size each way) */
    PS_PIX_NV12,      /* plane[0] Y, plane[1] interleaved U, V (half size each way) */
    PS_PIX_INPUT      /* plane[0]: the picture already letterboxed into the network's
                         input, R, G, B, 0 bytes per pixel (whole 0..255 values, padding
                         included), pitch[0] bytes per row; width and height stay the
                         original picture's, for placing people (engines that letterbox
                         on arrival: the GPU) */
} ps_pixfmt;

typedef struct {
    ps_pixfmt fmt;
    const uint8_t *plane[3];
    int pitch[3];     /* bytes from one row to the next */
    int width, height;
    int on_device;    /* planes are CUDA device pointers */
} ps_picture;

/* YUV is BT.601 limited range ("video range", what H.264/HEVC cameras and
 * FFmpeg's default assume); a pixel's chroma is the chroma sample covering it
 * (x/2, y/2). Each channel: round half up, clamp to 0..255:
 *   R = 1.164383 (Y-16) + 1.596027 (V-128)
 *   G = 1.164383 (Y-16) - 0.391762 (U-128) - 0.812968 (V-128)
 *   B = 1.164383 (Y-16) + 2.017232 (U-128) */
#define PS_YUV_KY 1.164383f
#define PS_YUV_KRV 1.596027f
#define PS_YUV_KGU 0.391762f
#define PS_YUV_KGV 0.812968f
#define PS_YUV_KBU 2.017232f

#endif
