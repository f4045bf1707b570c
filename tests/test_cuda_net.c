/* Tests of the CUDA network (src/engine/cuda/cuda_net.cu) against the CPU
 * backend, the reference (tests/test_layers.c checks that one against naive
 * loops): small hand-built nets with random weights, a MoveNet in miniature
 * (stem, inverted bottlenecks with residuals, an FPN with x2 resizes added to
 * laterals, the six heads at H/4) at three input sizes including odd grids,
 * a net of every kind of inverted-residual block run as one kernel (with
 * that forced at every batch size, and not), and a net that exercises
 * every other path (unfused ADD / ACT, the input read by 1x1 and ADD, 5x5,
 * VALID, 1x1 stride 2, a resize x4, residual = source, in-place residual
 * of a depthwise, heads that are not convs, a head read by another, a
 * shared head), each with batches up to 8 on one engine, every other size
 * as a captured CUDA graph and the rest as plain launches, repeated sizes
 * replaying on another stream.
 *
 * Tolerance, for FP16 activations: |gpu - cpu| <= 2e-2 * max(1, max |cpu|)
 * per head and batch; the real model (when $POSESTREAM_MODEL_DIR or
 * ~/.cache/posestream holds it) 5e-2. Then the engine-only benchmark:
 * ps_cuda_net_forward at 256x256 for batches 1 to 256 (bench_forward; not
 * with --no-bench, for runs under compute-sanitizer). Skips (77) without a
 * CUDA device. */
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "engine/backend.h"
#include "engine/cuda/cuda_net.h"
#include "model/model.h"
#include "netbuild.h"
#include "testutil.h"

#define MAX_BATCH 8
#define REL_TOL 2e-2f
#define MODEL_REL_TOL 5e-2f

#define CUDA_OK(call)                                                                   \
    do {                                                                                \
        cudaError_t e_ = (call);                                                        \
        if (e_ != cudaSuccess) {                                                        \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,               \
                    cudaGetErrorString(e_));                                            \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

static int nb_conv(builder *b, int src, int k, int stride, int cout, ps_act act, float gain)
{
    return nb_conv_any(b, 0, src, k, k, stride, PS_PAD_SAME, cout, act, gain);
}

static int nb_dw(builder *b, int src, int stride, ps_act act, float gain)
{
    return nb_conv_any(b, 1, src, 3, 3, stride, PS_PAD_SAME, 0, act, gain);
}

/* MobileNetV2 inverted bottleneck: 1x1 expand (ReLU6), dw 3x3 (ReLU6),
 * 1x1 project (none), + x when the shape is kept. */
static int nb_bottleneck(builder *b, int x, int expand, int stride, int cout)
{
    int e = nb_conv(b, x, 1, 1, expand, PS_ACT_RELU6, 8.0f);
    int d = nb_dw(b, e, stride, PS_ACT_RELU6, 2.0f);
    int p = nb_conv(b, d, 1, 1, cout, PS_ACT_NONE, 0.5f);
    return stride == 1 && cout == b->chan[x] ? nb_residual(b, p, x) : p;
}

/* The MoveNet in miniature: [H,W,3] -stem 3x3 s2-> [H/2,24] -> s4 [24]
 * (two bottlenecks, one residual) -> s8 [40] (residual) -> s16 [48]; FPN:
 * 1x1 to 64 at s16, x2 resize as the residual of the s8 lateral 1x1, again
 * to s4; then per head dw 3x3 -> 1x1 to 32 ReLU -> 1x1 to C (sigmoid on the
 * two heatmaps), all at [H/4, W/4]. */
static void nb_mini_movenet(builder *b)
{
    int x = nb_conv(b, 0, 3, 2, 24, PS_ACT_RELU6, 8.0f);
    x = nb_conv(b, nb_dw(b, x, 1, PS_ACT_RELU6, 2.0f), 1, 1, 16, PS_ACT_NONE, 0.5f);
    int s4 = nb_bottleneck(b, nb_bottleneck(b, x, 96, 2, 24), 144, 1, 24);
    int s8 = nb_bottleneck(b, nb_bottleneck(b, s4, 144, 2, 40), 240, 1, 40);
    int s16 = nb_bottleneck(b, s8, 240, 2, 48);
    int top = nb_conv(b, s16, 1, 1, 64, PS_ACT_NONE, 1.0f);
    int f8 = nb_residual(b, nb_conv(b, s8, 1, 1, 64, PS_ACT_NONE, 1.0f), nb_resize(b, top, 2));
    int f4 = nb_residual(b, nb_conv(b, s4, 1, 1, 64, PS_ACT_NONE, 1.0f), nb_resize(b, f8, 2));
    for (int h = 0; h < PS_NUM_HEADS; h++) {
        /* The last head without its depthwise, as three 1x1s: the engine
         * fuses the first two (no depthwise) and runs the third alone. */
        int d = h < PS_NUM_HEADS - 1 ? nb_dw(b, f4, 1, PS_ACT_NONE, 1.0f)
                                     : nb_conv(b, f4, 1, 1, 48, PS_ACT_RELU6, 1.0f);
        int c = nb_conv(b, d, 1, 1, 32, PS_ACT_RELU, 1.0f);
        b->net.heads[h] = nb_conv(b, c, 1, 1, ps_head_channels[h],
                                  h < 2 ? PS_ACT_SIGMOID : PS_ACT_NONE, 1.0f);
    }
}

/* Every kind of inverted-residual block the engine runs as one kernel, in
 * a short net (FP16 rounding stays small): [H,W,3] -stem, dw, 1x1 to 24->
 * [H/2,24] (the stem as the expansion) -> s2 to 40 -> residual 40 at H/4
 * -> dw, 1x1 to 40 (no expansion) -> 144 (4-row tiles) for three heads;
 * s2 to 96 -> residual 96 at H/8, resized x2 for the other three. */
static void nb_block_kinds(builder *b)
{
    int x = nb_conv(b, 0, 3, 2, 48, PS_ACT_RELU6, 8.0f);
    x = nb_conv(b, nb_dw(b, x, 1, PS_ACT_RELU6, 2.0f), 1, 1, 24, PS_ACT_NONE, 0.5f);
    int s4 = nb_bottleneck(b, nb_bottleneck(b, x, 144, 2, 40), 240, 1, 40);
    int sep = nb_conv(b, nb_dw(b, s4, 1, PS_ACT_RELU6, 2.0f), 1, 1, 40, PS_ACT_NONE, 0.5f);
    int wide = nb_bottleneck(b, sep, 288, 1, 144);
    int s8 = nb_bottleneck(b, nb_bottleneck(b, s4, 288, 2, 96), 576, 1, 96);
    int up = nb_resize(b, s8, 2);
    for (int h = 0; h < PS_NUM_HEADS; h++)
        b->net.heads[h] = nb_conv(b, h < 3 ? wide : up, 1, 1, ps_head_channels[h],
                                  h < 2 ? PS_ACT_SIGMOID : PS_ACT_NONE, 1.0f);
}

/* Every path the MoveNet does not take, on [H,W,3]. */
static void nb_odd_paths(builder *b)
{
    int a = nb_add(b, nb_conv(b, 0, 3, 1, 3, PS_ACT_NONE, 1.0f), 0); /* ADD with the input */
    int s = nb_add(b, nb_conv(b, a, 1, 1, 8, PS_ACT_NONE, 1.0f),      /* GEMM, K = 16 */
                   nb_conv(b, 0, 1, 1, 8, PS_ACT_NONE, 1.0f));       /* 1x1 on the input */
    int d = nb_conv(b, s, 5, 2, 16, PS_ACT_NONE, 1.0f);              /* [H/2, W/2] */
    int v = nb_conv(b, d, 1, 2, 16, PS_ACT_NONE, 1.0f);              /* 1x1 stride 2 */
    int e = nb_act(b, nb_conv(b, v, 3, 1, 16, PS_ACT_NONE, 12.0f), PS_ACT_RELU6);
    int y = nb_residual(b, nb_conv(b, e, 3, 1, 16, PS_ACT_NONE, 1.0f), e); /* res = src */
    int f = nb_residual(b, nb_dw(b, y, 1, PS_ACT_RELU6, 4.0f), v);  /* in place over v */
    int v2 = nb_conv_any(b, 0, d, 2, 2, 2, PS_PAD_VALID, 16, PS_ACT_NONE, 1.0f);
    int sum = nb_add(b, f, v2);                                      /* [H/4, W/4, 16] */
    ps_net *n = &b->net;
    n->heads[PS_HEAD_CENTER] =
        nb_act(b, nb_conv(b, sum, 3, 1, 1, PS_ACT_NONE, 2.0f), PS_ACT_SIGMOID);
    n->heads[PS_HEAD_KPT_HEAT] = nb_resize(b, nb_conv(b, sum, 3, 2, 17, PS_ACT_NONE, 1.0f), 2);
    int s16 = nb_conv(b, nb_conv(b, sum, 3, 2, 16, PS_ACT_NONE, 1.0f), 3, 2, 16, PS_ACT_NONE, 1.0f);
    n->heads[PS_HEAD_KPT_OFFSET] = nb_conv(b, nb_resize(b, s16, 4), 1, 1, 34, PS_ACT_NONE, 1.0f);
    n->heads[PS_HEAD_KPT_REGRESS] =
        nb_add(b, nb_conv(b, sum, 3, 1, 34, PS_ACT_NONE, 1.0f), n->heads[PS_HEAD_KPT_OFFSET]);
    int r = nb_conv(b, sum, 3, 1, 2, PS_ACT_NONE, 1.0f);
    n->heads[PS_HEAD_BOX_SCALE] = nb_residual(b, nb_conv(b, sum, 1, 1, 2, PS_ACT_RELU, 1.0f), r);
    n->heads[PS_HEAD_BOX_OFFSET] = n->heads[PS_HEAD_BOX_SCALE];
}

/* ---- running both backends ---- */

/* IEEE half bits of f, round to nearest even (the test is C: no __half). */
static uint16_t half_bits(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000, mant = x & 0x7fffff;
    int e8 = (int)((x >> 23) & 0xff), e = e8 - 127 + 15;
    if (e8 == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) { /* subnormal half: m * 2^-24 */
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000;
        int shift = 14 - e;
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* a carry bumps the exponent */
    return (uint16_t)(sign | h);
}

/* The model's normalisation of one value of channel c (cpu_backend.c's). */
static float normalise(const ps_net *net, float v, int c)
{
    for (int k = 0; k < net->n_norm; k++) {
        const ps_norm_step *s = &net->norm[k];
        v = s->op == PS_NORM_SUB ? v - s->c[c] : s->op == PS_NORM_MUL ? v * s->c[c] : v + s->c[c];
    }
    return v;
}

/* [n,H,W,3] floats -> the engine's [n,H,W,4] FP16 input, normalised. */
static void upload_input(ps_cuda_net *cn, const ps_net *net, const float *img, size_t pixels)
{
    uint16_t *h = nb_xcalloc(pixels * 4, sizeof *h);
    for (size_t p = 0; p < pixels; p++)
        for (int c = 0; c < 3; c++) h[p * 4 + c] = half_bits(normalise(net, img[p * 3 + c], c));
    CUDA_OK(cudaMemcpy(ps_cuda_net_input(cn), h, pixels * 4 * sizeof *h, cudaMemcpyHostToDevice));
    free(h);
}

/* Runs batches[0..nb) of random images (values in [lo, hi)) through the CPU
 * backend and the CUDA net (max batch MAX_BATCH), compares every head. The
 * last batch goes on a second stream, so a replayed graph meets a new one.
 * fuse_all: inverted-residual blocks run as one kernel at every batch size
 * (by default only from ~2 blocks per multiprocessor, which these small
 * batches never reach). */
static void check_net(const char *name, const ps_net *net, int H, int W, const int *batches,
                      int nb, float lo, float hi, float rel_tol, int fuse_all)
{
    ps_backend_config cfg = {.input_h = H, .input_w = W, .max_batch = MAX_BATCH, .threads = 2};
    ps_err err = {0};
    void *cpu = NULL;
    ps_cuda_net *cn = NULL;
    if (ps_backend_cpu.init(&cpu, net, &cfg, &err)) {
        fprintf(stderr, "%s: cpu init: %s\n", name, err.msg);
        tu_failures++;
        return;
    }
    if (ps_cuda_net_create(net, H, W, MAX_BATCH, &cn, &err)) {
        fprintf(stderr, "%s: ps_cuda_net_create: %s\n", name, err.msg);
        tu_failures++;
        ps_backend_cpu.free(cpu);
        return;
    }
    int blocks = 0;
    for (int i = 0; i < ps_cuda_net_ops(cn); i++) {
        char desc[256];
        ps_cuda_net_op_describe(cn, i, desc, sizeof desc);
        blocks += !strncmp(desc, "block", 5);
    }
    if (fuse_all) {
        ps_cuda_net_set_block_min(cn, 0);
        if (!blocks) {
            fprintf(stderr, "%s: no inverted-residual block runs as one kernel\n", name);
            tu_failures++;
        }
    }
    printf("%s: %dx%d, %d layers, %.1f MB on the GPU, %d blocks as one kernel%s\n", name, W, H,
           net->n_layers, ps_cuda_net_bytes(cn) / 1e6, blocks,
           fuse_all ? " at every batch" : " from large batches");
    cudaStream_t streams[2];
    CUDA_OK(cudaStreamCreate(&streams[0]));
    CUDA_OK(cudaStreamCreate(&streams[1]));
    unsigned long long rng = 0xc0da0000ULL + (unsigned long long)H * W + (unsigned long long)net->n_layers;
    size_t img = (size_t)H * W * 3, cells = (size_t)(H / 4) * (W / 4);
    float *input = nb_xcalloc(MAX_BATCH * img, sizeof(float));
    float *got[PS_NUM_HEADS], *want[PS_NUM_HEADS];
    nb_heads_alloc(got, MAX_BATCH, cells);
    nb_heads_alloc(want, MAX_BATCH, cells);
    for (int r = 0; r < nb; r++) {
        int n = batches[r];
        cudaStream_t s = streams[r == nb - 1];
        for (size_t k = 0; k < (size_t)n * img; k++) input[k] = tu_randf(&rng, lo, hi);
        if (ps_backend_cpu.run(cpu, input, n, want, &err)) {
            fprintf(stderr, "%s: cpu run (batch %d): %s\n", name, n, err.msg);
            tu_failures++;
            break;
        }
        upload_input(cn, net, input, (size_t)n * H * W);
        /* every other size as a replayed graph, the rest as plain launches:
         * both paths must give the same heads */
        if (r % 2 == 0 && ps_cuda_net_capture(cn, n, &err)) {
            fprintf(stderr, "%s: capture (batch %d): %s\n", name, n, err.msg);
            tu_failures++;
            break;
        }
        if (ps_cuda_net_forward(cn, n, (ps_cuda_stream)s, &err)) {
            fprintf(stderr, "%s: forward (batch %d): %s\n", name, n, err.msg);
            tu_failures++;
            break;
        }
        CUDA_OK(cudaStreamSynchronize(s));
        for (int h = 0; h < PS_NUM_HEADS; h++)
            CUDA_OK(cudaMemcpy(got[h], ps_cuda_net_head(cn, (ps_head)h),
                               (size_t)n * cells * ps_head_channels[h] * sizeof(float),
                               cudaMemcpyDeviceToHost));
        nb_check_heads(name, n, cells, got, want, rel_tol);
    }
    nb_heads_free(got);
    nb_heads_free(want);
    free(input);
    CUDA_OK(cudaStreamDestroy(streams[0]));
    CUDA_OK(cudaStreamDestroy(streams[1]));
    ps_cuda_net_free(cn);
    ps_backend_cpu.free(cpu);
}

/* check_net on net at 64x64 (layers apart at small batches, then blocks
 * fused at every batch), 64x96 and 256x256 (fused). */
static void check_sizes(const char *name, const ps_net *net)
{
    static const int b_small[] = {1, 3, MAX_BATCH, 1}, b_big[] = {1, MAX_BATCH};
    static const int hw[3][2] = {{64, 64}, {96, 64}, {256, 256}};
    for (int i = 0; i < 3; i++) {
        char label[64];
        snprintf(label, sizeof label, "%s %dx%d", name, hw[i][1], hw[i][0]);
        const int *batches = i < 2 ? b_small : b_big;
        int nb = i < 2 ? 4 : 2;
        if (i == 0) check_net(label, net, hw[i][0], hw[i][1], batches, nb, -2.0f, 2.0f, REL_TOL, 0);
        check_net(label, net, hw[i][0], hw[i][1], batches, nb, -2.0f, 2.0f, REL_TOL, 1);
    }
}

static void test_mini_movenet(void)
{
    builder b;
    nb_init(&b, 1);
    nb_mini_movenet(&b);
    check_sizes("mini_movenet", &b.net);
    nb_free(&b);
}

static void test_block_kinds(void)
{
    builder b;
    nb_init(&b, 3);
    nb_block_kinds(&b);
    check_sizes("block_kinds", &b.net);
    nb_free(&b);
}

static void test_odd_paths(void)
{
    builder b;
    nb_init(&b, 2);
    nb_odd_paths(&b);
    static const int batches[] = {1, 3, MAX_BATCH, 3};
    check_net("odd_paths 64x32", &b.net, 32, 64, batches, 4, -2.0f, 2.0f, REL_TOL, 0);
    nb_free(&b);
}

/* The model's folder: $POSESTREAM_MODEL_DIR, else ~/.cache/posestream. */
static ps_model *load_model(void)
{
    char dir[4096];
    ps_model_cache_dir(dir, sizeof dir);
    ps_err err = {0};
    ps_model *m = ps_model_load(dir, &err);
    if (!m) printf("real model: not found (%s); skipping its checks and the benchmark\n", err.msg);
    return m;
}

static void test_model(const ps_model *m)
{
    static const int batches[] = {1, 2};
    check_net("movenet 256x256", &m->net, 256, 256, batches, 2, 0.0f, 255.0f, MODEL_REL_TOL, 0);
    check_net("movenet 256x256", &m->net, 256, 256, batches, 2, 0.0f, 255.0f, MODEL_REL_TOL, 1);
}

/* ---- the engine-only benchmark (for bench/) ---- */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Median ms of `iters` graph replays of ps_cuda_net_forward for n images on
 * s (after warm-up), timed with CUDA events; negative on failure. */
static float bench_forward(ps_cuda_net *cn, int n, cudaStream_t s, int iters)
{
    ps_err err = {0};
    if (ps_cuda_net_capture(cn, n, &err)) {
        fprintf(stderr, "bench: capture (batch %d): %s\n", n, err.msg);
        return -1;
    }
    for (int i = 0; i < 3; i++)
        if (ps_cuda_net_forward(cn, n, (ps_cuda_stream)s, &err)) {
            fprintf(stderr, "bench: forward (batch %d): %s\n", n, err.msg);
            return -1;
        }
    cudaEvent_t t0, t1;
    CUDA_OK(cudaEventCreate(&t0));
    CUDA_OK(cudaEventCreate(&t1));
    float *ms = nb_xcalloc((size_t)iters, sizeof *ms);
    for (int i = 0; i < iters; i++) {
        CUDA_OK(cudaEventRecord(t0, s));
        if (ps_cuda_net_forward(cn, n, (ps_cuda_stream)s, &err)) {
            fprintf(stderr, "bench: forward (batch %d): %s\n", n, err.msg);
            break;
        }
        CUDA_OK(cudaEventRecord(t1, s));
        CUDA_OK(cudaEventSynchronize(t1));
        CUDA_OK(cudaEventElapsedTime(&ms[i], t0, t1));
    }
    qsort(ms, (size_t)iters, sizeof *ms, cmp_float);
    float med = ms[iters / 2];
    free(ms);
    CUDA_OK(cudaEventDestroy(t0));
    CUDA_OK(cudaEventDestroy(t1));
    return med;
}

/* Prints ms per batch and frames/s at 256x256 for batches 1..256. */
static void bench_model(const ps_model *m)
{
    static const int batches[] = {1, 8, 32, 64, 128, 256};
    int max_batch = 256;
    ps_err err = {0};
    ps_cuda_net *cn = NULL;
    if (ps_cuda_net_create(&m->net, 256, 256, max_batch, &cn, &err)) {
        fprintf(stderr, "bench: ps_cuda_net_create: %s\n", err.msg);
        tu_failures++;
        return;
    }
    printf("bench: movenet 256x256, max batch %d, %.1f MB on the GPU\n", max_batch,
           ps_cuda_net_bytes(cn) / 1e6);
    cudaStream_t s;
    CUDA_OK(cudaStreamCreate(&s));
    for (size_t i = 0; i < sizeof batches / sizeof *batches; i++) {
        float ms = bench_forward(cn, batches[i], s, 20);
        if (ms < 0) {
            tu_failures++;
            break;
        }
        printf("bench: batch %3d  %8.3f ms  %9.0f frames/s\n", batches[i], ms,
               batches[i] * 1000.0 / ms);
    }
    CUDA_OK(cudaStreamDestroy(s));
    ps_cuda_net_free(cn);
}

int main(int argc, char **argv)
{
    int bench = !(argc > 1 && !strcmp(argv[1], "--no-bench"));
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) TU_SKIP("no CUDA device");
    struct cudaDeviceProp prop;
    CUDA_OK(cudaGetDeviceProperties(&prop, 0));
    printf("GPU: %s (sm_%d%d, %d multiprocessors)\n", prop.name, prop.major, prop.minor,
           prop.multiProcessorCount);
    test_mini_movenet();
    test_block_kinds();
    test_odd_paths();
    ps_model *m = load_model();
    if (m) {
        test_model(m);
        if (bench) bench_model(m);
        ps_model_free(m);
    }
    return tu_finish("test_cuda_net");
}
