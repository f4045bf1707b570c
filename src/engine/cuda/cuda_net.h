/* The network on the GPU: FP16 activations (NHWC, channels padded to a
 * multiple of 16 with zeros), FP32 accumulation on tensor cores, fused
 * bias/activation/residual epilogues, the six heads written as compact FP32
 * NHWC. Weights are uploaded once; every buffer is sized at creation for the
 * largest batch; the forward pass of each batch size is captured as a CUDA
 * graph before the run and replayed. Host-side C API over CUDA kernels. */
#ifndef PS_ENGINE_CUDA_NET_H
#define PS_ENGINE_CUDA_NET_H

#include <stddef.h>

#include "model/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_cuda_net ps_cuda_net;
typedef struct CUstream_st *ps_cuda_stream; /* = cudaStream_t */

/* Builds the network for input_h x input_w and batches up to max_batch on
 * the current CUDA device. Returns non-OK (PS_ERR_BACKEND or PS_ERR_NOMEM,
 * naming the layer or the CUDA error) and leaves *out NULL on failure. */
ps_status ps_cuda_net_create(const ps_net *net, int input_h, int input_w, int max_batch,
                             ps_cuda_net **out, ps_err *err);

/* The input tensor: [max_batch, input_h, input_w, 4] FP16 NHWC, already
 * normalised by the model's own steps (channel 3 is zero). Filled by the
 * preprocessing kernels before ps_cuda_net_forward. */
void *ps_cuda_net_input(ps_cuda_net *cn);

/* Head h: [max_batch, input_h / 4, input_w / 4, ps_head_channels[h]] FP32
 * NHWC in device memory, valid after the forward pass. */
const float *ps_cuda_net_head(const ps_cuda_net *cn, ps_head h);

/* Captures the forward pass of n images (1 <= n <= max_batch) as a CUDA
 * graph, once. Call it while no other thread uses the device: CUDA
 * invalidates a capture when any thread synchronises with the device
 * meanwhile (FFmpeg's NVDEC does, all the time). Returns non-OK naming the
 * CUDA error and leaves that size without a graph. */
ps_status ps_cuda_net_capture(ps_cuda_net *cn, int n, ps_err *err);

/* Enqueues the forward pass of the first n images (1 <= n <= max_batch) on
 * stream s: a replay of its graph when captured, else the kernels launched
 * one by one (same results, more launch overhead); it never captures.
 * Returns non-OK naming the CUDA error. */
ps_status ps_cuda_net_forward(ps_cuda_net *cn, int n, ps_cuda_stream s, ps_err *err);

/* Drops the graph of batch size n (if any): it then runs as plain launches
 * (the engine's recovery after a failed batch). */
void ps_cuda_net_drop_graph(ps_cuda_net *cn, int n);

/* The forward pass as its kernel launches, for per-layer timing
 * (bench_cuda --layers): how many, a one-line description of op i (kernel
 * kind, output shape, layer name), and op i alone for n images enqueued on
 * s (its inputs are whatever the buffers hold). */
int ps_cuda_net_ops(const ps_cuda_net *cn);
void ps_cuda_net_op_describe(const ps_cuda_net *cn, int i, char *buf, size_t size);
ps_status ps_cuda_net_op_run(const ps_cuda_net *cn, int i, int n, ps_cuda_stream s,
                             ps_err *err);

/* Thread blocks from which a whole inverted-residual block runs as one
 * kernel (default: twice the multiprocessors; below that its layers run
 * apart, which fills the GPU better at small batches). 0 fuses at every
 * batch size (tests). Drops the graphs captured so far. */
void ps_cuda_net_set_block_min(ps_cuda_net *cn, long long blocks);

/* Device bytes held (weights, activations, workspaces). */
size_t ps_cuda_net_bytes(const ps_cuda_net *cn);

void ps_cuda_net_free(ps_cuda_net *cn);

#ifdef __cplusplus
}
#endif
#endif
