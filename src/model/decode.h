/* MoveNet MultiPose decoder: the six stride-4 heads of one image -> the
 * graph's [6,56] output (MODEL.md, "Output [1,6,56] and how the graph decodes
 * it"), computed natively rather than by interpreting the graph's ops. */
#ifndef PS_MODEL_DECODE_H
#define PS_MODEL_DECODE_H

#include "posestream.h"

#define PS_DECODE_ROW 56 /* 17 x (y, x, score) + ymin, xmin, ymax, xmax, score */

/* The heads of one image, each NHWC [gh, gw, C] float32, C as in MODEL.md. */
typedef struct {
    const float *center;      /* C = 1, sigmoid */
    const float *kpt_heat;    /* C = 17, sigmoid */
    const float *kpt_regress; /* C = 34, (dy, dx) per keypoint */
    const float *kpt_offset;  /* C = 34, (dy, dx) per keypoint */
    const float *box_scale;   /* C = 2, (h, w) */
    const float *box_offset;  /* C = 2, (dy, dx) */
    int gh, gw;               /* grid: input size / 4 */
} ps_heads;

/* Writes out[PS_MAX_PEOPLE * PS_DECODE_ROW] exactly as the graph's output:
 * rows in centre-score order, coordinates normalised to the input of size
 * input_h x input_w. */
void ps_decode_heads(const ps_heads *heads, int input_h, int input_w,
                     float *out);

/* How the original image (image_w x image_h pixels) sits in the input:
 * input_x = image_x * sx + pad_x, input_y = image_y * sy + pad_y, in input
 * pixels. */
typedef struct {
    float sx, sy, pad_x, pad_y;
    int image_w, image_h;
} ps_placement;

/* Maps the decoded rows to people in pixels of the original image through
 * place. Keeps people with score >= min_score, sorted by score (highest first,
 * ties in row order); returns how many. Boxes are clipped to the image;
 * keypoints are not. */
int ps_decode_people(const float *rows, int input_h, int input_w,
                     const ps_placement *place, float min_score,
                     ps_person people[PS_MAX_PEOPLE]);

#endif
