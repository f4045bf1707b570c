/* The network on the GPU (cuda_net.h): at creation, plans one kernel per
 * layer (1x1 stride-1 convs as tensor-core GEMMs, other convs, depthwise,
 * resize and elementwise as direct kernels; net_kernels.h), converts and
 * uploads the weights once, and shares activation buffers between layers
 * whose lifetimes do not overlap; captures the forward pass of a batch size
 * as a CUDA graph when asked (before other threads use the GPU) and replays
 * it; a batch size without a graph runs as plain launches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" { /* C headers without their own linkage blocks */
#include "model/net.h"
#include "util/status.h"
}
#include "engine/cuda/cuda_net.h"
#include "engine/cuda/net_kernels.h"

typedef enum {
    OP_GEMM, OP_CONV, OP_STEM, OP_DWCONV, OP_RESIZE, OP_ELTWISE, OP_FUSED, OP_BLOCK
} op_kind;

/* One kernel launch of the forward pass, all pointers fixed at creation. */
typedef struct net_op {
    op_kind kind;
    int layer;        /* the net's layer this op computes */
    char name[192];   /* the layer's, for error messages (the net may go) */
    net_tensor in;    /* per image: h, w */
    net_geom geom;    /* CONV / DWCONV: output size per image */
    const void *w;    /* device weights: GEMM FP16 [k][np]; CONV / DWCONV FP32 */
    int cin4;         /* CONV */
    net_stem_w *stem; /* STEM: host copy of the weights (malloc), passed at launch */
    int factor;       /* RESIZE */
    net_fused fu;     /* FUSED: the first 1x1 (and depthwise); w is the second's */
    net_block bk;     /* BLOCK: expand and depthwise; w is the projection's */
    struct net_op *sub; /* BLOCK: the layers' own ops (malloc), for small batches */
    int n_sub;
    net_epi epi;
} net_op;

struct ps_cuda_net {
    int in_h, in_w, max_batch, sms;
    int smem_block, smem_sm;      /* shared memory a block may opt in to, per SM */
    long long block_min;          /* ps_cuda_net_set_block_min */
    net_op *ops;
    int n_ops;
    __half *input;                /* [max_batch, in_h, in_w, 4] */
    float *heads[PS_NUM_HEADS];   /* compact FP32, may repeat a pointer */
    void **allocs;                /* every cudaMalloc, freed together */
    int n_allocs;
    cudaGraphExec_t *graphs;      /* [max_batch + 1], NULL until captured */
    cudaStream_t capture;         /* private stream graphs are captured on */
    size_t bytes;
};

/* Plan-time facts of one layer. */
typedef struct {
    ps_shape shape;
    int cs;        /* channel stride of its FP16 output */
    int last_use;  /* index of its last reader, -1 when none */
    int head;      /* 1 when some head is this layer */
    int buf;       /* activation buffer, -1 when it has none */
    int fused;     /* 1 when computed inside a later layer's op (plan_fuse) */
    int f1, fdw;   /* a 1x1 conv whose op also computes the 1x1 conv f1 that
                      alone feeds it, and the depthwise fdw that alone feeds
                      f1; -1 when none */
    int rd[2];     /* the layers its op reads, -1 for none */
    int blk_e, blk_d; /* a projection whose op also computes the depthwise
                         blk_d (-1: none) and the expansion blk_e (-1: none)
                         of its inverted-residual block (plan_blocks) */
    size_t w_off, b_off; /* offsets in the weight block */
} layer_info;

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

static ps_status cuda_fail(ps_err *err, const char *what, const char *layer, cudaError_t e) {
    if (layer)
        return ps_err_set(err, PS_ERR_BACKEND, "CUDA: %s (layer '%s'): %s", what, layer,
                          cudaGetErrorString(e));
    return ps_err_set(err, PS_ERR_BACKEND, "CUDA: %s: %s", what, cudaGetErrorString(e));
}

/* cudaMalloc recorded in cn->allocs; zeroed, so padding channels start at
 * zero. Returns non-OK naming what was being allocated. */
static ps_status net_alloc(ps_cuda_net *cn, void **p, size_t bytes, const char *what,
                           ps_err *err) {
    void **grown = (void **)realloc(cn->allocs, sizeof *grown * (size_t)(cn->n_allocs + 1));
    if (!grown) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    cn->allocs = grown;
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 16);
    if (e != cudaSuccess) {
        char msg[256];
        snprintf(msg, sizeof msg, "cudaMalloc(%s, %zu bytes)", what, bytes);
        return cuda_fail(err, msg, NULL, e);
    }
    cn->allocs[cn->n_allocs++] = *p;
    cn->bytes += bytes;
    e = cudaMemset(*p, 0, bytes ? bytes : 16);
    return e == cudaSuccess ? PS_OK : cuda_fail(err, "cudaMemset", what, e);
}

/* ---- checking the net ---- */

static int is_gemm(const ps_layer *l, const layer_info *info) {
    return l->kind == PS_LAYER_CONV && l->kh == 1 && l->kw == 1 && l->stride == 1 &&
           info[l->src].cs == round_up(l->cin, 16);
}

/* Fills info[] (shapes, strides, readers, heads). Returns PS_ERR_UNSUPPORTED
 * or PS_ERR_FORMAT naming the layer or head this engine cannot run. */
static ps_status plan_check(const ps_net *net, int in_h, int in_w, layer_info *info,
                            ps_err *err) {
    ps_shape *shapes = (ps_shape *)calloc((size_t)net->n_layers, sizeof *shapes);
    if (!shapes) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    ps_status st = ps_net_shapes(net, in_h, in_w, shapes, err);
    for (int i = 0; i < net->n_layers && !st; i++) {
        const ps_layer *l = &net->layers[i];
        info[i].shape = shapes[i];
        info[i].cs = l->kind == PS_LAYER_INPUT ? 4 : round_up(shapes[i].c, 16);
        info[i].last_use = -1;
        info[i].buf = -1;
        if ((l->kind == PS_LAYER_INPUT) != (l->src < 0) ||
            (l->kind == PS_LAYER_ADD && l->src2 < 0) ||
            (l->kind == PS_LAYER_RESIZE && (l->factor < 1 || l->src2 >= 0)) ||
            ((l->kind == PS_LAYER_CONV || l->kind == PS_LAYER_DWCONV) &&
             (l->kh < 1 || l->kw < 1 || l->stride < 1)) ||
            (l->kind == PS_LAYER_DWCONV && l->cin != l->cout))
            st = ps_err_set(err, PS_ERR_UNSUPPORTED, "layer '%s': unsupported by the CUDA engine",
                            l->name);
        if (l->src >= 0) info[l->src].last_use = i;
        if (l->src2 >= 0) info[l->src2].last_use = i;
    }
    for (int h = 0; h < PS_NUM_HEADS && !st; h++) {
        int i = net->heads[h];
        if (i <= 0 || i >= net->n_layers || net->layers[i].kind == PS_LAYER_INPUT)
            st = ps_err_set(err, PS_ERR_FORMAT, "head %s: no such layer", ps_head_nodes[h]);
        else if (shapes[i].h != in_h / 4 || shapes[i].w != in_w / 4 ||
                 shapes[i].c != ps_head_channels[h])
            st = ps_err_set(err, PS_ERR_FORMAT, "head %s: layer '%s' is %dx%dx%d, not %dx%dx%d",
                            ps_head_nodes[h], net->layers[i].name, shapes[i].h, shapes[i].w,
                            shapes[i].c, in_h / 4, in_w / 4, ps_head_channels[h]);
        else
            info[i].head = 1;
    }
    free(shapes);
    return st;
}

/* ---- fusion ---- */

/* How many layers read each layer (calloc'd, NULL when out of memory). */
static int *net_readers(const ps_net *net) {
    int *nread = (int *)calloc((size_t)net->n_layers, sizeof *nread);
    for (int i = 0; nread && i < net->n_layers; i++) {
        const ps_layer *l = &net->layers[i];
        if (l->src >= 0) nread[l->src]++;
        if (l->src2 >= 0) nread[l->src2]++;
    }
    return nread;
}

/* Finds 1x1 convs read only by another 1x1 conv (neither with a residual,
 * not a head): the pair runs as one kernel (net_launch_fused) and the
 * intermediate gets no buffer; likewise a depthwise conv read only by the
 * first of such a pair. Then sets rd[] and last_use from what each op reads. */
static ps_status plan_fuse(const ps_net *net, layer_info *info, ps_err *err) {
    int nl = net->n_layers;
    int *nread = net_readers(net);
    if (!nread) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nl; i++) {
        info[i].fused = 0;
        info[i].f1 = info[i].fdw = -1;
    }
    for (int j = 1; j < nl; j++) {
        const ps_layer *lj = &net->layers[j];
        if (!is_gemm(lj, info) || lj->src2 >= 0) continue;
        int i = lj->src;
        const ps_layer *li = &net->layers[i];
        if (!is_gemm(li, info) || li->src2 >= 0 || info[i].head || nread[i] != 1 ||
            info[i].f1 >= 0 || info[i].fused)
            continue;
        if (net_fused_smem(info[li->src].cs, round_up(li->cout, 16), round_up(lj->cout, 16)) >
            NET_FUSED_MAX_SMEM)
            continue;
        info[i].fused = 1;
        info[j].f1 = i;
        int d = li->src;
        const ps_layer *ld = &net->layers[d];
        if (ld->kind == PS_LAYER_DWCONV && ld->src2 < 0 && !info[d].head && nread[d] == 1 &&
            ld->src > 0 && net->layers[ld->src].kind != PS_LAYER_INPUT &&
            info[ld->src].cs == info[d].cs && info[d].cs % 8 == 0) {
            info[d].fused = 1;
            info[j].fdw = d;
        }
    }
    for (int i = 0; i < nl; i++) info[i].last_use = -1;
    for (int i = 0; i < nl; i++) {
        const ps_layer *l = &net->layers[i];
        info[i].rd[0] = info[i].rd[1] = -1;
        if (info[i].fused) continue;
        if (info[i].f1 >= 0) {
            info[i].rd[0] = info[i].fdw >= 0 ? net->layers[info[i].fdw].src
                                             : net->layers[info[i].f1].src;
        } else {
            info[i].rd[0] = l->src;
            info[i].rd[1] = l->src2;
        }
        for (int k = 0; k < 2; k++)
            if (info[i].rd[k] >= 0) info[info[i].rd[k]].last_use = i;
    }
    free(nread);
    return PS_OK;
}

/* Finds inverted-residual blocks the block kernel runs (net_block_fits):
 * a 1x1 projection (not fused, any residual) reading a depthwise 3x3 conv
 * that reads a 1x1 expansion, each of the two read by nothing else, neither
 * a head nor with a residual; or, without the expansion, a depthwise that
 * reads any layer. Their layers keep their buffers and ops (small batches
 * run them apart: net_block_blocks). The kernel's blocks read their
 * neighbours' input pixels while others write their outputs, so the
 * block's input stays live (its buffer untouched) until the projection,
 * and the projection never writes over its residual in place. */
static ps_status plan_blocks(const ps_cuda_net *cn, const ps_net *net, layer_info *info,
                             ps_err *err) {
    const int sb = cn->smem_block, ss = cn->smem_sm;
    int nl = net->n_layers;
    int *nread = net_readers(net);
    if (!nread) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nl; i++) info[i].blk_e = info[i].blk_d = -1;
    for (int j = 1; j < nl; j++) {
        const ps_layer *lj = &net->layers[j];
        if (!is_gemm(lj, info) || info[j].fused || info[j].f1 >= 0 || info[j].head) continue;
        int d = lj->src;
        const ps_layer *ld = &net->layers[d];
        if (ld->kind != PS_LAYER_DWCONV || ld->kh != 3 || ld->kw != 3 || ld->src2 >= 0 ||
            info[d].fused || info[d].head || nread[d] != 1 || ld->src <= 0)
            continue;
        int e = ld->src, x = e;
        const ps_layer *le = &net->layers[e];
        int alone = le->src2 < 0 && !info[e].fused && info[e].f1 < 0 && !info[e].head &&
                    nread[e] == 1;
        if (alone && is_gemm(le, info) &&
            net_block_fits(info[le->src].cs, info[e].cs, info[j].cs, ld->stride, NET_BLOCK_GEMM,
                           sb, ss))
            x = le->src;
        else if (alone && le->kind == PS_LAYER_CONV && le->kh == 3 && le->kw == 3 &&
                 le->stride == 2 && le->cin <= 4 && info[le->src].cs == 4 &&
                 net_block_fits(48, info[e].cs, info[j].cs, ld->stride, NET_BLOCK_STEM, sb, ss))
            x = le->src; /* the stem (op_merge_block checks it runs as OP_STEM) */
        else if (net_block_fits(info[e].cs, info[d].cs, info[j].cs, ld->stride, NET_BLOCK_NONE,
                                sb, ss))
            e = -1;
        else
            continue;
        info[j].blk_e = e;
        info[j].blk_d = d;
        if (info[x].last_use < j) info[x].last_use = j;
    }
    free(nread);
    return PS_OK;
}

/* ---- activation buffers by liveness ---- */

typedef struct {
    size_t *size; /* bytes per buffer: the largest layer placed in it */
    int *owner;   /* layer whose output it holds, -1 when free */
    int n;
} buf_plan;

/* The layer whose buffer layer i may take over (in-place): a residual or an
 * elementwise input that i reads last, not the input image, and not also
 * the source of a convolution (which would read what it overwrites). */
static int plan_inplace(const ps_net *net, const layer_info *info, int i) {
    const ps_layer *l = &net->layers[i];
    if (info[i].blk_d >= 0) return -1;
    int cands[2] = {l->src2, -1};
    if (l->kind == PS_LAYER_ADD || l->kind == PS_LAYER_ACT) cands[1] = l->src;
    if (l->kind == PS_LAYER_RESIZE) cands[0] = -1;
    for (int k = 0; k < 2; k++) {
        int r = cands[k];
        if (r <= 0 || info[r].last_use != i || info[r].buf < 0) continue;
        if (net->layers[r].kind == PS_LAYER_INPUT) continue;
        if ((l->kind == PS_LAYER_CONV || l->kind == PS_LAYER_DWCONV) && r == l->src) continue;
        return r;
    }
    return -1;
}

/* Best fit among free buffers (the smallest that holds `need`, else the
 * largest, which grows), or a new one. Returns its index, -1 out of memory. */
static int plan_pick(buf_plan *bp, size_t need) {
    int best = -1;
    for (int b = 0; b < bp->n; b++) {
        if (bp->owner[b] >= 0) continue;
        if (best < 0) { best = b; continue; }
        int fits = bp->size[b] >= need, best_fits = bp->size[best] >= need;
        if ((fits && (!best_fits || bp->size[b] < bp->size[best])) ||
            (!fits && !best_fits && bp->size[b] > bp->size[best]))
            best = b;
    }
    if (best < 0) {
        best = bp->n++;
        bp->size[best] = 0;
    }
    if (bp->size[best] < need) bp->size[best] = need;
    return best;
}

/* Assigns info[i].buf for every layer read by a later one. */
static void plan_buffers(const ps_net *net, layer_info *info, int max_batch, buf_plan *bp) {
    for (int i = 1; i < net->n_layers; i++) {
        if (info[i].last_use > i) {
            size_t need = (size_t)max_batch * info[i].shape.h * info[i].shape.w * info[i].cs * 2;
            int r = plan_inplace(net, info, i);
            int b = r >= 0 ? info[r].buf : plan_pick(bp, need);
            if (bp->size[b] < need) bp->size[b] = need;
            info[i].buf = b;
            bp->owner[b] = i;
        }
        /* Layers whose last use is i free their buffers, unless i took one
         * over (the input of a fused block lives until its projection,
         * which need not read it). */
        for (int b = 0; b < bp->n; b++) {
            int o = bp->owner[b];
            if (o >= 0 && o != i && info[o].last_use == i) bp->owner[b] = -1;
        }
    }
}

/* ---- weights ---- */

/* Bytes of one layer's device weights and bias (offsets 256-aligned). */
static size_t weight_bytes(const ps_layer *l, const layer_info *info, size_t *b_off) {
    int np = round_up(l->cout, 16);
    size_t w = 0;
    if (is_gemm(l, info)) w = (size_t)info[l->src].cs * np * 2;
    else if (l->kind == PS_LAYER_CONV) w = (size_t)l->kh * l->kw * round_up(l->cin, 4) * np * 4;
    else w = (size_t)l->kh * l->kw * np * 4;
    *b_off = (size_t)round_up((int)w, 256);
    return *b_off + (size_t)round_up(np * 4, 256);
}

/* IEEE half bits of f, round to nearest even (host side, no CUDA headers'
 * host half arithmetic needed). */
static unsigned short half_bits(float f) { return __half_as_ushort(__float2half_rn(f)); }

/* Writes layer l's weights and bias into host staging memory at dst:
 * GEMM FP16 [k_p][np]; CONV FP32 [kh][kw][cin4][np]; DWCONV FP32
 * [kh][kw][np]; bias FP32 [np]; zeros in all padding. */
static void weight_convert(const ps_layer *l, const layer_info *info, unsigned char *dst,
                           size_t b_off) {
    int np = round_up(l->cout, 16), taps = l->kh * l->kw;
    if (is_gemm(l, info)) {
        unsigned short *w = (unsigned short *)dst;
        for (int ci = 0; ci < l->cin; ci++)
            for (int co = 0; co < l->cout; co++)
                w[(size_t)ci * np + co] = half_bits(l->w[(size_t)ci * l->cout + co]);
    } else if (l->kind == PS_LAYER_CONV) {
        float *w = (float *)dst;
        int cin4 = round_up(l->cin, 4);
        for (int t = 0; t < taps; t++)
            for (int ci = 0; ci < l->cin; ci++)
                for (int co = 0; co < l->cout; co++)
                    w[((size_t)t * cin4 + ci) * np + co] =
                        l->w[((size_t)t * l->cin + ci) * l->cout + co];
    } else {
        float *w = (float *)dst;
        for (int t = 0; t < taps; t++)
            for (int c = 0; c < l->cout; c++) w[(size_t)t * np + c] = l->w[(size_t)t * l->cout + c];
    }
    float *b = (float *)(dst + b_off);
    for (int c = 0; c < l->cout && l->b; c++) b[c] = l->b[c];
}

/* Converts every conv's weights and uploads them in one block; fills
 * info[].w_off / b_off relative to *dev. */
static ps_status weight_upload(ps_cuda_net *cn, const ps_net *net, layer_info *info,
                               unsigned char **dev, ps_err *err) {
    size_t total = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const ps_layer *l = &net->layers[i];
        if (l->kind != PS_LAYER_CONV && l->kind != PS_LAYER_DWCONV) continue;
        size_t b_off, size = weight_bytes(l, info, &b_off);
        info[i].w_off = total;
        info[i].b_off = total + b_off;
        total += size;
    }
    unsigned char *host = (unsigned char *)calloc(total ? total : 1, 1);
    if (!host) return ps_err_set(err, PS_ERR_NOMEM, "out of memory (weights, %zu bytes)", total);
    for (int i = 0; i < net->n_layers; i++) {
        const ps_layer *l = &net->layers[i];
        if (l->kind == PS_LAYER_CONV || l->kind == PS_LAYER_DWCONV)
            weight_convert(l, info, host + info[i].w_off, info[i].b_off - info[i].w_off);
    }
    ps_status st = net_alloc(cn, (void **)dev, total, "weights", err);
    if (!st) {
        cudaError_t e = cudaMemcpy(*dev, host, total, cudaMemcpyHostToDevice);
        if (e != cudaSuccess) st = cuda_fail(err, "cudaMemcpy(weights)", NULL, e);
    }
    free(host);
    return st;
}

/* ---- the ops ---- */

/* The FP16 view of layer i's output (the input image for layer 0). */
static net_tensor layer_tensor(const ps_cuda_net *cn, const ps_net *net, const layer_info *info,
                               void *const *bufs, int i) {
    net_tensor t = {NULL, info[i].shape.h, info[i].shape.w, info[i].shape.c, info[i].cs};
    t.p = net->layers[i].kind == PS_LAYER_INPUT ? cn->input : (const __half *)bufs[info[i].buf];
    return t;
}

/* Builds the op of layer i; head_buf is its FP32 head buffer or NULL. */
static net_op op_build(const ps_cuda_net *cn, const ps_net *net, const layer_info *info,
                       void *const *bufs, const unsigned char *wdev, float *head_buf, int i) {
    const ps_layer *l = &net->layers[i];
    net_op op;
    memset(&op, 0, sizeof op);
    snprintf(op.name, sizeof op.name, "%s", l->name);
    op.layer = i;
    op.in = layer_tensor(cn, net, info, bufs, info[i].f1 >= 0 ? info[i].rd[0] : l->src);
    op.epi.c = info[i].shape.c;
    op.epi.out_cs = round_up(info[i].shape.c, 16);
    op.epi.out16 = info[i].buf >= 0 ? (__half *)bufs[info[i].buf] : NULL;
    op.epi.out32 = head_buf;
    int res = l->kind == PS_LAYER_ADD || l->kind == PS_LAYER_CONV || l->kind == PS_LAYER_DWCONV
                  ? l->src2 : -1;
    if (res >= 0) {
        net_tensor r = layer_tensor(cn, net, info, bufs, res);
        op.epi.res = r.p;
        op.epi.res_cs = r.cs;
    }
    switch (l->kind) {
    case PS_LAYER_CONV:
    case PS_LAYER_DWCONV: {
        ps_pads pads = ps_layer_pads(l, op.in.h, op.in.w);
        op.geom = (net_geom){l->kh, l->kw, l->stride, pads.top, pads.left,
                             info[i].shape.h, info[i].shape.w};
        op.kind = is_gemm(l, info) ? OP_GEMM : l->kind == PS_LAYER_CONV ? OP_CONV : OP_DWCONV;
        op.w = wdev + info[i].w_off;
        op.epi.bias = (const float *)(wdev + info[i].b_off);
        op.epi.act = l->act;
        op.cin4 = round_up(l->cin, 4);
        if (op.kind == OP_CONV && net_stem_ok(op.geom, op.cin4, op.in.cs, op.epi.out_cs) &&
            (op.stem = (net_stem_w *)calloc(1, sizeof *op.stem)) != NULL) {
            /* [3][3][4][out_cs], zero past cin and cout */
            for (int t = 0; t < 9; t++)
                for (int ci = 0; ci < l->cin; ci++)
                    for (int co = 0; co < l->cout; co++)
                        op.stem->w[(t * 4 + ci) * op.epi.out_cs + co] =
                            l->w[((size_t)t * l->cin + ci) * l->cout + co];
            op.kind = OP_STEM;
        }
        break;
    }
    case PS_LAYER_RESIZE:
        op.kind = OP_RESIZE;
        op.factor = l->factor;
        break;
    case PS_LAYER_ACT:
        op.kind = OP_ELTWISE;
        op.epi.act = l->act;
        break;
    default: /* ADD: src plus the residual src2 */
        op.kind = OP_ELTWISE;
        break;
    }
    if (info[i].f1 >= 0) {
        const ps_layer *l1 = &net->layers[info[i].f1];
        net_fused *f = &op.fu;
        op.kind = OP_FUSED;
        f->a = op.in.p;
        f->k1 = info[l1->src].cs;
        f->w1 = (const __half *)(wdev + info[info[i].f1].w_off);
        f->b1 = (const float *)(wdev + info[info[i].f1].b_off);
        f->act1 = l1->act;
        f->n1p = round_up(l1->cout, 16);
        f->w2 = (const __half *)op.w;
        if (info[i].fdw >= 0) {
            const ps_layer *ld = &net->layers[info[i].fdw];
            ps_pads pads = ps_layer_pads(ld, op.in.h, op.in.w);
            f->in = op.in;
            f->g = (net_geom){ld->kh, ld->kw, ld->stride, pads.top, pads.left,
                              info[info[i].fdw].shape.h, info[info[i].fdw].shape.w};
            f->dw_w = (const float *)(wdev + info[info[i].fdw].w_off);
            f->dw_b = (const float *)(wdev + info[info[i].fdw].b_off);
            f->dw_act = ld->act;
        }
    }
    return op;
}

/* The stem's weights for the block kernel: FP16 [48][out_cs], row tap * 4
 * + input channel from the stem op's FP32 copy, zero past row 36. */
static ps_status stem_w1(ps_cuda_net *cn, const net_op *stem, __half **w1, ps_err *err) {
    int np = stem->epi.out_cs;
    unsigned short *h = (unsigned short *)calloc((size_t)48 * np, sizeof *h);
    if (!h) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    for (int r = 0; r < 36; r++)
        for (int c = 0; c < np; c++) h[(size_t)r * np + c] = half_bits(stem->stem->w[r * np + c]);
    ps_status st = net_alloc(cn, (void **)w1, (size_t)48 * np * 2, "stem weights", err);
    cudaError_t e;
    if (!st && (e = cudaMemcpy(*w1, h, (size_t)48 * np * 2, cudaMemcpyHostToDevice)) != cudaSuccess)
        st = cuda_fail(err, "cudaMemcpy(stem weights)", stem->name, e);
    free(h);
    return st;
}

/* Turns the last ops, when they are expansion e (if any, e >= 0: a 1x1 or
 * the stem), depthwise d and their projection, into one BLOCK op that keeps
 * them as its sub-ops. */
static ps_status op_merge_block(ps_cuda_net *cn, int e, int d, ps_err *err) {
    int n = cn->n_ops, ns = e >= 0 ? 3 : 2;
    if (n < ns || cn->ops[n - 2].layer != d || (e >= 0 && cn->ops[n - 3].layer != e)) return PS_OK;
    net_op blk = cn->ops[n - 1];
    const net_op *od = &cn->ops[n - 2], *oe = e >= 0 ? &cn->ops[n - 3] : NULL;
    if (oe && oe->kind != OP_GEMM && oe->kind != OP_STEM) return PS_OK;
    int stem = oe && oe->kind == OP_STEM;
    net_tensor in = oe ? oe->in : od->in;
    blk.bk = (net_block){in, stem ? 48 : in.cs, oe ? (const __half *)oe->w : NULL,
                         oe ? oe->epi.bias : NULL, oe ? oe->epi.act : PS_ACT_NONE,
                         od->epi.out_cs, (const float *)od->w, od->epi.bias, od->epi.act,
                         od->geom.stride, od->geom.pad_top, od->geom.pad_left, od->geom.oh,
                         od->geom.ow, (const __half *)blk.w, od->in.h, od->in.w, stem,
                         stem ? oe->geom.pad_top : 0, stem ? oe->geom.pad_left : 0};
    if (!net_block_ok(&blk.bk, &blk.epi)) return PS_OK;
    if (stem) {
        __half *w1 = NULL;
        ps_status st = stem_w1(cn, oe, &w1, err);
        if (st) return st;
        blk.bk.w1 = w1;
    }
    blk.sub = (net_op *)malloc((size_t)ns * sizeof *blk.sub);
    if (!blk.sub) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    memcpy(blk.sub, &cn->ops[n - ns], (size_t)ns * sizeof *blk.sub);
    blk.n_sub = ns;
    blk.kind = OP_BLOCK;
    cn->ops[n - ns] = blk;
    cn->n_ops = n - ns + 1;
    return PS_OK;
}

static cudaError_t op_launch(const ps_cuda_net *cn, const net_op *op, int n, cudaStream_t s) {
    switch (op->kind) {
    case OP_GEMM:
        return net_launch_gemm(op->in.p, n * op->in.h * op->in.w, op->in.cs,
                               (const __half *)op->w, op->epi.out_cs, &op->epi, cn->sms, s);
    case OP_CONV:
        return net_launch_conv(op->in, n, op->geom, (const float *)op->w, op->cin4, &op->epi, s);
    case OP_STEM:
        return net_launch_stem(op->in, n, op->geom, op->stem, &op->epi, s);
    case OP_DWCONV:
        return net_launch_dwconv(op->in, n, op->geom, (const float *)op->w, &op->epi, cn->sms, s);
    case OP_RESIZE:
        return net_launch_resize(op->in, n, op->factor, &op->epi, s);
    case OP_ELTWISE:
        return net_launch_eltwise(op->in, n, &op->epi, s);
    case OP_FUSED:
        return net_launch_fused(&op->fu, n * op->geom.oh * op->geom.ow, &op->epi, cn->sms, s);
    case OP_BLOCK:
        if (net_block_blocks(&op->bk, &op->epi, n) >= cn->block_min)
            return net_launch_block(&op->bk, n, &op->epi, s);
        for (int k = 0; k < op->n_sub; k++) {
            cudaError_t e = op_launch(cn, &op->sub[k], n, s);
            if (e != cudaSuccess) return e;
        }
        return cudaSuccess;
    }
    return cudaErrorInvalidValue;
}

/* Allocates a compact FP32 buffer for each distinct head layer. */
static ps_status heads_alloc(ps_cuda_net *cn, const ps_net *net, float **head_of, ps_err *err) {
    size_t cells = (size_t)cn->max_batch * (cn->in_h / 4) * (cn->in_w / 4);
    for (int h = 0; h < PS_NUM_HEADS; h++) {
        int i = net->heads[h];
        if (!head_of[i]) {
            ps_status st = net_alloc(cn, (void **)&head_of[i],
                                     cells * ps_head_channels[h] * sizeof(float),
                                     ps_head_nodes[h], err);
            if (st) return st;
        }
        cn->heads[h] = head_of[i];
    }
    return PS_OK;
}

/* Everything after the checks: buffers, weights, heads, ops. */
static ps_status net_build(ps_cuda_net *cn, const ps_net *net, layer_info *info, ps_err *err) {
    int nl = net->n_layers;
    buf_plan bp = {(size_t *)calloc((size_t)nl, sizeof(size_t)), (int *)malloc(sizeof(int) * nl), 0};
    void **bufs = (void **)calloc((size_t)nl, sizeof *bufs);
    float **head_of = (float **)calloc((size_t)nl, sizeof *head_of);
    cn->ops = (net_op *)calloc((size_t)nl, sizeof *cn->ops);
    ps_status st = PS_OK;
    if (!bp.size || !bp.owner || !bufs || !head_of || !cn->ops)
        st = ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    if (!st) {
        for (int b = 0; b < nl; b++) bp.owner[b] = -1;
        plan_buffers(net, info, cn->max_batch, &bp);
    }
    for (int b = 0; b < bp.n && !st; b++)
        st = net_alloc(cn, &bufs[b], bp.size[b], "activations", err);
    unsigned char *wdev = NULL;
    if (!st) st = net_alloc(cn, (void **)&cn->input,
                            (size_t)cn->max_batch * cn->in_h * cn->in_w * 4 * 2, "input", err);
    if (!st) st = weight_upload(cn, net, info, &wdev, err);
    if (!st) st = heads_alloc(cn, net, head_of, err);
    for (int i = 1; i < nl && !st; i++)
        if (info[i].buf >= 0 || head_of[i]) {
            cn->ops[cn->n_ops++] = op_build(cn, net, info, bufs, wdev, head_of[i], i);
            if (info[i].blk_d >= 0) st = op_merge_block(cn, info[i].blk_e, info[i].blk_d, err);
        }
    free(bp.size);
    free(bp.owner);
    free(bufs);
    free(head_of);
    return st;
}

ps_status ps_cuda_net_create(const ps_net *net, int input_h, int input_w, int max_batch,
                             ps_cuda_net **out, ps_err *err) {
    *out = NULL;
    if (max_batch < 1)
        return ps_err_set(err, PS_ERR_ARG, "max_batch %d: must be at least 1", max_batch);
    ps_cuda_net *cn = (ps_cuda_net *)calloc(1, sizeof *cn);
    layer_info *info = (layer_info *)calloc((size_t)net->n_layers, sizeof *info);
    if (!cn || !info) {
        free(cn);
        free(info);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    cn->in_h = input_h, cn->in_w = input_w, cn->max_batch = max_batch;
    ps_status st = plan_check(net, input_h, input_w, info, err);
    int dev = 0;
    cudaError_t e = cudaSuccess;
    if (!st && (e = cudaGetDevice(&dev)) != cudaSuccess) st = cuda_fail(err, "cudaGetDevice", NULL, e);
    if (!st && (e = cudaDeviceGetAttribute(&cn->sms, cudaDevAttrMultiProcessorCount, dev)) != cudaSuccess)
        st = cuda_fail(err, "cudaDeviceGetAttribute(multiprocessors)", NULL, e);
    if (!st && (e = cudaDeviceGetAttribute(&cn->smem_block, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                           dev)) != cudaSuccess)
        st = cuda_fail(err, "cudaDeviceGetAttribute(shared memory per block)", NULL, e);
    if (!st && (e = cudaDeviceGetAttribute(&cn->smem_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor,
                                           dev)) != cudaSuccess)
        st = cuda_fail(err, "cudaDeviceGetAttribute(shared memory per multiprocessor)", NULL, e);
    if (!st) st = plan_fuse(net, info, err);
    if (!st) st = plan_blocks(cn, net, info, err);
    if (!st && (e = cudaStreamCreateWithFlags(&cn->capture, cudaStreamNonBlocking)) != cudaSuccess)
        st = cuda_fail(err, "cudaStreamCreate", NULL, e);
    cn->graphs = (cudaGraphExec_t *)calloc((size_t)max_batch + 1, sizeof *cn->graphs);
    if (!st && !cn->graphs) st = ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    cn->block_min = 2LL * cn->sms;
    if (!st) st = net_build(cn, net, info, err);
    free(info);
    if (st) {
        ps_cuda_net_free(cn);
        return st;
    }
    *out = cn;
    return PS_OK;
}

void *ps_cuda_net_input(ps_cuda_net *cn) { return cn->input; }

const float *ps_cuda_net_head(const ps_cuda_net *cn, ps_head h) { return cn->heads[h]; }

size_t ps_cuda_net_bytes(const ps_cuda_net *cn) { return cn->bytes; }

/* Enqueues every op for n images on s. */
static ps_status net_enqueue(const ps_cuda_net *cn, int n, cudaStream_t s, ps_err *err) {
    for (int i = 0; i < cn->n_ops; i++) {
        cudaError_t e = op_launch(cn, &cn->ops[i], n, s);
        if (e != cudaSuccess) return cuda_fail(err, "kernel launch", cn->ops[i].name, e);
    }
    return PS_OK;
}

int ps_cuda_net_ops(const ps_cuda_net *cn) { return cn->n_ops; }

void ps_cuda_net_op_describe(const ps_cuda_net *cn, int i, char *buf, size_t size) {
    static const char *const kinds[] = {"gemm",   "conv",    "stem",  "dwconv",
                                        "resize", "eltwise", "fused", "block"};
    const net_op *op = &cn->ops[i];
    /* the last two or three components of the layer's name */
    const char *tail = strrchr(op->name, '/');
    tail = tail && tail > op->name ? tail : op->name;
    for (const char *p = tail; p > op->name && tail - p < 48; p--)
        if (p[-1] == '/') tail = p - 1;
    snprintf(buf, size, "%-7s %4dx%-4d k%-4d -> %-4d %s", kinds[op->kind],
             op->geom.oh ? op->geom.oh : op->in.h, op->geom.ow ? op->geom.ow : op->in.w,
             op->in.cs, op->epi.out_cs, tail + (*tail == '/'));
}

ps_status ps_cuda_net_op_run(const ps_cuda_net *cn, int i, int n, ps_cuda_stream s,
                             ps_err *err) {
    cudaError_t e = op_launch(cn, &cn->ops[i], n, (cudaStream_t)s);
    return e == cudaSuccess ? PS_OK : cuda_fail(err, "kernel launch", cn->ops[i].name, e);
}

/* Captures the forward pass of n images into cn->graphs[n]. On failure
 * ends the capture so the private stream stays usable. */
static ps_status net_capture(ps_cuda_net *cn, int n, ps_err *err) {
    cudaError_t e = cudaStreamBeginCapture(cn->capture, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) return cuda_fail(err, "cudaStreamBeginCapture", NULL, e);
    ps_status st = net_enqueue(cn, n, cn->capture, err);
    cudaGraph_t graph = NULL;
    e = cudaStreamEndCapture(cn->capture, &graph);
    if (!st && e != cudaSuccess) st = cuda_fail(err, "cudaStreamEndCapture", NULL, e);
    if (!st) {
        e = cudaGraphInstantiate(&cn->graphs[n], graph, 0);
        if (e != cudaSuccess) {
            cn->graphs[n] = NULL;
            st = cuda_fail(err, "cudaGraphInstantiate", NULL, e);
        }
    }
    if (graph) cudaGraphDestroy(graph);
    return st;
}

ps_status ps_cuda_net_capture(ps_cuda_net *cn, int n, ps_err *err) {
    if (n < 1 || n > cn->max_batch)
        return ps_err_set(err, PS_ERR_ARG, "batch of %d: must be 1 to %d", n, cn->max_batch);
    return cn->graphs[n] ? PS_OK : net_capture(cn, n, err);
}

ps_status ps_cuda_net_forward(ps_cuda_net *cn, int n, ps_cuda_stream s, ps_err *err) {
    if (n < 1 || n > cn->max_batch)
        return ps_err_set(err, PS_ERR_ARG, "batch of %d: must be 1 to %d", n, cn->max_batch);
    if (!cn->graphs[n]) return net_enqueue(cn, n, (cudaStream_t)s, err);
    cudaError_t e = cudaGraphLaunch(cn->graphs[n], (cudaStream_t)s);
    return e == cudaSuccess ? PS_OK : cuda_fail(err, "cudaGraphLaunch", NULL, e);
}

void ps_cuda_net_drop_graph(ps_cuda_net *cn, int n) {
    if (n < 1 || n > cn->max_batch || !cn->graphs[n]) return;
    cudaGraphExecDestroy(cn->graphs[n]);
    cn->graphs[n] = NULL;
}

void ps_cuda_net_set_block_min(ps_cuda_net *cn, long long blocks) {
    cn->block_min = blocks;
    for (int n = 1; n <= cn->max_batch; n++) ps_cuda_net_drop_graph(cn, n);
}

void ps_cuda_net_free(ps_cuda_net *cn) {
    if (!cn) return;
    for (int n = 0; cn->graphs && n <= cn->max_batch; n++)
        if (cn->graphs[n]) cudaGraphExecDestroy(cn->graphs[n]);
    for (int i = 0; i < cn->n_allocs; i++) cudaFree(cn->allocs[i]);
    if (cn->capture) cudaStreamDestroy(cn->capture);
    for (int i = 0; cn->ops && i < cn->n_ops; i++) {
        free(cn->ops[i].stem);
        for (int k = 0; k < cn->ops[i].n_sub; k++) free(cn->ops[i].sub[k].stem);
        free(cn->ops[i].sub);
    }
    free(cn->graphs);
    free(cn->allocs);
    free(cn->ops);
    free(cn);
}
