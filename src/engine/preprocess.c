/* CPU preprocessing: letterbox an RGB8 image into the float network input.
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

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Math.round for the non-negative values we meet: half rounds up. */
static double round_half_up(double v) { return floor(v + 0.5); }

static tap tap_at(int dst, double ratio, int src_size) {
    double s = ratio * (dst + 0.5) - 0.5;
    double lo = floor(s), hi = ceil(s);
    tap t;
    t.lo = lo < 0 ? 0 : (int)lo;
    t.hi = hi > src_size - 1 ? src_size - 1 : (int)hi;
    t.frac = s - t.lo;
    return t;
}

ps_letterbox ps_letterbox_fit(int src_w, int src_h, int dst_w, int dst_h) {
    ps_letterbox lb = {0};
    if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0) return lb;
    double s = fmin((double)dst_w / src_w, (double)dst_h / src_h);
    lb.sw = clamp_int((int)round_half_up(src_w * s), 1, dst_w);
    lb.sh = clamp_int((int)round_half_up(src_h * s), 1, dst_h);
    lb.pad_x = (dst_w - lb.sw) / 2;
    lb.pad_y = (dst_h - lb.sh) / 2;
    lb.sx = (float)((double)lb.sw / src_w);
    lb.sy = (float)((double)lb.sh / src_h);
    return lb;
}

/* The float32 store, then Math.round and the clamp to 0..255. Truncation
 * equals floor on what survives the clamp, and avoids a libm call per value. */
static float to_input(double v) {
    double r = (double)(float)v + 0.5;
    return r < 1 ? 0.0f : r >= 255 ? 255.0f : (float)(int)r;
}

/* Resizes output columns [c0, c0 + n) of every scaled row; out points at the
 * scaled rectangle's top-left in dst (dst_w * 3 floats per row). */
static void resize_tile(const uint8_t *rgb, int src_w, int src_h, int stride,
                        const ps_letterbox *lb, int c0, int n, float *out,
                        int dst_w) {
    tap col[TILE];
    double rx = (double)src_w / lb->sw, ry = (double)src_h / lb->sh;
    for (int c = 0; c < n; c++) col[c] = tap_at(c0 + c, rx, src_w);
    for (int r = 0; r < lb->sh; r++) {
        tap row = tap_at(r, ry, src_h);
        const uint8_t *top = rgb + (size_t)row.lo * stride;
        const uint8_t *bot = rgb + (size_t)row.hi * stride;
        float *o = out + ((size_t)r * dst_w + c0) * 3;
        for (int c = 0; c < n; c++) {
            int l = col[c].lo * 3, h = col[c].hi * 3;
            double fx = col[c].frac;
            for (int k = 0; k < 3; k++) {
                double t = top[l + k] + (top[h + k] - top[l + k]) * fx;
                double b = bot[l + k] + (bot[h + k] - bot[l + k]) * fx;
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

/* A degenerate image (no pixels, no data) gives an all-zero input and a
 * zero letterbox. */
ps_letterbox ps_letterbox_rgb8(const uint8_t *rgb, int src_w, int src_h,
                               int stride, float *dst, int dst_w, int dst_h) {
    ps_letterbox lb = ps_letterbox_fit(src_w, src_h, dst_w, dst_h);
    if (lb.sw == 0 || !rgb) {
        if (dst_w > 0 && dst_h > 0) memset(dst, 0, sizeof *dst * dst_w * dst_h * 3);
        return (ps_letterbox){0};
    }
    zero_padding(dst, dst_w, dst_h, &lb);
    float *out = dst + ((size_t)lb.pad_y * dst_w + lb.pad_x) * 3;
    for (int c0 = 0; c0 < lb.sw; c0 += TILE) {
        int n = lb.sw - c0 < TILE ? lb.sw - c0 : TILE;
        resize_tile(rgb, src_w, src_h, stride, &lb, c0, n, out, dst_w);
    }
    return lb;
}
