/* Building small networks by hand for the backend tests (see netbuild.h). */
#include "netbuild.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

void *nb_xcalloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "%s:%d: out of memory\n", __FILE__, __LINE__);
        exit(1);
    }
    return p;
}

void nb_heads_alloc(float *heads[PS_NUM_HEADS], size_t n, size_t cells) {
    for (int h = 0; h < PS_NUM_HEADS; h++)
        heads[h] = nb_xcalloc(n * cells * (size_t)ps_head_channels[h], sizeof(float));
}

void nb_heads_free(float *heads[PS_NUM_HEADS]) {
    for (int h = 0; h < PS_NUM_HEADS; h++) free(heads[h]);
}

void nb_check_heads(const char *name, int n, size_t cells, float *const got[PS_NUM_HEADS],
                    float *const want[PS_NUM_HEADS], float rel_tol) {
    static const char *const head_names[PS_NUM_HEADS] = {"center",     "kpt_heat",  "kpt_regress",
                                                         "kpt_offset", "box_scale", "box_offset"};
    for (int h = 0; h < PS_NUM_HEADS; h++) {
        size_t size = (size_t)n * cells * ps_head_channels[h];
        float mag = 1.0f;
        for (size_t k = 0; k < size; k++) mag = fmaxf(mag, fabsf(want[h][k]));
        char label[128];
        snprintf(label, sizeof label, "%s n=%d %s", name, n, head_names[h]);
        tu_close(label, got[h], want[h], size, rel_tol * mag);
    }
}

void nb_init(builder *b, unsigned long long seed) {
    memset(b, 0, sizeof *b);
    b->rng = seed;
    b->net.layers = nb_xcalloc(NB_MAX_LAYERS, sizeof *b->net.layers);
    b->net.layers[0] = (ps_layer){.kind = PS_LAYER_INPUT, .name = "input", .src = -1, .src2 = -1};
    b->net.n_layers = 1;
    b->chan[0] = 3;
    for (int h = 0; h < PS_NUM_HEADS; h++) b->net.heads[h] = -1;
}

void nb_free(builder *b) {
    for (int i = 0; i < b->n_bufs; i++) free(b->bufs[i]);
    free(b->net.layers);
}

int nb_push(builder *b, ps_layer l, int chan) {
    if (b->net.n_layers == NB_MAX_LAYERS) {
        fprintf(stderr, "%s:%d: too many layers\n", __FILE__, __LINE__);
        exit(1);
    }
    int i = b->net.n_layers++;
    snprintf(l.name, sizeof l.name, "layer%d", i);
    b->net.layers[i] = l;
    b->chan[i] = chan;
    return i;
}

float *nb_rand(builder *b, size_t n, float a) {
    float *p = nb_xcalloc(n, sizeof *p);
    for (size_t k = 0; k < n; k++) p[k] = tu_randf(&b->rng, -a, a);
    b->bufs[b->n_bufs++] = p;
    return p;
}

int nb_conv_any(builder *b, int dw, int src, int kh, int kw, int stride, ps_pad pad, int cout,
                ps_act act, float gain) {
    int cin = b->chan[src];
    if (dw) cout = cin;
    int fan_in = kh * kw * (dw ? 1 : cin);
    float a = gain * sqrtf(3.0f / (float)fan_in);
    ps_layer l = {.kind = dw ? PS_LAYER_DWCONV : PS_LAYER_CONV, .src = src, .src2 = -1,
                  .kh = kh, .kw = kw, .stride = stride, .pad = pad, .cin = cin, .cout = cout,
                  .act = act};
    l.w = nb_rand(b, (size_t)kh * kw * (dw ? 1 : cin) * cout, a);
    l.b = nb_rand(b, (size_t)cout, 0.2f * gain);
    return nb_push(b, l, cout);
}

int nb_residual(builder *b, int conv, int r) {
    b->net.layers[conv].src2 = r;
    return conv;
}

int nb_add(builder *b, int x, int y) {
    return nb_push(b, (ps_layer){.kind = PS_LAYER_ADD, .src = x, .src2 = y}, b->chan[x]);
}

int nb_act(builder *b, int src, ps_act act) {
    return nb_push(b, (ps_layer){.kind = PS_LAYER_ACT, .src = src, .src2 = -1, .act = act},
                   b->chan[src]);
}

int nb_resize(builder *b, int src, int factor) {
    return nb_push(b, (ps_layer){.kind = PS_LAYER_RESIZE, .src = src, .src2 = -1, .factor = factor},
                   b->chan[src]);
}
