/* Network description helpers: shape inference, cost, freeing. */
#include "model/net.h"

#include <stdlib.h>
#include <string.h>

#include "util/status.h"

static int out_size(int in, int k, int stride, ps_pad pad) {
    if (pad == PS_PAD_SAME) return (in + stride - 1) / stride;
    return in >= k ? (in - k) / stride + 1 : 0;
}

static int pad_total(int in, int k, int stride) {
    int out = (in + stride - 1) / stride;
    int t = (out - 1) * stride + k - in;
    return t > 0 ? t : 0;
}

ps_pads ps_layer_pads(const ps_layer *l, int in_h, int in_w) {
    ps_pads p = {0, 0, 0, 0};
    if (l->pad != PS_PAD_SAME) return p;
    int th = pad_total(in_h, l->kh, l->stride), tw = pad_total(in_w, l->kw, l->stride);
    p.top = th / 2;
    p.bottom = th - p.top;
    p.left = tw / 2;
    p.right = tw - p.left;
    return p;
}

static ps_status layer_shape(const ps_layer *l, const ps_shape *shapes, ps_shape *out,
                             ps_err *err) {
    const ps_shape *in = l->src >= 0 ? &shapes[l->src] : NULL;
    switch (l->kind) {
    case PS_LAYER_INPUT:
        return PS_OK; /* set by the caller */
    case PS_LAYER_CONV:
    case PS_LAYER_DWCONV:
        if (in->c != l->cin)
            return ps_err_set(err, PS_ERR_FORMAT, "layer '%s' expects %d channels, its input has %d",
                              l->name, l->cin, in->c);
        out->h = out_size(in->h, l->kh, l->stride, l->pad);
        out->w = out_size(in->w, l->kw, l->stride, l->pad);
        out->c = l->cout;
        if (out->h <= 0 || out->w <= 0)
            return ps_err_set(err, PS_ERR_ARG, "layer '%s': input %dx%d is too small",
                              l->name, in->h, in->w);
        break;
    case PS_LAYER_RESIZE:
        *out = *in;
        out->h *= l->factor;
        out->w *= l->factor;
        break;
    case PS_LAYER_ADD:
    case PS_LAYER_ACT:
        *out = *in;
        break;
    }
    if (l->src2 >= 0) {
        const ps_shape *b = &shapes[l->src2];
        if (b->h != out->h || b->w != out->w || b->c != out->c)
            return ps_err_set(err, PS_ERR_FORMAT,
                              "layer '%s' adds %dx%dx%d to %dx%dx%d", l->name, b->h, b->w, b->c,
                              out->h, out->w, out->c);
    }
    return PS_OK;
}

ps_status ps_net_shapes(const ps_net *net, int input_h, int input_w, ps_shape *shapes,
                        ps_err *err) {
    if (input_h <= 0 || input_w <= 0 || input_h % 32 || input_w % 32 || input_h > 4096 ||
        input_w > 4096)
        return ps_err_set(err, PS_ERR_ARG,
                          "input size %dx%d: width and height must be multiples of 32 "
                          "between 32 and 4096", input_w, input_h);
    for (int i = 0; i < net->n_layers; i++) {
        if (net->layers[i].kind == PS_LAYER_INPUT) {
            shapes[i] = (ps_shape){input_h, input_w, 3};
            continue;
        }
        ps_status st = layer_shape(&net->layers[i], shapes, &shapes[i], err);
        if (st) return st;
    }
    return PS_OK;
}

double ps_net_macs(const ps_net *net, const ps_shape *shapes) {
    double macs = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const ps_layer *l = &net->layers[i];
        double px = (double)shapes[i].h * shapes[i].w;
        if (l->kind == PS_LAYER_CONV) macs += px * l->kh * l->kw * l->cin * l->cout;
        if (l->kind == PS_LAYER_DWCONV) macs += px * l->kh * l->kw * l->cout;
    }
    return macs;
}

void ps_net_free(ps_net *net) {
    free(net->layers);
    free(net->weights);
    memset(net, 0, sizeof *net);
}
