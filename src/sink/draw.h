/* Drawing poses on a frame: per person the skeleton (COCO's limbs, coloured
 * by body part, left and right told apart), the keypoints, the box and a
 * label with the track id and score; on 8-bit YUV 4:2:0 pictures, the form
 * video is decoded and encoded in, so a frame is never converted to RGB to
 * be drawn on. */
#ifndef PS_SINK_DRAW_H
#define PS_SINK_DRAW_H

#include <stdint.h>

#include "posestream.h"

/* A YUV420P picture (BT.601, limited range), planes 2x2 subsampled. */
typedef struct {
    uint8_t *y, *u, *v;
    int y_stride, u_stride, v_stride;
    int width, height;
} ps_yuv;

typedef struct {
    uint8_t r, g, b;
} ps_rgb;

/* The limbs drawn, as keypoint index pairs, and the colour of each. */
#define PS_NUM_LIMBS 18
extern const int ps_limbs[PS_NUM_LIMBS][2];
extern const ps_rgb ps_limb_colour[PS_NUM_LIMBS];

/* Draws n people on img. Their coordinates are pixels of a frame of
 * src_w x src_h (scaled to img's size); limbs and keypoints are drawn where
 * the keypoints score above min_score. Line widths grow with the picture. */
void ps_draw_people(ps_yuv *img, const ps_person *people, int n, int src_w, int src_h,
                    float min_score);

/* The width in pixels of the limbs drawn on a picture of this height. */
int ps_draw_line_width(int height);

#endif
