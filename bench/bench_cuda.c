/* Engine-only throughput of the CUDA backend: the network's forward pass
 * (a replayed CUDA graph) at one input size for several batch sizes, timed
 * with CUDA events (median of many replays after warm-up), next to the two
 * floors measured on the same card in the same run: device-to-device copy
 * bandwidth (for the 35.8 MB of FP16 activations a 256x256 frame writes)
 * and an FP16 tensor-core matrix rate (for its 1.94 GFLOP).
 *
 *   bench_cuda [--model PATH] [--size 256] [--batches 1,8,32,64,128,256]
 *              [--runs 30] [--layers N]
 *
 * --layers N also times each kernel of the pass alone at batch N (median
 * of the runs, L2 warm from the previous launch of the same kernel), to
 * show where the time goes.
 *
 * It first captures the graphs of every batch size up to the largest, as
 * the engine does before a run, and prints how long that took; for a batch
 * size that is not a power of two it also prints the time of the next power
 * of two: what the batch would cost padded up to a bucket instead.
 */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_net.h"
#include "bench_util.h"
#include "model/model.h"
#include "util/clock.h"

/* An FP16 tensor-core GEMM rate probe (bench/bench_cuda_peak.cu). */
double ps_bench_tensor_tflops(void);

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

#define CHECK(call)                                                                   \
    do {                                                                              \
        cudaError_t e_ = (call);                                                      \
        if (e_ != cudaSuccess) {                                                      \
            fprintf(stderr, "bench_cuda: %s: %s\n", #call, cudaGetErrorString(e_));   \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* Device-to-device copy bandwidth in GB/s (bytes read + written). */
static double copy_bandwidth(void) {
    size_t bytes = (size_t)1 << 30;
    void *a, *b;
    CHECK(cudaMalloc(&a, bytes));
    CHECK(cudaMalloc(&b, bytes));
    cudaEvent_t t0, t1;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    CHECK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));
    cudaEventRecord(t0, 0);
    for (int i = 0; i < 10; i++) cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, 0);
    cudaEventRecord(t1, 0);
    CHECK(cudaEventSynchronize(t1));
    float ms;
    cudaEventElapsedTime(&ms, t0, t1);
    cudaFree(a);
    cudaFree(b);
    return 2.0 * 10 * (double)bytes / (ms * 1e-3) / 1e9;
}

/* Enqueues the whole forward pass of batch n (op < 0) or op alone on s;
 * exits with the error on failure. */
static void launch(ps_cuda_net *cn, int op, int n, cudaStream_t s) {
    ps_err err;
    ps_status st = op < 0 ? ps_cuda_net_forward(cn, n, (ps_cuda_stream)s, &err)
                          : ps_cuda_net_op_run(cn, op, n, (ps_cuda_stream)s, &err);
    if (st) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        exit(1);
    }
}

/* Median ms over runs of launch(cn, op, n) after `warm` untimed ones. */
static float time_median(ps_cuda_net *cn, int op, int n, int warm, int runs, cudaStream_t s) {
    cudaEvent_t t0, t1;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    float *ms = malloc(sizeof *ms * (size_t)runs);
    for (int w = 0; w < warm; w++) launch(cn, op, n, s);
    for (int r = 0; r < runs; r++) {
        cudaEventRecord(t0, s);
        launch(cn, op, n, s);
        cudaEventRecord(t1, s);
        CHECK(cudaEventSynchronize(t1));
        cudaEventElapsedTime(&ms[r], t0, t1);
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp_float);
    float m = ms[runs / 2];
    free(ms);
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    return m;
}

/* Captures the graph of every batch size 1..maxb and prints the time. */
static void capture_all(ps_cuda_net *cn, int maxb) {
    ps_err err;
    int64_t start = ps_now_ns(); /* host-side work: the host clock */
    for (int n = 1; n <= maxb; n++)
        if (ps_cuda_net_capture(cn, n, &err)) {
            fprintf(stderr, "bench_cuda: %s\n", err.msg);
            exit(1);
        }
    double sec = (double)(ps_now_ns() - start) / 1e9;
    printf("graphs of all %d batch sizes captured in %.0f ms (%.2f ms each)\n", maxb, sec * 1e3,
           sec * 1e3 / maxb);
}

/* Per-kernel table at batch n, with each kernel's share of their sum. */
static void print_layers(ps_cuda_net *cn, int n, int runs, cudaStream_t s) {
    int ops = ps_cuda_net_ops(cn);
    float *ms = malloc(sizeof *ms * (size_t)ops), sum = 0;
    for (int i = 0; i < ops; i++) sum += ms[i] = time_median(cn, i, n, 1, runs, s);
    printf("kernels alone at batch %d (sum %.3f ms):\n", n, sum);
    for (int i = 0; i < ops; i++) {
        char d[256];
        ps_cuda_net_op_describe(cn, i, d, sizeof d);
        printf("%3d %8.3f ms %5.1f%%  %s\n", i, ms[i], 100.0 * ms[i] / sum, d);
    }
    free(ms);
}

int main(int argc, char **argv) {
    char def[4096];
    ps_model_cache_dir(def, sizeof def);
    const char *model_path = def;
    int size = 256, runs = 30, layers = 0, batches[16] = {1, 8, 32, 64, 128, 256}, nb = 6;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) model_path = argv[i + 1];
        else if (!strcmp(argv[i], "--size")) size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--layers")) layers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batches")) nb = bench_parse_list(argv[i + 1], batches, 16);
    }
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        printf("bench_cuda: no CUDA device\n");
        return 0;
    }
    struct cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    ps_err err;
    ps_model *model = ps_model_load(model_path, &err);
    if (!model) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        return 1;
    }
    ps_shape *shapes = malloc(sizeof *shapes * (size_t)model->net.n_layers);
    ps_net_shapes(&model->net, size, size, shapes, &err);
    double gflop = 2e-9 * ps_net_macs(&model->net, shapes);
    double bw = copy_bandwidth(), tflops = ps_bench_tensor_tflops();
    double act_mb = 35.8 * (size * size) / (256.0 * 256.0);
    printf("device %s; copy bandwidth %.0f GB/s; FP16 tensor-core GEMM %.0f TFLOP/s\n", prop.name,
           bw, tflops);
    printf("input %dx%d: %.3f GFLOP/frame, %.1f MB FP16 activations/frame\n", size, size, gflop,
           act_mb);
    printf("floors per frame: compute %.2f us, memory (activations written once, read once) "
           "%.2f us\n", gflop / tflops * 1e3, 2 * act_mb / bw * 1e3);
    int maxb = layers > 1 ? layers : 1;
    for (int b = 0; b < nb; b++) maxb = batches[b] > maxb ? batches[b] : maxb;
    ps_cuda_net *cn;
    if (ps_cuda_net_create(&model->net, size, size, maxb, &cn, &err)) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        return 1;
    }
    cudaStream_t s;
    CHECK(cudaStreamCreate(&s));
    CHECK(cudaMemset(ps_cuda_net_input(cn), 0, (size_t)maxb * size * size * 4 * 2));
    capture_all(cn, maxb);
    printf("%7s %12s %12s %10s %20s\n", "batch", "ms/batch", "frames/s", "TFLOP/s",
           "padded to 2^k: ms");
    for (int b = 0; b < nb; b++) {
        int n = batches[b], up = 1;
        while (up < n) up *= 2;
        float ms = time_median(cn, -1, n, 3, runs, s);
        printf("%7d %12.3f %12.0f %10.1f", n, ms, n / (ms * 1e-3), gflop * n / (ms * 1e-3) / 1e3);
        if (up != n && up <= maxb) {
            float pad = time_median(cn, -1, up, 3, runs, s);
            printf("   %4d: %.3f (+%.0f%%)", up, pad, 100.0 * (pad - ms) / ms);
        }
        printf("\n");
    }
    if (layers > 0) print_layers(cn, layers, runs, s);
    printf("device memory held by the network at batch %d: %.0f MB\n", maxb,
           (double)ps_cuda_net_bytes(cn) / 1048576.0);
    ps_cuda_net_free(cn);
    cudaStreamDestroy(s);
    free(shapes);
    ps_model_free(model);
    return 0;
}
