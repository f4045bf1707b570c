/* Building small networks by hand for the backend tests: random weights,
 * TF layouts, the INPUT layer at index 0, heads set by the caller. */
#ifndef PS_TESTS_NETBUILD_H
#define PS_TESTS_NETBUILD_H

#include <stddef.h>

#include "model/net.h"

#define NB_MAX_LAYERS 64

typedef struct {
    ps_net net;
    int chan[NB_MAX_LAYERS];        /* output channels of each layer */
    float *bufs[2 * NB_MAX_LAYERS]; /* weights and biases, freed by nb_free */
    int n_bufs;
    unsigned long long rng;
} builder;

/* calloc that exits (with file and line) when out of memory. */
void *nb_xcalloc(size_t n, size_t size);

/* Zeroed FP32 buffers for the six heads of n images of `cells` grid cells
 * each (nb_xcalloc), and their release. */
void nb_heads_alloc(float *heads[PS_NUM_HEADS], size_t n, size_t cells);
void nb_heads_free(float *heads[PS_NUM_HEADS]);

/* Compares the six heads of n images: |got - want| <= rel_tol * max(1,
 * max |want|) per head, failures counted by tu_close under "<name> n=<n>
 * <head>". */
void nb_check_heads(const char *name, int n, size_t cells, float *const got[PS_NUM_HEADS],
                    float *const want[PS_NUM_HEADS], float rel_tol);

/* An empty net holding only its INPUT layer (index 0), no normalisation. */
void nb_init(builder *b, unsigned long long seed);
void nb_free(builder *b);

/* Appends layer l with chan output channels; returns its index. */
int nb_push(builder *b, ps_layer l, int chan);

/* n uniform random floats in [-a, a), freed by nb_free. */
float *nb_rand(builder *b, size_t n, float a);

/* A CONV (dw = 0) or DWCONV (dw = 1) kh x kw layer reading src, with random
 * weights scaled so that the output's spread is about gain times the
 * input's, and a random bias. Returns its index. */
int nb_conv_any(builder *b, int dw, int src, int kh, int kw, int stride, ps_pad pad, int cout,
                ps_act act, float gain);

/* Layer conv (a CONV or DWCONV) adds layer r after its activation. */
int nb_residual(builder *b, int conv, int r);
int nb_add(builder *b, int x, int y);
int nb_act(builder *b, int src, ps_act act);
int nb_resize(builder *b, int src, int factor);

#endif
