/* A 1x1 convolution fused with the 1x1 convolution that alone reads it
 * (net_launch_fused in net_kernels.h), optionally with the depthwise conv
 * that alone feeds the first: MoveNet's heads, dw 3x3 -> 1x1 to 96 (ReLU)
 * -> 1x1 to C, whose wide intermediates would otherwise go through device
 * memory. WMMA m16n16k16 (FP16 in, FP32 accumulation) on shared-memory
 * tiles; weights and the activation tile arrive by cp.async on sm_80+. */
#include <mma.h>

#include "engine/cuda/net_device.h"

using namespace nvcuda;

__device__ __forceinline__ void fused_wait_all(void) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
    asm volatile("cp.async.wait_group 0;\n" ::);
#endif
}

static __host__ __device__ __forceinline__ int fused_al(int x) { return (x + 127) / 128 * 128; }

/* Shared memory of a BM-row block (byte offsets): region 0 holds A [BM][k1+8]
 * and W1 [k1][n1p+8] during the first product, then the FP32 output tile
 * [BM][n2p+4]; H [BM][n1p+8] FP16; W2 [n1p][n2p+8]; per-warp FP32 scratch
 * [16][20] for the first product's bias and activation. */
struct fused_layout {
    int a, w1, c2, h, w2, scr, bytes;
    __host__ __device__ fused_layout(int bm, int k1, int n1p, int n2p) {
        a = 0;
        w1 = fused_al(bm * (k1 + 8) * 2);
        int r0 = w1 + fused_al(k1 * (n1p + 8) * 2), c2b = fused_al(bm * (n2p + 4) * 4);
        c2 = 0;
        h = r0 > c2b ? r0 : c2b;
        w2 = h + fused_al(bm * (n1p + 8) * 2);
        scr = w2 + fused_al(n1p * (n2p + 8) * 2);
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
    fused_wait_all();
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
    if ((long long)(m + 63) / 64 >= 2LL * sms) return fused_run<64>(f, m, e, s);
    return fused_run<32>(f, m, e, s);
}
