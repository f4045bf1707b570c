/* Tests for the CPU letterbox: geometry, exact cases, bit-exact agreement
 * with a naive transcription of TF.js's CPU resizeBilinear kernel, and YUV
 * pictures letterboxed as their naive full RGB24 conversion would be. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/preprocess.h"
#include "testutil.h"

/* The naive references must round every product and sum as the library
 * does (GCC does not contract in ISO C mode; Clang does unless told). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define N 256

static int lb_equal(ps_letterbox lb, int sw, int sh, int pad_x, int pad_y) {
    return lb.sw == sw && lb.sh == sh && lb.pad_x == pad_x && lb.pad_y == pad_y;
}

static void check_fit(int w, int h, int dw, int dh, int sw, int sh, int px, int py) {
    ps_letterbox lb = ps_letterbox_fit(w, h, dw, dh);
    printf("fit %5dx%-5d -> %dx%d: scaled %dx%d at (%d, %d), s = (%g, %g)\n", w, h,
           dw, dh, lb.sw, lb.sh, lb.pad_x, lb.pad_y, lb.sx, lb.sy);
    TU_CHECK(lb_equal(lb, sw, sh, px, py));
    if (w > 0 && h > 0) {
        TU_CHECK(lb.sx == (float)((double)sw / w));
        TU_CHECK(lb.sy == (float)((double)sh / h));
    }
}

static void test_geometry(void) {
    check_fit(1920, 1080, N, N, 256, 144, 0, 56);  /* landscape */
    check_fit(1080, 1920, N, N, 144, 256, 56, 0);  /* portrait */
    check_fit(640, 480, N, N, 256, 192, 0, 32);
    check_fit(333, 500, N, N, 170, 256, 43, 0);    /* 170.496 rounds down */
    check_fit(500, 500, N, N, 256, 256, 0, 0);     /* square */
    check_fit(1, 1, N, N, 256, 256, 0, 0);         /* tiny */
    check_fit(1000, 1, N, N, 256, 1, 0, 127);      /* 0.256 rows clamp to 1 */
    check_fit(1, 1000, N, N, 1, 256, 127, 0);
    check_fit(640, 480, 320, 256, 320, 240, 0, 8); /* non-square input */
    check_fit(0, 480, N, N, 0, 0, 0, 0);           /* degenerate */
}

static uint8_t *random_image(int w, int h, unsigned long long seed) {
    uint8_t *img = malloc((size_t)w * h * 3);
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        img[i] = (uint8_t)tu_randf(&seed, 0, 256);
    return img;
}

/* The TF.js CPU kernel line by line (JavaScript numbers are float64; the
 * result array is float32), then Math.round, the clamp, and the placement in a
 * zero canvas, as the reference script does. */
static void naive_letterbox(const uint8_t *x, int ow, int oh, float *dst, int dw, int dh) {
    ps_letterbox lb = ps_letterbox_fit(ow, oh, dw, dh);
    int nw = lb.sw, nh = lb.sh;
    float *result = malloc(sizeof *result * nw * nh * 3);
    double row_ratio = (double)oh / nh, col_ratio = (double)ow / nw;
    int idx = 0;
    for (int r = 0; r < nh; r++) {
        double sfr = row_ratio * (r + 0.5) - 0.5;
        double rfl = fmax(0, floor(sfr));
        double rfrac = sfr - rfl;
        double rce = fmin(oh - 1, ceil(sfr));
        for (int c = 0; c < nw; c++) {
            double sfc = col_ratio * (c + 0.5) - 0.5;
            double cfl = fmax(0, floor(sfc));
            double cfrac = sfc - cfl;
            double cce = fmin(ow - 1, ceil(sfc));
            for (int d = 0; d < 3; d++) {
                double tl = x[((int)rfl * ow + (int)cfl) * 3 + d];
                double bl = x[((int)rce * ow + (int)cfl) * 3 + d];
                double tr = x[((int)rfl * ow + (int)cce) * 3 + d];
                double br = x[((int)rce * ow + (int)cce) * 3 + d];
                double top = tl + (tr - tl) * cfrac;
                double bottom = bl + (br - bl) * cfrac;
                result[idx++] = (float)(top + (bottom - top) * rfrac);
            }
        }
    }
    memset(dst, 0, sizeof *dst * dw * dh * 3);
    for (int r = 0; r < nh; r++)
        for (int c = 0; c < nw * 3; c++) {
            double v = floor((double)result[r * nw * 3 + c] + 0.5);
            dst[((r + lb.pad_y) * dw + lb.pad_x) * 3 + c] = (float)fmin(255, fmax(0, v));
        }
    free(result);
}

static void compare_naive(int w, int h, int dw, int dh, unsigned long long seed) {
    uint8_t *img = random_image(w, h, seed);
    size_t n = (size_t)dw * dh * 3;
    float *got = malloc(sizeof *got * n), *want = malloc(sizeof *want * n);
    for (size_t i = 0; i < n; i++) got[i] = -1; /* catch unwritten padding */
    ps_letterbox_rgb8(img, w, h, w * 3, got, dw, dh);
    naive_letterbox(img, w, h, want, dw, dh);
    char name[64];
    snprintf(name, sizeof name, "naive %dx%d -> %dx%d", w, h, dw, dh);
    tu_close(name, got, want, n, 0);
    free(img);
    free(got);
    free(want);
}

/* A 256x256 image into 256x256 samples every pixel at its centre. */
static void test_identity(void) {
    uint8_t *img = random_image(N, N, 7);
    float *out = malloc(sizeof *out * N * N * 3), *want = malloc(sizeof *want * N * N * 3);
    for (int i = 0; i < N * N * 3; i++) want[i] = img[i];
    ps_letterbox lb = ps_letterbox_rgb8(img, N, N, N * 3, out, N, N);
    TU_CHECK(lb_equal(lb, N, N, 0, 0));
    tu_close("identity 256x256", out, want, (size_t)N * N * 3, 0);
    free(img);
    free(out);
    free(want);
}

/* A constant image keeps its colour inside the rectangle, 0 outside. */
static void test_constant(void) {
    int w = 1000, h = 377;
    uint8_t *img = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++) memcpy(img + i * 3, (uint8_t[3]){12, 200, 255}, 3);
    float *out = malloc(sizeof *out * N * N * 3);
    ps_letterbox lb = ps_letterbox_rgb8(img, w, h, w * 3, out, N, N);
    int bad = 0;
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) {
            int in = x >= lb.pad_x && x < lb.pad_x + lb.sw && y >= lb.pad_y &&
                     y < lb.pad_y + lb.sh;
            const float *p = out + (y * N + x) * 3;
            bad += in ? (p[0] != 12 || p[1] != 200 || p[2] != 255)
                      : (p[0] != 0 || p[1] != 0 || p[2] != 0);
        }
    printf("constant %dx%d: scaled %dx%d at (%d, %d), %d wrong pixels\n", w, h,
           lb.sw, lb.sh, lb.pad_x, lb.pad_y, bad);
    TU_CHECK(lb.sh == 97 && lb.pad_y == 79); /* 96.512 rows */
    TU_CHECK(bad == 0);
    free(img);
    free(out);
}

/* Worked by hand from the kernel: a 5x1 row doubled to 10 columns samples at
 * x = c/2 - 1/4, giving 12.5, 17.5, ... which Math.round takes upwards. */
static void test_hand_values(void) {
    uint8_t img[15];
    for (int i = 0; i < 5; i++) img[i * 3] = img[i * 3 + 1] = img[i * 3 + 2] = (uint8_t)(10 * (i + 1));
    float out[10 * 10 * 3];
    ps_letterbox lb = ps_letterbox_rgb8(img, 5, 1, 15, out, 10, 10);
    TU_CHECK(lb_equal(lb, 10, 2, 0, 4));
    const float want[10] = {10, 13, 18, 23, 28, 33, 38, 43, 48, 50};
    float got[10], got2[10];
    for (int c = 0; c < 10; c++) {
        got[c] = out[(4 * 10 + c) * 3 + 1];
        got2[c] = out[(5 * 10 + c) * 3 + 1];
    }
    tu_close("hand-worked 5x1 -> 10x2 row 0", got, want, 10, 0);
    tu_close("hand-worked 5x1 -> 10x2 row 1", got2, want, 10, 0);
    TU_CHECK(out[3 * 10 * 3 + 5] == 0 && out[6 * 10 * 3 + 5] == 0);
}

/* Rows further apart than width * 3 give the same result as packed rows. */
static void test_stride(void) {
    int w = 301, h = 203, stride = w * 3 + 17;
    uint8_t *img = random_image(w, h, 11);
    uint8_t *wide = malloc((size_t)stride * h);
    memset(wide, 0xAB, (size_t)stride * h);
    for (int y = 0; y < h; y++) memcpy(wide + (size_t)y * stride, img + (size_t)y * w * 3, w * 3);
    float *a = malloc(sizeof *a * N * N * 3), *b = malloc(sizeof *b * N * N * 3);
    ps_letterbox_rgb8(img, w, h, w * 3, a, N, N);
    ps_letterbox_rgb8(wide, w, h, stride, b, N, N);
    tu_close("stride 301x203 padded rows", a, b, (size_t)N * N * 3, 0);
    free(img);
    free(wide);
    free(a);
    free(b);
}

/* ---- YUV pictures: ps_letterbox_picture vs naive conversion + rgb8 ---- */

/* A host picture whose planes own their memory; rows are padded past the
 * pixels with 0xAB so a pitch mistake reads visible garbage. */
typedef struct {
    ps_picture pic;
    uint8_t *mem[3];
} owned_picture;

static uint8_t *plane_alloc(int row_bytes, int rows, int *pitch) {
    *pitch = row_bytes + 13;
    uint8_t *p = malloc((size_t)*pitch * rows);
    memset(p, 0xAB, (size_t)*pitch * rows);
    return p;
}

/* Random content, or (smooth) gradients across the frame. */
static void fill_plane(uint8_t *p, int pitch, int row_bytes, int rows, int smooth,
                       unsigned long long *seed) {
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < row_bytes; x++)
            p[(size_t)y * pitch + x] = smooth ? (uint8_t)((x * 255 / row_bytes + y * 97 / rows) & 255)
                                              : (uint8_t)tu_randf(seed, 0, 256);
}

static owned_picture make_yuv(ps_pixfmt fmt, int w, int h, int smooth, unsigned long long seed) {
    owned_picture o = {{.fmt = fmt, .width = w, .height = h}, {NULL, NULL, NULL}};
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    int bytes[3] = {w, fmt == PS_PIX_NV12 ? 2 * cw : cw, cw};
    int rows[3] = {h, ch, ch};
    for (int i = 0; i < (fmt == PS_PIX_NV12 ? 2 : 3); i++) {
        o.mem[i] = plane_alloc(bytes[i], rows[i], &o.pic.pitch[i]);
        fill_plane(o.mem[i], o.pic.pitch[i], bytes[i], rows[i], smooth, &seed);
        o.pic.plane[i] = o.mem[i];
    }
    return o;
}

static uint8_t naive_channel(float v) {
    float r = floorf(v + 0.5f);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

/* picture.h's rule, pixel by pixel over the whole frame, into packed RGB24. */
static uint8_t *naive_to_rgb(const ps_picture *p) {
    uint8_t *rgb = malloc((size_t)p->width * p->height * 3);
    for (int y = 0; y < p->height; y++)
        for (int x = 0; x < p->width; x++) {
            const uint8_t *c = p->plane[1] + (size_t)(y / 2) * p->pitch[1];
            int Y = p->plane[0][(size_t)y * p->pitch[0] + x];
            int U = p->fmt == PS_PIX_NV12 ? c[x / 2 * 2] : c[x / 2];
            int V = p->fmt == PS_PIX_NV12 ? c[x / 2 * 2 + 1]
                                          : p->plane[2][(size_t)(y / 2) * p->pitch[2] + x / 2];
            float l = 1.164383f * (float)(Y - 16), u = (float)(U - 128), v = (float)(V - 128);
            uint8_t *o = rgb + ((size_t)y * p->width + x) * 3;
            o[0] = naive_channel(l + 1.596027f * v);
            o[1] = naive_channel(l - 0.391762f * u - 0.812968f * v);
            o[2] = naive_channel(l + 2.017232f * u);
        }
    return rgb;
}

static void compare_yuv(ps_pixfmt fmt, int w, int h, int dw, int dh, int smooth,
                        unsigned long long seed) {
    owned_picture o = make_yuv(fmt, w, h, smooth, seed);
    uint8_t *rgb = naive_to_rgb(&o.pic);
    size_t n = (size_t)dw * dh * 3;
    float *got = malloc(sizeof *got * n), *want = malloc(sizeof *want * n);
    for (size_t i = 0; i < n; i++) got[i] = -1;
    ps_letterbox a = ps_letterbox_picture(&o.pic, got, dw, dh);
    ps_letterbox b = ps_letterbox_rgb8(rgb, w, h, w * 3, want, dw, dh);
    TU_CHECK(lb_equal(a, b.sw, b.sh, b.pad_x, b.pad_y));
    char name[64];
    snprintf(name, sizeof name, "%s %s %dx%d -> %dx%d", fmt == PS_PIX_NV12 ? "nv12" : "yuv420p",
             smooth ? "smooth" : "random", w, h, dw, dh);
    tu_close(name, got, want, n, 0);
    for (int i = 0; i < 3; i++) free(o.mem[i]);
    free(rgb);
    free(got);
    free(want);
}

/* An RGB24 picture is ps_letterbox_rgb8 itself. */
static void test_picture_rgb(void) {
    int w = 641, h = 479;
    uint8_t *img = random_image(w, h, 21);
    ps_picture pic = {.fmt = PS_PIX_RGB24, .plane = {img}, .pitch = {w * 3}, .width = w, .height = h};
    float *a = malloc(sizeof *a * N * N * 3), *b = malloc(sizeof *b * N * N * 3);
    ps_letterbox_picture(&pic, a, N, N);
    ps_letterbox_rgb8(img, w, h, w * 3, b, N, N);
    tu_close("picture rgb24 641x479", a, b, (size_t)N * N * 3, 0);
    free(img);
    free(a);
    free(b);
}

/* Pictures it cannot read give zeros and a zero letterbox. */
static void test_picture_unusable(void) {
    float out[8 * 8 * 3];
    uint8_t y[64] = {0};
    ps_picture pic = {.fmt = PS_PIX_YUV420P, .plane = {y, y, NULL}, .pitch = {8, 4, 4},
                      .width = 8, .height = 8};
    for (int i = 0; i < 8 * 8 * 3; i++) out[i] = -1;
    ps_letterbox lb = ps_letterbox_picture(&pic, out, 8, 8);
    int nonzero = 0;
    for (int i = 0; i < 8 * 8 * 3; i++) nonzero += out[i] != 0;
    TU_CHECK(lb.sw == 0 && nonzero == 0);
    pic.plane[2] = y;
    pic.on_device = 1;
    TU_CHECK(ps_letterbox_picture(&pic, out, 8, 8).sw == 0);
    TU_CHECK(ps_letterbox_picture(NULL, out, 8, 8).sw == 0);
}

static void test_yuv(void) {
    test_picture_rgb();
    test_picture_unusable();
    const ps_pixfmt fmts[2] = {PS_PIX_YUV420P, PS_PIX_NV12};
    for (int f = 0; f < 2; f++) {
        compare_yuv(fmts[f], 1921, 1079, N, N, 0, 31 + f);
        compare_yuv(fmts[f], 1921, 1079, 256, 160, 1, 33 + f);
        compare_yuv(fmts[f], 640, 480, N, N, 1, 35 + f);
        compare_yuv(fmts[f], 640, 480, 256, 192, 0, 37 + f);
        compare_yuv(fmts[f], 480, 640, N, N, 0, 39 + f);
        compare_yuv(fmts[f], 97, 61, N, N, 0, 41 + f); /* upscaling, odd */
        compare_yuv(fmts[f], 1, 1, N, N, 0, 43 + f);
    }
}

int main(void) {
    test_geometry();
    test_identity();
    test_constant();
    test_hand_values();
    test_stride();
    compare_naive(1921, 1079, N, N, 1);
    compare_naive(333, 500, N, N, 2);
    compare_naive(1920, 1080, N, N, 3);
    compare_naive(97, 61, N, N, 4);      /* upscaling */
    compare_naive(1000, 1, N, N, 5);
    compare_naive(1, 1, N, N, 6);
    compare_naive(1300, 700, 640, 384, 8); /* wider than one column tile */
    test_yuv();
    return tu_finish("test_preprocess");
}
