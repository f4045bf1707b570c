/* FP16 tensor-core rate probe for bench_cuda: every warp keeps a few WMMA
 * accumulators busy on fragments already in registers, so nothing but the
 * tensor cores limits it. This is the WMMA (mma.sync) rate the engine's own
 * kernels can reach, not Hopper's wgmma peak. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>
#include <stdio.h>

using namespace nvcuda;

#define PEAK_ITERS 4096

/* Operands come from memory and the four accumulators start at different
 * values: with constant operands and equal starts the compiler merged the
 * four identical chains into one (the probe reported 5,050 TFLOP/s). */
__global__ void peak_kernel(const __half *in, const float *start, float *out) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> c0, c1, c2, c3;
    wmma::load_matrix_sync(a, in, 16);
    wmma::load_matrix_sync(b, in + 256, 16);
    wmma::fill_fragment(c0, start[0]);
    wmma::fill_fragment(c1, start[1]);
    wmma::fill_fragment(c2, start[2]);
    wmma::fill_fragment(c3, start[3]);
    for (int i = 0; i < PEAK_ITERS; i++) {
        wmma::mma_sync(c0, a, b, c0);
        wmma::mma_sync(c1, a, b, c1);
        wmma::mma_sync(c2, a, b, c2);
        wmma::mma_sync(c3, a, b, c3);
    }
    /* Every element is used: a WMMA 16x16 is two m16n8 MMAs, and reading
     * only element 0 let the compiler drop the half that does not feed it. */
    float t = 0.0f;
    for (int k = 0; k < c0.num_elements; k++) t += c0.x[k] + c1.x[k] + c2.x[k] + c3.x[k];
    if (t == 12345.0f) out[threadIdx.x] = t; /* keeps the work alive */
}

extern "C" double ps_bench_tensor_tflops(void) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return 0;
    float *out, *start;
    __half *in;
    if (cudaMalloc(&out, 1024 * sizeof(float)) != cudaSuccess) return 0;
    if (cudaMalloc(&start, 4 * sizeof(float)) != cudaSuccess) return 0;
    if (cudaMalloc(&in, 512 * sizeof(__half)) != cudaSuccess) return 0;
    float s4[4] = {0.0f, 1.0f, 2.0f, 3.0f};
    cudaMemcpy(start, s4, sizeof s4, cudaMemcpyHostToDevice);
    cudaMemset(in, 0, 512 * sizeof(__half)); /* +0.0 halves */
    int blocks = prop.multiProcessorCount * 8, threads = 128;
    cudaEvent_t t0, t1;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    peak_kernel<<<blocks, threads>>>(in, start, out);
    cudaEventRecord(t0);
    peak_kernel<<<blocks, threads>>>(in, start, out);
    cudaEventRecord(t1);
    cudaEventSynchronize(t1);
    float ms = 0;
    cudaEventElapsedTime(&ms, t0, t1);
    cudaFree(out);
    cudaFree(start);
    cudaFree(in);
    double flops = 2.0 * 16 * 16 * 16 * 4 * PEAK_ITERS * (double)blocks * (threads / 32);
    return ms > 0 ? flops / (ms * 1e-3) / 1e12 : 0;
}
