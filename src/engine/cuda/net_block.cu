/* One inverted-residual block in one kernel (net_launch_block in
 * net_kernels.h): expand 1x1 -> depthwise 3x3 stride 1 or 2 -> project 1x1
 * (+ residual), so the block's wide intermediates (the expanded tensor and
 * the depthwise output) never reach device memory; only the narrow input
 * and output do.
 *
 * A block of 8 warps owns a TH x 16 tile of output pixels of one image (TH
 * 8 at stride 1, 4 at stride 2). It loads the input pixels the tile needs
 * (its halo: 10 x 18 or 9 x 33, zeros outside the image) once, then walks
 * the expanded channels in chunks of 48:
 *   1. expand: E = relu6(X W1 + b1) for the halo pixels (mma.sync, the
 *      epilogue applied to the accumulators), zeros outside the image since
 *      the depthwise pads the expanded tensor with zeros; block barrier;
 *   2. depthwise: D = relu6(dw(E) + b) for the tile, from E in shared
 *      memory; block barrier;
 *   3. project: each warp's accumulators (one output row, all or half of
 *      the outputs) += D x W2 (chunk rows); the next chunk's weights arrive
 *      by cp.async meanwhile.
 * Then bias, activation and residual from the accumulators, FP16 stores.
 * E and D are rounded to FP16 where the unfused layers round, so the result
 * equals the three separate kernels' up to summation order. Variants: no
 * expansion (E is the input, loaded per chunk), and the stem as the
 * expansion (X holds each halo pixel's 3x3 stride-2 patch of the image). */
#include <limits.h>

#include "engine/cuda/net_device.h"
#include "engine/cuda/net_mma.h"

#define IR_TW 16       /* output columns per tile: one m16 tile per output row */
#define IR_CH 48       /* expanded channels per chunk */
#define IR_THREADS 256 /* 8 warps */
#define IR_LDD (IR_CH + 8)
#define IR_LDW1 (IR_CH + 8)

/* Tile geometry at stride S with TH output rows (8 or 4): the halo HH x HW
 * input pixels (MT m16 tiles of them); WN warps per output row, each
 * projecting to 1 / WN of the outputs; R output rows per depthwise thread
 * (192 threads: 6 channel groups x 16 columns x 2 row groups). */
template <int S, int TH>
struct ir_geo {
    static constexpr int HH = (TH - 1) * S + 3, HW = (IR_TW - 1) * S + 3;
    static constexpr int HALO = HH * HW, MT = (HALO + 15) / 16;
    static constexpr int WN = 8 / TH, R = TH / 2;
};

/* Shared memory (byte offsets): X [MT * 16][k+8], E [HALO][IR_CH] (read
 * only by the depthwise, whose 16-byte loads of neighbouring threads are
 * then contiguous: no bank conflicts; ldmatrix reads the others, whose rows
 * 8 halves past a multiple of 16 keep its eight rows on distinct banks),
 * D [TH * 16][IR_CH+8], all FP16; per chunk, double-buffered: W1
 * [k][IR_CH+8], W2 [IR_CH][np+8], the depthwise weights [9][IR_CH] FP16
 * (the layer's float16 values; 16 bytes per tap and channel group), b1 and
 * the depthwise bias [IR_CH] FP32. */
struct ir_layout {
    int x, e, d, wbuf, w2, dw, b1, bd, bytes; /* w2, dw, b1, bd: within a buffer */
    __host__ __device__ ir_layout(int k, int np, int mt, int halo, int th) {
        x = 0;
        e = net_align128(x + mt * 16 * (k + 8) * 2);
        d = net_align128(e + halo * IR_CH * 2);
        w2 = net_align128(k * IR_LDW1 * 2);
        dw = w2 + net_align128(IR_CH * (np + 8) * 2);
        b1 = dw + 9 * IR_CH * 2;
        bd = b1 + IR_CH * 4;
        wbuf = net_align128(bd + IR_CH * 4);
        bytes = net_align128(d + th * IR_TW * IR_LDD * 2) + 2 * wbuf;
    }
    /* byte offset of weight buffer st (W1 first) */
    __host__ __device__ int w(int st) const { return bytes - (2 - st) * wbuf; }
};

/* How the kernel gets the depthwise's input E (net_kernels.h): it reads
 * it (NET_BLOCK_NONE), expands the input's pixels with a 1x1 conv
 * (NET_BLOCK_GEMM), or computes it with the stem's 3x3 stride-2 conv of the
 * 4-channel image (NET_BLOCK_STEM) as a product over the 36 image values
 * around each pixel, K padded to 48. */
#define IR_STEM_K 48

/* The layout of kernel <S, TH, X> (no X tile and no W1 without an
 * expansion). */
template <int S, int TH, int X>
static __host__ __device__ ir_layout ir_layout_of(int k, int np) {
    typedef ir_geo<S, TH> G;
    return ir_layout(X != NET_BLOCK_NONE ? k : 0, np, X != NET_BLOCK_NONE ? G::MT : 0, G::HALO, TH);
}

/* Input coordinates of halo pixel p of a tile whose halo starts at (iy0,
 * ix0); whether it lies inside the h x w input. */
template <typename G>
__device__ __forceinline__ bool ir_halo(int p, int iy0, int ix0, int h, int w, int *iy, int *ix) {
    int hy = p / G::HW;
    *iy = iy0 + hy;
    *ix = ix0 + (p - hy * G::HW);
    return p < G::HALO && *iy >= 0 && *iy < h && *ix >= 0 && *ix < w;
}

/* cp.async of chunk c's W1, W2, b1 and depthwise bias into buffer st (W1
 * and b1 only with an expansion). */
__device__ __forceinline__ void ir_load_chunk(const net_block &bk, int np, const ir_layout &L,
                                              unsigned char *smem, int c, int st) {
    const int k = bk.w1 ? bk.k : 0, e = bk.e, c0 = c * IR_CH;
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
        if (r || bk.b1) net_copy16(fs + r * IR_CH + cc, (r ? bk.dw_b : bk.b1) + c0 + cc, true);
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

/* Without an expansion: E = the input's channels c * IR_CH.. of the halo
 * pixels (zeros outside the image), by cp.async. */
template <typename G>
__device__ __forceinline__ void ir_load_e(const net_block &bk, const ir_layout &L,
                                          unsigned char *smem, const __half *xin, int c, int iy0,
                                          int ix0) {
    __half *es = reinterpret_cast<__half *>(smem + L.e);
    for (int i = threadIdx.x; i < G::HALO * (IR_CH / 8); i += IR_THREADS) {
        int p = i / (IR_CH / 8), cc = (i % (IR_CH / 8)) * 8, iy, ix;
        bool ok = ir_halo<G>(p, iy0, ix0, bk.gh, bk.gw, &iy, &ix);
        net_copy16(es + p * IR_CH + cc,
                   ok ? xin + ((size_t)iy * bk.in.w + ix) * bk.in.cs + c * IR_CH + cc : xin, ok);
    }
}

/* Phase 1: E = relu6(X W1 + b1) for the halo pixels: jobs of one m16 tile x
 * 24 columns (three n8 tiles), job j on warp j % 8. Bit 2i + h of `inside`
 * says whether row g + 8h of this warp's i-th job lies in the image. */
template <typename G>
__device__ __forceinline__ void ir_expand(int k, const ir_layout &L, unsigned char *smem, int st,
                                          unsigned inside, int warp, int lane) {
    const int ldx = k + 8, g = lane >> 2, t = lane & 3, lr = lane % 16, lc = (lane / 16) * 8;
    const __half *xs = reinterpret_cast<const __half *>(smem + L.x);
    const __half *w1s = reinterpret_cast<const __half *>(smem + L.w(st));
    const float *b1s = reinterpret_cast<const float *>(smem + L.w(st) + L.b1);
    __half *es = reinterpret_cast<__half *>(smem + L.e);
    for (int job = warp, i = 0; job < G::MT * 2; job += 8, i++) {
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
            int p = mt * 16 + g + 8 * h;
            if (p >= G::HALO) continue;
            bool in = (inside >> (2 * i + h)) & 1;
#pragma unroll
            for (int j = 0; j < 3; j++) {
                int col = n0 + j * 8 + 2 * t;
                float2 b = *reinterpret_cast<const float2 *>(b1s + col);
                unsigned v = in ? mma_pack(net_act(PS_ACT_RELU6, acc[j][2 * h] + b.x),
                                           net_act(PS_ACT_RELU6, acc[j][2 * h + 1] + b.y))
                                : 0u;
                *reinterpret_cast<unsigned *>(es + p * IR_CH + col) = v;
            }
        }
    }
}

/* Phase 2: D = relu6(depthwise 3x3 of E + bias) for the tile. Thread =
 * (8-channel group, column, row group): 192 threads of R output rows of one
 * column each, so each tap's weights are loaded and converted once for R
 * outputs (a first version, thread = one pixel with FP32 weights per tap,
 * was bound by shared-memory wavefronts). */
template <int S, typename G>
__device__ __forceinline__ void ir_depthwise(const ir_layout &L, unsigned char *smem, int st) {
    constexpr int GR = IR_CH / 8, R = G::R;
    const int tid = threadIdx.x;
    if (tid >= GR * IR_TW * 2) return;
    const int c0 = (tid % GR) * 8, cx = (tid / GR) % IR_TW, r0 = (tid / (GR * IR_TW)) * R;
    const __half *es =
        reinterpret_cast<const __half *>(smem + L.e) + (r0 * S * G::HW + cx * S) * IR_CH + c0;
    const __half *dws = reinterpret_cast<const __half *>(smem + L.w(st) + L.dw) + c0;
    const float *bds = reinterpret_cast<const float *>(smem + L.w(st) + L.bd) + c0;
    __half *ds = reinterpret_cast<__half *>(smem + L.d) + (r0 * IR_TW + cx) * IR_LDD + c0;
    float acc[R][8];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int q = 0; q < 8; q++) acc[r][q] = 0.0f;
    int tap = 0; /* (ky * HW + kx) * IR_CH: the tap's offset in E */
#pragma unroll 1 /* unrolled, all taps' loads were hoisted: spills */
    for (int q = 0; q < 9; q++) {
        float wf[8];
        net_unpack8(*reinterpret_cast<const uint4 *>(dws + q * IR_CH), wf);
#pragma unroll
        for (int r = 0; r < R; r++) {
            float xf[8];
            net_unpack8(*reinterpret_cast<const uint4 *>(es + tap + r * S * G::HW * IR_CH), xf);
#pragma unroll
            for (int i = 0; i < 8; i++) acc[r][i] += xf[i] * wf[i];
        }
        tap += q % 3 == 2 ? (G::HW - 2) * IR_CH : IR_CH;
    }
    float4 b0 = *reinterpret_cast<const float4 *>(bds), b1 = *reinterpret_cast<const float4 *>(bds + 4);
    float bias[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
    for (int r = 0; r < R; r++) {
        float v[8];
#pragma unroll
        for (int q = 0; q < 8; q++) v[q] = net_act(PS_ACT_RELU6, acc[r][q] + bias[q]);
        uint4 u;
        u.x = mma_pack(v[0], v[1]), u.y = mma_pack(v[2], v[3]);
        u.z = mma_pack(v[4], v[5]), u.w = mma_pack(v[6], v[7]);
        *reinterpret_cast<uint4 *>(ds + r * IR_TW * IR_LDD) = u;
    }
}

/* Phase 3: acc (NW n8 tiles from column 8 j0) += D rows of m16 tile mt x
 * W2 (this chunk's rows). */
template <int NW>
__device__ __forceinline__ void ir_project(const __half *ds, const __half *w2s, int np, int j0,
                                           float acc[NW][4], int lane) {
    const int lr = lane % 16, lc = (lane / 16) * 8;
#pragma unroll
    for (int ks = 0; ks < IR_CH / 16; ks++) {
        unsigned a[4], b[4];
        mma_ldsm4(a, ds + lr * IR_LDD + ks * 16 + lc);
        const __half *wr = w2s + (ks * 16 + lr) * (np + 8) + j0 * 8;
#pragma unroll
        for (int j = 0; j + 1 < NW; j += 2) {
            mma_ldsm4_t(b, wr + j * 8 + lc);
            mma_16816(acc[j], a, b[0], b[1]);
            mma_16816(acc[j + 1], a, b[2], b[3]);
        }
        if (NW & 1) {
            mma_ldsm2_t(b, wr + (NW - 1) * 8);
            mma_16816(acc[NW - 1], a, b[0], b[1]);
        }
    }
}

/* NT = np / 8 output n8 tiles, stride S, TH output rows per tile, X: how
 * E is made (NET_BLOCK_*); two blocks
 * per multiprocessor (128 registers: at one block the stride-1 96-output
 * blocks ran 36% slower). */
template <int NT, int S, int TH, int X>
__global__ void __launch_bounds__(IR_THREADS, 2)
    block_kernel(net_block bk, net_epi e) {
    constexpr bool EXP = X != NET_BLOCK_NONE;
    typedef ir_geo<S, TH> G;
    extern __shared__ __align__(128) unsigned char smem[];
    constexpr int np = NT * 8, NW = NT / G::WN;
    const ir_layout L = ir_layout_of<S, TH, X>(bk.k, np);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int oh = bk.oh, ow = bk.ow, tiles_x = (ow + IR_TW - 1) / IR_TW;
    const int tiles = tiles_x * ((oh + TH - 1) / TH);
    const int img = blockIdx.x / tiles, tile = blockIdx.x % tiles;
    const int ty0 = (tile / tiles_x) * TH, tx0 = (tile % tiles_x) * IR_TW;
    const int iy0 = ty0 * S - bk.pad_top, ix0 = tx0 * S - bk.pad_left;
    const int k = bk.k, ldx = k + 8, h = bk.gh, w = bk.gw;
    const __half *xin = bk.in.p + (size_t)img * bk.in.h * bk.in.w * bk.in.cs;

    /* X: the halo's input pixels, or their stem patches (rows past the halo
     * and pixels outside the image zero-filled), and chunk 0's weights */
    unsigned inside = 0; /* ir_expand's rows in the image */
    __half *xs = reinterpret_cast<__half *>(smem + L.x);
    if (X == NET_BLOCK_GEMM) {
        for (int i = threadIdx.x; i < G::MT * 16 * (k / 8); i += IR_THREADS) {
            int p = i / (k / 8), cc = (i % (k / 8)) * 8, iy, ix;
            bool ok = ir_halo<G>(p, iy0, ix0, h, w, &iy, &ix);
            net_copy16(xs + p * ldx + cc, ok ? xin + ((size_t)iy * w + ix) * bk.in.cs + cc : xin, ok);
        }
    } else if (X == NET_BLOCK_STEM) {
        /* row p: 9 taps x 4 channels of the image around pixel p, then 12
         * zeros; 4 halves (8 bytes) per step, asynchronously */
        for (int i = threadIdx.x; i < G::MT * 16 * (IR_STEM_K / 4); i += IR_THREADS) {
            int p = i / (IR_STEM_K / 4), q = i % (IR_STEM_K / 4), sy, sx, y = -1, x = -1;
            if (q < 9 && ir_halo<G>(p, iy0, ix0, h, w, &sy, &sx))
                y = sy * 2 - bk.spad_top + q / 3, x = sx * 2 - bk.spad_left + q % 3;
            bool ok = y >= 0 && y < bk.in.h && x >= 0 && x < bk.in.w;
            net_copy8(xs + p * ldx + q * 4, ok ? xin + ((size_t)y * bk.in.w + x) * 4 : xin, ok);
        }
    }
    if (EXP) {
        for (int job = warp, i = 0; job < G::MT * 2; job += 8, i++)
            for (int hh = 0; hh < 2; hh++) {
                int iy, ix;
                if (ir_halo<G>((job >> 1) * 16 + (lane >> 2) + 8 * hh, iy0, ix0, h, w, &iy, &ix))
                    inside |= 1u << (2 * i + hh);
            }
    }
    ir_load_chunk(bk, np, L, smem, 0, 0);
    net_cp_commit();
    ir_store_dw(L, smem, 0, ir_load_dw(bk, 0));

    float acc[NW][4];
#pragma unroll
    for (int j = 0; j < NW; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
    const int mt = warp / G::WN, j0 = (warp % G::WN) * NW;
    const __half *ds = reinterpret_cast<const __half *>(smem + L.d) + mt * 16 * IR_LDD;
    const int chunks = bk.e / IR_CH;
    for (int c = 0; c < chunks; c++) {
        const int st = c & 1;
        net_cp_wait_all();
        __syncthreads(); /* chunk c's weights (and X) arrived; E, D and buffer st^1 free */
        if (!EXP) {
            ir_load_e<G>(bk, L, smem, xin, c, iy0, ix0);
            net_cp_commit();
        }
        float2 dw_next = make_float2(0, 0);
        if (c + 1 < chunks) {
            ir_load_chunk(bk, np, L, smem, c + 1, st ^ 1);
            net_cp_commit();
            dw_next = ir_load_dw(bk, c + 1);
        }
        if (EXP) {
            ir_expand<G>(k, L, smem, st, inside, warp, lane);
        } else if (c + 1 < chunks) {
            net_cp_wait<1>(); /* E, not yet the next chunk's weights */
        } else {
            net_cp_wait<0>();
        }
        __syncthreads(); /* E complete */
        ir_depthwise<S, G>(L, smem, st);
        __syncthreads(); /* D complete */
        ir_project<NW>(ds, reinterpret_cast<const __half *>(smem + L.w(st) + L.w2), np, j0, acc,
                       lane);
        if (c + 1 < chunks) ir_store_dw(L, smem, st ^ 1, dw_next);
    }

    /* epilogue: lane (g, t) holds columns 8 (j0 + j) + 2t, +1 of output
     * row ty0 + mt, columns tx0 + g and tx0 + g + 8 */
    const int g = lane >> 2, t = lane & 3, oy = ty0 + mt;
    if (oy >= oh) return;
#pragma unroll
    for (int hh = 0; hh < 2; hh++) {
        int ox = tx0 + g + 8 * hh;
        if (ox >= ow) continue;
        size_t m = ((size_t)img * oh + oy) * ow + ox;
#pragma unroll
        for (int j = 0; j < NW; j++) {
            int col = (j0 + j) * 8 + 2 * t;
            float2 b = net_bias2(e, col);
            net_epilogue2<true>(e, m, col, acc[j][2 * hh] + b.x, acc[j][2 * hh + 1] + b.y);
        }
    }
}

/* Kernel variants: stride 1 with an expansion takes 8-row tiles up to 96
 * outputs (one warp per output row), 4-row tiles for 144 (two warps per
 * row, half the outputs each: 36 accumulators); stride 2 takes 4-row tiles
 * (9 x 33 halo); without an expansion or after a stem, stride 1 and 8-row
 * tiles. */
static int ir_th(int np, int stride) { return stride == 1 && np <= 96 ? 8 : 4; }

static int ir_bytes(int k, int np, int stride, int x) {
    if (x != NET_BLOCK_GEMM) return ir_layout_of<1, 8, NET_BLOCK_STEM>(k, np).bytes;
    if (stride == 2) return ir_layout_of<2, 4, NET_BLOCK_GEMM>(k, np).bytes;
    return ir_th(np, 1) == 8 ? ir_layout_of<1, 8, NET_BLOCK_GEMM>(k, np).bytes
                             : ir_layout_of<1, 4, NET_BLOCK_GEMM>(k, np).bytes;
}

int net_block_fits(int k, int e, int np, int stride, int expand, int smem_block, int smem_sm) {
    if (k % 16 || e % IR_CH || (stride != 1 && stride != 2)) return 0;
    if (expand == NET_BLOCK_GEMM) {
        if (k > NET_BLOCK_MAX_K || (np != 48 && np != 96 && (np != 144 || stride != 1))) return 0;
    } else if (stride != 1 || (np != 32 && np != 48) ||
               (expand == NET_BLOCK_NONE ? k != e : k != IR_STEM_K || e != IR_CH)) {
        return 0;
    }
    /* the runtime keeps 1 KB of each block's shared memory for itself */
    int bytes = ir_bytes(k, np, stride, expand);
    return bytes <= smem_block && 2 * (bytes + 1024) <= smem_sm;
}

static int ir_mode(const net_block *bk) {
    return !bk->w1 ? NET_BLOCK_NONE : bk->stem ? NET_BLOCK_STEM : NET_BLOCK_GEMM;
}

int net_block_ok(const net_block *bk, const net_epi *e) {
    int x = ir_mode(bk);
    return net_block_fits(bk->k, bk->e, e->out_cs, bk->stride, x, INT_MAX, INT_MAX) &&
           (x == NET_BLOCK_STEM ? bk->in.cs == 4 : bk->k == bk->in.cs) &&
           (x == NET_BLOCK_NONE || bk->act1 == PS_ACT_RELU6) && bk->dw_act == PS_ACT_RELU6 &&
           e->out16 && !e->out32 && e->out16 != bk->in.p && (!e->res || e->res_cs >= e->out_cs);
}

long long net_block_blocks(const net_block *bk, const net_epi *e, int n) {
    int th = ir_th(e->out_cs, bk->stride);
    return (long long)n * ((bk->oh + th - 1) / th) * ((bk->ow + IR_TW - 1) / IR_TW);
}

template <int NT, int S, int TH, int X>
static cudaError_t block_run(const net_block *bk, int n, const net_epi *e, cudaStream_t s) {
    int bytes = ir_layout_of<S, TH, X>(bk->k, NT * 8).bytes;
    cudaError_t err = cudaFuncSetAttribute(block_kernel<NT, S, TH, X>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    if (err != cudaSuccess) return err;
    block_kernel<NT, S, TH, X>
        <<<(unsigned)net_block_blocks(bk, e, n), IR_THREADS, bytes, s>>>(*bk, *e);
    return cudaGetLastError();
}

cudaError_t net_launch_block(const net_block *bk, int n, const net_epi *e, cudaStream_t s) {
    switch (ir_mode(bk)) {
    case NET_BLOCK_NONE:
        return e->out_cs == 32 ? block_run<4, 1, 8, NET_BLOCK_NONE>(bk, n, e, s)
                               : block_run<6, 1, 8, NET_BLOCK_NONE>(bk, n, e, s);
    case NET_BLOCK_STEM:
        return e->out_cs == 32 ? block_run<4, 1, 8, NET_BLOCK_STEM>(bk, n, e, s)
                               : block_run<6, 1, 8, NET_BLOCK_STEM>(bk, n, e, s);
    }
    if (bk->stride == 2)
        return e->out_cs == 48 ? block_run<6, 2, 4, NET_BLOCK_GEMM>(bk, n, e, s)
                               : block_run<12, 2, 4, NET_BLOCK_GEMM>(bk, n, e, s);
    switch (e->out_cs) {
    case 48: return block_run<6, 1, 8, NET_BLOCK_GEMM>(bk, n, e, s);
    case 96: return block_run<12, 1, 8, NET_BLOCK_GEMM>(bk, n, e, s);
    default: return block_run<18, 1, 4, NET_BLOCK_GEMM>(bk, n, e, s);
    }
}
