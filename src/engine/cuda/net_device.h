/* Device-side helpers shared by the network's kernels (net_gemm.cu,
 * net_direct.cu, net_fused.cu, net_block.cu): 8-channel FP16 loads,
 * activations, and the fused epilogue that every kernel ends with (net_epi
 * in net_kernels.h). CUDA C++ only. */
#ifndef PS_ENGINE_CUDA_NET_DEVICE_H
#define PS_ENGINE_CUDA_NET_DEVICE_H

#include "engine/cuda/net_kernels.h"
#include "model/net.h"

/* 8 FP16 values (16 bytes) as floats. */
__device__ __forceinline__ void net_unpack8(const uint4 &u, float v[8]) {
    const __half2 *h = reinterpret_cast<const __half2 *>(&u);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 f = __half22float2(h[i]);
        v[2 * i] = f.x;
        v[2 * i + 1] = f.y;
    }
}

/* Channels c..c+7 (c a multiple of 8) of the pixel at p, whose channel
 * stride is cs and real count C, as floats; zero past C. A stride that is a
 * multiple of 8 (every tensor but the 4-channel input) takes one 16-byte
 * load, since its padding holds zeros already. Plain loads, not __ldg: a
 * residual may be the very buffer its kernel writes (in place). */
__device__ __forceinline__ void net_load8(const __half *p, int cs, int c, int C, float v[8]) {
    if ((cs & 7) == 0) {
        net_unpack8(*reinterpret_cast<const uint4 *>(p + c), v);
        return;
    }
#pragma unroll
    for (int i = 0; i < 8; i++) v[i] = c + i < C && c + i < cs ? __half2float(p[c + i]) : 0.0f;
}

__device__ __forceinline__ float net_act(int act, float v) {
    switch (act) {
    case PS_ACT_RELU: return fmaxf(v, 0.0f);
    case PS_ACT_RELU6: return fminf(fmaxf(v, 0.0f), 6.0f);
    case PS_ACT_SIGMOID: return 1.0f / (1.0f + __expf(-v));
    default: return v;
    }
}

/* The fused epilogue of channels c..c+7 at pixel m (over the batch):
 * bias, activation, residual, then the FP16 and/or compact FP32 stores. */
__device__ __forceinline__ void net_epilogue8(const net_epi &e, size_t m, int c, float v[8]) {
    float r[8], bs[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (e.res) net_load8(e.res + m * e.res_cs, e.res_cs, c, e.c, r);
    if (e.bias) { /* 32-byte aligned: 256-aligned arrays of out_cs floats */
        const float4 *bp = reinterpret_cast<const float4 *>(e.bias + c);
        float4 b0 = __ldg(bp), b1 = __ldg(bp + 1);
        bs[0] = b0.x, bs[1] = b0.y, bs[2] = b0.z, bs[3] = b0.w;
        bs[4] = b1.x, bs[5] = b1.y, bs[6] = b1.z, bs[7] = b1.w;
    }
#pragma unroll
    for (int i = 0; i < 8; i++) {
        float x = v[i] + bs[i];
        x = net_act(e.act, x);
        if (e.res) x += r[i];
        v[i] = c + i < e.c ? x : 0.0f; /* padding stays zero, even after a sigmoid */
    }
    if (e.out16) {
        uint4 u;
        __half2 *h = reinterpret_cast<__half2 *>(&u);
#pragma unroll
        for (int i = 0; i < 4; i++) h[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
        *reinterpret_cast<uint4 *>(e.out16 + m * e.out_cs + c) = u;
    }
    if (e.out32) {
        float *o = e.out32 + m * e.c;
#pragma unroll
        for (int i = 0; i < 8; i++)
            if (c + i < e.c) o[c + i] = v[i];
    }
}

/* net_epilogue8 of the 8 FP32 values at src (16-byte aligned: a row of a
 * kernel's FP32 output tile in shared memory). */
__device__ __forceinline__ void net_epilogue_smem8(const net_epi &e, size_t m, int c,
                                                   const float *src) {
    const float4 *s4 = reinterpret_cast<const float4 *>(src);
    float4 x = s4[0], y = s4[1];
    float v[8] = {x.x, x.y, x.z, x.w, y.x, y.y, y.z, y.w};
    net_epilogue8(e, m, c, v);
}

/* e's bias of channels c, c + 1 (c even), zeros without one. */
__device__ __forceinline__ float2 net_bias2(const net_epi &e, int c) {
    return e.bias ? *reinterpret_cast<const float2 *>(e.bias + c) : make_float2(0.0f, 0.0f);
}

/* The rest of the fused epilogue (after the bias, net_bias2) of two outputs
 * v0, v1 of channels c, c + 1 (c even) at pixel m: what a thread holds of
 * an mma.sync accumulator tile (net_mma.h). FP16 pairs and compact FP32
 * stores. RES: e may carry a residual (kernels that never have one leave
 * its code out: with it, and the bias loaded per row, the heads kernel
 * spilled and ran up to 16% slower). */
template <bool RES>
__device__ __forceinline__ void net_epilogue2(const net_epi &e, size_t m, int c, float v0,
                                              float v1) {
    v0 = net_act(e.act, v0), v1 = net_act(e.act, v1);
    if (RES && e.res) {
        float2 r = __half22float2(*reinterpret_cast<const __half2 *>(e.res + m * e.res_cs + c));
        v0 += r.x, v1 += r.y;
    }
    v0 = c < e.c ? v0 : 0.0f; /* padding stays zero, even after a sigmoid */
    v1 = c + 1 < e.c ? v1 : 0.0f;
    if (e.out16) {
        __half2 h = __floats2half2_rn(v0, v1);
        *reinterpret_cast<__half2 *>(e.out16 + m * e.out_cs + c) = h;
    }
    if (e.out32) {
        float *o = e.out32 + m * e.c;
        if (c < e.c) o[c] = v0;
        if (c + 1 < e.c) o[c + 1] = v1;
    }
}

/* x rounded up to a multiple of 128 (shared-memory offsets). */
static __host__ __device__ __forceinline__ int net_align128(int x) { return (x + 127) / 128 * 128; }

/* 16 bytes global -> shared, asynchronously on sm_80+ (cp.async), zero-filled
 * when !ok (rows or channels past the end). */
__device__ __forceinline__ void net_copy16(void *dst, const void *src, bool ok) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned d = (unsigned)__cvta_generic_to_shared(dst);
    int bytes = ok ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(bytes));
#else
    *reinterpret_cast<uint4 *>(dst) = ok ? *reinterpret_cast<const uint4 *>(src) : make_uint4(0, 0, 0, 0);
#endif
}

/* 8 bytes global -> shared, as net_copy16 (cp.async.ca: 8-byte copies go
 * through L1). */
__device__ __forceinline__ void net_copy8(void *dst, const void *src, bool ok) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned d = (unsigned)__cvta_generic_to_shared(dst);
    int bytes = ok ? 8 : 0;
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(d), "l"(src), "r"(bytes));
#else
    *reinterpret_cast<uint2 *>(dst) = ok ? *reinterpret_cast<const uint2 *>(src) : make_uint2(0, 0);
#endif
}

/* Commits the cp.async copies issued so far as one group. */
__device__ __forceinline__ void net_cp_commit(void) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}

/* Waits until at most `pending` committed groups are still in flight. */
template <int pending>
__device__ __forceinline__ void net_cp_wait(void) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
#endif
}

__device__ __forceinline__ void net_cp_wait_all(void) { net_cp_wait<0>(); }

/* Column, row and image of pixel m (counted over the batch) of an
 * oh x ow output. */
__device__ __forceinline__ void net_pixel(long long m, int oh, int ow, int *ox, int *oy, int *b) {
    *ox = (int)(m % ow);
    long long t = m / ow;
    *oy = (int)(t % oh);
    *b = (int)(t / oh);
}

/* acc += x (8 FP16 values) * (w0, w1), elementwise in FP32: one depthwise
 * tap on 8 channels. */
__device__ __forceinline__ void net_fma8(float acc[8], const uint4 &x, float4 w0, float4 w1) {
    float v[8];
    net_unpack8(x, v);
    acc[0] += v[0] * w0.x, acc[1] += v[1] * w0.y, acc[2] += v[2] * w0.z;
    acc[3] += v[3] * w0.w, acc[4] += v[4] * w1.x, acc[5] += v[5] * w1.y;
    acc[6] += v[6] * w1.z, acc[7] += v[7] * w1.w;
}

/* The 16 bytes at channel offset img of pixel (iy, ix) of one image of
 * in; zeros outside the image. */
__device__ __forceinline__ uint4 net_dw_ld(const __half *img, const net_tensor &in, int iy,
                                           int ix) {
    bool ok = iy >= 0 && iy < in.h && ix >= 0 && ix < in.w;
    return ok ? *reinterpret_cast<const uint4 *>(img + ((size_t)iy * in.w + ix) * in.cs)
              : make_uint4(0, 0, 0, 0);
}

/* acc += the depthwise KxK conv (geometry g) of channels c0..c0+7 at output
 * (oy, ox) of image b of in; w FP32 [kh][kw][wcs]. Taps outside the image
 * are skipped. */
__device__ __forceinline__ void net_dw8(const net_tensor &in, const net_geom &g, const float *w,
                                        int wcs, int b, int oy, int ox, int c0, float acc[8]) {
    for (int ky = 0; ky < g.kh; ky++) {
        int iy = oy * g.stride - g.pad_top + ky;
        if (iy < 0 || iy >= in.h) continue;
        for (int kx = 0; kx < g.kw; kx++) {
            int ix = ox * g.stride - g.pad_left + kx;
            if (ix < 0 || ix >= in.w) continue;
            float x[8];
            net_load8(in.p + (((size_t)b * in.h + iy) * in.w + ix) * in.cs, in.cs, c0, in.c, x);
            const float4 *wr =
                reinterpret_cast<const float4 *>(w + (size_t)(ky * g.kw + kx) * wcs + c0);
            float4 w0 = __ldg(wr), w1 = __ldg(wr + 1);
            acc[0] += x[0] * w0.x, acc[1] += x[1] * w0.y, acc[2] += x[2] * w0.z;
            acc[3] += x[3] * w0.w, acc[4] += x[4] * w1.x, acc[5] += x[5] * w1.y;
            acc[6] += x[6] * w1.z, acc[7] += x[7] * w1.w;
        }
    }
}

#endif
