/* Tests of the GPU preprocessing and decoder (src/engine/cuda/cuda_pre.cu,
 * cuda_decode.cu) against their CPU references: ps_letterbox_picture plus
 * the normalisation steps, and ps_decode_heads. Every comparison prints how
 * far off it is and where, so one run on a GPU machine is enough to debug
 * from. Skipped (exit 77) without a usable CUDA device. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_pre.h"
#include "model/decode.h"
#include "testutil.h"
#include "util/half.h"

#define NK PS_NUM_KEYPOINTS
#define ROW PS_DECODE_ROW

/* ---- checked helpers: a CUDA or library failure ends the test ---- */

#define CU(call) cu_check((call), #call, __FILE__, __LINE__)
static void cu_check(cudaError_t e, const char *what, const char *file, int line) {
    if (e == cudaSuccess) return;
    fprintf(stderr, "%s:%d: %s: %s (%s)\n", file, line, what, cudaGetErrorName(e),
            cudaGetErrorString(e));
    exit(1);
}

#define PS(call) ps_check((call), &err, #call, __FILE__, __LINE__)
static void ps_check(ps_status st, const ps_err *err, const char *what, const char *file,
                     int line) {
    if (st == PS_OK) return;
    fprintf(stderr, "%s:%d: %s: status %d: %s\n", file, line, what, (int)st, err->msg);
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static void *dev_upload(const void *host, size_t bytes) {
    void *d = NULL;
    CU(cudaMalloc(&d, bytes));
    CU(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice));
    return d;
}

static cudaStream_t stream;

/* ---- pictures ---- */

/* A host picture owning its planes, and its copy in device memory. Rows are
 * padded with 0xAB past the pixels, so a pitch mistake reads garbage. */
typedef struct {
    ps_picture host, dev;
    uint8_t *mem[3];
    void *dmem[3];
} test_picture;

static const char *fmt_name(ps_pixfmt f) {
    return f == PS_PIX_RGB24 ? "rgb24" : f == PS_PIX_YUV420P ? "yuv420p" : "nv12";
}

/* Random bytes, or smooth gradients (per plane, different directions). */
static void fill_plane(uint8_t *p, int pitch, int row_bytes, int rows, int smooth, int plane,
                       unsigned long long *seed) {
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < row_bytes; x++) {
            int g = plane == 0 ? x * 255 / row_bytes + y * 60 / rows
                  : plane == 1 ? y * 255 / rows
                               : 255 - x * 200 / row_bytes;
            p[(size_t)y * pitch + x] = smooth ? (uint8_t)(g & 255) : (uint8_t)tu_randf(seed, 0, 256);
        }
}

static test_picture make_picture(ps_pixfmt fmt, int w, int h, int smooth, unsigned long long seed) {
    test_picture t;
    memset(&t, 0, sizeof t);
    t.host.fmt = fmt;
    t.host.width = w;
    t.host.height = h;
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    int bytes[3] = {fmt == PS_PIX_RGB24 ? 3 * w : w, fmt == PS_PIX_NV12 ? 2 * cw : cw, cw};
    int rows[3] = {h, ch, ch};
    int planes = fmt == PS_PIX_RGB24 ? 1 : fmt == PS_PIX_NV12 ? 2 : 3;
    t.dev = t.host;
    t.dev.on_device = 1;
    for (int i = 0; i < planes; i++) {
        int pitch = (bytes[i] + 63) / 64 * 64 + 64; /* like a decoder's aligned pitch */
        size_t size = (size_t)pitch * rows[i];
        t.mem[i] = xmalloc(size);
        memset(t.mem[i], 0xAB, size);
        fill_plane(t.mem[i], pitch, bytes[i], rows[i], smooth, i, &seed);
        t.host.plane[i] = t.mem[i];
        t.host.pitch[i] = t.dev.pitch[i] = pitch;
        t.dmem[i] = dev_upload(t.mem[i], size);
        t.dev.plane[i] = t.dmem[i];
    }
    return t;
}

static void free_picture(test_picture *t) {
    for (int i = 0; i < 3; i++) {
        free(t->mem[i]);
        if (t->dmem[i]) CU(cudaFree(t->dmem[i]));
    }
}

/* ---- normalisation on the host (the CPU backend's order) ---- */

typedef struct {
    const char *name;
    ps_norm_step step[PS_MAX_NORM];
    int n;
} norm_set;

/* The model's own steps: x * 0.007843017578125 - 1. */
static const norm_set NORM_MODEL = {
    "model", {{PS_NORM_MUL, {0.007843017578125f, 0.007843017578125f, 0.007843017578125f}},
              {PS_NORM_SUB, {1, 1, 1}}}, 2};
/* Per-channel constants, to catch a channel mix-up. */
static const norm_set NORM_CHANNELS = {
    "per-channel", {{PS_NORM_SUB, {123.5f, 116.25f, 103.75f}},
                    {PS_NORM_MUL, {0.0171f, 0.0175f, 0.0174f}},
                    {PS_NORM_ADD, {0.25f, -0.5f, 0.125f}}}, 3};

static float normalise(const norm_set *ns, float v, int c) {
    for (int k = 0; k < ns->n; k++) {
        const ps_norm_step *s = &ns->step[k];
        if (s->op == PS_NORM_SUB) v = v - s->c[c];
        else if (s->op == PS_NORM_MUL) v = v * s->c[c];
        else v = v + s->c[c];
    }
    return v;
}

/* One input level of channel c after normalisation. */
static float level(const norm_set *ns, int c) {
    return fabsf(normalise(ns, 1, c) - normalise(ns, 0, c));
}

/* The FP16 output [h, w, 4] of one image from the device, as floats. */
static float *download_half(const void *dev, size_t values) {
    uint16_t *h = xmalloc(values * sizeof *h);
    CU(cudaMemcpy(h, dev, values * sizeof *h, cudaMemcpyDeviceToHost));
    float *f = xmalloc(values * sizeof *f);
    for (size_t i = 0; i < values; i++) f[i] = ps_half_to_float(h[i]);
    free(h);
    return f;
}

/* ---- comparing one image of GPU input with the CPU's ---- */

/* gpu: [dh, dw, 4] as floats; ref: [dh, dw, 3] normalised CPU values.
 * Allowed per value: one input level plus FP16 rounding (2^-11 relative).
 * Prints the worst value, how many values land on another level (the GPU
 * should give the same integers: expect 0), NaNs (never written: the buffer
 * starts as 0xFFFF), and nonzero channel-3 values. */
static void compare_input(const char *name, const float *gpu, const float *ref, int dw, int dh,
                          const norm_set *ns) {
    double worst = 0, excess = 0;
    int at = 0, off_level = 0, nans = 0, ch3 = 0, shown = 0;
    for (int i = 0; i < dw * dh; i++) {
        ch3 += gpu[4 * i + 3] != 0;
        for (int c = 0; c < 3; c++) {
            float g = gpu[4 * i + c], r = ref[3 * i + c];
            if (isnan(g)) {
                nans++;
                continue;
            }
            double d = fabs((double)g - r), lv = level(ns, c);
            double allowed = lv + fabs(r) / 2048 + 1e-6;
            if (d > worst) worst = d, at = 3 * i + c;
            if (d - allowed > excess) excess = d - allowed;
            if (d > 0.5 * lv) {
                off_level++;
                if (shown++ < 4)
                    printf("    %s: pixel (x %d, y %d) channel %d: gpu %.6f cpu %.6f (%+.2f levels)\n",
                           name, i % dw, i / dw, c, g, r, (g - r) / lv);
            }
        }
    }
    int ok = excess == 0 && nans == 0 && ch3 == 0;
    printf("%-46s max diff %.3g (at x %d y %d c %d), %d values off by a level, %d unwritten, "
           "%d nonzero ch3 %s\n", name, worst, at / 3 % dw, at / 3 / dw, at % 3, off_level, nans,
           ch3, ok ? "ok" : "FAIL");
    if (!ok) tu_failures++;
}

/* ---- preprocessing ---- */

/* Letterboxes count pictures into one [count, dh, dw, 4] batch on the GPU and
 * compares each image with the CPU. */
static void run_pre(test_picture *pics, int count, int dw, int dh, const norm_set *ns,
                    const char *label) {
    ps_err err = {0};
    ps_cuda_pre_item *items = xmalloc(sizeof *items * count);
    for (int i = 0; i < count; i++) {
        items[i].pic = pics[i].dev;
        items[i].lb = ps_letterbox_fit(pics[i].host.width, pics[i].host.height, dw, dh);
    }
    ps_cuda_pre_item *items_dev = dev_upload(items, sizeof *items * count);
    size_t per = (size_t)dw * dh * 4;
    void *dst;
    CU(cudaMalloc(&dst, per * count * 2));
    CU(cudaMemset(dst, 0xFF, per * count * 2));
    PS(ps_cuda_preprocess(items_dev, count, dst, dw, dh, ns->step, ns->n, stream, &err));
    CU(cudaStreamSynchronize(stream));
    float *gpu = download_half(dst, per * count);
    float *ref = xmalloc(sizeof *ref * dw * dh * 3);
    for (int i = 0; i < count; i++) {
        ps_letterbox_picture(&pics[i].host, ref, dw, dh);
        for (int j = 0; j < dw * dh * 3; j++) ref[j] = normalise(ns, ref[j], j % 3);
        char name[128];
        snprintf(name, sizeof name, "pre %s[%d] %s %dx%d -> %dx%d %s", label, i,
                 fmt_name(pics[i].host.fmt), pics[i].host.width, pics[i].host.height, dw, dh,
                 ns->name);
        compare_input(name, gpu + per * i, ref, dw, dh, ns);
    }
    free(ref);
    free(gpu);
    free(items);
    CU(cudaFree(dst));
    CU(cudaFree(items_dev));
}

static void test_pre_single(void) {
    const ps_pixfmt fmts[3] = {PS_PIX_RGB24, PS_PIX_YUV420P, PS_PIX_NV12};
    const int sizes[][2] = {{1921, 1079}, {640, 480}, {480, 640}, {1920, 1080}, {97, 61}, {1, 1}};
    const int dsts[][2] = {{256, 256}, {256, 192}, {256, 160}, {192, 256}};
    int run = 0;
    for (int f = 0; f < 3; f++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            test_picture p = make_picture(fmts[f], sizes[s][0], sizes[s][1], run % 2,
                                          100 + run);
            for (size_t d = 0; d < sizeof dsts / sizeof *dsts; d++, run++)
                run_pre(&p, 1, dsts[d][0], dsts[d][1], &NORM_MODEL, run % 2 ? "smooth" : "random");
            free_picture(&p);
        }
}

/* Mixed formats and sizes in one call: each image reads its own item. */
static void test_pre_batch(void) {
    test_picture p[3] = {make_picture(PS_PIX_RGB24, 1921, 1079, 0, 7),
                         make_picture(PS_PIX_YUV420P, 480, 640, 1, 8),
                         make_picture(PS_PIX_NV12, 640, 480, 0, 9)};
    run_pre(p, 3, 256, 192, &NORM_MODEL, "batch");
    run_pre(p, 3, 256, 256, &NORM_CHANNELS, "batch");
    for (int i = 0; i < 3; i++) free_picture(&p[i]);
}

/* Bad arguments come back as PS_ERR_ARG, before anything is enqueued. */
static void test_pre_args(void) {
    ps_err err = {0};
    uint16_t *dst;
    CU(cudaMalloc((void **)&dst, 64));
    ps_cuda_pre_item *items;
    CU(cudaMalloc((void **)&items, sizeof *items));
    ps_norm_step many[PS_MAX_NORM + 1];
    memset(many, 0, sizeof many);
    TU_CHECK(ps_cuda_preprocess(items, 1, dst, 2, 2, many, PS_MAX_NORM + 1, stream, &err) ==
             PS_ERR_ARG);
    printf("too many steps: %s\n", err.msg);
    TU_CHECK(ps_cuda_preprocess(items, 0, dst, 2, 2, NULL, 0, stream, &err) == PS_ERR_ARG);
    TU_CHECK(ps_cuda_input_from_float(NULL, 1, 2, 2, dst, NULL, 0, stream, &err) == PS_ERR_ARG);
    printf("no source: %s\n", err.msg);
    CU(cudaFree(dst));
    CU(cudaFree(items));
}

/* ---- float input ---- */

static void test_from_float(const norm_set *ns) {
    ps_err err = {0};
    int n = 3, h = 192, w = 256;
    size_t vals = (size_t)n * h * w * 3;
    unsigned long long seed = 5;
    float *src = xmalloc(sizeof *src * vals);
    for (size_t i = 0; i < vals; i++) src[i] = floorf(tu_randf(&seed, 0, 256));
    float *src_dev = dev_upload(src, sizeof *src * vals);
    void *dst;
    size_t outv = (size_t)n * h * w * 4;
    CU(cudaMalloc(&dst, outv * 2));
    CU(cudaMemset(dst, 0xFF, outv * 2));
    PS(ps_cuda_input_from_float(src_dev, n, h, w, dst, ns->step, ns->n, stream, &err));
    CU(cudaStreamSynchronize(stream));
    float *gpu = download_half(dst, outv);
    for (int i = 0; i < n; i++) {
        float *ref = src + (size_t)i * h * w * 3;
        for (int j = 0; j < h * w * 3; j++) ref[j] = normalise(ns, ref[j], j % 3);
        char name[96];
        snprintf(name, sizeof name, "float input [%d] %dx%d %s", i, w, h, ns->name);
        compare_input(name, gpu + (size_t)i * h * w * 4, ref, w, h, ns);
    }
    free(gpu);
    free(src);
    CU(cudaFree(src_dev));
    CU(cudaFree(dst));
}

/* ---- decoder ---- */

/* n images of heads, [n, gh, gw, C] per head, on the host. */
typedef struct {
    float *h[PS_NUM_HEADS];
    int n, gh, gw;
    int np; /* centres decoded per image */
} batch;

static float *head_at(const batch *b, int head, int img, int y, int x) {
    size_t cells = (size_t)b->gh * b->gw;
    return b->h[head] + ((size_t)img * cells + (size_t)y * b->gw + x) * ps_head_channels[head];
}

static void fill_random(batch *b, int img, unsigned long long *seed) {
    static const float lo[PS_NUM_HEADS] = {0, 0, -8, -1, -4, -1};
    static const float hi[PS_NUM_HEADS] = {1, 1, 8, 1, 24, 1};
    for (int hd = 0; hd < PS_NUM_HEADS; hd++) {
        float *p = head_at(b, hd, img, 0, 0);
        for (size_t i = 0; i < (size_t)b->gh * b->gw * ps_head_channels[hd]; i++)
            p[i] = tu_randf(seed, lo[hd], hi[hd]);
    }
}

/* Random heads, then seven planted people over low centre noise: equal
 * centre peaks (the lower index must come first), a two-cell plateau (both
 * are peaks), a box clipped at the border, the weakest (0.6) left out of the
 * top 6 (and in at 32, with low-noise non-peaks after it); integer regressions over a flat keypoint heat (symmetric cells tie
 * exactly: the first must win) and one keypoint with no heat at all (every
 * w is 0: cell 0). */
static void fill_planted(batch *b, int img, unsigned long long *seed) {
    fill_random(b, img, seed);
    int gh = b->gh, gw = b->gw;
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            *head_at(b, PS_HEAD_CENTER, img, y, x) = tu_randf(seed, 0, 0.05f);
            float *heat = head_at(b, PS_HEAD_KPT_HEAT, img, y, x);
            for (int k = 0; k < NK; k++)
                heat[k] = k == 3 ? 0.0f : k % 2 ? 0.5f : heat[k] * 0.3f;
        }
    const int py[7] = {10, gh - 12, 30, 30, 20, 21, 2};
    const int px[7] = {12, gw - 14, 8, gw - 9, 24, 24, 2};
    const float pv[7] = {0.8f, 0.8f, 0.9f, 0.6f, 0.7f, 0.7f, 0.75f};
    for (int i = 0; i < 7; i++) {
        *head_at(b, PS_HEAD_CENTER, img, py[i], px[i]) = pv[i];
        float *sc = head_at(b, PS_HEAD_BOX_SCALE, img, py[i], px[i]);
        sc[0] = i == 6 ? 20.0f : 14.0f;
        sc[1] = 11.0f;
        float *of = head_at(b, PS_HEAD_BOX_OFFSET, img, py[i], px[i]);
        of[0] = 0.5f;
        of[1] = -0.25f;
        float *r = head_at(b, PS_HEAD_KPT_REGRESS, img, py[i], px[i]);
        for (int k = 0; k < NK; k++) {
            r[2 * k] = (float)(k % 5 - 2);
            r[2 * k + 1] = (float)(k % 3 - 1);
        }
    }
}

static const char *field_name(int f, char *buf, size_t n) {
    static const char *box[5] = {"ymin", "xmin", "ymax", "xmax", "score"};
    static const char *kp[3] = {"y", "x", "score"};
    if (f >= 3 * NK) snprintf(buf, n, "person %s", box[f - 3 * NK]);
    else snprintf(buf, n, "kpt %d %s", f / 3, kp[f % 3]);
    return buf;
}

/* Compares n images of GPU rows with ps_decode_heads; prints the worst
 * value, how many differ at all, and the first few beyond tolerance. */
static void compare_rows(const char *name, const batch *b, const float *gpu) {
    double worst = 0;
    int unequal = 0, bad = 0, at = 0;
    float cpu[PS_MAX_PEOPLE * ROW];
    int np = b->np;
    for (int img = 0; img < b->n; img++) {
        size_t cells = (size_t)b->gh * b->gw;
        ps_heads h = {b->h[0] + img * cells, b->h[1] + img * cells * NK,
                      b->h[2] + img * cells * 2 * NK, b->h[3] + img * cells * 2 * NK,
                      b->h[4] + img * cells * 2, b->h[5] + img * cells * 2, b->gh, b->gw};
        TU_CHECK(ps_decode_heads(&h, 4 * b->gh, 4 * b->gw, np, cpu) == np);
        const float *g = gpu + (size_t)img * np * ROW;
        for (int i = 0; i < np * ROW; i++) {
            double d = fabs((double)g[i] - cpu[i]);
            if (isnan(g[i])) d = INFINITY;
            unequal += g[i] != cpu[i];
            if (d > worst) worst = d, at = img * np * ROW + i;
            if (d > 1e-5 && bad++ < 6) {
                char f[32];
                printf("    %s: image %d person %d %s: gpu %.9g cpu %.9g\n", name, img, i / ROW,
                       field_name(i % ROW, f, sizeof f), g[i], cpu[i]);
            }
        }
    }
    printf("%-46s max diff %.3g (image %d person %d field %d), %d values unequal, %d beyond "
           "1e-05 %s\n", name, worst, at / (np * ROW), at / ROW % np, at % ROW, unequal, bad,
           bad ? "FAIL" : "ok");
    if (bad) tu_failures++;
}

/* planted: 0 all random, 1 odd images planted (all of them when n = 1). */
static void run_decode(int n, int gh, int gw, int np, int planted, unsigned long long seed) {
    ps_err err = {0};
    batch b = {{NULL}, n, gh, gw, np};
    const float *dev[PS_NUM_HEADS];
    for (int hd = 0; hd < PS_NUM_HEADS; hd++)
        b.h[hd] = xmalloc(sizeof(float) * n * gh * gw * ps_head_channels[hd]);
    for (int i = 0; i < n; i++) {
        if (planted && (i % 2 || n == 1)) fill_planted(&b, i, &seed);
        else fill_random(&b, i, &seed);
    }
    for (int hd = 0; hd < PS_NUM_HEADS; hd++)
        dev[hd] = dev_upload(b.h[hd], sizeof(float) * n * gh * gw * ps_head_channels[hd]);
    float *rows_dev;
    size_t rows = (size_t)n * np * ROW;
    CU(cudaMalloc((void **)&rows_dev, rows * sizeof(float)));
    CU(cudaMemset(rows_dev, 0xFF, rows * sizeof(float)));
    PS(ps_cuda_decode(dev, n, gh, gw, 4 * gh, 4 * gw, np, rows_dev, stream, &err));
    CU(cudaStreamSynchronize(stream));
    float *gpu = xmalloc(rows * sizeof(float));
    CU(cudaMemcpy(gpu, rows_dev, rows * sizeof(float), cudaMemcpyDeviceToHost));
    char name[96];
    snprintf(name, sizeof name, "decode n %d grid %dx%d np %d %s", n, gw, gh, np,
             planted ? "planted" : "random");
    compare_rows(name, &b, gpu);
    free(gpu);
    CU(cudaFree(rows_dev));
    for (int hd = 0; hd < PS_NUM_HEADS; hd++) {
        free(b.h[hd]);
        CU(cudaFree((void *)dev[hd]));
    }
}

/* The graph's 6 centres on every grid and batch; 1 and 32 (--max-people's
 * ends) on one grid each way. */
static void test_decode(void) {
    const int grids[3][2] = {{64, 64}, {64, 48}, {48, 64}}; /* gh, gw */
    const int ns[3] = {1, 3, 8};
    unsigned long long seed = 1000;
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < 3; i++)
            for (int planted = 0; planted < 2; planted++)
                run_decode(ns[i], grids[g][0], grids[g][1], PS_DEFAULT_PEOPLE, planted, seed++);
    for (int np = 1; np <= PS_MAX_PEOPLE; np += PS_MAX_PEOPLE - 1)
        for (int planted = 0; planted < 2; planted++) {
            run_decode(1, 64, 48, np, planted, seed++);
            run_decode(8, 48, 64, np, planted, seed++);
        }
}

int main(void) {
    int devices = 0;
    cudaError_t e = cudaGetDeviceCount(&devices);
    if (e != cudaSuccess || devices == 0)
        TU_SKIP("no CUDA device (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "none");
    struct cudaDeviceProp prop;
    CU(cudaGetDeviceProperties(&prop, 0));
    printf("device 0: %s, sm_%d%d\n", prop.name, prop.major, prop.minor);
    CU(cudaStreamCreate(&stream));
    test_pre_args();
    test_pre_single();
    test_pre_batch();
    test_from_float(&NORM_MODEL);
    test_from_float(&NORM_CHANNELS);
    test_decode();
    CU(cudaStreamDestroy(stream));
    return tu_finish("test_cuda_pre");
}
