/* GPU MoveNet decoder: the six heads of n images -> n x [np, 56] rows (np
 * centres per image, 6 in the graph), the same rows as model/decode.c's
 * ps_decode_heads (read that file for what each step means and which graph
 * nodes it stands for).
 *
 * One block per image:
 *   1. every thread takes cells tid, tid + DEC_THREADS, ... of the centre
 *      heatmap, masks non-peaks of the 5x5 max-pool and keeps its own sorted
 *      top np; np block-wide "best head" rounds merge them into the top np;
 *   2. threads 0..np-1 build each person's box and regressed keypoints;
 *   3. each warp takes (person, keypoint) pairs: the weighted argmax over the
 *      box's cells (first index wins ties), then lane 0 writes the keypoint
 *      and its score (the max over the np people at that cell);
 *   4. threads 0..np-1 write the box and the person score.
 *
 * The discrete choices (top-k, argmax, thresholds) must fall as on the CPU,
 * so the float32 arithmetic is decode.c's, op for op, through __*_rn
 * intrinsics that nvcc cannot contract into FMAs. exp is taken in float64
 * and rounded to float32, as TF.js does (Math.exp, Float32Array store);
 * decode.c's expf is within 0.502 ulp of that, so w may differ by an ulp. */
#include <cuda_runtime.h>
#include <math.h>

#include "engine/cuda/cuda_pre.h"
#include "model/decode.h"

extern "C" {
#include "util/status.h"
}

#define NK PS_NUM_KEYPOINTS
#define DEC_THREADS 512
#define DEC_WARPS (DEC_THREADS / 32)

/* float16 constants stored in the weights file (as decode.c) */
#define PEAK_TOL 1.0132789611816406e-6f
#define SIGMA_SCALE 0.300048828125f
#define KPT_MIN_SCORE 0.126953125f

/* One image's heads, NHWC [gh, gw, C]. */
struct image_heads {
    const float *center, *heat, *regress, *offset, *scale, *boff;
    int gh, gw;
};

/* The batch's heads, passed by value: [n, gh, gw, C] each. */
struct batch_heads {
    const float *h[PS_NUM_HEADS];
};

struct centre {
    int cy, cx;
    float score;
    float ymin, xmin, ymax, xmax;
    float ry[NK], rx[NK];
};

/* A candidate of a reduction: the larger value wins, then the lower index. */
struct cand {
    float v;
    int i;
};

__device__ static bool before(cand a, cand b) { return a.v > b.v || (a.v == b.v && a.i < b.i); }

__device__ static cand warp_best(cand c) {
    for (int d = 16; d > 0; d >>= 1) {
        cand o = {__shfl_xor_sync(0xffffffffu, c.v, d), __shfl_xor_sync(0xffffffffu, c.i, d)};
        if (before(o, c)) c = o;
    }
    return c;
}

/* The best candidate of the block, returned to every thread. slot:
 * DEC_WARPS entries of shared memory. */
__device__ static cand block_best(cand c, cand *slot) {
    c = warp_best(c);
    if (threadIdx.x % 32 == 0) slot[threadIdx.x / 32] = c;
    __syncthreads();
    cand b = slot[0];
    for (int w = 1; w < DEC_WARPS; w++)
        if (before(slot[w], b)) b = slot[w];
    __syncthreads(); /* slot is reused by the next call */
    return b;
}

/* ---- 1. centres ---- */

/* decode.c's peak_value: the heat if within PEAK_TOL of the 5x5 max. */
__device__ static float peak_value(const float *c, int gh, int gw, int y, int x) {
    float m = c[y * gw + x];
    for (int yy = max(y - 2, 0); yy <= min(y + 2, gh - 1); yy++)
        for (int xx = max(x - 2, 0); xx <= min(x + 2, gw - 1); xx++)
            m = c[yy * gw + xx] > m ? c[yy * gw + xx] : m;
    float v = c[y * gw + x];
    return fabsf(__fsub_rn(v, m)) < PEAK_TOL ? v : 0.0f;
}

/* TopKV2 (k = np, sorted, lower index first on ties) over the masked grid.
 * Thread 0 writes top[np]. Each thread's cells come in ascending index
 * order, so its own list breaks ties as decode.c's does; the merge then
 * takes the best remaining head of all lists np times. */
__device__ static void top_centres(const image_heads &h, int np, cand *top, cand *slot) {
    cand mine[PS_MAX_PEOPLE];
    int cnt = 0;
    for (int i = threadIdx.x; i < h.gh * h.gw; i += DEC_THREADS) {
        cand c = {peak_value(h.center, h.gh, h.gw, i / h.gw, i % h.gw), i};
        if (cnt == np && !before(c, mine[np - 1])) continue;
        int j = cnt < np ? cnt++ : np - 1;
        for (; j > 0 && before(c, mine[j - 1]); j--) mine[j] = mine[j - 1];
        mine[j] = c;
    }
    int head = 0;
    for (int r = 0; r < np; r++) {
        cand none = {-INFINITY, 0x7fffffff};
        cand c = head < cnt ? mine[head] : none;
        cand b = block_best(c, slot);
        if (threadIdx.x == 0) top[r] = b;
        if (head < cnt && c.i == b.i) head++;
    }
}

/* ---- 2. boxes and regressed keypoints (decode.c's centre_box and
 * centre_keypoints) ---- */

__device__ static void make_centre(const image_heads &h, cand top, centre *p) {
    p->cy = top.i / h.gw;
    p->cx = top.i % h.gw;
    p->score = top.v;
    int cell = p->cy * h.gw + p->cx;
    const float *sc = h.scale + 2 * cell, *of = h.boff + 2 * cell;
    float half_h = __fmul_rn(fmaxf(sc[0], 0.0f), 0.5f);
    float half_w = __fmul_rn(fmaxf(sc[1], 0.0f), 0.5f);
    float y = __fadd_rn((float)p->cy, of[0]), x = __fadd_rn((float)p->cx, of[1]);
    float gh = (float)h.gh, gw = (float)h.gw;
    p->ymin = fmaxf(fminf(__fsub_rn(y, half_h), gh), 0.0f);
    p->xmin = fmaxf(fminf(__fsub_rn(x, half_w), gw), 0.0f);
    p->ymax = fmaxf(fminf(__fadd_rn(y, half_h), gh), 0.0f);
    p->xmax = fmaxf(fminf(__fadd_rn(x, half_w), gw), 0.0f);
    const float *r = h.regress + 2 * NK * cell;
    for (int k = 0; k < NK; k++) {
        p->ry[k] = __fadd_rn((float)p->cy, r[2 * k]);
        p->rx[k] = __fadd_rn((float)p->cx, r[2 * k + 1]);
    }
}

/* ---- 3. keypoints ---- */

__device__ static bool in_box(const centre &p, int y, int x) {
    float fy = (float)y, fx = (float)x;
    return fy >= p.ymin && fy < p.ymax && fx >= p.xmin && fx < p.xmax;
}

/* decode.c's kpt_weight: heat * exp(-d^2 / denom) inside the box, else 0. */
__device__ static float kpt_weight(const image_heads &h, const centre &p, int k, int y, int x,
                                   float denom) {
    if (!in_box(p, y, x)) return 0.0f;
    float dy = __fsub_rn((float)y, p.ry[k]), dx = __fsub_rn((float)x, p.rx[k]);
    float d2 = __fadd_rn(__fmul_rn(dy, dy), __fmul_rn(dx, dx));
    float e = __double2float_rn(exp((double)__fdiv_rn(-d2, denom)));
    return __fmul_rn(h.heat[NK * (y * h.gw + x) + k], e);
}

/* First integer in [lo, hi) of a clipped box edge pair, and one past the
 * last: (float)y >= lo <=> y >= ceil(lo); (float)y < hi <=> y < ceil(hi). */
__device__ static void box_range(float lo, float hi, int size, int *a, int *b) {
    *a = max((int)ceilf(lo), 0);
    *b = min((int)ceilf(hi), size);
}

/* decode.c's kpt_argmax by one warp: the first cell of the box with the
 * largest w above 0, or cell 0 when there is none. Each lane scans its
 * cells in ascending order, so its own first maximum is kept; the warp
 * reduction prefers the lower index on equal w. */
__device__ static int kpt_argmax(const image_heads &h, const centre &p, int k, float denom) {
    int y0, y1, x0, x1;
    box_range(p.ymin, p.ymax, h.gh, &y0, &y1);
    box_range(p.xmin, p.xmax, h.gw, &x0, &x1);
    int nx = x1 - x0, cells = nx > 0 && y1 > y0 ? nx * (y1 - y0) : 0;
    cand best = {0.0f, 0};
    for (int j = threadIdx.x % 32; j < cells; j += 32) {
        int y = y0 + j / nx, x = x0 + j % nx;
        float w = kpt_weight(h, p, k, y, x, denom);
        if (w > best.v) best = cand{w, y * h.gw + x};
    }
    return warp_best(best).i;
}

/* Keypoint k of person p: position (grid cell + kpt_offset, times 4/H or
 * 4/W) and score (max of w over the np people there) into row, the score
 * also into *kscore. One thread. */
__device__ static void write_keypoint(const image_heads &h, const centre *ps, int np, int k,
                                      int cell, float denom, float sy, float sx, float *row,
                                      float *kscore) {
    int y = cell / h.gw, x = cell % h.gw;
    const float *off = h.offset + 2 * (NK * cell + k);
    float s = kpt_weight(h, ps[0], k, y, x, denom);
    for (int q = 1; q < np; q++) s = fmaxf(s, kpt_weight(h, ps[q], k, y, x, denom));
    row[3 * k] = __fmul_rn(__fadd_rn((float)y, off[0]), sy);
    row[3 * k + 1] = __fmul_rn(__fadd_rn((float)x, off[1]), sx);
    row[3 * k + 2] = s;
    *kscore = s;
}

/* ---- 4. box and person score (decode.c's fill_row tail and
 * person_score; the sum runs in float64 as there) ---- */

__device__ static void write_box_score(const centre &p, const float kscore[NK], int input_h,
                                       int input_w, float *row) {
    const float box[4] = {p.ymin, p.xmin, p.ymax, p.xmax};
    for (int i = 0; i < 4; i++) {
        float size = (float)(i % 2 == 0 ? input_h : input_w);
        float v = __fdiv_rn(__fmul_rn(box[i], 4.0f), size);
        row[3 * NK + i] = fmaxf(fminf(v, 1.0f), 0.0f);
    }
    double sum = 0.0;
    float n = 0.0f;
    for (int k = 0; k < NK; k++) {
        bool above = kscore[k] > KPT_MIN_SCORE;
        sum = __dadd_rn(sum, (double)__fmul_rn(p.score, above ? kscore[k] : 0.0f));
        n = __fadd_rn(n, above ? 1.0f : 0.0f);
    }
    row[3 * NK + 4] = __fmul_rn(__fdiv_rn(1.0f, fmaxf(n, 1.0f)), __double2float_rn(sum));
}

/* grid n, block DEC_THREADS: image blockIdx.x -> rows [np, 56]. */
static __global__ void __launch_bounds__(DEC_THREADS)
    decode_kernel(batch_heads b, int gh, int gw, int input_h, int input_w, int np, float *rows) {
    __shared__ cand slot[DEC_WARPS];
    __shared__ cand top[PS_MAX_PEOPLE];
    __shared__ centre ps[PS_MAX_PEOPLE];
    __shared__ float kscore[PS_MAX_PEOPLE][NK];
    size_t cells = (size_t)gh * gw, img = blockIdx.x;
    const image_heads h = {b.h[PS_HEAD_CENTER] + img * cells,
                           b.h[PS_HEAD_KPT_HEAT] + img * cells * NK,
                           b.h[PS_HEAD_KPT_REGRESS] + img * cells * 2 * NK,
                           b.h[PS_HEAD_KPT_OFFSET] + img * cells * 2 * NK,
                           b.h[PS_HEAD_BOX_SCALE] + img * cells * 2,
                           b.h[PS_HEAD_BOX_OFFSET] + img * cells * 2,
                           gh,
                           gw};
    float *out = rows + img * np * PS_DECODE_ROW;

    top_centres(h, np, top, slot);
    __syncthreads();
    if (threadIdx.x < np) make_centre(h, top[threadIdx.x], &ps[threadIdx.x]);
    __syncthreads();

    const float denom = __fmul_rn((float)min(gh, gw), SIGMA_SCALE);
    const float sy = __fdiv_rn(4.0f, (float)input_h), sx = __fdiv_rn(4.0f, (float)input_w);
    for (int pk = threadIdx.x / 32; pk < np * NK; pk += DEC_WARPS) {
        int p = pk / NK, k = pk % NK;
        int cell = kpt_argmax(h, ps[p], k, denom);
        if (threadIdx.x % 32 == 0)
            write_keypoint(h, ps, np, k, cell, denom, sy, sx, out + p * PS_DECODE_ROW,
                           &kscore[p][k]);
    }
    __syncthreads();
    if (threadIdx.x < np)
        write_box_score(ps[threadIdx.x], kscore[threadIdx.x], input_h, input_w,
                        out + threadIdx.x * PS_DECODE_ROW);
}

ps_status ps_cuda_decode(const float *const heads[PS_NUM_HEADS], int n, int gh, int gw,
                         int input_h, int input_w, int np, float *rows_dev, ps_cuda_stream s,
                         ps_err *err) {
    if (!heads || !rows_dev || n < 1 || gh < 1 || gw < 1 || np < 1 || np > PS_MAX_PEOPLE ||
        gh * gw < np || input_h < 1 || input_w < 1)
        return ps_err_set(err, PS_ERR_ARG,
                          "CUDA decode: bad batch (n %d, grid %dx%d, %d people, input %dx%d)", n,
                          gw, gh, np, input_w, input_h);
    batch_heads b;
    for (int i = 0; i < PS_NUM_HEADS; i++) {
        if (!heads[i]) return ps_err_set(err, PS_ERR_ARG, "CUDA decode: head %d missing", i);
        b.h[i] = heads[i];
    }
    decode_kernel<<<n, DEC_THREADS, 0, (cudaStream_t)s>>>(b, gh, gw, input_h, input_w, np,
                                                          rows_dev);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return ps_err_set(err, PS_ERR_BACKEND, "CUDA decode: %s", cudaGetErrorString(e));
    return PS_OK;
}
