/* Fused 1x1 convolutions (net_launch_fused in net_kernels.h): a 1x1 conv
 * whose A operand is computed on the fly by the depthwise conv that alone
 * feeds it (MobileNetV2's depthwise -> project), and two 1x1 convs in a row
 * (MoveNet's heads, dw 3x3 -> 1x1 to 96 (ReLU) -> 1x1 to C). The depthwise
 * output and the wide intermediate never reach device memory.
 *
 * A block holds the weights in shared memory for its whole life and its
 * warps loop over 16-row strips of the output, each warp on its own strip
 * from start to end: A strip (depthwise conv or cp.async copy) -> WMMA
 * m16n16k16 (FP16 in, FP32 accumulation) -> FP32 tile -> the fused epilogue.
 * Warps never wait for each other inside the loop, so one warp's memory
 * phase overlaps another's tensor-core phase. Values are rounded to FP16
 * where the unfused kernels store them (depthwise output, intermediate), so
 * results equal the unfused path's up to FP32 summation order. */
#include <mma.h>

#include "engine/cuda/net_device.h"

using namespace nvcuda;

#define FUSED_MAX_FN 8 /* output fragments a warp holds: out_cs <= 128 */

static __host__ __device__ __forceinline__ int fused_al(int x) { return (x + 127) / 128 * 128; }

/* Shared memory (byte offsets): the block's weights W1 [k1][n1p+8] and, for
 * two GEMMs, W2 [n1p][n2p+8]; then per warp a strip region holding A
 * [16][k1+8] FP16 and later the FP32 output [16][nout+4]; for two GEMMs also
 * H [16][n1p+8] FP16 and a [16][20] FP32 scratch fragment. n2p = 0: one GEMM. */
struct fused_layout {
    int w1, w2, strip, h, scr, per_warp, bytes; /* strip, h, scr: warp 0's */
    __host__ __device__ fused_layout(int warps, int k1, int n1p, int n2p) {
        int nout = n2p ? n2p : n1p;
        w1 = 0;
        w2 = fused_al(k1 * (n1p + 8) * 2);
        int weights = w2 + (n2p ? fused_al(n1p * (n2p + 8) * 2) : 0);
        int a = fused_al(16 * (k1 + 8) * 2), c = fused_al(16 * (nout + 4) * 4);
        strip = weights;
        h = strip + (a > c ? a : c);
        scr = h + (n2p ? fused_al(16 * (n1p + 8) * 2) : 0);
        per_warp = scr + (n2p ? fused_al(16 * 20 * 4) : 0) - strip;
        bytes = weights + warps * per_warp;
    }
};

/* Rows r0..r0+15 of A into as [16][k1+8]: the depthwise conv of in (8
 * channels of one pixel per step), or a copy of f.a; zero past m. */
template <bool DW>
__device__ __forceinline__ void fused_load_a(const net_fused &f, int m, int r0, __half *as,
                                             int lane) {
    const int k1 = f.k1, lda = k1 + 8, groups = k1 / 8;
    if (!DW) {
        for (int i = lane; i < 16 * groups; i += 32) {
            int r = i / groups, c = (i % groups) * 8;
            bool ok = r0 + r < m;
            net_copy16(as + r * lda + c, ok ? f.a + (size_t)(r0 + r) * k1 + c : f.a, ok);
        }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
        asm volatile("cp.async.commit_group;\n" ::);
        asm volatile("cp.async.wait_group 0;\n" ::);
#endif
        __syncwarp();
        return;
    }
    const net_tensor in = f.in;
    const net_geom g = f.g;
    for (int i = lane; i < 16 * groups; i += 32) {
        int r = i / groups, c0 = (i % groups) * 8, p = r0 + r;
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        if (p < m) {
            int ox = p % g.ow, t = p / g.ow;
            int oy = t % g.oh, b = t / g.oh;
            const __half *img = in.p + (size_t)b * in.h * in.w * in.cs;
            for (int ky = 0; ky < g.kh; ky++) {
                int iy = oy * g.stride - g.pad_top + ky;
                if (iy < 0 || iy >= in.h) continue;
                for (int kx = 0; kx < g.kw; kx++) {
                    int ix = ox * g.stride - g.pad_left + kx;
                    if (ix < 0 || ix >= in.w) continue;
                    float x[8];
                    net_load8(img + ((size_t)iy * in.w + ix) * in.cs, in.cs, c0, in.c, x);
                    const float4 *wr = reinterpret_cast<const float4 *>(
                        f.dw_w + (size_t)(ky * g.kw + kx) * k1 + c0);
                    float4 w0 = __ldg(wr), w1 = __ldg(wr + 1);
                    acc[0] += x[0] * w0.x, acc[1] += x[1] * w0.y, acc[2] += x[2] * w0.z;
                    acc[3] += x[3] * w0.w, acc[4] += x[4] * w1.x, acc[5] += x[5] * w1.y;
                    acc[6] += x[6] * w1.z, acc[7] += x[7] * w1.w;
                }
            }
            const float4 *bp = reinterpret_cast<const float4 *>(f.dw_b + c0);
            float4 b0 = __ldg(bp), b1 = __ldg(bp + 1);
            float bs[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int q = 0; q < 8; q++) {
                float v = net_act(f.dw_act, acc[q] + bs[q]);
                acc[q] = c0 + q < in.c ? v : 0.0f;
            }
        }
        uint4 u;
        __half2 *h2 = reinterpret_cast<__half2 *>(&u);
#pragma unroll
        for (int q = 0; q < 4; q++) h2[q] = __floats2half2_rn(acc[2 * q], acc[2 * q + 1]);
        *reinterpret_cast<uint4 *>(as + r * lda + c0) = u;
    }
    __syncwarp();
}

/* out [16][ldc] FP32 = src [16][k] x w [k][ldw] for fn 16-wide fragments,
 * held in registers until the whole strip is multiplied, then stored (out
 * may overlap src: the warp is done reading src by then). */
__device__ __forceinline__ void fused_mm(const __half *src, int lds, const __half *w, int ldw,
                                         int k, int fn, float *out, int ldc) {
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[FUSED_MAX_FN];
#pragma unroll
    for (int j = 0; j < FUSED_MAX_FN; j++) wmma::fill_fragment(acc[j], 0.0f);
    for (int kk = 0; kk < k; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
        wmma::load_matrix_sync(fa, src + kk, lds);
#pragma unroll
        for (int j = 0; j < FUSED_MAX_FN; j++) {
            if (j >= fn) break;
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
            wmma::load_matrix_sync(fb, w + kk * ldw + j * 16, ldw);
            wmma::mma_sync(acc[j], fa, fb, acc[j]);
        }
    }
    __syncwarp();
#pragma unroll
    for (int j = 0; j < FUSED_MAX_FN; j++) {
        if (j >= fn) break;
        wmma::store_matrix_sync(out + j * 16, acc[j], ldc, wmma::mem_row_major);
    }
    __syncwarp();
}

/* H [16][n1p+8] = act1(A x W1 + b1) as FP16, one fragment at a time
 * through the warp's scratch. */
__device__ __forceinline__ void fused_hidden(const net_fused &f, const __half *as,
                                             const __half *w1s, __half *hs, float *scr,
                                             int lane) {
    const int lda = f.k1 + 8, ld1 = f.n1p + 8;
    for (int fj = 0; fj < f.n1p / 16; fj++) {
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
        wmma::fill_fragment(acc, 0.0f);
        for (int kk = 0; kk < f.k1; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
            wmma::load_matrix_sync(fa, as + kk, lda);
            wmma::load_matrix_sync(fb, w1s + kk * ld1 + fj * 16, ld1);
            wmma::mma_sync(acc, fa, fb, acc);
        }
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
        *reinterpret_cast<uint4 *>(hs + r * ld1 + col) = u;
        __syncwarp();
    }
}

/* WARPS warps per block; DW: A is a depthwise conv; TWO: two GEMMs. */
template <int WARPS, bool DW, bool TWO>
__global__ void __launch_bounds__(WARPS * 32)
    fused_kernel(net_fused f, int m, net_epi e) {
    extern __shared__ __align__(128) unsigned char smem[];
    const int k1 = f.k1, n1p = f.n1p, n2p = TWO ? e.out_cs : 0, nout = TWO ? n2p : n1p;
    const int ld1 = n1p + 8, ld2 = n2p + 8, ldc = nout + 4;
    fused_layout L(WARPS, k1, n1p, n2p);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __half *w1s = reinterpret_cast<__half *>(smem + L.w1);
    __half *w2s = reinterpret_cast<__half *>(smem + L.w2);
    unsigned char *mine = smem + warp * L.per_warp;
    __half *as = reinterpret_cast<__half *>(mine + L.strip);
    float *cs = reinterpret_cast<float *>(mine + L.strip);
    __half *hs = reinterpret_cast<__half *>(mine + L.h);
    float *scr = reinterpret_cast<float *>(mine + L.scr);

    for (int i = threadIdx.x; i < k1 * (n1p / 8); i += WARPS * 32) {
        int r = i / (n1p / 8), c = (i % (n1p / 8)) * 8;
        net_copy16(w1s + r * ld1 + c, f.w1 + (size_t)r * n1p + c, true);
    }
    if (TWO) {
        const int g2 = e.out_cs / 8;
        for (int i = threadIdx.x; i < n1p * g2; i += WARPS * 32) {
            int r = i / g2, c = (i % g2) * 8;
            net_copy16(w2s + r * ld2 + c, f.w2 + (size_t)r * n2p + c, true);
        }
    }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
    asm volatile("cp.async.wait_group 0;\n" ::);
#endif
    __syncthreads();

    const int strips = (m + 15) / 16;
    for (int s = blockIdx.x * WARPS + warp; s < strips; s += gridDim.x * WARPS) {
        const int r0 = s * 16;
        fused_load_a<DW>(f, m, r0, as, lane);
        if (TWO) {
            fused_hidden(f, as, w1s, hs, scr, lane);
            fused_mm(hs, ld1, w2s, ld2, n1p, n2p / 16, cs, ldc);
        } else {
            fused_mm(as, k1 + 8, w1s, ld1, k1, n1p / 16, cs, ldc);
        }
        for (int i = lane; i < 16 * (nout / 8); i += 32) {
            int r = i / (nout / 8), c = (i % (nout / 8)) * 8;
            if (r0 + r >= m) continue;
            float v[8];
            const float4 *src = reinterpret_cast<const float4 *>(cs + r * ldc + c);
            float4 x = src[0], y = src[1];
            v[0] = x.x, v[1] = x.y, v[2] = x.z, v[3] = x.w;
            v[4] = y.x, v[5] = y.y, v[6] = y.z, v[7] = y.w;
            net_epilogue8(e, (size_t)(r0 + r), c, v);
        }
        __syncwarp(); /* the next strip's A overwrites this tile */
    }
}

static int fused_smem(int k1, int n1p, int n2p) {
    return fused_layout(4, k1, n1p, n2p).bytes;
}

int net_fused_ok(int k1, int n1p, int n2p) {
    int nout = n2p ? n2p : n1p;
    return k1 % 16 == 0 && n1p % 16 == 0 && n2p % 16 == 0 && nout <= 16 * FUSED_MAX_FN &&
           fused_smem(k1, n1p, n2p) <= NET_FUSED_MAX_SMEM;
}

typedef void (*fused_fn)(net_fused, int, net_epi);

template <int WARPS>
static fused_fn fused_pick(const net_fused *f) {
    if (f->w2) return f->dw_w ? fused_kernel<WARPS, true, true> : fused_kernel<WARPS, false, true>;
    return fused_kernel<WARPS, true, false>; /* one GEMM: always after a depthwise */
}

/* Warps per block: 4 or 8, whichever keeps more warps resident per
 * multiprocessor (8 on a tie: fewer copies of the weights). */
cudaError_t net_fused_prepare(net_fused *f, const net_epi *e, int sms) {
    int n2p = f->w2 ? e->out_cs : 0, best = 0;
    if (!f->w2 && !f->dw_w) return cudaErrorInvalidValue;
    for (int warps = 8; warps >= 4; warps /= 2) {
        fused_fn fn = warps == 8 ? fused_pick<8>(f) : fused_pick<4>(f);
        int bytes = fused_layout(warps, f->k1, f->n1p, n2p).bytes, per_sm = 0;
        cudaError_t err =
            cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
        if (err == cudaSuccess)
            err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fn, warps * 32, bytes);
        if (err != cudaSuccess) {
            if (warps == 4 && !best) return err;
            cudaGetLastError(); /* too big for 8 warps: try 4 */
            continue;
        }
        if (per_sm * warps > best) {
            best = per_sm * warps;
            f->warps = warps;
            f->blocks = per_sm * sms;
            f->smem = bytes;
        }
    }
    return best ? cudaSuccess : cudaErrorInvalidConfiguration;
}

cudaError_t net_launch_fused(const net_fused *f, int m, const net_epi *e, cudaStream_t s) {
    int strips = (m + 15) / 16;
    int blocks = (strips + f->warps - 1) / f->warps;
    if (blocks > f->blocks) blocks = f->blocks;
    fused_fn fn = f->warps == 8 ? fused_pick<8>(f) : fused_pick<4>(f);
    fn<<<blocks, f->warps * 32, f->smem, s>>>(*f, m, *e);
    return cudaGetLastError();
}
