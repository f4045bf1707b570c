/* The network's CUDA kernels as host-side launchers, shared by cuda_net.cu
 * (which plans the layers) and net_gemm.cu / net_direct.cu (which hold the
 * kernels). CUDA C++ only. Activations are FP16 NHWC with a channel stride
 * cs (a multiple of 16, or 4 for the input image) whose channels past the
 * real count are zero; every kernel keeps that true for what it writes. */
#ifndef PS_ENGINE_CUDA_NET_KERNELS_H
#define PS_ENGINE_CUDA_NET_KERNELS_H

#include <cuda_fp16.h>
#include <cuda_runtime.h>

/* One activation tensor: [n, h, w, cs] FP16, channels c..cs-1 zero. */
typedef struct {
    const __half *p;
    int h, w, c, cs;
} net_tensor;

/* What every kernel does with an output value v of channel ch at pixel m
 * (m counts pixels over the batch): v = act(v + bias[ch]) + res[m, ch];
 * then out16[m * out_cs + ch] = v (0 for ch >= c) when out16 is set, and
 * out32[m * c + ch] = v for ch < c (compact FP32, a head) when out32 is set.
 * out_cs = round_up(c, 16) is the padded channel count a kernel computes,
 * also when out16 is NULL. */
typedef struct {
    const float *bias;   /* [>= out_cs] zero-padded, or NULL */
    int act;             /* ps_act */
    const __half *res;   /* residual [.., res_cs], or NULL */
    int res_cs;
    __half *out16;       /* [.., out_cs], or NULL */
    int out_cs;          /* round_up(c, 16) */
    float *out32;        /* [.., c], or NULL */
    int c;               /* real output channels */
} net_epi;

/* Geometry of a KxK convolution on one image. */
typedef struct {
    int kh, kw, stride, pad_top, pad_left;
    int oh, ow;
} net_geom;

/* 1x1 convolution as a GEMM on tensor cores: a [m, k] (activations, k a
 * multiple of 16) times w [k, np] (FP16, np a multiple of 16), FP32
 * accumulation, epilogue e. sms = multiprocessors, to pick the tile. */
cudaError_t net_launch_gemm(const __half *a, int m, int k, const __half *w, int np,
                            const net_epi *e, int sms, cudaStream_t s);

/* Direct KxK convolution of n images in: w FP32 [kh][kw][cin4][e->out_cs]
 * with cin4 = round_up(in.c, 4), zero rows and columns in the padding. */
cudaError_t net_launch_conv(net_tensor in, int n, net_geom g, const float *w, int cin4,
                            const net_epi *e, cudaStream_t s);

/* A 3x3 convolution from 4 input channels (cin4 == 4: the stem) to out_cs
 * of NET_STEM_CO channels, its weights passed by value as a kernel
 * parameter (constant memory, so every multiply-add takes its weight as an
 * operand, no load): w [3][3][4][out_cs] FP32 (host memory, copied at
 * launch). net_stem_ok says whether net_launch_stem runs such a layer. */
#define NET_STEM_MAX_CO 64
typedef struct {
    float w[9 * 4 * NET_STEM_MAX_CO];
} net_stem_w;
int net_stem_ok(net_geom g, int cin4, int in_cs, int out_cs);
cudaError_t net_launch_stem(net_tensor in, int n, net_geom g, const net_stem_w *w,
                            const net_epi *e, cudaStream_t s);

/* Depthwise KxK convolution: w FP32 [kh][kw][e->out_cs]. sms =
 * multiprocessors, to pick how many output rows a thread computes. */
cudaError_t net_launch_dwconv(net_tensor in, int n, net_geom g, const float *w,
                              const net_epi *e, int sms, cudaStream_t s);

/* Bilinear x factor upsampling, TF half_pixel_centers. */
cudaError_t net_launch_resize(net_tensor in, int n, int factor, const net_epi *e,
                              cudaStream_t s);

/* Elementwise over a's [n, h, w] pixels: e's epilogue applied to a, so an
 * unfused ADD is a with e->res = the other input, an ACT is a with e->act. */
cudaError_t net_launch_eltwise(net_tensor a, int n, const net_epi *e, cudaStream_t s);

/* Two 1x1 convolutions in one kernel (net_fused.cu): a block takes BM
 * pixels, computes h = act1(A x w1 + b1) [BM, n1p] into shared memory (FP32
 * accumulation, stored FP16 like an unfused layer's output), then h x w2
 * [n1p, e->out_cs] and epilogue e, so h never reaches device memory. A is
 * either the activations a [m, k1] or, when dw_w is set, a depthwise conv
 * of in (geometry g, FP32 weights dw_w [kh][kw][k1], bias dw_b, act dw_act)
 * computed while the tile is loaded (k1 = round_up(in.c, 16) = in.cs). */
typedef struct {
    const __half *a;
    net_tensor in;
    net_geom g;
    const float *dw_w, *dw_b;
    int dw_act;
    int k1;              /* multiple of 16 */
    const __half *w1;    /* FP16 [k1][n1p] */
    const float *b1;     /* [n1p] zero-padded */
    int act1, n1p;       /* n1p a multiple of 16 */
    const __half *w2;    /* FP16 [n1p][e->out_cs] */
} net_fused;

/* Shared memory bytes the fused kernel needs (largest tile); the planner
 * fuses only when this is at most NET_FUSED_MAX_SMEM. */
#define NET_FUSED_MAX_SMEM 49152
size_t net_fused_smem(int k1, int n1p, int n2p);

/* m = pixels over the batch (the conv output's). */
cudaError_t net_launch_fused(const net_fused *f, int m, const net_epi *e, int sms,
                             cudaStream_t s);

/* One inverted-residual block in one kernel (net_block.cu): expand 1x1
 * (w1, b1, ReLU6) -> depthwise 3x3 stride 1 or 2 (dw_w, dw_b, ReLU6;
 * padding pad_top / pad_left as the layer's) -> project 1x1 (w2 and
 * epilogue e, which may add a residual), so neither wide intermediate
 * reaches device memory. Without an expansion (w1 NULL, e = k) the
 * depthwise reads the input. With stem set, the "expansion" is the stem, a
 * 3x3 stride-2 conv (padding spad_top / spad_left) of the 4-channel image
 * in, as a product with w1 [48][e]: rows tap * 4 + channel, zero past 36.
 * e->out16 must not be in.p or anything else the kernel reads with a halo
 * (blocks read their neighbours' pixels). */
typedef struct {
    net_tensor in;          /* the block's input, [n, h, w, k] (the image: [n, h, w, 4]) */
    int k;                  /* = in.cs, a multiple of 16 (48 after a stem) */
    const __half *w1;       /* FP16 [k][e], or NULL */
    const float *b1;        /* [e] */
    int act1, e;            /* e expanded channels */
    const float *dw_w;      /* FP32 [3][3][e] */
    const float *dw_b;      /* [e] */
    int dw_act, stride, pad_top, pad_left;
    int oh, ow;             /* output size per image */
    const __half *w2;       /* FP16 [e][e->out_cs] */
    int gh, gw;             /* the depthwise's input size (in's, or the stem's output) */
    int stem, spad_top, spad_left;
} net_block;

/* Largest k the block kernel takes. */
#define NET_BLOCK_MAX_K 144

/* Whether the kernel runs a block of k input channels, e expanded, np
 * (padded) outputs at this depthwise stride, with an expansion of this
 * kind, on a device whose blocks may opt in to smem_block bytes of shared
 * memory and whose multiprocessors have smem_sm: two of its blocks must
 * fit on one multiprocessor (with one, measured on the H100, the fused
 * blocks were slower than the layers apart) (net_block_fits, for the
 * planner); and whether it runs this one. */
enum { NET_BLOCK_NONE, NET_BLOCK_GEMM, NET_BLOCK_STEM };
int net_block_fits(int k, int e, int np, int stride, int expand, int smem_block, int smem_sm);
int net_block_ok(const net_block *bk, const net_epi *e);

/* Thread blocks the kernel launches for n images: fusing pays only with
 * enough of them to fill the GPU, so small batches run the layers apart. */
long long net_block_blocks(const net_block *bk, const net_epi *e, int n);

cudaError_t net_launch_block(const net_block *bk, int n, const net_epi *e, cudaStream_t s);

#endif
