/* The network description: the layers from the model's input to its six
 * heads, in an order where every layer comes after its inputs, with float32
 * weights. Built by the TF.js reader (tfjs.c); run by the engine backends. */
#ifndef PS_MODEL_NET_H
#define PS_MODEL_NET_H

#include "posestream.h"

typedef enum {
    PS_LAYER_INPUT,  /* the image, after the model's own normalisation */
    PS_LAYER_CONV,   /* KxK convolution, groups = 1 */
    PS_LAYER_DWCONV, /* KxK depthwise convolution, channel multiplier 1 */
    PS_LAYER_ADD,    /* elementwise sum of two layers (when not fused) */
    PS_LAYER_RESIZE, /* bilinear upsampling by an integer factor, half-pixel
                        centres (TF half_pixel_centers=true) */
    PS_LAYER_ACT     /* an activation alone (when not fused) */
} ps_layer_kind;

typedef enum { PS_ACT_NONE, PS_ACT_RELU, PS_ACT_RELU6, PS_ACT_SIGMOID } ps_act;
typedef enum { PS_PAD_SAME, PS_PAD_VALID } ps_pad;

/* Normalisation of the int32 input, applied in order per channel. */
typedef enum { PS_NORM_SUB, PS_NORM_MUL, PS_NORM_ADD } ps_norm_op;
#define PS_MAX_NORM 4
typedef struct {
    ps_norm_op op;
    float c[3]; /* per RGB channel */
} ps_norm_step;

typedef struct {
    ps_layer_kind kind;
    char name[192]; /* the TF node whose value this layer produces */
    int src;        /* input layer, -1 for INPUT */
    int src2;       /* ADD: second input; convs: residual added after the
                       activation (TF AddV2 fused in), else -1 */
    /* CONV / DWCONV */
    int kh, kw, stride;
    ps_pad pad;
    int cin, cout;   /* DWCONV: cin == cout */
    const float *w;  /* CONV: HWIO [kh][kw][cin][cout]; DWCONV: [kh][kw][c] */
    const float *b;  /* [cout], or NULL for none */
    ps_act act;      /* CONV / DWCONV / ACT */
    int factor;      /* RESIZE */
} ps_layer;

/* The six heads, in this order (MODEL.md). */
typedef enum {
    PS_HEAD_CENTER,      /* Sigmoid, C = 1 */
    PS_HEAD_KPT_HEAT,    /* Sigmoid_1, C = 17 */
    PS_HEAD_KPT_REGRESS, /* kpt_regress_0/conv2d_8/BiasAdd, C = 34 */
    PS_HEAD_KPT_OFFSET,  /* kpt_offset_0/conv2d_9/BiasAdd, C = 34 */
    PS_HEAD_BOX_SCALE,   /* box_scale_0/conv2d_5/BiasAdd, C = 2 */
    PS_HEAD_BOX_OFFSET,  /* box_offset_0/conv2d_6/BiasAdd, C = 2 */
    PS_NUM_HEADS
} ps_head;

extern const char *const ps_head_nodes[PS_NUM_HEADS];
extern const int ps_head_channels[PS_NUM_HEADS];

typedef struct {
    ps_layer *layers;
    int n_layers;
    int heads[PS_NUM_HEADS]; /* layer index of each head */
    ps_norm_step norm[PS_MAX_NORM];
    int n_norm;
    float *weights; /* one block holding every layer's w and b */
} ps_net;

/* Output shape of one layer for a given input size. */
typedef struct {
    int h, w, c;
} ps_shape;

/* Fills shapes[n_layers] for an input_h x input_w image. Returns PS_ERR_ARG
 * when the size is not a positive multiple of 32, PS_ERR_FORMAT naming the
 * layer when shapes do not fit together. */
ps_status ps_net_shapes(const ps_net *net, int input_h, int input_w,
                        ps_shape *shapes, ps_err *err);

/* Padding of a CONV / DWCONV layer on an in_h x in_w input. TF SAME pads
 * (out - 1) * stride + k - in in total, the extra pixel at the bottom/right. */
typedef struct {
    int top, left, bottom, right;
} ps_pads;
ps_pads ps_layer_pads(const ps_layer *l, int in_h, int in_w);

/* Multiply-accumulates per image at this input size (for the benchmarks). */
double ps_net_macs(const ps_net *net, const ps_shape *shapes);

void ps_net_free(ps_net *net);

/* Reads a TF.js graph model (model.json plus its weight shards in the same
 * folder) into net. On failure returns non-OK naming the file or node and the
 * reason, and leaves net empty. */
ps_status ps_net_load_tfjs(const char *json_path, ps_net *net, ps_err *err);

#endif
