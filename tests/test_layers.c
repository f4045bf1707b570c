/* Per-layer tests of the CPU backend (src/engine/cpu/cpu_backend.c): each
 * case builds a small ps_net by hand around one layer kind (convolutions with
 * TF SAME/VALID padding, depthwise, bilinear resize, fused and unfused
 * activations, residual adds in place and copied, unfused adds, heads that
 * are not convolutions, batches of several images), fills it with random
 * weights, runs it on random images and compares all six heads with a naive
 * reference written from TF's definitions (nested loops, double sums).
 *
 * Tolerance: |backend - reference| <= 1e-4 * max(1, max |reference|) per head
 * and batch. Every net is run with batches of 1 and 3 on one backend state
 * (cfg.threads = 2, max_batch = 3), every image different and checked. Every
 * ReLU/ReLU6/sigmoid output is also checked to reach both sides of its kinks,
 * so that a wrong clip cannot hide. No model needed. */
#include "engine/backend.h"
#include "netbuild.h"
#include "testutil.h"

#include <math.h>
#include <string.h>

#define REL_TOL 1e-4f
#define MAX_BATCH 3

static int nb_conv(builder *b, int src, int k, int stride, ps_pad pad, int cout, ps_act act,
                   float gain)
{
    return nb_conv_any(b, 0, src, k, k, stride, pad, cout, act, gain);
}

static int nb_dw(builder *b, int src, int k, int stride, ps_act act, float gain)
{
    return nb_conv_any(b, 1, src, k, k, stride, PS_PAD_SAME, 0, act, gain);
}

/* The usual start: [H,W,3] -> conv 3x3 stride 2 SAME -> [H/2,W/2,8]. */
static int nb_stem(builder *b)
{
    return nb_conv(b, 0, 3, 2, PS_PAD_SAME, 8, PS_ACT_NONE, 1.0f);
}

/* Halves a feature map with a 3x3 stride 2 SAME conv, which reads every
 * input pixel (a 1x1 stride 2 would skip the odd ones). */
static int nb_down(builder *b, int src, int cout)
{
    return nb_conv(b, src, 3, 2, PS_PAD_SAME, cout, PS_ACT_NONE, 1.0f);
}

/* The six heads as 1x1 convs of feat ([H/4,W/4,C]), sigmoid on the first
 * two as in MoveNet: [H/4,W/4,ps_head_channels[h]]. */
static void nb_heads(builder *b, int feat)
{
    for (int h = 0; h < PS_NUM_HEADS; h++)
        b->net.heads[h] = nb_conv(b, feat, 1, 1, PS_PAD_SAME, ps_head_channels[h],
                                  h < 2 ? PS_ACT_SIGMOID : PS_ACT_NONE, 1.0f);
}

/* ---- naive reference, one image at a time ---- */

typedef struct {
    int h, w, c;
    float *d; /* [h][w][c] */
} tensor;

static float *tat(const tensor *t, int y, int x, int c)
{
    return t->d + ((size_t)y * t->w + x) * t->c + c;
}

static void t_alloc(tensor *t, int h, int w, int c)
{
    *t = (tensor){h, w, c, nb_xcalloc((size_t)h * w * c, sizeof(float))};
}

static double ref_act(ps_act act, double v)
{
    switch (act) {
    case PS_ACT_RELU: return v > 0 ? v : 0;
    case PS_ACT_RELU6: return v < 0 ? 0 : v > 6 ? 6 : v;
    case PS_ACT_SIGMOID: return 1 / (1 + exp(-v));
    case PS_ACT_NONE: break;
    }
    return v;
}

/* TF output size and leading pad of one spatial dim: SAME gives
 * ceil(in / s) and pads max((out - 1) * s + k - in, 0) in total, the extra
 * pixel after; VALID gives (in - k) / s + 1 and no pad. */
static int ref_out_size(ps_pad pad, int in, int k, int s, int *lead)
{
    if (pad == PS_PAD_VALID) {
        *lead = 0;
        return (in - k) / s + 1;
    }
    int out = (in + s - 1) / s, total = (out - 1) * s + k - in;
    *lead = total > 0 ? total / 2 : 0;
    return out;
}

/* CONV / DWCONV: [h,w,cin] -> [oh,ow,cout], activation, then + src2. */
static void ref_conv(const ps_layer *l, const tensor *in, const tensor *res, tensor *out)
{
    int top, left;
    int oh = ref_out_size(l->pad, in->h, l->kh, l->stride, &top);
    int ow = ref_out_size(l->pad, in->w, l->kw, l->stride, &left);
    int dw = l->kind == PS_LAYER_DWCONV;
    t_alloc(out, oh, ow, l->cout);
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
            for (int co = 0; co < l->cout; co++) {
                double acc = l->b ? l->b[co] : 0;
                for (int ky = 0; ky < l->kh; ky++)
                    for (int kx = 0; kx < l->kw; kx++) {
                        int iy = oy * l->stride - top + ky, ix = ox * l->stride - left + kx;
                        if (iy < 0 || iy >= in->h || ix < 0 || ix >= in->w) continue;
                        const float *w = l->w + (size_t)(ky * l->kw + kx) * (dw ? 1 : l->cin) * l->cout;
                        if (dw) {
                            acc += (double)*tat(in, iy, ix, co) * w[co];
                            continue;
                        }
                        for (int ci = 0; ci < l->cin; ci++)
                            acc += (double)*tat(in, iy, ix, ci) * w[(size_t)ci * l->cout + co];
                    }
                double v = ref_act(l->act, acc);
                if (res) v += *tat(res, oy, ox, co);
                *tat(out, oy, ox, co) = (float)v;
            }
}

/* Source index and weight of bilinear sampling along one dim, TF with
 * half_pixel_centers: src = (dst + 0.5) / f - 0.5, clamped at the edges. */
static void ref_lerp(int dst, int f, int size, int *lo, int *hi, double *frac)
{
    double src = (dst + 0.5) / f - 0.5, fl = floor(src);
    *lo = fl < 0 ? 0 : (int)fl;
    *hi = (int)ceil(src) > size - 1 ? size - 1 : (int)ceil(src);
    *frac = src - fl;
}

/* RESIZE: [h,w,c] -> [h*f,w*f,c]. */
static void ref_resize(const ps_layer *l, const tensor *in, tensor *out)
{
    t_alloc(out, in->h * l->factor, in->w * l->factor, in->c);
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++) {
            int y0, y1, x0, x1;
            double fy, fx;
            ref_lerp(y, l->factor, in->h, &y0, &y1, &fy);
            ref_lerp(x, l->factor, in->w, &x0, &x1, &fx);
            for (int c = 0; c < in->c; c++) {
                double top = *tat(in, y0, x0, c) + (*tat(in, y0, x1, c) - *tat(in, y0, x0, c)) * fx;
                double bot = *tat(in, y1, x0, c) + (*tat(in, y1, x1, c) - *tat(in, y1, x0, c)) * fx;
                *tat(out, y, x, c) = (float)(top + (bot - top) * fy);
            }
        }
}

/* ADD (b != NULL) or ACT: elementwise over [h,w,c]. */
static void ref_elementwise(const ps_layer *l, const tensor *a, const tensor *b, tensor *out)
{
    t_alloc(out, a->h, a->w, a->c);
    size_t n = (size_t)a->h * a->w * a->c;
    for (size_t k = 0; k < n; k++)
        out->d[k] = b ? (float)((double)a->d[k] + b->d[k]) : (float)ref_act(l->act, a->d[k]);
}

/* Runs net on one [H,W,3] image; t[i] receives layer i's output. */
static void ref_net(const ps_net *net, const float *img, int H, int W, tensor *t)
{
    for (int i = 0; i < net->n_layers; i++) {
        const ps_layer *l = &net->layers[i];
        const tensor *in = l->src >= 0 ? &t[l->src] : NULL;
        const tensor *in2 = l->src2 >= 0 ? &t[l->src2] : NULL;
        switch (l->kind) {
        case PS_LAYER_INPUT:
            t_alloc(&t[i], H, W, 3);
            memcpy(t[i].d, img, sizeof(float) * (size_t)H * W * 3);
            break;
        case PS_LAYER_CONV:
        case PS_LAYER_DWCONV: ref_conv(l, in, in2, &t[i]); break;
        case PS_LAYER_RESIZE: ref_resize(l, in, &t[i]); break;
        case PS_LAYER_ADD:
        case PS_LAYER_ACT: ref_elementwise(l, in, in2, &t[i]); break;
        }
    }
}

static int is_head(const ps_net *net, int i)
{
    for (int h = 0; h < PS_NUM_HEADS; h++)
        if (net->heads[h] == i) return 1;
    return 0;
}

/* Each ReLU / ReLU6 / sigmoid output inside the net (not a head, not followed
 * by a residual) must have at least 5% of its values on each side of every
 * kink: at 0 and above for ReLU; at 0, between and at 6 for ReLU6; below and
 * above 0.5 for sigmoid. */
static void check_act_spread(const char *name, const ps_net *net, const tensor *t)
{
    for (int i = 1; i < net->n_layers; i++) {
        const ps_layer *l = &net->layers[i];
        if (l->kind == PS_LAYER_ADD || l->kind == PS_LAYER_RESIZE || l->act == PS_ACT_NONE ||
            l->src2 >= 0 || is_head(net, i))
            continue;
        size_t n = (size_t)t[i].h * t[i].w * t[i].c, lo = 0, mid = 0, hi = 0;
        for (size_t k = 0; k < n; k++) {
            float v = t[i].d[k];
            if (l->act == PS_ACT_SIGMOID) lo += v < 0.5f, hi += v > 0.5f;
            else lo += v == 0, mid += v > 0 && v < 6, hi += v == 6;
        }
        int ok = l->act == PS_ACT_RELU ? lo >= n / 20 && mid + hi >= n / 20
                                       : lo >= n / 20 && hi >= n / 20 &&
                                             (l->act == PS_ACT_SIGMOID || mid >= n / 20);
        if (!ok) {
            fprintf(stderr, "%s: layer %d's activation is not exercised (%zu low, %zu mid, "
                    "%zu high of %zu)\n", name, i, lo, mid, hi, n);
            tu_failures++;
        }
    }
}

/* ---- the check: backend vs reference ---- */

/* Runs batches of batch[0..n_batches) images through one backend state and
 * compares every head of every image with the reference. */
static void check_net_batches(const char *name, const ps_net *net, int H, int W,
                              const int *batch, int n_batches)
{
    ps_backend_config cfg = {.input_h = H, .input_w = W, .max_batch = MAX_BATCH, .threads = 2};
    ps_err err = {0};
    void *state = NULL;
    if (ps_backend_cpu.init(&state, net, &cfg, &err)) {
        fprintf(stderr, "%s: init: %s\n", name, err.msg);
        tu_failures++;
        return;
    }
    unsigned long long rng = 0x5eed0000ULL + (unsigned long long)H * W + (unsigned long long)net->n_layers;
    size_t img = (size_t)H * W * 3, cells = (size_t)(H / 4) * (W / 4);
    float *input = nb_xcalloc(MAX_BATCH * img, sizeof(float));
    float *got[PS_NUM_HEADS], *want[PS_NUM_HEADS];
    nb_heads_alloc(got, MAX_BATCH, cells);
    nb_heads_alloc(want, MAX_BATCH, cells);
    tensor *t = nb_xcalloc((size_t)net->n_layers, sizeof *t);
    for (int r = 0; r < n_batches; r++) {
        int n = batch[r];
        for (size_t k = 0; k < (size_t)n * img; k++) input[k] = tu_randf(&rng, -2.0f, 2.0f);
        for (int h = 0; h < PS_NUM_HEADS; h++) /* NaN: an unwritten head fails */
            for (size_t k = 0; k < (size_t)n * cells * ps_head_channels[h]; k++) got[h][k] = NAN;
        if (ps_backend_cpu.run(state, input, n, got, &err)) {
            fprintf(stderr, "%s: run (batch %d): %s\n", name, n, err.msg);
            tu_failures++;
            break;
        }
        for (int b = 0; b < n; b++) {
            ref_net(net, input + b * img, H, W, t);
            if (b == 0) check_act_spread(name, net, t);
            for (int h = 0; h < PS_NUM_HEADS; h++) {
                const tensor *o = &t[net->heads[h]];
                size_t size = cells * (size_t)ps_head_channels[h];
                TU_CHECK(o->h == H / 4 && o->w == W / 4 && o->c == ps_head_channels[h]);
                memcpy(want[h] + b * size, o->d, size * sizeof(float));
            }
            for (int i = 0; i < net->n_layers; i++) free(t[i].d);
        }
        nb_check_heads(name, n, cells, got, want, REL_TOL);
    }
    free(t);
    nb_heads_free(got);
    nb_heads_free(want);
    free(input);
    ps_backend_cpu.free(state);
}

/* The default: batches of 1 then 3 on the same state. */
static void check_net(const char *name, builder *b, int H, int W)
{
    static const int batches[] = {1, 3};
    check_net_batches(name, &b->net, H, W, batches, 2);
    nb_free(b);
}

/* ---- convolutions ---- */

/* [64,32,3] -stem-> [32,16,8] -conv 3x3 s2 SAME-> [16,8,16]: even sizes,
 * pads 0 above/left and 1 below/right. */
static void test_conv3x3_s2_same_even(void)
{
    builder b;
    nb_init(&b, 1);
    int x = nb_stem(&b);
    nb_heads(&b, nb_conv(&b, x, 3, 2, PS_PAD_SAME, 16, PS_ACT_NONE, 1.0f));
    check_net("conv3x3_s2_same_even", &b, 64, 32);
}

/* [64,32,3] -stem-> [32,16,8] -conv 2x1 VALID-> [31,16,8] -conv 3x3 s2
 * SAME-> [16,8,16]: odd height (pads 1/1) next to even width (pads 0/1). */
static void test_conv3x3_s2_same_odd(void)
{
    builder b;
    nb_init(&b, 2);
    int x = nb_stem(&b);
    x = nb_conv_any(&b, 0, x, 2, 1, 1, PS_PAD_VALID, 8, PS_ACT_NONE, 1.0f);
    nb_heads(&b, nb_conv(&b, x, 3, 2, PS_PAD_SAME, 16, PS_ACT_NONE, 1.0f));
    check_net("conv3x3_s2_same_odd", &b, 64, 32);
}

/* [32,32,3] -stem-> [16,16,8] -conv 5x5 s2 SAME-> [8,8,16]: pads 1 before,
 * 2 after. */
static void test_conv5x5_s2_same(void)
{
    builder b;
    nb_init(&b, 3);
    int x = nb_stem(&b);
    nb_heads(&b, nb_conv(&b, x, 5, 2, PS_PAD_SAME, 16, PS_ACT_NONE, 1.0f));
    check_net("conv5x5_s2_same", &b, 32, 32);
}

/* [32,32,3] -stem-> [16,16,8] -conv 3x3 s1 SAME-> [16,16,12] -down-> [8,8,16]. */
static void test_conv3x3_s1_same(void)
{
    builder b;
    nb_init(&b, 4);
    int x = nb_conv(&b, nb_stem(&b), 3, 1, PS_PAD_SAME, 12, PS_ACT_NONE, 1.0f);
    nb_heads(&b, nb_down(&b, x, 16));
    check_net("conv3x3_s1_same", &b, 32, 32);
}

/* [32,32,3] -stem-> [16,16,8] -conv 1x1-> [16,16,24] -down-> [8,8,16]. */
static void test_conv1x1(void)
{
    builder b;
    nb_init(&b, 5);
    int x = nb_conv(&b, nb_stem(&b), 1, 1, PS_PAD_SAME, 24, PS_ACT_NONE, 1.0f);
    nb_heads(&b, nb_down(&b, x, 16));
    check_net("conv1x1", &b, 32, 32);
}

/* [32,32,3] -stem-> [16,16,8] -conv 3x3 VALID-> [14,14,12] -conv 7x7
 * VALID-> [8,8,16]. */
static void test_conv_valid(void)
{
    builder b;
    nb_init(&b, 6);
    int x = nb_conv(&b, nb_stem(&b), 3, 1, PS_PAD_VALID, 12, PS_ACT_NONE, 1.0f);
    nb_heads(&b, nb_conv(&b, x, 7, 1, PS_PAD_VALID, 16, PS_ACT_NONE, 1.0f));
    check_net("conv_valid", &b, 32, 32);
}

/* ---- depthwise ---- */

/* [32,32,3] -stem-> [16,16,8] -dw 3x3 s1-> [16,16,8] -down-> [8,8,16]. */
static void test_dw3x3_s1(void)
{
    builder b;
    nb_init(&b, 7);
    int x = nb_dw(&b, nb_stem(&b), 3, 1, PS_ACT_NONE, 1.0f);
    nb_heads(&b, nb_down(&b, x, 16));
    check_net("dw3x3_s1", &b, 32, 32);
}

/* [64,32,3] -stem-> [32,16,8] -dw 3x3 s2-> [16,8,8]: pads 0/1. */
static void test_dw3x3_s2_even(void)
{
    builder b;
    nb_init(&b, 8);
    nb_heads(&b, nb_dw(&b, nb_stem(&b), 3, 2, PS_ACT_NONE, 1.0f));
    check_net("dw3x3_s2_even", &b, 64, 32);
}

/* [64,32,3] -stem-> [32,16,8] -conv 2x1 VALID-> [31,16,8] -dw 3x3 s2->
 * [16,8,8]: pads 1/1 in height, 0/1 in width. */
static void test_dw3x3_s2_odd(void)
{
    builder b;
    nb_init(&b, 9);
    int x = nb_conv_any(&b, 0, nb_stem(&b), 2, 1, 1, PS_PAD_VALID, 8, PS_ACT_NONE, 1.0f);
    nb_heads(&b, nb_dw(&b, x, 3, 2, PS_ACT_NONE, 1.0f));
    check_net("dw3x3_s2_odd", &b, 64, 32);
}

/* ---- resize ---- */

/* [64,32,3] -stem-> [32,16,8] -down-> [16,8,16] -down-> [8,4,16] -resize x2->
 * [16,8,16] -conv 3x3-> [16,8,16]: from a 4-wide map, so edges dominate. */
static void test_resize_x2_conv(void)
{
    builder b;
    nb_init(&b, 10);
    int x = nb_down(&b, nb_down(&b, nb_stem(&b), 16), 16);
    x = nb_conv(&b, nb_resize(&b, x, 2), 3, 1, PS_PAD_SAME, 16, PS_ACT_NONE, 1.0f);
    nb_heads(&b, x);
    check_net("resize_x2_conv", &b, 64, 32);
}

/* [64,32,3] -stem-> [32,16,8] -down x2-> [8,4,16] -down-> [4,2,16] -resize
 * x4-> [16,8,16] -conv 3x3-> [16,8,16]. */
static void test_resize_x4_conv(void)
{
    builder b;
    nb_init(&b, 11);
    int x = nb_down(&b, nb_down(&b, nb_down(&b, nb_stem(&b), 16), 16), 16);
    x = nb_conv(&b, nb_resize(&b, x, 4), 3, 1, PS_PAD_SAME, 16, PS_ACT_NONE, 1.0f);
    nb_heads(&b, x);
    check_net("resize_x4_conv", &b, 64, 32);
}

/* ---- fused activations ---- */

/* [32,32,3] -stem-> [16,16,8] -conv 3x3 + act-> [16,16,12] -down-> [8,8,16];
 * gain spreads the pre-activation over the act's kinks. */
static void check_fused_act(const char *name, ps_act act, float gain, int dw)
{
    builder b;
    nb_init(&b, 12 + (unsigned long long)act);
    int x = nb_conv_any(&b, dw, nb_stem(&b), 3, 3, 1, PS_PAD_SAME, 12, act, gain);
    nb_heads(&b, nb_down(&b, x, 16));
    check_net(name, &b, 32, 32);
}

static void test_fused_acts(void)
{
    check_fused_act("fused_relu", PS_ACT_RELU, 1.0f, 0);
    check_fused_act("fused_relu6", PS_ACT_RELU6, 12.0f, 0);
    check_fused_act("fused_sigmoid", PS_ACT_SIGMOID, 3.0f, 0);
    check_fused_act("fused_dw_relu6", PS_ACT_RELU6, 12.0f, 1);
}

/* ---- residual adds fused into convolutions ---- */

/* An inverted bottleneck on x = [16,16,8]: 1x1 to 16, ReLU6 -> dw 3x3,
 * ReLU6 -> 1x1 to 8 with ReLU6 (so "add after the activation" shows)
 * + x. Returns the projection. */
static int nb_bottleneck(builder *b, int x)
{
    int e = nb_conv(b, x, 1, 1, PS_PAD_SAME, 16, PS_ACT_RELU6, 12.0f);
    int d = nb_dw(b, e, 3, 1, PS_ACT_RELU6, 2.0f);
    return nb_residual(b, nb_conv(b, d, 1, 1, PS_PAD_SAME, 8, PS_ACT_RELU6, 12.0f), x);
}

/* x has no reader after the projection: the backend adds in place. */
static void test_residual_last_reader(void)
{
    builder b;
    nb_init(&b, 20);
    nb_heads(&b, nb_down(&b, nb_bottleneck(&b, nb_stem(&b)), 16));
    check_net("residual_last_reader", &b, 32, 32);
}

/* x is read again after the projection p (by q), so the backend copies x
 * into p's buffer; p + q then goes through an unfused ADD. */
static void test_residual_read_later(void)
{
    builder b;
    nb_init(&b, 21);
    int x = nb_stem(&b);
    int p = nb_bottleneck(&b, x);
    int q = nb_conv(&b, x, 3, 1, PS_PAD_SAME, 8, PS_ACT_NONE, 1.0f);
    nb_heads(&b, nb_down(&b, nb_add(&b, p, q), 16));
    check_net("residual_read_later", &b, 32, 32);
}

/* Residual convs in a chain, each the last reader of the residual before:
 * x -> r1 = conv3x3(conv1x1(x)) + x -> r2 = conv1x1(dw(r1)) + r1 -> down. */
static void test_residual_chain(void)
{
    builder b;
    nb_init(&b, 22);
    int x = nb_stem(&b);
    int a = nb_conv(&b, x, 1, 1, PS_PAD_SAME, 12, PS_ACT_NONE, 1.0f);
    int r1 = nb_residual(&b, nb_conv(&b, a, 3, 1, PS_PAD_SAME, 8, PS_ACT_RELU, 1.0f), x);
    int d = nb_dw(&b, r1, 3, 1, PS_ACT_NONE, 1.0f);
    int r2 = nb_residual(&b, nb_conv(&b, d, 1, 1, PS_PAD_SAME, 8, PS_ACT_NONE, 1.0f), r1);
    nb_heads(&b, nb_down(&b, r2, 16));
    check_net("residual_chain", &b, 32, 32);
}

/* A conv whose input is also its residual, y = conv3x3(x) + x, x read by
 * nothing after: in place would overwrite the input while reading it. */
static void test_residual_same_source(void)
{
    builder b;
    nb_init(&b, 23);
    int x = nb_stem(&b);
    int y = nb_residual(&b, nb_conv(&b, x, 3, 1, PS_PAD_SAME, 8, PS_ACT_NONE, 1.0f), x);
    nb_heads(&b, nb_down(&b, y, 16));
    check_net("residual_same_source", &b, 32, 32);
}

/* Heads with residuals: the sum lands in the caller's buffers. Both box
 * heads add the same [8,8,2] layer r; kpt_heat adds a [8,8,17] one. */
static void test_residual_heads(void)
{
    builder b;
    nb_init(&b, 24);
    int f = nb_down(&b, nb_stem(&b), 16);
    nb_heads(&b, f);
    int r = nb_conv(&b, f, 3, 1, PS_PAD_SAME, 2, PS_ACT_NONE, 1.0f);
    int r17 = nb_conv(&b, f, 3, 1, PS_PAD_SAME, 17, PS_ACT_NONE, 1.0f);
    b.net.heads[PS_HEAD_BOX_SCALE] = nb_residual(&b, nb_conv(&b, f, 1, 1, PS_PAD_SAME, 2, PS_ACT_NONE, 1.0f), r);
    b.net.heads[PS_HEAD_BOX_OFFSET] = nb_residual(&b, nb_conv(&b, f, 1, 1, PS_PAD_SAME, 2, PS_ACT_RELU, 1.0f), r);
    b.net.heads[PS_HEAD_KPT_HEAT] = nb_residual(&b, nb_conv(&b, f, 1, 1, PS_PAD_SAME, 17, PS_ACT_SIGMOID, 1.0f), r17);
    check_net("residual_heads", &b, 32, 32);
}

/* ---- unfused layers ---- */

/* ADD at the input, [32,32,3] + conv3x3([32,32,3]) (the input is NHWC, the
 * conv's output may not be), and at [16,16,8]: conv3x3(x) + conv1x1(x). */
static void test_add_unfused(void)
{
    builder b;
    nb_init(&b, 30);
    int in = nb_add(&b, nb_conv(&b, 0, 3, 1, PS_PAD_SAME, 3, PS_ACT_NONE, 1.0f), 0);
    int x = nb_conv(&b, in, 3, 2, PS_PAD_SAME, 8, PS_ACT_NONE, 1.0f);
    int s = nb_add(&b, nb_conv(&b, x, 3, 1, PS_PAD_SAME, 8, PS_ACT_NONE, 1.0f),
                   nb_conv(&b, x, 1, 1, PS_PAD_SAME, 8, PS_ACT_NONE, 1.0f));
    nb_heads(&b, nb_down(&b, s, 16));
    check_net("add_unfused", &b, 32, 32);
}

/* [16,16,8] -conv-> ReLU6 -conv-> ReLU -conv-> sigmoid, each its own ACT
 * layer, -down-> [8,8,16]. */
static void test_act_unfused(void)
{
    builder b;
    nb_init(&b, 31);
    int x = nb_act(&b, nb_conv(&b, nb_stem(&b), 3, 1, PS_PAD_SAME, 8, PS_ACT_NONE, 12.0f),
                   PS_ACT_RELU6);
    x = nb_act(&b, nb_conv(&b, x, 3, 1, PS_PAD_SAME, 8, PS_ACT_NONE, 0.5f), PS_ACT_RELU);
    x = nb_act(&b, nb_conv(&b, x, 1, 1, PS_PAD_SAME, 8, PS_ACT_NONE, 2.0f), PS_ACT_SIGMOID);
    nb_heads(&b, nb_down(&b, x, 16));
    check_net("act_unfused", &b, 32, 32);
}

/* ---- heads ---- */

/* Heads that are not convolutions (the backend reorders them into NHWC):
 * center = ACT sigmoid, kpt_heat = RESIZE x2 of [8,4,17], kpt_regress = ADD
 * of a conv and the kpt_offset head (a head read by a later layer),
 * box_scale = ACT ReLU; box_offset stays a conv. Input [64,32,3]. */
static void test_heads_not_conv(void)
{
    builder b;
    nb_init(&b, 40);
    int f = nb_down(&b, nb_stem(&b), 16); /* [16,8,16] */
    ps_net *n = &b.net;
    n->heads[PS_HEAD_CENTER] =
        nb_act(&b, nb_conv(&b, f, 3, 1, PS_PAD_SAME, 1, PS_ACT_NONE, 2.0f), PS_ACT_SIGMOID);
    n->heads[PS_HEAD_KPT_HEAT] =
        nb_resize(&b, nb_conv(&b, f, 3, 2, PS_PAD_SAME, 17, PS_ACT_NONE, 1.0f), 2);
    n->heads[PS_HEAD_KPT_OFFSET] = nb_conv(&b, f, 1, 1, PS_PAD_SAME, 34, PS_ACT_NONE, 1.0f);
    n->heads[PS_HEAD_KPT_REGRESS] = nb_add(&b, nb_conv(&b, f, 3, 1, PS_PAD_SAME, 34, PS_ACT_NONE, 1.0f),
                                           n->heads[PS_HEAD_KPT_OFFSET]);
    n->heads[PS_HEAD_BOX_SCALE] =
        nb_act(&b, nb_conv(&b, f, 1, 1, PS_PAD_SAME, 2, PS_ACT_NONE, 1.0f), PS_ACT_RELU);
    n->heads[PS_HEAD_BOX_OFFSET] = nb_conv(&b, f, 1, 1, PS_PAD_SAME, 2, PS_ACT_NONE, 1.0f);
    check_net("heads_not_conv", &b, 64, 32);
}

/* kpt_regress and kpt_offset are the same conv layer: both caller buffers
 * must receive it. */
static void test_heads_shared_layer(void)
{
    builder b;
    nb_init(&b, 41);
    nb_heads(&b, nb_down(&b, nb_stem(&b), 16));
    b.net.heads[PS_HEAD_KPT_OFFSET] = b.net.heads[PS_HEAD_KPT_REGRESS];
    check_net("heads_shared_layer", &b, 32, 32);
}

/* ---- batches ---- */

/* A MoveNet in miniature on [64,32,3]: stem, bottlenecks with residuals,
 * a stride-2 stage, a top-down x2 resize added to the lateral branch, and
 * the six conv heads; run with batches 1, 3, 2, 1 on one state. */
static void test_batches(void)
{
    builder b;
    nb_init(&b, 50);
    int x = nb_bottleneck(&b, nb_stem(&b));           /* [32,16,8] */
    int s8 = nb_dw(&b, nb_down(&b, x, 16), 3, 1, PS_ACT_RELU6, 12.0f); /* [16,8,16] */
    int s16 = nb_conv(&b, nb_dw(&b, s8, 3, 2, PS_ACT_NONE, 1.0f), 1, 1, PS_PAD_SAME, 16,
                      PS_ACT_RELU, 1.0f);             /* [8,4,16] */
    int up = nb_add(&b, nb_resize(&b, s16, 2), nb_conv(&b, s8, 1, 1, PS_PAD_SAME, 16,
                                                       PS_ACT_NONE, 1.0f)); /* [16,8,16] */
    nb_heads(&b, nb_conv(&b, up, 3, 1, PS_PAD_SAME, 24, PS_ACT_RELU, 1.0f));
    static const int batches[] = {1, 3, 2, 1};
    check_net_batches("batches", &b.net, 64, 32, batches, 4);
    nb_free(&b);
}

int main(void)
{
    test_conv3x3_s2_same_even();
    test_conv3x3_s2_same_odd();
    test_conv5x5_s2_same();
    test_conv3x3_s1_same();
    test_conv1x1();
    test_conv_valid();
    test_dw3x3_s1();
    test_dw3x3_s2_even();
    test_dw3x3_s2_odd();
    test_resize_x2_conv();
    test_resize_x4_conv();
    test_fused_acts();
    test_residual_last_reader();
    test_residual_read_later();
    test_residual_chain();
    test_residual_same_source();
    test_residual_heads();
    test_add_unfused();
    test_act_unfused();
    test_heads_not_conv();
    test_heads_shared_layer();
    test_batches();
    return tu_finish("test_layers");
}
