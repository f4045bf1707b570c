/* The network's direct (non-GEMM) kernels: KxK convolution (the stem and
 * any conv that is not a 1x1 stride 1), depthwise KxK, bilinear resize and
 * the elementwise ADD / ACT. Each thread owns 8 consecutive channels of one
 * output pixel (16-byte FP16 loads and stores), accumulates in FP32 and ends
 * with the fused epilogue of net_device.h. */
#include "engine/cuda/net_device.h"

#define DIRECT_THREADS 256

/* Threads in [0, total): pixel index m and channel group g (8 channels);
 * groups vary fastest so a warp's loads and stores are contiguous. */
static unsigned direct_blocks(long long total) {
    return (unsigned)((total + DIRECT_THREADS - 1) / DIRECT_THREADS);
}

/* Thread item i's first channel *c0 and pixel (returned) when 8-channel
 * groups of out_cs vary fastest. */
__device__ __forceinline__ long long direct_item(long long i, int out_cs, int *c0) {
    int groups = out_cs / 8;
    *c0 = (int)(i % groups) * 8;
    return i / groups;
}

/* One output pixel of a KxK conv, 8 output channels per thread. A block
 * holds one channel group, so every weight load is uniform across a warp
 * (one broadcast); the groups of a pixel range are neighbouring blocks, so
 * the input they all read comes from L2 after the first.
 * in [n, h, w, cs], w [kh][kw][cin4][out_cs] FP32. */
__global__ void conv_kernel(net_tensor in, long long pixels, net_geom g,
                            const float *__restrict__ w, int cin4, net_epi e) {
    int groups = e.out_cs / 8;
    long long m = (long long)(blockIdx.x / groups) * blockDim.x + threadIdx.x;
    if (m >= pixels) return;
    int c0 = (int)(blockIdx.x % groups) * 8;
    int ox, oy, b;
    net_pixel(m, g.oh, g.ow, &ox, &oy, &b);
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int ky = 0; ky < g.kh; ky++) {
        int iy = oy * g.stride - g.pad_top + ky;
        if (iy < 0 || iy >= in.h) continue;
        for (int kx = 0; kx < g.kw; kx++) {
            int ix = ox * g.stride - g.pad_left + kx;
            if (ix < 0 || ix >= in.w) continue;
            const __half *ip = in.p + (((size_t)b * in.h + iy) * in.w + ix) * in.cs;
            const float *wp = w + (size_t)(ky * g.kw + kx) * cin4 * e.out_cs + c0;
            for (int ci = 0; ci < cin4; ci += 4) {
                /* 4 input channels in one 8-byte load: cs is 4 or a
                 * multiple of 16, and cin4 <= cs. */
                uint2 u = *reinterpret_cast<const uint2 *>(ip + ci);
                const __half2 *h = reinterpret_cast<const __half2 *>(&u);
                float2 x01 = __half22float2(h[0]), x23 = __half22float2(h[1]);
                float x[4] = {x01.x, x01.y, x23.x, x23.y};
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    const float4 *wr = reinterpret_cast<const float4 *>(wp + (size_t)(ci + j) * e.out_cs);
                    float4 w0 = __ldg(wr), w1 = __ldg(wr + 1);
                    acc[0] += x[j] * w0.x, acc[1] += x[j] * w0.y;
                    acc[2] += x[j] * w0.z, acc[3] += x[j] * w0.w;
                    acc[4] += x[j] * w1.x, acc[5] += x[j] * w1.y;
                    acc[6] += x[j] * w1.z, acc[7] += x[j] * w1.w;
                }
            }
        }
    }
    net_epilogue8(e, (size_t)m, c0, acc);
}

cudaError_t net_launch_conv(net_tensor in, int n, net_geom g, const float *w, int cin4,
                            const net_epi *e, cudaStream_t s) {
    long long pixels = (long long)n * g.oh * g.ow;
    unsigned blocks = direct_blocks(pixels) * (unsigned)(e->out_cs / 8);
    conv_kernel<<<blocks, DIRECT_THREADS, 0, s>>>(in, pixels, g, w, cin4, *e);
    return cudaGetLastError();
}

/* The stem (net_launch_stem): one output pixel, all CO channels per
 * thread; the nine 4-channel input taps are loaded together (8 bytes each,
 * zero outside the image), then 36 x CO multiply-adds with the weights as
 * constant-bank operands, in the same order as conv_kernel (taps, then input
 * channels), bias and the rest in the epilogue. The generic conv_kernel
 * spent 2 weight loads per 8 multiply-adds: H200, batch 256 (ncu, caches
 * not flushed), 1.24 -> 0.73 ms. Tried: 16-channel groups by blockIdx.y
 * with 2 pixels per thread (a smaller constant working set per block):
 * +0.18 ms per whole pass, slower. */
template <int CO>
__global__ void __launch_bounds__(128)
    stem_kernel(net_tensor in, long long pixels, net_geom g, const __grid_constant__ net_stem_w p,
                net_epi e) {
    long long m = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (m >= pixels) return;
    int ox, oy, b;
    net_pixel(m, g.oh, g.ow, &ox, &oy, &b);
    const __half *img = in.p + (size_t)b * in.h * in.w * in.cs;
    int iy0 = oy * g.stride - g.pad_top, ix0 = ox * g.stride - g.pad_left;
    uint2 x[9];
#pragma unroll
    for (int k = 0; k < 9; k++) {
        int iy = iy0 + k / 3, ix = ix0 + k % 3;
        bool ok = iy >= 0 && iy < in.h && ix >= 0 && ix < in.w;
        x[k] = ok ? *reinterpret_cast<const uint2 *>(img + ((size_t)iy * in.w + ix) * in.cs)
                  : make_uint2(0, 0);
    }
    float acc[CO];
#pragma unroll
    for (int co = 0; co < CO; co++) acc[co] = 0.0f;
#pragma unroll
    for (int k = 0; k < 9; k++) {
        const __half2 *h = reinterpret_cast<const __half2 *>(&x[k]);
        float2 x01 = __half22float2(h[0]), x23 = __half22float2(h[1]);
        float xv[4] = {x01.x, x01.y, x23.x, x23.y};
#pragma unroll
        for (int ci = 0; ci < 4; ci++)
#pragma unroll
            for (int co = 0; co < CO; co++) acc[co] += xv[ci] * p.w[(k * 4 + ci) * CO + co];
    }
#pragma unroll
    for (int c0 = 0; c0 < CO; c0 += 8) net_epilogue8(e, (size_t)m, c0, acc + c0);
}

int net_stem_ok(net_geom g, int cin4, int in_cs, int out_cs) {
    return g.kh == 3 && g.kw == 3 && cin4 == 4 && in_cs % 4 == 0 &&
           (out_cs == 16 || out_cs == 32 || out_cs == 48 || out_cs == 64);
}

cudaError_t net_launch_stem(net_tensor in, int n, net_geom g, const net_stem_w *w,
                            const net_epi *e, cudaStream_t s) {
    long long pixels = (long long)n * g.oh * g.ow;
    unsigned blocks = (unsigned)((pixels + 127) / 128);
    switch (e->out_cs) {
    case 16: stem_kernel<16><<<blocks, 128, 0, s>>>(in, pixels, g, *w, *e); break;
    case 32: stem_kernel<32><<<blocks, 128, 0, s>>>(in, pixels, g, *w, *e); break;
    case 48: stem_kernel<48><<<blocks, 128, 0, s>>>(in, pixels, g, *w, *e); break;
    case 64: stem_kernel<64><<<blocks, 128, 0, s>>>(in, pixels, g, *w, *e); break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

/* Depthwise KxK: thread = (pixel, 8 channels), channels fastest.
 * in [n, h, w, cs], w [kh][kw][out_cs] FP32. */
__global__ void dwconv_kernel(net_tensor in, long long total, net_geom g,
                              const float *__restrict__ w, net_epi e) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int c0;
    long long m = direct_item(i, e.out_cs, &c0);
    int ox, oy, b;
    net_pixel(m, g.oh, g.ow, &ox, &oy, &b);
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    net_dw8(in, g, w, e.out_cs, b, oy, ox, c0, acc);
    net_epilogue8(e, (size_t)m, c0, acc);
}

/* A weight pair to FP32, volatile so the compiler converts it at each use
 * instead of hoisting 72 FP32 copies out of the row loop (the registers
 * the occupancy needs). */
__device__ __forceinline__ float2 dw_unpack(__half2 h) {
    float2 f;
    unsigned u = *reinterpret_cast<unsigned *>(&h);
    asm volatile("{.reg .f16 lo, hi;\n\tmov.b32 {lo, hi}, %2;\n\tcvt.f32.f16 %0, lo;\n\tcvt.f32.f16 %1, hi;}"
                 : "=f"(f.x), "=f"(f.y)
                 : "r"(u));
    return f;
}

/* One 3x3 tap on 8 channels: acc += x * wt. */
__device__ __forceinline__ void dw_tap(float acc[8], const uint4 &x, const __half2 wt[4]) {
    const __half2 *h = reinterpret_cast<const __half2 *>(&x);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 f = __half22float2(h[i]), g = dw_unpack(wt[i]);
        acc[2 * i] += f.x * g.x;
        acc[2 * i + 1] += f.y * g.y;
    }
}

#define DW_ROWS_THREADS 128

/* Depthwise 3x3, stride S: each thread computes one column of `rows`
 * output rows for 8 channels, with that channel group's 72 weights held in
 * registers for all of them, instead of 18 float4 weight loads per output
 * from a warp spanning up to 30 channel groups. They are held as FP16 pairs
 * to fit (MoveNet's weights are float16 already: bit-identical heads; other
 * weights round by at most 2^-11 relative); products and sums stay FP32.
 * The nine input taps are loaded per output, issued together, their
 * overlap served by L1. Channel groups vary fastest, then columns, so a
 * warp's loads cover contiguous pixels of one input row. Measured on the
 * H100 at batch 64: the 64x64x240 layer 329 -> 294 us, the big ones -1..11%,
 * the 24-channel head ones +12%; ~2% overall. A version keeping the 3x3
 * window in registers as it slides down (3 new loads per row, not 9)
 * needed ~130 registers and measured the same, so these layers are not
 * bound by the loads' count. */
template <int S>
__global__ void __launch_bounds__(DW_ROWS_THREADS, 5)
    dwconv3_wreg_kernel(net_tensor in, long long total, net_geom g, int rows,
                        const float *__restrict__ w, net_epi e) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int chunks = (g.oh + rows - 1) / rows, c0;
    long long t = direct_item(i, e.out_cs, &c0);
    int ox = (int)(t % g.ow);
    t /= g.ow;
    int oy = (int)(t % chunks) * rows, b = (int)(t / chunks);
    int oy_end = min(oy + rows, g.oh);
    const __half *img = in.p + (size_t)b * in.h * in.w * in.cs + c0;
    __half2 wt[9][4];
#pragma unroll
    for (int k = 0; k < 9; k++) {
        const float4 *wr = reinterpret_cast<const float4 *>(w + (size_t)k * e.out_cs + c0);
        float4 w0 = __ldg(wr), w1 = __ldg(wr + 1);
        wt[k][0] = __floats2half2_rn(w0.x, w0.y), wt[k][1] = __floats2half2_rn(w0.z, w0.w);
        wt[k][2] = __floats2half2_rn(w1.x, w1.y), wt[k][3] = __floats2half2_rn(w1.z, w1.w);
    }
    int ix = ox * S - g.pad_left;
    size_t m = ((size_t)b * g.oh + oy) * g.ow + ox;
#pragma unroll 1
    for (; oy < oy_end; oy++, m += g.ow) {
        int iy = oy * S - g.pad_top;
        uint4 x[9];
#pragma unroll
        for (int k = 0; k < 9; k++) x[k] = net_dw_ld(img, in, iy + k / 3, ix + k % 3);
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
        for (int k = 0; k < 9; k++) dw_tap(acc, x[k], wt[k]);
        net_epilogue8(e, m, c0, acc);
    }
}

cudaError_t net_launch_dwconv(net_tensor in, int n, net_geom g, const float *w,
                              const net_epi *e, int sms, cudaStream_t s) {
    long long cols = (long long)n * g.ow * (e->out_cs / 8);
    if (g.kh == 3 && g.kw == 3 && in.cs % 8 == 0 && (g.stride == 1 || g.stride == 2)) {
        /* Rows per thread: up to 8, fewer while that leaves less than a
         * full wave of threads (batch 1, the small late stages). */
        int rows = g.oh < 8 ? g.oh : 8;
        while (rows > 1 && cols * ((g.oh + rows - 1) / rows) < (long long)sms * 1024) rows /= 2;
        long long total = cols * ((g.oh + rows - 1) / rows);
        unsigned nb = (unsigned)((total + DW_ROWS_THREADS - 1) / DW_ROWS_THREADS);
        if (g.stride == 1)
            dwconv3_wreg_kernel<1><<<nb, DW_ROWS_THREADS, 0, s>>>(in, total, g, rows, w, *e);
        else
            dwconv3_wreg_kernel<2><<<nb, DW_ROWS_THREADS, 0, s>>>(in, total, g, rows, w, *e);
        return cudaGetLastError();
    }
    long long total = (long long)n * g.oh * g.ow * (e->out_cs / 8);
    dwconv_kernel<<<direct_blocks(total), DIRECT_THREADS, 0, s>>>(in, total, g, w, *e);
    return cudaGetLastError();
}

/* TF half_pixel_centers source of output index d along a dim of `size`:
 * src = (d + 0.5) / f - 0.5, lo = max(floor(src), 0),
 * hi = min(ceil(src), size - 1), frac = src - floor(src). */
__device__ __forceinline__ void resize_src(int d, int f, int size, int *lo, int *hi, float *frac) {
    float src = ((float)d + 0.5f) / (float)f - 0.5f, fl = floorf(src);
    *lo = max((int)fl, 0);
    *hi = min((int)ceilf(src), size - 1);
    *frac = src - fl;
}

/* Resize: thread = (output pixel, 8 channels), channels fastest. */
__global__ void resize_kernel(net_tensor in, long long total, int f, net_epi e) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int ow = in.w * f, oh = in.h * f, c0;
    long long m = direct_item(i, e.out_cs, &c0);
    int ox, oy, b;
    net_pixel(m, oh, ow, &ox, &oy, &b);
    int y0, y1, x0, x1;
    float fy, fx;
    resize_src(oy, f, in.h, &y0, &y1, &fy);
    resize_src(ox, f, in.w, &x0, &x1, &fx);
    const __half *img = in.p + (size_t)b * in.h * in.w * in.cs;
    float p00[8], p01[8], p10[8], p11[8], v[8];
    net_load8(img + ((size_t)y0 * in.w + x0) * in.cs, in.cs, c0, in.c, p00);
    net_load8(img + ((size_t)y0 * in.w + x1) * in.cs, in.cs, c0, in.c, p01);
    net_load8(img + ((size_t)y1 * in.w + x0) * in.cs, in.cs, c0, in.c, p10);
    net_load8(img + ((size_t)y1 * in.w + x1) * in.cs, in.cs, c0, in.c, p11);
#pragma unroll
    for (int k = 0; k < 8; k++) {
        float top = p00[k] + (p01[k] - p00[k]) * fx;
        float bot = p10[k] + (p11[k] - p10[k]) * fx;
        v[k] = top + (bot - top) * fy;
    }
    net_epilogue8(e, (size_t)m, c0, v);
}

cudaError_t net_launch_resize(net_tensor in, int n, int factor, const net_epi *e,
                              cudaStream_t s) {
    long long total = (long long)n * in.h * factor * in.w * factor * (e->out_cs / 8);
    resize_kernel<<<direct_blocks(total), DIRECT_THREADS, 0, s>>>(in, total, factor, *e);
    return cudaGetLastError();
}

/* Elementwise: thread = (pixel, 8 channels); the epilogue does the work. */
__global__ void eltwise_kernel(net_tensor a, long long total, net_epi e) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int c0;
    long long m = direct_item(i, e.out_cs, &c0);
    float v[8];
    net_load8(a.p + (size_t)m * a.cs, a.cs, c0, a.c, v);
    net_epilogue8(e, (size_t)m, c0, v);
}

cudaError_t net_launch_eltwise(net_tensor a, int n, const net_epi *e, cudaStream_t s) {
    long long total = (long long)n * a.h * a.w * (e->out_cs / 8);
    eltwise_kernel<<<direct_blocks(total), DIRECT_THREADS, 0, s>>>(a, total, *e);
    return cudaGetLastError();
}
