/* MoveNet MultiPose decoder: the six stride-4 heads of one image -> the
 * graph's [6,56] output (MODEL.md, "Output [1,6,56] and how the graph decodes
 * it"), computed natively rather than by interpreting the graph's ops, and
 * for any number of centres up to PS_MAX_PEOPLE, not only the graph's 6. */
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

/* Writes out[np * PS_DECODE_ROW], np = 1..PS_MAX_PEOPLE centres: rows in
 * centre-score order, coordinates normalised to the input of size input_h x
 * input_w. At np = 6 exactly the graph's output; at any np the graph's steps
 * with its TopK taking np (a keypoint's score is then the maximum over np
 * people). np is clamped to 1..PS_MAX_PEOPLE and to the grid's cells;
 * returns the rows written. */
int ps_decode_heads(const ps_heads *heads, int input_h, int input_w, int np,
                     float *out);

/* How the original image (image_w x image_h pixels) sits in the input:
 * input_x = image_x * sx + pad_x, input_y = image_y * sy + pad_y, in input
 * pixels. */
typedef struct {
    float sx, sy, pad_x, pad_y;
    int image_w, image_h;
} ps_placement;

/* Maps np decoded rows to people in pixels of the original image through
 * place. Keeps people with score >= min_score, sorted by score (highest first,
 * ties in row order); returns how many (at most np). Boxes are clipped to the
 * image; keypoints are not. */
int ps_decode_people(const float *rows, int np, int input_h, int input_w,
                     const ps_placement *place, float min_score,
                     ps_person people[PS_MAX_PEOPLE]);

#endif
