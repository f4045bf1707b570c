/* 1x1 convolutions as one GEMM each on tensor cores (WMMA m16n16k16, FP16
 * in, FP32 accumulation): C [m, np] = A [m, k] (NHWC activations, row-major)
 * x W [k, np] (row-major), then the fused epilogue (net_device.h). Block
 * tiles BM x BN x 32, K loop double-buffered through shared memory with
 * cp.async on sm_80+ (plain 16-byte copies on sm_75); the tile is picked per
 * layer by shape, since the late layers have few rows (8x8 pixels). */
#include <mma.h>

#include "engine/cuda/net_device.h"

using namespace nvcuda;

#define GEMM_BK 32

/* Shared memory of one block: two stages of A [BM][BK+8] and W [BK][BN+8]
 * (8 halves of padding keep ldmatrix rows on distinct banks), reused after
 * the K loop as the FP32 C tile [BM][BN+4] for the epilogue. */
template <int BM, int BN>
struct gemm_smem {
    static constexpr int lda = GEMM_BK + 8, ldb = BN + 8, ldc = BN + 4;
    static constexpr int a_bytes = 2 * BM * lda * 2, b_bytes = 2 * GEMM_BK * ldb * 2;
    static constexpr int c_bytes = BM * ldc * 4;
    static constexpr int bytes = a_bytes + b_bytes > c_bytes ? a_bytes + b_bytes : c_bytes;
};

/* Stage `st` <- A rows m0.., k0..k0+31 and W rows k0.., columns n0.. */
template <int BM, int BN, int T>
__device__ __forceinline__ void gemm_load(unsigned char *smem, int st, const __half *a,
                                          const __half *w, int m, int k, int np, int m0, int n0,
                                          int k0) {
    typedef gemm_smem<BM, BN> S;
    __half *as = reinterpret_cast<__half *>(smem) + st * BM * S::lda;
    __half *bs = reinterpret_cast<__half *>(smem + S::a_bytes) + st * GEMM_BK * S::ldb;
    for (int i = threadIdx.x; i < BM * (GEMM_BK / 8); i += T) {
        int r = i / (GEMM_BK / 8), c = (i % (GEMM_BK / 8)) * 8;
        bool ok = m0 + r < m && k0 + c < k;
        net_copy16(as + r * S::lda + c, ok ? a + (size_t)(m0 + r) * k + k0 + c : a, ok);
    }
    for (int i = threadIdx.x; i < GEMM_BK * (BN / 8); i += T) {
        int r = i / (BN / 8), c = (i % (BN / 8)) * 8;
        bool ok = k0 + r < k && n0 + c < np;
        net_copy16(bs + r * S::ldb + c, ok ? w + (size_t)(k0 + r) * np + n0 + c : w, ok);
    }
}

/* One block: the BM x BN tile of C at blockIdx.x (column tiles fastest, so
 * the blocks sharing an A tile run together and find it in L2). Each warp
 * owns a WM x WN sub-tile of 16x16 accumulator fragments. */
template <int BM, int BN, int WM, int WN>
__global__ void __launch_bounds__((BM / WM) * (BN / WN) * 32, 1024 / ((BM / WM) * (BN / WN) * 32))
    gemm_kernel(const __half *__restrict__ a, const __half *__restrict__ w, int m, int k, int np,
                net_epi e) {
    typedef gemm_smem<BM, BN> S;
    constexpr int T = (BM / WM) * (BN / WN) * 32, FM = WM / 16, FN = WN / 16;
    __shared__ __align__(128) unsigned char smem[S::bytes];
    int tiles_n = (np + BN - 1) / BN;
    int m0 = (blockIdx.x / tiles_n) * BM, n0 = (blockIdx.x % tiles_n) * BN;
    int warp = threadIdx.x / 32, wm = (warp / (BN / WN)) * WM, wn = (warp % (BN / WN)) * WN;

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[FM][FN];
#pragma unroll
    for (int i = 0; i < FM; i++)
#pragma unroll
        for (int j = 0; j < FN; j++) wmma::fill_fragment(acc[i][j], 0.0f);

    int kt = (k + GEMM_BK - 1) / GEMM_BK;
    gemm_load<BM, BN, T>(smem, 0, a, w, m, k, np, m0, n0, 0);
    net_cp_commit();
    for (int t = 0; t < kt; t++) {
        if (t + 1 < kt) {
            gemm_load<BM, BN, T>(smem, (t + 1) & 1, a, w, m, k, np, m0, n0, (t + 1) * GEMM_BK);
            net_cp_commit();
            net_cp_wait<1>();
        } else {
            net_cp_wait<0>();
        }
        __syncthreads();
        const __half *as = reinterpret_cast<const __half *>(smem) + (t & 1) * BM * S::lda;
        const __half *bs =
            reinterpret_cast<const __half *>(smem + S::a_bytes) + (t & 1) * GEMM_BK * S::ldb;
#pragma unroll
        for (int kk = 0; kk < GEMM_BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[FM];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb[FN];
#pragma unroll
            for (int i = 0; i < FM; i++)
                wmma::load_matrix_sync(fa[i], as + (wm + i * 16) * S::lda + kk, S::lda);
#pragma unroll
            for (int j = 0; j < FN; j++)
                wmma::load_matrix_sync(fb[j], bs + kk * S::ldb + wn + j * 16, S::ldb);
#pragma unroll
            for (int i = 0; i < FM; i++)
#pragma unroll
                for (int j = 0; j < FN; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        }
        __syncthreads(); /* the next iteration's copies overwrite this stage */
    }

    float *cs = reinterpret_cast<float *>(smem);
#pragma unroll
    for (int i = 0; i < FM; i++)
#pragma unroll
        for (int j = 0; j < FN; j++)
            wmma::store_matrix_sync(cs + (wm + i * 16) * S::ldc + wn + j * 16, acc[i][j], S::ldc,
                                    wmma::mem_row_major);
    __syncthreads();
    /* 8 consecutive columns per thread: 16-byte FP16 stores, a warp covers
     * whole rows of the tile. */
    for (int i = threadIdx.x; i < BM * (BN / 8); i += T) {
        int r = i / (BN / 8), c = (i % (BN / 8)) * 8;
        if (m0 + r >= m || n0 + c >= np) continue;
        net_epilogue_smem8(e, (size_t)(m0 + r), n0 + c, cs + r * S::ldc + c);
    }
}

template <int BM, int BN, int WM, int WN>
static cudaError_t gemm_run(const __half *a, int m, int k, const __half *w, int np,
                            const net_epi *e, cudaStream_t s) {
    long long blocks = (long long)((m + BM - 1) / BM) * ((np + BN - 1) / BN);
    gemm_kernel<BM, BN, WM, WN>
        <<<(unsigned)blocks, (BM / WM) * (BN / WN) * 32, 0, s>>>(a, w, m, k, np, *e);
    return cudaGetLastError();
}

/* Few rows (the 8x8 and 16x16 stages at small batches): 32x32 tiles, and
 * the K loop split over the block's WARPS warps, each loading its 16-wide
 * steps of A and W straight from global memory (L2-resident) into
 * fragments; partial tiles are summed through shared memory. A long K is
 * then WARPS short chains of L2 latencies instead of one long one. Needs m
 * and k multiples of 16 (whole fragments; the caller checks m). */
template <int WARPS>
__global__ void __launch_bounds__(WARPS * 32)
    gemm_small_kernel(const __half *__restrict__ a, const __half *__restrict__ w, int m, int k,
                      int np, net_epi e) {
    __shared__ __align__(128) float part[WARPS][32][36];
    int tiles_n = (np + 31) / 32;
    int m0 = (blockIdx.x / tiles_n) * 32, n0 = (blockIdx.x % tiles_n) * 32;
    int warp = threadIdx.x / 32;
    bool row_ok[2] = {m0 < m, m0 + 16 < m}, col_ok[2] = {n0 < np, n0 + 16 < np};
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);
#pragma unroll 2
    for (int t = warp * 16; t < k; t += WARPS * 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[2];
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb[2];
#pragma unroll
        for (int i = 0; i < 2; i++)
            if (row_ok[i]) wmma::load_matrix_sync(fa[i], a + (size_t)(m0 + i * 16) * k + t, k);
#pragma unroll
        for (int j = 0; j < 2; j++)
            if (col_ok[j]) wmma::load_matrix_sync(fb[j], w + (size_t)t * np + n0 + j * 16, np);
#pragma unroll
        for (int i = 0; i < 2; i++)
#pragma unroll
            for (int j = 0; j < 2; j++)
                if (row_ok[i] && col_ok[j]) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++)
            wmma::store_matrix_sync(&part[warp][i * 16][j * 16], acc[i][j], 36, wmma::mem_row_major);
    __syncthreads();
    for (int i = threadIdx.x; i < 32 * 4; i += WARPS * 32) {
        int r = i / 4, c = (i % 4) * 8;
        if (m0 + r >= m || n0 + c >= np) continue;
        float v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int q = 0; q < WARPS; q++)
#pragma unroll
            for (int x = 0; x < 8; x++) v[x] += part[q][r][c + x];
        net_epilogue8(e, (size_t)(m0 + r), n0 + c, v);
    }
}

/* Tile by shape: too few 64-row tiles to fill the multiprocessors -> the
 * split-K 32x32 kernel; narrow outputs (np <= 32: heads, 24-channel
 * projections) take 32-wide tiles so half the tensor-core work is not
 * padding; widths that are multiples of 48 but not of 64 (the expansions to
 * 144, 288, 864, 1440) 48-wide tiles, no padding columns (a third of the
 * 144-wide layer's tiles were padding; H200, batch 256: 12.81 -> 12.58 ms
 * per pass); 128-row tiles while they still give every multiprocessor two
 * blocks, else 64-row ones. */
cudaError_t net_launch_gemm(const __half *a, int m, int k, const __half *w, int np,
                            const net_epi *e, int sms, cudaStream_t s) {
    int bn = np <= 32 ? 32 : 64;
    long long small = (long long)((m + 63) / 64) * ((np + bn - 1) / bn);
    if (small < sms && m % 16 == 0) {
        unsigned blocks = (unsigned)(((m + 31) / 32) * ((np + 31) / 32));
        gemm_small_kernel<8><<<blocks, 256, 0, s>>>(a, w, m, k, np, *e);
        return cudaGetLastError();
    }
    long long big = (long long)((m + 127) / 128) * ((np + bn - 1) / bn);
    int tall = big >= 2LL * sms;
    if (bn == 64 && np % 48 == 0 && np % 64 != 0)
        return tall ? gemm_run<128, 48, 16, 48>(a, m, k, w, np, e, s)
                    : gemm_run<64, 48, 16, 48>(a, m, k, w, np, e, s);
    if (bn == 32)
        return tall ? gemm_run<128, 32, 32, 32>(a, m, k, w, np, e, s)
                    : gemm_run<64, 32, 32, 16>(a, m, k, w, np, e, s);
    return tall ? gemm_run<128, 64, 32, 32>(a, m, k, w, np, e, s)
                : gemm_run<64, 64, 32, 32>(a, m, k, w, np, e, s);
}
