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
    int ox = (int)(m % g.ow);
    long long t = m / g.ow;
    int oy = (int)(t % g.oh), b = (int)(t / g.oh);
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

/* Depthwise KxK: thread = (pixel, 8 channels), channels fastest.
 * in [n, h, w, cs], w [kh][kw][out_cs] FP32. */
__global__ void dwconv_kernel(net_tensor in, long long total, net_geom g,
                              const float *__restrict__ w, net_epi e) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int groups = e.out_cs / 8;
    int c0 = (int)(i % groups) * 8;
    long long m = i / groups;
    int ox = (int)(m % g.ow);
    long long t = m / g.ow;
    int oy = (int)(t % g.oh), b = (int)(t / g.oh);
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int ky = 0; ky < g.kh; ky++) {
        int iy = oy * g.stride - g.pad_top + ky;
        if (iy < 0 || iy >= in.h) continue;
        for (int kx = 0; kx < g.kw; kx++) {
            int ix = ox * g.stride - g.pad_left + kx;
            if (ix < 0 || ix >= in.w) continue;
            float x[8];
            net_load8(in.p + (((size_t)b * in.h + iy) * in.w + ix) * in.cs, in.cs, c0, in.c, x);
            const float4 *wr = reinterpret_cast<const float4 *>(w + (size_t)(ky * g.kw + kx) * e.out_cs + c0);
            float4 w0 = __ldg(wr), w1 = __ldg(wr + 1);
            acc[0] += x[0] * w0.x, acc[1] += x[1] * w0.y, acc[2] += x[2] * w0.z;
            acc[3] += x[3] * w0.w, acc[4] += x[4] * w1.x, acc[5] += x[5] * w1.y;
            acc[6] += x[6] * w1.z, acc[7] += x[7] * w1.w;
        }
    }
    net_epilogue8(e, (size_t)m, c0, acc);
}

/* Depthwise 3x3 (every one in MoveNet) on a 16-padded tensor: all nine
 * 16-byte loads are issued before the first use, so a thread waits for one
 * memory latency instead of nine in a row (what bounds the small layers). */
__global__ void dwconv3_kernel(net_tensor in, long long total, net_geom g,
                               const float *__restrict__ w, net_epi e) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int groups = e.out_cs / 8;
    int c0 = (int)(i % groups) * 8;
    long long m = i / groups;
    int ox = (int)(m % g.ow);
    long long t = m / g.ow;
    int oy = (int)(t % g.oh), b = (int)(t / g.oh);
    const __half *img = in.p + (size_t)b * in.h * in.w * in.cs + c0;
    uint4 x[9];
#pragma unroll
    for (int k = 0; k < 9; k++) {
        int iy = oy * g.stride - g.pad_top + k / 3, ix = ox * g.stride - g.pad_left + k % 3;
        bool ok = iy >= 0 && iy < in.h && ix >= 0 && ix < in.w;
        x[k] = ok ? *reinterpret_cast<const uint4 *>(img + ((size_t)iy * in.w + ix) * in.cs)
                  : make_uint4(0, 0, 0, 0);
    }
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
    for (int k = 0; k < 9; k++) {
        const float4 *wr = reinterpret_cast<const float4 *>(w + (size_t)k * e.out_cs + c0);
        float4 w0 = __ldg(wr), w1 = __ldg(wr + 1);
        const __half2 *h = reinterpret_cast<const __half2 *>(&x[k]);
        float2 a = __half22float2(h[0]), b2 = __half22float2(h[1]);
        float2 c = __half22float2(h[2]), d = __half22float2(h[3]);
        acc[0] += a.x * w0.x, acc[1] += a.y * w0.y, acc[2] += b2.x * w0.z;
        acc[3] += b2.y * w0.w, acc[4] += c.x * w1.x, acc[5] += c.y * w1.y;
        acc[6] += d.x * w1.z, acc[7] += d.y * w1.w;
    }
    net_epilogue8(e, (size_t)m, c0, acc);
}

/* Depthwise 3x3, stride S, each thread walking down R output rows of one
 * column (8 channels): the 3x3 input window slides down in registers, so an
 * output row costs 3 new 16-byte loads per input row it advances (3 for
 * stride 1, 6 for stride 2) instead of 9, and the next row's loads are in
 * flight while the current one is computed. Channel groups vary fastest,
 * then columns, so a warp's loads cover contiguous pixels of one input row
 * and the horizontal neighbours' overlap is served by L1. */
__device__ __forceinline__ uint4 dw_ld(const __half *img, const net_tensor &in, int iy, int ix) {
    bool ok = iy >= 0 && iy < in.h && ix >= 0 && ix < in.w;
    return ok ? *reinterpret_cast<const uint4 *>(img + ((size_t)iy * in.w + ix) * in.cs)
              : make_uint4(0, 0, 0, 0);
}

/* A weight float4 through the read-only path, volatile so the compiler
 * reloads it (an L1 hit) per output row instead of hoisting all 72 weights
 * into registers (which costs the occupancy the loads need). */
__device__ __forceinline__ float4 dw_ldw(const float *p) {
    float4 v;
    asm volatile("ld.global.nc.v4.f32 {%0, %1, %2, %3}, [%4];"
                 : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
                 : "l"(p));
    return v;
}

__device__ __forceinline__ void dw_tap(float acc[8], const uint4 &x, const float *wp) {
    float4 w0 = dw_ldw(wp), w1 = dw_ldw(wp + 4);
    const __half2 *h = reinterpret_cast<const __half2 *>(&x);
    float2 a = __half22float2(h[0]), b = __half22float2(h[1]);
    float2 c = __half22float2(h[2]), d = __half22float2(h[3]);
    acc[0] += a.x * w0.x, acc[1] += a.y * w0.y, acc[2] += b.x * w0.z;
    acc[3] += b.y * w0.w, acc[4] += c.x * w1.x, acc[5] += c.y * w1.y;
    acc[6] += d.x * w1.z, acc[7] += d.y * w1.w;
}

template <int S>
__global__ void __launch_bounds__(DIRECT_THREADS, 2)
    dwconv3_rows_kernel(net_tensor in, long long total, net_geom g, int rows,
                        const float *__restrict__ w, net_epi e) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int groups = e.out_cs / 8, chunks = (g.oh + rows - 1) / rows;
    int c0 = (int)(i % groups) * 8;
    long long t = i / groups;
    int ox = (int)(t % g.ow);
    t /= g.ow;
    int oy = (int)(t % chunks) * rows, b = (int)(t / chunks);
    int oy_end = min(oy + rows, g.oh);
    const __half *img = in.p + (size_t)b * in.h * in.w * in.cs + c0;
    const float *wc = w + c0;
    int ix = ox * S - g.pad_left, iy = oy * S - g.pad_top;
    uint4 x[3][3]; /* [row][col] of the window */
#pragma unroll
    for (int r = 0; r < 3; r++)
#pragma unroll
        for (int k = 0; k < 3; k++) x[r][k] = dw_ld(img, in, iy + r, ix + k);
    size_t m = ((size_t)b * g.oh + oy) * g.ow + ox;
#pragma unroll 1
    for (;;) {
        /* The next output row's new input rows, loaded before this one's
         * arithmetic. */
        bool more = oy + 1 < oy_end;
        uint4 nx[S][3];
#pragma unroll
        for (int r = 0; r < S; r++)
#pragma unroll
            for (int k = 0; k < 3; k++)
                nx[r][k] = more ? dw_ld(img, in, iy + 3 + r, ix + k) : make_uint4(0, 0, 0, 0);
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
        for (int r = 0; r < 3; r++)
#pragma unroll
            for (int k = 0; k < 3; k++) dw_tap(acc, x[r][k], wc + (size_t)(r * 3 + k) * e.out_cs);
        net_epilogue8(e, m, c0, acc);
        if (!more) break;
        oy++, iy += S, m += g.ow;
#pragma unroll
        for (int k = 0; k < 3; k++) {
            if (S == 1) {
                x[0][k] = x[1][k], x[1][k] = x[2][k], x[2][k] = nx[0][k];
            } else {
                x[0][k] = x[2][k], x[1][k] = nx[0][k], x[2][k] = nx[S - 1][k];
            }
        }
    }
}

cudaError_t net_launch_dwconv(net_tensor in, int n, net_geom g, const float *w,
                              const net_epi *e, int sms, cudaStream_t s) {
    long long cols = (long long)n * g.ow * (e->out_cs / 8);
    if (!net_baseline() && g.kh == 3 && g.kw == 3 && in.cs % 8 == 0 && (g.stride == 1 || g.stride == 2)) {
        /* Rows per thread: up to 8, fewer while that leaves less than a
         * full wave of threads (batch 1, the small late stages). */
        int rows = g.oh < 8 ? g.oh : 8;
        while (rows > 1 && cols * ((g.oh + rows - 1) / rows) < (long long)sms * 1024) rows /= 2;
        long long total = cols * ((g.oh + rows - 1) / rows);
        if (g.stride == 1)
            dwconv3_rows_kernel<1><<<direct_blocks(total), DIRECT_THREADS, 0, s>>>(in, total, g, rows, w, *e);
        else
            dwconv3_rows_kernel<2><<<direct_blocks(total), DIRECT_THREADS, 0, s>>>(in, total, g, rows, w, *e);
        return cudaGetLastError();
    }
    long long total = (long long)n * g.oh * g.ow * (e->out_cs / 8);
    if (g.kh == 3 && g.kw == 3 && in.cs % 8 == 0)
        dwconv3_kernel<<<direct_blocks(total), DIRECT_THREADS, 0, s>>>(in, total, g, w, *e);
    else
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
    int groups = e.out_cs / 8, ow = in.w * f, oh = in.h * f;
    int c0 = (int)(i % groups) * 8;
    long long m = i / groups;
    int ox = (int)(m % ow);
    long long t = m / ow;
    int oy = (int)(t % oh), b = (int)(t / oh);
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
    int groups = e.out_cs / 8;
    int c0 = (int)(i % groups) * 8;
    long long m = i / groups;
    float v[8];
    net_load8(a.p + (size_t)m * a.cs, a.cs, c0, a.c, v);
    net_epilogue8(e, (size_t)m, c0, v);
}

cudaError_t net_launch_eltwise(net_tensor a, int n, const net_epi *e, cudaStream_t s) {
    long long total = (long long)n * a.h * a.w * (e->out_cs / 8);
    eltwise_kernel<<<direct_blocks(total), DIRECT_THREADS, 0, s>>>(a, total, *e);
    return cudaGetLastError();
}
