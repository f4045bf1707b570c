/* One inverted-residual block in one kernel (net_launch_block in
 * net_kernels.h): expand 1x1 -> depthwise 3x3 stride 1 -> project 1x1 (+
 * residual), so the block's wide intermediates (the expanded tensor and the
 * depthwise output) never reach device memory; only the narrow input and
 * output do.
 *
 * A block of 8 warps owns an 8 x 16 tile of output pixels of one image. It
 * loads the tile's input with a one-pixel halo (10 x 18 pixels, zeros
 * outside the image) once, then walks the expanded channels in chunks of 48:
 *   1. expand: E = act1(X W1 + b1) for the halo pixels (mma.sync, the
 *      epilogue applied to the accumulators), zeros outside the image since
 *      the depthwise pads the expanded tensor with zeros; block barrier;
 *   2. depthwise: each warp computes its output row (16 pixels) from E in
 *      shared memory into its own tile D;
 *   3. project: the warp's accumulators for its 16 pixels x all outputs +=
 *      D x W2 (chunk rows); block barrier, the next chunk's weights having
 *      arrived by cp.async meanwhile.
 * Then bias, activation and residual from the accumulators, FP16 stores.
 * Everything rounds where the unfused layers round (E and D to FP16), so
 * the result equals the three separate kernels' up to summation order. */
#include "engine/cuda/net_device.h"
#include "engine/cuda/net_mma.h"

#define IR_TH 8  /* output rows per block = warps */
#define IR_TW 16 /* output columns per block = one m16 tile per warp */
#define IR_HW (IR_TW + 2)
#define IR_HALO ((IR_TH + 2) * IR_HW)   /* 180 halo pixels */
#define IR_MT ((IR_HALO + 15) / 16)     /* 12 m16 tiles of them */
#define IR_CH 48                        /* expanded channels per chunk */
#define IR_THREADS (IR_TH * 32)

static __host__ __device__ __forceinline__ int ir_al(int x) { return (x + 127) / 128 * 128; }

/* Shared memory (byte offsets): X [IR_MT * 16][k+8] FP16; E [IR_HALO][IR_CH]
 * FP16 (read only by the depthwise, whose 16-byte loads of neighbouring
 * pixels are then contiguous: no bank conflicts); D [128][IR_CH+8] FP16;
 * per chunk, double-buffered: W1 [k][IR_CH+8], W2 [IR_CH][np+8], the
 * depthwise weights [9][IR_CH] FP16 (the layer's float16 values; 16 bytes
 * per tap and channel group halve the loads), b1 and the depthwise bias
 * [IR_CH] FP32. Row strides of 8 halves past a multiple of 16 keep ldmatrix
 * rows on distinct banks. */
#define IR_LDE IR_CH
#define IR_LDD (IR_CH + 8)
#define IR_LDW1 (IR_CH + 8)
struct ir_layout {
    int x, e, d, wbuf, w2, dw, b1, bd, bytes; /* w2, dw, b1, bd: within a buffer */
    __host__ __device__ ir_layout(int k, int np) {
        x = 0;
        e = ir_al(x + IR_MT * 16 * (k + 8) * 2);
        d = ir_al(e + IR_HALO * IR_LDE * 2);
        w2 = ir_al(k * IR_LDW1 * 2);
        dw = w2 + ir_al(IR_CH * (np + 8) * 2);
        b1 = dw + 9 * IR_CH * 2;
        bd = b1 + IR_CH * 4;
        wbuf = ir_al(bd + IR_CH * 4);
        bytes = ir_al(d + IR_TH * IR_TW * IR_LDD * 2) + 2 * wbuf;
    }
    /* byte offset of weight buffer st (W1 first) */
    __host__ __device__ int w(int st) const { return bytes - (2 - st) * wbuf; }
};

/* Image coordinates of halo pixel p of the tile at (ty0, tx0); whether it
 * lies inside the h x w image. */
__device__ __forceinline__ bool ir_halo(int p, int ty0, int tx0, int h, int w, int *iy, int *ix) {
    int hy = p / IR_HW;
    *iy = ty0 - 1 + hy;
    *ix = tx0 - 1 + (p - hy * IR_HW);
    return p < IR_HALO && *iy >= 0 && *iy < h && *ix >= 0 && *ix < w;
}

/* cp.async of chunk c's W1, W2, b1 and depthwise bias into buffer st. */
__device__ __forceinline__ void ir_load_chunk(const net_block &bk, int np, const ir_layout &L,
                                              unsigned char *smem, int c, int st) {
    const int k = bk.k, e = bk.e, c0 = c * IR_CH;
    __half *w1s = reinterpret_cast<__half *>(smem + L.w(st));
    __half *w2s = reinterpret_cast<__half *>(smem + L.w(st) + L.w2);
    for (int i = threadIdx.x; i < k * (IR_CH / 8); i += IR_THREADS) {
        int r = i / (IR_CH / 8), cc = (i % (IR_CH / 8)) * 8;
        net_copy16(w1s + r * IR_LDW1 + cc, bk.w1 + (size_t)r * e + c0 + cc, true);
    }
    for (int i = threadIdx.x; i < IR_CH * (np / 8); i += IR_THREADS) {
        int r = i / (np / 8), cc = (i % (np / 8)) * 8;
        net_copy16(w2s + r * (np + 8) + cc, bk.w2 + (size_t)(c0 + r) * np + cc, true);
    }
    float *fs = reinterpret_cast<float *>(smem + L.w(st) + L.b1); /* b1, then bd */
    for (int i = threadIdx.x; i < 2 * (IR_CH / 4); i += IR_THREADS) {
        int r = i / (IR_CH / 4), cc = (i % (IR_CH / 4)) * 4;
        net_copy16(fs + r * IR_CH + cc, (r ? bk.dw_b : bk.b1) + c0 + cc, true);
    }
}

/* This thread's two FP32 depthwise weights of chunk c (9 x IR_CH of them,
 * two per thread of the first 9 x IR_CH / 2), loaded a chunk ahead and
 * stored as FP16 by ir_store_dw once the buffer is free. */
__device__ __forceinline__ float2 ir_load_dw(const net_block &bk, int c) {
    int i = threadIdx.x;
    if (i >= 9 * IR_CH / 2) return make_float2(0, 0);
    int q = i / (IR_CH / 2), cc = (i % (IR_CH / 2)) * 2;
    return *reinterpret_cast<const float2 *>(bk.dw_w + (size_t)q * bk.e + c * IR_CH + cc);
}

__device__ __forceinline__ void ir_store_dw(const ir_layout &L, unsigned char *smem, int st,
                                            float2 v) {
    int i = threadIdx.x;
    if (i >= 9 * IR_CH / 2) return;
    reinterpret_cast<unsigned *>(smem + L.w(st) + L.dw)[i] = mma_pack(v.x, v.y);
}

/* Phase 1: E = act1(X W1 + b1) for the halo pixels. 24 jobs of one m16
 * tile x 24 columns (three n8 tiles), three per warp. */
__device__ __forceinline__ void ir_expand(const net_block &bk, const ir_layout &L,
                                          unsigned char *smem, int st, int ty0, int tx0,
                                          int warp, int lane) {
    const int k = bk.k, ldx = k + 8;
    const __half *xs = reinterpret_cast<const __half *>(smem + L.x);
    const __half *w1s = reinterpret_cast<const __half *>(smem + L.w(st));
    const float *b1s = reinterpret_cast<const float *>(smem + L.w(st) + L.b1);
    __half *es = reinterpret_cast<__half *>(smem + L.e);
    const int g = lane >> 2, t = lane & 3, lr = lane % 16, lc = (lane / 16) * 8;
    for (int job = warp; job < IR_MT * 2; job += IR_TH) {
        int mt = job >> 1, n0 = (job & 1) * 24;
        float acc[3][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}};
        for (int ks = 0; ks < k / 16; ks++) {
            unsigned a[4], b[4];
            mma_ldsm4(a, xs + (mt * 16 + lr) * ldx + ks * 16 + lc);
            mma_ldsm4_t(b, w1s + (ks * 16 + lr) * IR_LDW1 + n0 + lc);
            mma_16816(acc[0], a, b[0], b[1]);
            mma_16816(acc[1], a, b[2], b[3]);
            mma_ldsm2_t(b, w1s + (ks * 16 + lr) * IR_LDW1 + n0 + 16);
            mma_16816(acc[2], a, b[0], b[1]);
        }
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int p = mt * 16 + g + 8 * h, iy, ix;
            if (p >= IR_HALO) continue;
            bool in = ir_halo(p, ty0, tx0, bk.in.h, bk.in.w, &iy, &ix);
#pragma unroll
            for (int j = 0; j < 3; j++) {
                int col = n0 + j * 8 + 2 * t;
                float v0 = in ? net_act(bk.act1, acc[j][2 * h] + b1s[col]) : 0.0f;
                float v1 = in ? net_act(bk.act1, acc[j][2 * h + 1] + b1s[col + 1]) : 0.0f;
                *reinterpret_cast<unsigned *>(es + p * IR_LDE + col) = mma_pack(v0, v1);
            }
        }
    }
}

/* 8 FP16 values as floats. */
__device__ __forceinline__ void ir_unpack8(const uint4 &u, float f[8]) {
    const __half2 *h = reinterpret_cast<const __half2 *>(&u);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 v = __half22float2(h[i]);
        f[2 * i] = v.x, f[2 * i + 1] = v.y;
    }
}

/* Phase 2: the depthwise 3x3 over E into D [128 pixels][IR_CH]. Thread =
 * (8-channel group, column, half of the tile's rows): 6 x 16 x 2 = 192
 * threads, each four output rows of one column, so each tap's weights are
 * loaded and converted once for four outputs (36 + 9 16-byte loads per
 * four outputs instead of 4 x (9 + 18) with per-pixel FP32 weights: the
 * first version of this kernel was bound by shared-memory wavefronts). */
__device__ __forceinline__ void ir_depthwise(const net_block &bk, const ir_layout &L,
                                             unsigned char *smem, int st) {
    constexpr int G = IR_CH / 8, R = IR_TH / 2;
    const int tid = threadIdx.x;
    if (tid >= G * IR_TW * 2) return;
    const int c0 = (tid % G) * 8, cx = (tid / G) % IR_TW, r0 = (tid / (G * IR_TW)) * R;
    const __half *es = reinterpret_cast<const __half *>(smem + L.e) + (r0 * IR_HW + cx) * IR_LDE + c0;
    const __half *dws = reinterpret_cast<const __half *>(smem + L.w(st) + L.dw) + c0;
    const float *bds = reinterpret_cast<const float *>(smem + L.w(st) + L.bd) + c0;
    __half *ds = reinterpret_cast<__half *>(smem + L.d) + (r0 * IR_TW + cx) * IR_LDD + c0;
    float acc[R][8];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int q = 0; q < 8; q++) acc[r][q] = 0.0f;
#pragma unroll 1 /* unrolled, all 36 taps' loads were hoisted: spills */
    for (int q = 0; q < 9; q++) {
        float wf[8];
        ir_unpack8(*reinterpret_cast<const uint4 *>(dws + q * IR_CH), wf);
#pragma unroll
        for (int r = 0; r < R; r++) {
            float xf[8];
            ir_unpack8(*reinterpret_cast<const uint4 *>(es + ((r + q / 3) * IR_HW + q % 3) * IR_LDE), xf);
#pragma unroll
            for (int i = 0; i < 8; i++) acc[r][i] += xf[i] * wf[i];
        }
    }
    float4 b0 = *reinterpret_cast<const float4 *>(bds), b1 = *reinterpret_cast<const float4 *>(bds + 4);
    float bias[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
    for (int r = 0; r < R; r++) {
        float v[8];
#pragma unroll
        for (int q = 0; q < 8; q++) v[q] = net_act(bk.dw_act, acc[r][q] + bias[q]);
        uint4 u;
        u.x = mma_pack(v[0], v[1]), u.y = mma_pack(v[2], v[3]);
        u.z = mma_pack(v[4], v[5]), u.w = mma_pack(v[6], v[7]);
        *reinterpret_cast<uint4 *>(ds + r * IR_TW * IR_LDD) = u;
    }
}

template <int NT>
__global__ void __launch_bounds__(IR_THREADS, 2) block_kernel(net_block bk, net_epi e) {
    extern __shared__ __align__(128) unsigned char smem[];
    constexpr int np = NT * 8;
    const ir_layout L(bk.k, np);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int h = bk.in.h, w = bk.in.w, tiles_x = (w + IR_TW - 1) / IR_TW;
    const int tiles = tiles_x * ((h + IR_TH - 1) / IR_TH);
    const int img = blockIdx.x / tiles, tile = blockIdx.x % tiles;
    const int ty0 = (tile / tiles_x) * IR_TH, tx0 = (tile % tiles_x) * IR_TW;
    const int k = bk.k, ldx = k + 8;

    /* the input tile with its halo (rows past the halo and pixels outside
     * the image zero-filled), and chunk 0's weights */
    __half *xs = reinterpret_cast<__half *>(smem + L.x);
    const __half *xin = bk.in.p + (size_t)img * h * w * bk.in.cs;
    for (int i = threadIdx.x; i < IR_MT * 16 * (k / 8); i += IR_THREADS) {
        int p = i / (k / 8), cc = (i % (k / 8)) * 8, iy, ix;
        bool ok = ir_halo(p, ty0, tx0, h, w, &iy, &ix);
        net_copy16(xs + p * ldx + cc, ok ? xin + ((size_t)iy * w + ix) * bk.in.cs + cc : xin, ok);
    }
    ir_load_chunk(bk, np, L, smem, 0, 0);
    net_cp_commit();
    ir_store_dw(L, smem, 0, ir_load_dw(bk, 0));

    float acc[NT][4];
#pragma unroll
    for (int j = 0; j < NT; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
    const __half *ds = reinterpret_cast<const __half *>(smem + L.d) + warp * 16 * IR_LDD;
    const int chunks = bk.e / IR_CH, lr = lane % 16, lc = (lane / 16) * 8;
    for (int c = 0; c < chunks; c++) {
        const int st = c & 1;
        net_cp_wait_all();
        __syncthreads(); /* chunk c's weights (and X) arrived; E, D and buffer st^1 free */
        float2 dw_next = make_float2(0, 0);
        if (c + 1 < chunks) {
            ir_load_chunk(bk, np, L, smem, c + 1, st ^ 1);
            net_cp_commit();
            dw_next = ir_load_dw(bk, c + 1);
        }
        ir_expand(bk, L, smem, st, ty0, tx0, warp, lane);
        __syncthreads(); /* E complete */
        ir_depthwise(bk, L, smem, st);
        __syncthreads(); /* D complete */
        const __half *w2s = reinterpret_cast<const __half *>(smem + L.w(st) + L.w2);
#pragma unroll
        for (int ks = 0; ks < IR_CH / 16; ks++) {
            unsigned a[4];
            mma_ldsm4(a, ds + lr * IR_LDD + ks * 16 + lc);
#pragma unroll
            for (int j = 0; j < NT / 2; j++) {
                unsigned b[4];
                mma_ldsm4_t(b, w2s + (ks * 16 + lr) * (np + 8) + j * 16 + lc);
                mma_16816(acc[2 * j], a, b[0], b[1]);
                mma_16816(acc[2 * j + 1], a, b[2], b[3]);
            }
        }
        if (c + 1 < chunks) ir_store_dw(L, smem, st ^ 1, dw_next);
    }

    /* epilogue: lane (g, t) holds columns 8j + 2t, +1 of the warp's pixels
     * g and g + 8 (tile row `warp`, columns tx0 + g, tx0 + g + 8) */
    const int g = lane >> 2, t = lane & 3, oy = ty0 + warp;
    if (oy >= h) return;
#pragma unroll
    for (int hh = 0; hh < 2; hh++) {
        int ox = tx0 + g + 8 * hh;
        if (ox >= w) continue;
        size_t m = ((size_t)img * h + oy) * w + ox;
#pragma unroll
        for (int j = 0; j < NT; j++) {
            int col = j * 8 + 2 * t;
            float v0 = acc[j][2 * hh], v1 = acc[j][2 * hh + 1];
            if (e.bias) v0 += __ldg(e.bias + col), v1 += __ldg(e.bias + col + 1);
            v0 = net_act(e.act, v0), v1 = net_act(e.act, v1);
            if (e.res) {
                float2 r = __half22float2(
                    *reinterpret_cast<const __half2 *>(e.res + m * e.res_cs + col));
                v0 += r.x, v1 += r.y;
            }
            v0 = col < e.c ? v0 : 0.0f;
            v1 = col + 1 < e.c ? v1 : 0.0f;
            *reinterpret_cast<unsigned *>(e.out16 + m * e.out_cs + col) = mma_pack(v0, v1);
        }
    }
}

int net_block_fits(int k, int e, int np) {
    return k % 16 == 0 && k <= NET_BLOCK_MAX_K && e % IR_CH == 0 && (np == 48 || np == 96) &&
           ir_layout(k, np).bytes <= NET_BLOCK_MAX_SMEM;
}

int net_block_ok(const net_block *bk, const net_epi *e) {
    return net_block_fits(bk->k, bk->e, e->out_cs) && bk->k == bk->in.cs && e->out16 &&
           !e->out32 && e->out16 != bk->in.p && (!e->res || e->res_cs >= e->out_cs);
}

long long net_block_blocks(const net_block *bk, int n) {
    return (long long)n * ((bk->in.h + IR_TH - 1) / IR_TH) * ((bk->in.w + IR_TW - 1) / IR_TW);
}

template <int NT>
static cudaError_t block_run(const net_block *bk, int n, const net_epi *e, cudaStream_t s) {
    int bytes = ir_layout(bk->k, NT * 8).bytes;
    cudaError_t err = cudaFuncSetAttribute(block_kernel<NT>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    if (err != cudaSuccess) return err;
    block_kernel<NT><<<(unsigned)net_block_blocks(bk, n), IR_THREADS, bytes, s>>>(*bk, *e);
    return cudaGetLastError();
}

cudaError_t net_launch_block(const net_block *bk, int n, const net_epi *e, cudaStream_t s) {
    return e->out_cs == 48 ? block_run<6>(bk, n, e, s) : block_run<12>(bk, n, e, s);
}
