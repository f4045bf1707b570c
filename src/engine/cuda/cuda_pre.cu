/* GPU preprocessing: pictures in device memory (RGB24, YUV420P, NV12) ->
 * letterbox + colour conversion + the model's normalisation -> the FP16
 * [n, h, w, 4] input tensor of cuda_net.h; the same letterbox for one
 * picture kept as bytes (PS_PIX_INPUT, done as a frame arrives); and float32
 * RGB input -> the tensor.
 *
 * The integers fed to the model must be the CPU reference's
 * (ps_letterbox_picture in engine/preprocess.c), so the kernel repeats its
 * arithmetic op for op: the colour conversion in float32, the bilinear taps
 * and interpolation in float64 (as TF.js's CPU kernel computes), the float32
 * store, then round half up. Every op is an explicit __*_rn intrinsic so nvcc
 * cannot fuse a * b + c into an FMA (one rounding instead of two). Float64 is
 * cheap here: about 40 operations per output pixel, a few microseconds per
 * batch even on cards with slow float64. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "engine/cuda/cuda_pre.h"

extern "C" {
#include "util/status.h"
}

/* The normalisation steps, passed by value as a kernel argument. */
struct norm_set {
    ps_norm_step step[PS_MAX_NORM];
    int n;
};

#define PRE_BX 32 /* a warp along a row: neighbouring pixels, neighbouring taps */
#define PRE_BY 8

/* ---- colour ---- */

/* picture.h's rule for one channel: round half up, clamp to 0..255. */
__device__ static int yuv_channel(float v) {
    float r = floorf(__fadd_rn(v, 0.5f));
    return r <= 0.0f ? 0 : r >= 255.0f ? 255 : (int)r;
}

/* Pixel (x, y) of a device picture as RGB; chroma from sample (x/2, y/2). */
__device__ static void pixel_rgb(const ps_picture &p, int x, int y, int rgb[3]) {
    if (p.fmt == PS_PIX_RGB24) {
        const uint8_t *s = p.plane[0] + (size_t)y * p.pitch[0] + 3 * x;
        rgb[0] = s[0];
        rgb[1] = s[1];
        rgb[2] = s[2];
        return;
    }
    const uint8_t *c = p.plane[1] + (size_t)(y / 2) * p.pitch[1];
    int cu, cv;
    if (p.fmt == PS_PIX_NV12) {
        cu = c[2 * (x / 2)];
        cv = c[2 * (x / 2) + 1];
    } else {
        cu = c[x / 2];
        cv = p.plane[2][(size_t)(y / 2) * p.pitch[2] + x / 2];
    }
    float l = __fmul_rn(PS_YUV_KY, (float)(p.plane[0][(size_t)y * p.pitch[0] + x] - 16));
    float u = (float)(cu - 128), v = (float)(cv - 128);
    rgb[0] = yuv_channel(__fadd_rn(l, __fmul_rn(PS_YUV_KRV, v)));
    rgb[1] = yuv_channel(__fsub_rn(__fsub_rn(l, __fmul_rn(PS_YUV_KGU, u)), __fmul_rn(PS_YUV_KGV, v)));
    rgb[2] = yuv_channel(__fadd_rn(l, __fmul_rn(PS_YUV_KBU, u)));
}

/* ---- resize (preprocess.c's tap_at, resize_tile and to_input) ---- */

struct tap {
    int lo, hi;
    double frac;
};

/* TF's half-pixel rule: src = ratio * (dst + 0.5) - 0.5, clamped taps. */
__device__ static tap tap_at(int dst, double ratio, int src_size) {
    double s = __dadd_rn(__dmul_rn(ratio, (double)dst + 0.5), -0.5);
    double lo = floor(s), hi = ceil(s);
    tap t;
    t.lo = lo < 0 ? 0 : (int)lo;
    t.hi = hi > src_size - 1 ? src_size - 1 : (int)hi;
    t.frac = __dsub_rn(s, (double)t.lo);
    return t;
}

__device__ static double lerp(int a, int b, double f) {
    return __dadd_rn((double)a, __dmul_rn((double)(b - a), f));
}

/* The float32 store, then round half up and clamp to 0..255. */
__device__ static float to_input(double v) {
    double r = __dadd_rn((double)__double2float_rn(v), 0.5);
    return r < 1 ? 0.0f : r >= 255 ? 255.0f : (float)(int)r;
}

/* Output pixel (x, y) of the scaled rectangle (sw x sh), as 0..255 values. */
__device__ static void sample(const ps_picture &p, const ps_letterbox &lb, int x, int y,
                              float out[3]) {
    tap cx = tap_at(x, __ddiv_rn((double)p.width, (double)lb.sw), p.width);
    tap cy = tap_at(y, __ddiv_rn((double)p.height, (double)lb.sh), p.height);
    int tl[3], tr[3], bl[3], br[3];
    pixel_rgb(p, cx.lo, cy.lo, tl);
    pixel_rgb(p, cx.hi, cy.lo, tr);
    pixel_rgb(p, cx.lo, cy.hi, bl);
    pixel_rgb(p, cx.hi, cy.hi, br);
    for (int k = 0; k < 3; k++) {
        double t = lerp(tl[k], tr[k], cx.frac);
        double b = lerp(bl[k], br[k], cx.frac);
        out[k] = to_input(__dadd_rn(t, __dmul_rn(__dsub_rn(b, t), cy.frac)));
    }
}

/* ---- normalisation and the 8-byte store ---- */

/* The model's steps in order, per channel, in float32 (as the CPU backend),
 * then RGB + 0 as four halves in one 8-byte store. */
__device__ static void store_normalised(const norm_set &ns, const float rgb[3], uint2 *dst) {
    unsigned short h[3];
    /* Unrolled so the steps are read from the kernel arguments directly
     * instead of through a local copy. */
#pragma unroll
    for (int c = 0; c < 3; c++) {
        float v = rgb[c];
#pragma unroll
        for (int k = 0; k < PS_MAX_NORM; k++) {
            if (k >= ns.n) break;
            const ps_norm_step &s = ns.step[k];
            v = s.op == PS_NORM_SUB   ? __fsub_rn(v, s.c[c])
                : s.op == PS_NORM_MUL ? __fmul_rn(v, s.c[c])
                                      : __fadd_rn(v, s.c[c]);
        }
        h[c] = __half_as_ushort(__float2half_rn(v));
    }
    *dst = make_uint2(h[0] | (unsigned)h[1] << 16, h[2]);
}

/* Formats the kernel samples; anything else reads as padding. */
__device__ static bool known_format(ps_pixfmt f) {
    return f == PS_PIX_RGB24 || f == PS_PIX_YUV420P || f == PS_PIX_NV12;
}

/* Input pixel (x, y) of a picture letterboxed as lb, as 0..255 values
 * (zero in the padding); a PS_PIX_INPUT picture is that already. */
__device__ static void input_pixel(const ps_picture &p, const ps_letterbox &lb, int x, int y,
                                   float rgb[3]) {
    rgb[0] = rgb[1] = rgb[2] = 0.0f;
    if (p.fmt == PS_PIX_INPUT) {
        uchar4 v = *(const uchar4 *)(p.plane[0] + (size_t)y * p.pitch[0] + 4 * x);
        rgb[0] = v.x, rgb[1] = v.y, rgb[2] = v.z;
        return;
    }
    int sx = x - lb.pad_x, sy = y - lb.pad_y;
    if (sx >= 0 && sx < lb.sw && sy >= 0 && sy < lb.sh && known_format(p.fmt))
        sample(p, lb, sx, sy, rgb);
}

/* grid (ceil(w / PRE_BX), ceil(h / PRE_BY), n), one thread per output pixel
 * of image blockIdx.z; dst: [n, h, w] pixels of 4 halves. */
static __global__ void __launch_bounds__(PRE_BX * PRE_BY)
    pre_kernel(const ps_cuda_pre_item *items, uint2 *dst, int w, int h, norm_set ns) {
    int x = blockIdx.x * PRE_BX + threadIdx.x, y = blockIdx.y * PRE_BY + threadIdx.y;
    if (x >= w || y >= h) return;
    const ps_cuda_pre_item *it = items + blockIdx.z;
    float rgb[3];
    input_pixel(it->pic, it->lb, x, y, rgb);
    store_normalised(ns, rgb, dst + ((size_t)blockIdx.z * h + y) * w + x);
}

/* The same letterbox for one picture, kept as bytes (R, G, B, 0): the
 * PS_PIX_INPUT form. grid (ceil(w / PRE_BX), ceil(h / PRE_BY)). */
static __global__ void __launch_bounds__(PRE_BX * PRE_BY)
    letterbox_kernel(ps_picture pic, ps_letterbox lb, uchar4 *dst, int w, int h) {
    int x = blockIdx.x * PRE_BX + threadIdx.x, y = blockIdx.y * PRE_BY + threadIdx.y;
    if (x >= w || y >= h) return;
    float rgb[3];
    input_pixel(pic, lb, x, y, rgb);
    dst[(size_t)y * w + x] = make_uchar4((unsigned char)rgb[0], (unsigned char)rgb[1],
                                         (unsigned char)rgb[2], 0);
}

/* grid (ceil(h * w / 256), n): float32 [n, h*w, 3] -> [n, h*w] of 4 halves. */
static __global__ void __launch_bounds__(256)
    float_kernel(const float *src, uint2 *dst, int pixels, norm_set ns) {
    int i = blockIdx.x * 256 + threadIdx.x;
    if (i >= pixels) return;
    size_t at = (size_t)blockIdx.y * pixels + i;
    float rgb[3] = {src[3 * at], src[3 * at + 1], src[3 * at + 2]};
    store_normalised(ns, rgb, dst + at);
}

/* ---- host side ---- */

static ps_status norm_args(const ps_norm_step *norm, int n_norm, norm_set *ns, ps_err *err) {
    if (n_norm < 0 || n_norm > PS_MAX_NORM || (n_norm > 0 && !norm))
        return ps_err_set(err, PS_ERR_ARG, "CUDA preprocess: %d normalisation steps (at most %d)",
                          n_norm, PS_MAX_NORM);
    *ns = norm_set{};
    for (int k = 0; k < n_norm; k++) ns->step[k] = norm[k];
    ns->n = n_norm;
    return PS_OK;
}

/* A launch fails synchronously on bad configurations; name the kernel. */
static ps_status launch_status(const char *what, ps_err *err) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return ps_err_set(err, PS_ERR_BACKEND, "CUDA %s: %s", what, cudaGetErrorString(e));
    return PS_OK;
}

ps_status ps_cuda_preprocess(const ps_cuda_pre_item *items_dev, int n, void *dst, int dst_w,
                             int dst_h, const ps_norm_step *norm, int n_norm, ps_cuda_stream s,
                             ps_err *err) {
    norm_set ns;
    ps_status st = norm_args(norm, n_norm, &ns, err);
    if (st) return st;
    if (!items_dev || !dst || n < 1 || n > 65535 || dst_w < 1 || dst_h < 1)
        return ps_err_set(err, PS_ERR_ARG, "CUDA preprocess: bad batch (n %d, %dx%d)", n, dst_w,
                          dst_h);
    dim3 grid((dst_w + PRE_BX - 1) / PRE_BX, (dst_h + PRE_BY - 1) / PRE_BY, n);
    pre_kernel<<<grid, dim3(PRE_BX, PRE_BY), 0, (cudaStream_t)s>>>(items_dev, (uint2 *)dst, dst_w,
                                                                    dst_h, ns);
    return launch_status("preprocess", err);
}

ps_status ps_cuda_letterbox(const ps_picture *pic, ps_letterbox lb, void *dst, int dst_w,
                            int dst_h, ps_cuda_stream s, ps_err *err) {
    if (!pic->on_device || pic->fmt == PS_PIX_INPUT || !dst || dst_w < 1 || dst_h < 1 ||
        pic->width < 1 || pic->height < 1)
        return ps_err_set(err, PS_ERR_ARG, "CUDA letterbox: bad picture (%dx%d, format %d)",
                          pic->width, pic->height, (int)pic->fmt);
    dim3 grid((dst_w + PRE_BX - 1) / PRE_BX, (dst_h + PRE_BY - 1) / PRE_BY);
    letterbox_kernel<<<grid, dim3(PRE_BX, PRE_BY), 0, (cudaStream_t)s>>>(*pic, lb, (uchar4 *)dst,
                                                                          dst_w, dst_h);
    return launch_status("letterbox", err);
}

ps_status ps_cuda_input_from_float(const float *src_dev, int n, int h, int w, void *dst,
                                   const ps_norm_step *norm, int n_norm, ps_cuda_stream s,
                                   ps_err *err) {
    norm_set ns;
    ps_status st = norm_args(norm, n_norm, &ns, err);
    if (st) return st;
    if (!src_dev || !dst || n < 1 || n > 65535 || h < 1 || w < 1 || (long long)h * w > (1 << 30))
        return ps_err_set(err, PS_ERR_ARG, "CUDA input: bad batch (n %d, %dx%d)", n, w, h);
    int pixels = h * w;
    dim3 grid((pixels + 255) / 256, n);
    float_kernel<<<grid, 256, 0, (cudaStream_t)s>>>(src_dev, (uint2 *)dst, pixels, ns);
    return launch_status("float input", err);
}
