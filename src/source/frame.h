/* A video frame on its way through the pipeline: pixels already scaled to
 * the size they take in the network input (the letterbox's inner rectangle),
 * the original size for mapping keypoints back, and a timestamp per stage. */
#ifndef PS_SOURCE_FRAME_H
#define PS_SOURCE_FRAME_H

#include <stdint.h>

#include "posestream.h"
#include "util/picture.h"

typedef struct {
    int64_t captured; /* arrival, or its slot in the pacing schedule (real time) */
    int64_t decoded;  /* pixels ready in this frame */
    int64_t batched;  /* taken into a batch by the scheduler */
    int64_t infer_start, infer_end;
    int64_t device_ns; /* the batch's device time (CUDA events), 0 if none */
    int64_t decode_ns; /* time the decoder took for this frame */
    int64_t output;   /* result written */
} ps_frame_times;    /* all ps_now_ns() */

typedef struct ps_frame {
    int stream;          /* stream id */
    int64_t index;       /* 0, 1, 2... per stream, in decode order */
    double pts;          /* presentation time in seconds */
    int width, height;   /* original frame size */
    ps_picture pic;      /* the pixels for the engine, in rgb's buffer: the
                            frame scaled to fit (RGB24, sw x sh), or with the
                            source's `raw` option the full-size picture as
                            decoded (YUV420P or NV12; RGB24 for others) */
    uint8_t *rgb;        /* the buffer; RGB24 sw x sh rows packed unless raw */
    int sw, sh;          /* size of pic */
    size_t capacity;     /* bytes allocated at rgb */
    void *hw;            /* a decoded GPU surface pic points into (an
                            AVFrame), held until ps_frame_release */
    void *slot;          /* or the engine's buffer of a picture letterboxed
                            on arrival (PS_PIX_INPUT), given back by
                            slot_free(slot_ctx, slot) in ps_frame_release */
    void (*slot_free)(void *ctx, void *slot);
    void *slot_ctx;
    ps_frame_times t;
    int still;           /* a still image (not tracked or smoothed) */
    int n_people;
    ps_person people[PS_MAX_PEOPLE]; /* in pixels of the original frame */
} ps_frame;

#endif
