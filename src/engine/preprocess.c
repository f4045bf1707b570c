/* CPU preprocessing: letterbox a picture (RGB24, YUV420P, NV12) into the
 * float network input; the reference the GPU preprocessing is tested against.
 *
 * The resize must give the same integers as the reference inputs, made by
 * TensorFlow.js: tf.image.resizeBilinear(img, [sh, sw], false, true) on the
 * CPU backend, stored as float32, then Math.round and clamped to 0..255. The
 * CPU kernel computes in JavaScript numbers (float64) and rounds to float32
 * only when it stores the result, so we do the same: every step below is
 * float64 in TF.js's order, and the float32 store happens before rounding. */
#include "engine/preprocess.h"

#include <math.h>
#include <string.h>

/* A fused multiply-add rounds once where JavaScript rounds twice, which would
 * change some results by one; keep the compiler from fusing. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* Columns are resized in tiles so the per-column taps live on the stack. */
#define TILE 512

/* One output coordinate's two source neighbours and the weight between. */
typedef struct {
    int lo, hi;  /* source indices, clamped to 0..size-1 */
    double frac; /* TF.js subtracts the clamped floor, as we do */
} tap;

static tap tap_at(int dst, double ratio, int src_size) {
    double s = ratio * (dst + 0.5) - 0.5;
    double lo = floor(s), hi = ceil(s);
    tap t;
    t.lo = lo < 0 ? 0 : (int)lo;
    t.hi = hi > src_size - 1 ? src_size - 1 : (int)hi;
    t.frac = s - t.lo;
    return t;
}

/* The float32 store, then Math.round and the clamp to 0..255. Truncation
 * equals floor on what survives the clamp, and avoids a libm call per value. */
static float to_input(double v) {
    double r = (double)(float)v + 0.5;
    return r < 1 ? 0.0f : r >= 255 ? 255.0f : (float)(int)r;
}

/* One channel of picture.h's rule: round half up, clamp to 0..255. */
static uint8_t yuv_channel(float v) {
    float r = floorf(v + 0.5f);
    return r <= 0 ? 0 : r >= 255 ? 255 : (uint8_t)r;
}

/* A picture's pixel (x, y) as RGB24; YUV by picture.h's BT.601 rule, the
 * float32 products and sums in this order (the GPU kernel repeats it op for
 * op), chroma from sample (x/2, y/2). */
static void pixel_rgb(const ps_picture *p, int x, int y, uint8_t rgb[3]) {
    if (p->fmt == PS_PIX_RGB24) {
        memcpy(rgb, p->plane[0] + (size_t)y * p->pitch[0] + 3 * x, 3);
        return;
    }
    int cu, cv;
    const uint8_t *c = p->plane[1] + (size_t)(y / 2) * p->pitch[1];
    if (p->fmt == PS_PIX_NV12) {
        cu = c[2 * (x / 2)];
        cv = c[2 * (x / 2) + 1];
    } else {
        cu = c[x / 2];
        cv = p->plane[2][(size_t)(y / 2) * p->pitch[2] + x / 2];
    }
    float l = PS_YUV_KY * (float)(p->plane[0][(size_t)y * p->pitch[0] + x] - 16);
    float u = (float)(cu - 128), v = (float)(cv - 128);
    rgb[0] = yuv_channel(l + PS_YUV_KRV * v);
    rgb[1] = yuv_channel(l - PS_YUV_KGU * u - PS_YUV_KGV * v);
    rgb[2] = yuv_channel(l + PS_YUV_KBU * u);
}

/* The RGB of both taps of n columns in source row y: out[6c .. 6c+2] at
 * col[c].lo, out[6c+3 .. 6c+5] at col[c].hi. Converting only these keeps a
 * YUV picture from needing a full-size RGB copy. */
static void gather_row(const ps_picture *p, int y, const tap *col, int n, uint8_t *out) {
    for (int c = 0; c < n; c++) {
        pixel_rgb(p, col[c].lo, y, out + 6 * c);
        pixel_rgb(p, col[c].hi, y, out + 6 * c + 3);
    }
}

/* Resizes output columns [c0, c0 + n) of every scaled row; out points at the
 * scaled rectangle's top-left in dst (dst_w * 3 floats per row). */
static void resize_tile(const ps_picture *pic, const ps_letterbox *lb, int c0, int n,
                        float *out, int dst_w) {
    tap col[TILE];
    uint8_t top[TILE * 6], bot[TILE * 6];
    double rx = (double)pic->width / lb->sw, ry = (double)pic->height / lb->sh;
    for (int c = 0; c < n; c++) col[c] = tap_at(c0 + c, rx, pic->width);
    for (int r = 0; r < lb->sh; r++) {
        tap row = tap_at(r, ry, pic->height);
        gather_row(pic, row.lo, col, n, top);
        gather_row(pic, row.hi, col, n, bot);
        float *o = out + ((size_t)r * dst_w + c0) * 3;
        for (int c = 0; c < n; c++) {
            const uint8_t *t6 = top + 6 * c, *b6 = bot + 6 * c;
            double fx = col[c].frac;
            for (int k = 0; k < 3; k++) {
                double t = t6[k] + (t6[k + 3] - t6[k]) * fx;
                double b = b6[k] + (b6[k + 3] - b6[k]) * fx;
                *o++ = to_input(t + (b - t) * row.frac);
            }
        }
    }
}

/* Zeroes everything in dst outside the scaled rectangle. */
static void zero_padding(float *dst, int dst_w, int dst_h, const ps_letterbox *lb) {
    size_t row = (size_t)dst_w * 3;
    memset(dst, 0, sizeof *dst * row * lb->pad_y);
    for (int y = lb->pad_y; y < lb->pad_y + lb->sh; y++) {
        float *r = dst + row * y;
        memset(r, 0, sizeof *r * 3 * lb->pad_x);
        int right = lb->pad_x + lb->sw;
        memset(r + 3 * right, 0, sizeof *r * 3 * (dst_w - right));
    }
    int below = lb->pad_y + lb->sh;
    memset(dst + row * below, 0, sizeof *dst * row * (dst_h - below));
}

/* Whether every plane the format reads is there; host memory only. */
static int picture_usable(const ps_picture *p) {
    if (!p || p->on_device || !p->plane[0] || p->width <= 0 || p->height <= 0) return 0;
    switch (p->fmt) {
    case PS_PIX_RGB24: return 1;
    case PS_PIX_NV12: return p->plane[1] != NULL;
    case PS_PIX_YUV420P: return p->plane[1] && p->plane[2];
    case PS_PIX_INPUT: return 0; /* an engine's own, on its device */
    }
    return 0;
}

/* A picture it cannot read (NULL, no pixels, a missing plane, device memory,
 * an unknown format) gives an all-zero input and a zero letterbox. */
ps_letterbox ps_letterbox_picture(const ps_picture *pic, float *dst, int dst_w, int dst_h) {
    ps_letterbox lb = {0};
    if (picture_usable(pic)) lb = ps_letterbox_fit(pic->width, pic->height, dst_w, dst_h);
    if (lb.sw == 0) {
        if (dst_w > 0 && dst_h > 0) memset(dst, 0, sizeof *dst * dst_w * dst_h * 3);
        return (ps_letterbox){0};
    }
    zero_padding(dst, dst_w, dst_h, &lb);
    float *out = dst + ((size_t)lb.pad_y * dst_w + lb.pad_x) * 3;
    for (int c0 = 0; c0 < lb.sw; c0 += TILE) {
        int n = lb.sw - c0 < TILE ? lb.sw - c0 : TILE;
        resize_tile(pic, &lb, c0, n, out, dst_w);
    }
    return lb;
}

ps_letterbox ps_letterbox_rgb8(const uint8_t *rgb, int src_w, int src_h,
                               int stride, float *dst, int dst_w, int dst_h) {
    ps_picture pic = {.fmt = PS_PIX_RGB24, .plane = {rgb}, .pitch = {stride},
                      .width = src_w, .height = src_h};
    return ps_letterbox_picture(&pic, dst, dst_w, dst_h);
}
