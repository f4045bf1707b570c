/* Drawing poses on YUV420P pictures (see draw.h). Lines are stamped discs
 * along the segment; each pixel's luma is set, and the chroma sample of its
 * 2x2 block. The label's digits come from a 5x7 bitmap font below: the only
 * text drawn is "#id score", and no font library is worth a dependency for
 * twelve glyphs. */
#include "sink/draw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* COCO's limbs, as TF.js's pose-detection draws them. */
const int ps_limbs[PS_NUM_LIMBS][2] = {
    {0, 1},  {1, 3},  {0, 2},   {2, 4},   {5, 7},   {7, 9},   {6, 8},  {8, 10},  {11, 13},
    {13, 15}, {12, 14}, {14, 16}, {5, 6}, {5, 11}, {6, 12}, {11, 12}, {0, 5}, {0, 6}};

/* By body part; the left side warm, the right side cool; the torso white. */
#define FACE_L {255, 230, 0}
#define FACE_R {0, 230, 255}
#define ARM_L {255, 120, 0}
#define ARM_R {0, 110, 255}
#define LEG_L {255, 0, 150}
#define LEG_R {0, 220, 90}
#define TORSO {235, 235, 235}
const ps_rgb ps_limb_colour[PS_NUM_LIMBS] = {
    FACE_L, FACE_L, FACE_R, FACE_R, ARM_L, ARM_L, ARM_R, ARM_R, LEG_L,
    LEG_L,  LEG_R,  LEG_R,  TORSO,  TORSO, TORSO, TORSO, FACE_L, FACE_R};

static const ps_rgb BOX = {40, 255, 40}, KP_LEFT = {255, 40, 40}, KP_RIGHT = {40, 80, 255},
                    KP_MID = {255, 255, 255}, INK = {0, 0, 0};

/* 5x7 glyphs, a row per byte, bit 4 the leftmost column. */
static const uint8_t font[13][7] = {
    {14, 17, 19, 21, 25, 17, 14}, {4, 12, 4, 4, 4, 4, 14},   {14, 17, 1, 2, 4, 8, 31},
    {31, 2, 4, 2, 1, 17, 14},     {2, 6, 10, 18, 31, 2, 2},  {31, 16, 30, 1, 1, 17, 14},
    {6, 8, 16, 30, 17, 17, 14},   {31, 1, 2, 4, 8, 8, 8},    {14, 17, 17, 14, 17, 17, 14},
    {14, 17, 17, 15, 1, 2, 12},   {10, 10, 31, 10, 31, 10, 10}, {0, 0, 0, 0, 0, 12, 12},
    {0, 0, 0, 0, 0, 0, 0}};

typedef struct {
    uint8_t y, u, v;
} yuv_px;

/* BT.601 limited range, as H.264 and MPEG-4 video expect. */
static yuv_px to_yuv(ps_rgb c) {
    double r = c.r, g = c.g, b = c.b;
    return (yuv_px){(uint8_t)lround(16 + 0.257 * r + 0.504 * g + 0.098 * b),
                    (uint8_t)lround(128 - 0.148 * r - 0.291 * g + 0.439 * b),
                    (uint8_t)lround(128 + 0.439 * r - 0.368 * g - 0.071 * b)};
}

static void put(ps_yuv *img, int x, int y, yuv_px c) {
    if (x < 0 || y < 0 || x >= img->width || y >= img->height) return;
    img->y[(size_t)y * img->y_stride + x] = c.y;
    img->u[(size_t)(y / 2) * img->u_stride + x / 2] = c.u;
    img->v[(size_t)(y / 2) * img->v_stride + x / 2] = c.v;
}

static void fill_rect(ps_yuv *img, int x0, int y0, int x1, int y1, yuv_px c) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) put(img, x, y, c);
}

static void disc(ps_yuv *img, int cx, int cy, int r, yuv_px c) {
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++)
            if (dx * dx + dy * dy <= r * r + r) put(img, cx + dx, cy + dy, c);
}

/* A segment of width 2r + 1, a disc stamped at every pixel step. */
static void line(ps_yuv *img, float x0, float y0, float x1, float y1, int r, yuv_px c) {
    float dx = x1 - x0, dy = y1 - y0;
    int steps = (int)ceilf(fmaxf(fabsf(dx), fabsf(dy)));
    if (steps > 4 * (img->width + img->height)) return; /* far outside: not drawn */
    for (int i = 0; i <= steps; i++) {
        float t = steps ? (float)i / (float)steps : 0.0f;
        disc(img, (int)lroundf(x0 + dx * t), (int)lroundf(y0 + dy * t), r, c);
    }
}

static void rect(ps_yuv *img, int x0, int y0, int x1, int y1, int w, yuv_px c) {
    fill_rect(img, x0, y0, x1 + 1, y0 + w, c);
    fill_rect(img, x0, y1 - w + 1, x1 + 1, y1 + 1, c);
    fill_rect(img, x0, y0, x0 + w, y1 + 1, c);
    fill_rect(img, x1 - w + 1, y0, x1 + 1, y1 + 1, c);
}

static int glyph_of(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    return ch == '#' ? 10 : ch == '.' ? 11 : 12;
}

/* text at (x, y) (its top-left corner), each font pixel s x s, in ink on a
 * box-coloured plate. */
static void label(ps_yuv *img, int x, int y, const char *text, int s) {
    int n = (int)strlen(text);
    fill_rect(img, x, y, x + (6 * n + 1) * s, y + 9 * s, to_yuv(BOX));
    for (int i = 0; i < n; i++) {
        const uint8_t *g = font[glyph_of(text[i])];
        for (int row = 0; row < 7; row++)
            for (int col = 0; col < 5; col++)
                if (g[row] >> (4 - col) & 1)
                    fill_rect(img, x + (1 + 6 * i + col) * s, y + (1 + row) * s,
                              x + (2 + 6 * i + col) * s, y + (2 + row) * s, to_yuv(INK));
    }
}

int ps_draw_line_width(int height) {
    int r = height / 400;
    return 2 * (r < 1 ? 1 : r) + 1;
}

static ps_rgb keypoint_colour(int k) {
    return k == 0 ? KP_MID : k % 2 ? KP_LEFT : KP_RIGHT;
}

static void draw_person(ps_yuv *img, const ps_person *p, float sx, float sy, float min_score) {
    int r = ps_draw_line_width(img->height) / 2, s = img->height >= 720 ? 2 : 1;
    int x0 = (int)(p->x0 * sx), y0 = (int)(p->y0 * sy), x1 = (int)(p->x1 * sx),
        y1 = (int)(p->y1 * sy);
    rect(img, x0, y0, x1, y1, s, to_yuv(BOX));
    for (int l = 0; l < PS_NUM_LIMBS; l++) {
        const ps_keypoint *a = &p->kp[ps_limbs[l][0]], *b = &p->kp[ps_limbs[l][1]];
        if (a->score > min_score && b->score > min_score)
            line(img, a->x * sx, a->y * sy, b->x * sx, b->y * sy, r, to_yuv(ps_limb_colour[l]));
    }
    for (int k = 0; k < PS_NUM_KEYPOINTS; k++)
        if (p->kp[k].score > min_score)
            disc(img, (int)lroundf(p->kp[k].x * sx), (int)lroundf(p->kp[k].y * sy), r + 1,
                 to_yuv(keypoint_colour(k)));
    char text[32];
    int pct = (int)lroundf(p->score * 100.0f);
    if (p->id > 0) snprintf(text, sizeof text, "#%d .%02d", p->id, pct > 99 ? 99 : pct);
    else snprintf(text, sizeof text, ".%02d", pct > 99 ? 99 : pct);
    label(img, x0, y0 - 9 * s >= 0 ? y0 - 9 * s : y0, text, s);
}

void ps_draw_people(ps_yuv *img, const ps_person *people, int n, int src_w, int src_h,
                    float min_score) {
    if (src_w < 1 || src_h < 1) return;
    float sx = (float)img->width / (float)src_w, sy = (float)img->height / (float)src_h;
    for (int i = 0; i < n; i++) draw_person(img, &people[i], sx, sy, min_score);
}
