/* A 1x1 convolution fused with the 1x1 convolution that alone reads it
 * (net_launch_fused in net_kernels.h), optionally with the depthwise conv
 * that alone feeds the first: MoveNet's heads, dw 3x3 -> 1x1 to 96 (ReLU)
 * -> 1x1 to C, whose wide intermediates would otherwise go through device
 * memory. WMMA m16n16k16 (FP16 in, FP32 accumulation) on shared-memory
 * tiles; weights and the activation tile arrive by cp.async on sm_80+. */
#include <mma.h>

#include "engine/cuda/net_device.h"
#include "engine/cuda/net_mma.h"

using namespace nvcuda;

/* Shared memory of a BM-row block (byte offsets): region 0 holds A [BM][k1+8]
 * and W1 [k1][n1p+8] during the first product, then the FP32 output tile
 * [BM][n2p+4]; H [BM][n1p+8] FP16; W2 [n1p][n2p+8]; per-warp FP32 scratch
 * [16][20] for the first product's bias and activation. */
struct fused_layout {
    int a, w1, c2, h, w2, scr, bytes;
    __host__ __device__ fused_layout(int bm, int k1, int n1p, int n2p) {
        a = 0;
        w1 = net_align128(bm * (k1 + 8) * 2);
        int r0 = w1 + net_align128(k1 * (n1p + 8) * 2), c2b = net_align128(bm * (n2p + 4) * 4);
        c2 = 0;
        h = r0 > c2b ? r0 : c2b;
        w2 = h + net_align128(bm * (n1p + 8) * 2);
        scr = w2 + net_align128(n1p * (n2p + 8) * 2);
        bytes = scr + (bm / 8) * 16 * 20 * 4;
    }
};

typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> fused_acc;

/* acc = a [16][k] x b [k][16], both FP16 in shared memory (row-major, leading
 * dimensions lda, ldb), FP32 accumulation. */
__device__ __forceinline__ void fused_frag(fused_acc &acc, const __half *a, int lda,
                                           const __half *b, int ldb, int k) {
    wmma::fill_fragment(acc, 0.0f);
    for (int kk = 0; kk < k; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
        wmma::load_matrix_sync(fa, a + kk, lda);
        wmma::load_matrix_sync(fb, b + kk * ldb, ldb);
        wmma::mma_sync(acc, fa, fb, acc);
    }
}

/* BM pixel rows per block, BM / 8 warps. */
template <int BM, bool DW>
__global__ void __launch_bounds__(BM * 4)
    fused_kernel(net_fused f, int m, net_epi e) {
    constexpr int T = BM * 4, WARPS = BM / 8;
    extern __shared__ __align__(128) unsigned char smem[];
    const int k1 = f.k1, n1p = f.n1p, n2p = e.out_cs;
    const int lda = k1 + 8, ld1 = n1p + 8, ld2 = n2p + 8, ldc = n2p + 4;
    fused_layout L(BM, k1, n1p, n2p);
    __half *as = reinterpret_cast<__half *>(smem + L.a);
    __half *w1s = reinterpret_cast<__half *>(smem + L.w1);
    __half *hs = reinterpret_cast<__half *>(smem + L.h);
    __half *w2s = reinterpret_cast<__half *>(smem + L.w2);
    float *c2s = reinterpret_cast<float *>(smem + L.c2);
    const int m0 = blockIdx.x * BM, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float *scr = reinterpret_cast<float *>(smem + L.scr) + warp * 16 * 20;

    for (int i = threadIdx.x; i < k1 * (n1p / 8); i += T) {
        int r = i / (n1p / 8), c = (i % (n1p / 8)) * 8;
        net_copy16(w1s + r * ld1 + c, f.w1 + (size_t)r * n1p + c, true);
    }
    for (int i = threadIdx.x; i < n1p * (n2p / 8); i += T) {
        int r = i / (n2p / 8), c = (i % (n2p / 8)) * 8;
        net_copy16(w2s + r * ld2 + c, f.w2 + (size_t)r * n2p + c, true);
    }
    if (!DW) {
        for (int i = threadIdx.x; i < BM * (k1 / 8); i += T) {
            int r = i / (k1 / 8), c = (i % (k1 / 8)) * 8;
            bool ok = m0 + r < m;
            net_copy16(as + r * lda + c, ok ? f.a + (size_t)(m0 + r) * k1 + c : f.a, ok);
        }
    } else {
        /* The depthwise conv of 8 channels of one pixel per step. */
        const net_tensor in = f.in;
        const net_geom g = f.g;
        for (int i = threadIdx.x; i < BM * (k1 / 8); i += T) {
            int r = i / (k1 / 8), c0 = (i % (k1 / 8)) * 8;
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int p = m0 + r;
            if (p < m) {
                int ox, oy, b;
                net_pixel(p, g.oh, g.ow, &ox, &oy, &b);
                net_dw8(in, g, f.dw_w, k1, b, oy, ox, c0, acc);
#pragma unroll
                for (int q = 0; q < 8; q++) {
                    float v = net_act(f.dw_act, acc[q] + __ldg(f.dw_b + c0 + q));
                    acc[q] = c0 + q < in.c ? v : 0.0f;
                }
            }
            uint4 u;
            __half2 *h2 = reinterpret_cast<__half2 *>(&u);
#pragma unroll
            for (int q = 0; q < 4; q++) h2[q] = __floats2half2_rn(acc[2 * q], acc[2 * q + 1]);
            *reinterpret_cast<uint4 *>(as + r * lda + c0) = u;
        }
    }
    net_cp_commit();
    net_cp_wait_all();
    __syncthreads();

    /* H = act1(A x W1 + b1), one 16x16 fragment at a time per warp. */
    const int fn1 = n1p / 16, fn2 = n2p / 16;
    for (int fr = warp; fr < (BM / 16) * fn1; fr += WARPS) {
        int fi = fr / fn1, fj = fr % fn1;
        fused_acc acc;
        fused_frag(acc, as + fi * 16 * lda, lda, w1s + fj * 16, ld1, k1);
        wmma::store_matrix_sync(scr, acc, 20, wmma::mem_row_major);
        __syncwarp();
        int r = lane >> 1, c = (lane & 1) * 8, col = fj * 16 + c;
        uint4 u;
        __half2 *h2 = reinterpret_cast<__half2 *>(&u);
#pragma unroll
        for (int q = 0; q < 4; q++) {
            float x0 = net_act(f.act1, scr[r * 20 + c + 2 * q] + __ldg(f.b1 + col + 2 * q));
            float x1 = net_act(f.act1, scr[r * 20 + c + 2 * q + 1] + __ldg(f.b1 + col + 2 * q + 1));
            h2[q] = __floats2half2_rn(x0, x1);
        }
        *reinterpret_cast<uint4 *>(hs + (fi * 16 + r) * ld1 + col) = u;
        __syncwarp();
    }
    __syncthreads();

    /* C = H x W2 into region 0 (A and W1 are done with). */
    for (int fr = warp; fr < (BM / 16) * fn2; fr += WARPS) {
        int fi = fr / fn2, fj = fr % fn2;
        fused_acc acc;
        fused_frag(acc, hs + fi * 16 * ld1, ld1, w2s + fj * 16, ld2, n1p);
        wmma::store_matrix_sync(c2s + fi * 16 * ldc + fj * 16, acc, ldc, wmma::mem_row_major);
    }
    __syncthreads();

    for (int i = threadIdx.x; i < BM * (n2p / 8); i += T) {
        int r = i / (n2p / 8), c = (i % (n2p / 8)) * 8;
        if (m0 + r >= m) continue;
        net_epilogue_smem8(e, (size_t)(m0 + r), c, c2s + r * ldc + c);
    }
}

/* ---- the depthwise-fed pair on mma.sync (MoveNet's heads) ----
 *
 * Persistent blocks, each warp owning strips of 16 pixels: the warp writes
 * its strip's depthwise output (16 x k1, FP16) to its own shared tile, then
 * for each 16-wide slice of the first product's columns computes that slice
 * in registers (k1 / 16 mma steps), applies bias and activation there and
 * feeds the rounded slice straight into the second product as its A
 * fragment (net_mma.h), so the intermediate never touches shared memory;
 * the epilogue stores from the accumulators. The weights are loaded once
 * per block; no block barrier after that. The WMMA kernel above kept three
 * barrier-separated phases per 64-pixel tile and went through shared
 * memory for both intermediates. */

#define FD_MAX_K1 64

/* Shared memory (byte offsets): W1 [k1][n1p+8] and W2 [n1p][n2p+8] FP16, the
 * depthwise weights [9][k1] and the first bias [n1p] FP32, then each warp's
 * A tile [16][k1+8] FP16. Row strides of 8 halves past a multiple of 16
 * keep ldmatrix's eight rows on distinct banks. */
struct fused_dw_layout {
    int w1, w2, dw, b1, a, bytes;
    __host__ __device__ fused_dw_layout(int warps, int k1, int n1p, int n2p) {
        w1 = 0;
        w2 = w1 + k1 * (n1p + 8) * 2;
        dw = w2 + n1p * (n2p + 8) * 2;
        b1 = dw + 9 * k1 * 4;
        a = net_align128(b1 + n1p * 4);
        bytes = a + warps * 16 * (k1 + 8) * 2;
    }
};

/* The strip's depthwise 3x3 (16 pixels from m0, k1 channels) into the
 * warp's tile as; rows past m are zeros. Pixel coordinates step from the
 * strip's first pixel in 32-bit arithmetic (the 64-bit divisions of
 * net_pixel per item cost more than the taps). */
__device__ __forceinline__ void fused_dw_strip(const net_fused &f, int m, int m0, const float *dws,
                                               __half *as, int lane) {
    const int k1 = f.k1, groups = k1 / 8, lda = k1 + 8;
    const net_tensor in = f.in;
    const net_geom g = f.g;
    const int q0 = m0 / g.ow, ox0 = m0 - q0 * g.ow, b0 = q0 / g.oh, oy0 = q0 - b0 * g.oh;
    const int row = in.w * in.cs;
    for (int i = lane; i < 16 * groups; i += 32) {
        int r = i / groups, c0 = (i - r * groups) * 8;
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        if (m0 + r < m) {
            int ox = ox0 + r, oy = oy0, b = b0;
            while (ox >= g.ow) {
                ox -= g.ow;
                if (++oy == g.oh) oy = 0, b++;
            }
            int iy = oy * g.stride - g.pad_top, ix = ox * g.stride - g.pad_left;
            const __half *cp = in.p + c0 + ((long long)(b * in.h + iy) * in.w + ix) * in.cs;
            bool ry[3], cx[3];
#pragma unroll
            for (int d = 0; d < 3; d++) {
                ry[d] = (unsigned)(iy + d) < (unsigned)in.h;
                cx[d] = (unsigned)(ix + d) < (unsigned)in.w;
            }
            uint4 x[9];
#pragma unroll
            for (int k = 0; k < 9; k++)
                x[k] = ry[k / 3] && cx[k % 3]
                           ? *reinterpret_cast<const uint4 *>(cp + (k / 3) * row + (k % 3) * in.cs)
                           : make_uint4(0, 0, 0, 0);
#pragma unroll
            for (int k = 0; k < 9; k++) {
                const float4 *wr = reinterpret_cast<const float4 *>(dws + k * k1 + c0);
                net_fma8(acc, x[k], wr[0], wr[1]);
            }
#pragma unroll
            for (int q = 0; q < 8; q++) {
                float v = net_act(f.dw_act, acc[q] + __ldg(f.dw_b + c0 + q));
                acc[q] = c0 + q < in.c ? v : 0.0f;
            }
        }
        uint4 u;
        u.x = mma_pack(acc[0], acc[1]), u.y = mma_pack(acc[2], acc[3]);
        u.z = mma_pack(acc[4], acc[5]), u.w = mma_pack(acc[6], acc[7]);
        *reinterpret_cast<uint4 *>(as + r * lda + c0) = u;
    }
}

/* Epilogue e of the strip's 16 x (NT2 x 8) result from the accumulators:
 * lane (g, t) holds columns 8j + 2t, +1 of rows g and g + 8. */
template <int NT2>
__device__ __forceinline__ void fused_dw_store(const net_epi &e, int m, int m0,
                                               const float acc[NT2][4], int lane) {
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int j = 0; j < NT2; j++) {
        int col = j * 8 + 2 * t;
        float2 b = net_bias2(e, col);
#pragma unroll
        for (int h = 0; h < 2; h++)
            if (m0 + g + 8 * h < m)
                net_epilogue2<false>(e, (size_t)(m0 + g + 8 * h), col, acc[j][2 * h] + b.x,
                                     acc[j][2 * h + 1] + b.y);
    }
}

template <int NT2>
__global__ void __launch_bounds__(256, 3)
    fused_dw_kernel(net_fused f, int m, net_epi e, int strips) {
    extern __shared__ __align__(128) unsigned char smem[];
    const int k1 = f.k1, n1p = f.n1p, n2p = NT2 * 8, ks1 = k1 / 16;
    const int ld1 = n1p + 8, ld2 = n2p + 8, lda = k1 + 8;
    const int warps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const fused_dw_layout L(warps, k1, n1p, n2p);
    __half *w1s = reinterpret_cast<__half *>(smem + L.w1);
    __half *w2s = reinterpret_cast<__half *>(smem + L.w2);
    float *dws = reinterpret_cast<float *>(smem + L.dw), *b1s = reinterpret_cast<float *>(smem + L.b1);
    __half *as = reinterpret_cast<__half *>(smem + L.a) + warp * 16 * lda;

    for (int i = threadIdx.x; i < k1 * (n1p / 8); i += blockDim.x) {
        int r = i / (n1p / 8), c = (i % (n1p / 8)) * 8;
        net_copy16(w1s + r * ld1 + c, f.w1 + (size_t)r * n1p + c, true);
    }
    for (int i = threadIdx.x; i < n1p * (n2p / 8); i += blockDim.x) {
        int r = i / (n2p / 8), c = (i % (n2p / 8)) * 8;
        net_copy16(w2s + r * ld2 + c, f.w2 + (size_t)r * n2p + c, true);
    }
    for (int i = threadIdx.x; i < 9 * k1; i += blockDim.x) dws[i] = f.dw_w[i];
    for (int i = threadIdx.x; i < n1p; i += blockDim.x) b1s[i] = f.b1[i];
    net_cp_commit();
    net_cp_wait_all();
    __syncthreads();

    const int t = lane & 3;
    /* ldmatrix row address of this lane within a 16x16 tile (net_mma.h) */
    const int lr = lane % 16, lc = (lane / 16) * 8;
    for (int s = blockIdx.x * warps + warp; s < strips; s += gridDim.x * warps) {
        const int m0 = s * 16;
        fused_dw_strip(f, m, m0, dws, as, lane);
        __syncwarp();
        unsigned a1[FD_MAX_K1 / 16][4];
#pragma unroll
        for (int ks = 0; ks < FD_MAX_K1 / 16; ks++)
            if (ks < ks1) mma_ldsm4(a1[ks], as + lr * lda + ks * 16 + lc);
        float acc2[NT2][4];
#pragma unroll
        for (int j = 0; j < NT2; j++) acc2[j][0] = acc2[j][1] = acc2[j][2] = acc2[j][3] = 0.0f;
        for (int c = 0; c < n1p / 16; c++) {
            float acc1[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
#pragma unroll
            for (int ks = 0; ks < FD_MAX_K1 / 16; ks++) {
                if (ks >= ks1) break;
                unsigned b[4];
                mma_ldsm4_t(b, w1s + (ks * 16 + lr) * ld1 + c * 16 + lc);
                mma_16816(acc1[0], a1[ks], b[0], b[1]);
                mma_16816(acc1[1], a1[ks], b[2], b[3]);
            }
            /* this slice of h = act1(. + b1), rounded to FP16 like an
             * unfused layer's output: the A fragment of k-step c */
            unsigned a2[4];
#pragma unroll
            for (int j = 0; j < 2; j++) {
                int col = c * 16 + j * 8 + 2 * t;
                float bx = b1s[col], by = b1s[col + 1];
                a2[2 * j] = mma_pack(net_act(f.act1, acc1[j][0] + bx), net_act(f.act1, acc1[j][1] + by));
                a2[2 * j + 1] =
                    mma_pack(net_act(f.act1, acc1[j][2] + bx), net_act(f.act1, acc1[j][3] + by));
            }
#pragma unroll
            for (int j = 0; j < NT2 / 2; j++) {
                unsigned b[4];
                mma_ldsm4_t(b, w2s + (c * 16 + lr) * ld2 + j * 16 + lc);
                mma_16816(acc2[2 * j], a2, b[0], b[1]);
                mma_16816(acc2[2 * j + 1], a2, b[2], b[3]);
            }
        }
        fused_dw_store<NT2>(e, m, m0, acc2, lane);
        __syncwarp(); /* the next strip's depthwise overwrites as */
    }
}

/* Whether fused_dw_kernel runs this pair: a 3x3 depthwise on a tensor
 * whose stride is k1, k1 <= FD_MAX_K1, no residual, at most 64 outputs,
 * and its shared memory within the default 48 KB at 8 warps. */
static bool fused_dw_ok(const net_fused *f, const net_epi *e) {
    return f->dw_w && f->g.kh == 3 && f->g.kw == 3 && f->in.cs == f->k1 && f->k1 <= FD_MAX_K1 &&
           !e->res && e->out_cs % 16 == 0 && e->out_cs <= 64 &&
           fused_dw_layout(8, f->k1, f->n1p, e->out_cs).bytes <= 48 * 1024;
}

template <int NT2>
static cudaError_t fused_dw_run(const net_fused *f, int m, const net_epi *e, int sms,
                                cudaStream_t s) {
    /* Warps per block: 8, fewer while that leaves under two blocks per
     * multiprocessor (batch 1: 256 strips); then as many blocks as fit at
     * once, each looping over strips. */
    int strips = (m + 15) / 16, warps = 8;
    while (warps > 1 && (strips + warps - 1) / warps < 2 * sms) warps /= 2;
    size_t bytes = (size_t)fused_dw_layout(warps, f->k1, f->n1p, e->out_cs).bytes;
    int per_sm = 0;
    cudaError_t err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fused_dw_kernel<NT2>,
                                                                    warps * 32, bytes);
    if (err != cudaSuccess) return err;
    long long blocks = (strips + warps - 1) / warps;
    if (blocks > (long long)sms * per_sm) blocks = (long long)sms * per_sm;
    fused_dw_kernel<NT2><<<(unsigned)blocks, warps * 32, bytes, s>>>(*f, m, *e, strips);
    return cudaGetLastError();
}

size_t net_fused_smem(int k1, int n1p, int n2p) {
    return (size_t)fused_layout(64, k1, n1p, n2p).bytes;
}

template <int BM>
static cudaError_t fused_run(const net_fused *f, int m, const net_epi *e, cudaStream_t s) {
    unsigned blocks = (unsigned)((m + BM - 1) / BM);
    size_t bytes = (size_t)fused_layout(BM, f->k1, f->n1p, e->out_cs).bytes;
    if (f->dw_w)
        fused_kernel<BM, true><<<blocks, BM * 4, bytes, s>>>(*f, m, *e);
    else
        fused_kernel<BM, false><<<blocks, BM * 4, bytes, s>>>(*f, m, *e);
    return cudaGetLastError();
}

/* 64-row tiles while they give every multiprocessor two blocks, else 32-row
 * ones (batch 1). */
cudaError_t net_launch_fused(const net_fused *f, int m, const net_epi *e, int sms,
                             cudaStream_t s) {
    if (fused_dw_ok(f, e)) {
        switch (e->out_cs / 8) {
        case 2: return fused_dw_run<2>(f, m, e, sms, s);
        case 4: return fused_dw_run<4>(f, m, e, sms, s);
        case 6: return fused_dw_run<6>(f, m, e, sms, s);
        default: return fused_dw_run<8>(f, m, e, sms, s);
        }
    }
    if ((long long)(m + 63) / 64 >= 2LL * sms) return fused_run<64>(f, m, e, s);
    return fused_run<32>(f, m, e, s);
}
