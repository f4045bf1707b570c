/* CPU backend on oneDNN. For each batch size it builds a plan once: one
 * oneDNN primitive per layer in the layouts oneDNN prefers (blocked channels
 * on AVX2/AVX-512), with activations and residual adds fused as post-ops,
 * reorders only where a consumer wants another layout, and activation
 * buffers shared between layers whose lifetimes do not overlap. The heads are
 * written straight into the caller's NHWC buffers. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "engine/cpu/dnnl_util.h"
#include "util/status.h"

typedef struct {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[5];
} ps_step;

/* One activation buffer, reused by layers that are not alive together. */
typedef struct {
    size_t size;
    int owner; /* layer whose output lives here, -1 when free */
    void *data;
} ps_slot;

typedef struct {
    int n;              /* batch size */
    ps_step *steps;
    int n_steps;
    dnnl_memory_t *mems; /* every memory object the plan made */
    int n_mems;
    void **bufs;         /* buffers it allocated outside the slots */
    int n_bufs;
    ps_slot *slots;
    int n_slots;
    dnnl_memory_desc_t *md; /* per layer: layout of its output */
    dnnl_memory_t *out;     /* per layer: its output */
    int *slot_of;           /* per layer: slot index, or -1 */
    dnnl_memory_t input;    /* normalised input, NHWC */
    float *input_buf;
    dnnl_memory_t head_mem[PS_NUM_HEADS]; /* NHWC, caller's buffers */
} ps_plan;

typedef struct {
    const ps_net *net;
    ps_backend_config cfg;
    ps_shape *shapes;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    ps_plan **plans; /* per batch size 1..max_batch, built on first use */
    ps_plan **lanes; /* [threads]: one-image plans for one thread each, so that
                        frames run side by side, one per core (first use) */
    dnnl_stream_t *lane_streams;
    size_t bytes;
} ps_cpu;

static ps_status plan_add_mem(ps_plan *p, dnnl_memory_t m, ps_err *err) {
    dnnl_memory_t *grown = realloc(p->mems, sizeof *grown * (size_t)(p->n_mems + 1));
    if (!grown) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    p->mems = grown;
    p->mems[p->n_mems++] = m;
    return PS_OK;
}

/* Makes a memory object over a buffer the plan allocates and owns. */
static ps_status plan_new_mem(ps_cpu *cpu, ps_plan *p, const dnnl_memory_desc_t *md,
                              dnnl_memory_t *m, ps_err *err) {
    size_t size = dnnl_memory_desc_get_size(md);
    void **grown = realloc(p->bufs, sizeof *grown * (size_t)(p->n_bufs + 1));
    if (!grown) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    p->bufs = grown;
    void *buf = aligned_alloc(64, (size + 63) / 64 * 64);
    if (!buf) return ps_err_set(err, PS_ERR_NOMEM, "out of memory (%zu bytes)", size);
    p->bufs[p->n_bufs++] = buf;
    cpu->bytes += size;
    PS_DNNL(dnnl_memory_create(m, md, cpu->engine, buf), "memory", err);
    return plan_add_mem(p, *m, err);
}

static ps_status plan_add_step(ps_plan *p, dnnl_primitive_t prim, int nargs,
                               const dnnl_exec_arg_t *args, ps_err *err) {
    ps_step *grown = realloc(p->steps, sizeof *grown * (size_t)(p->n_steps + 1));
    if (!grown) {
        dnnl_primitive_destroy(prim);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    p->steps = grown;
    ps_step *s = &p->steps[p->n_steps++];
    s->prim = prim;
    s->nargs = nargs;
    memcpy(s->args, args, sizeof *args * (size_t)nargs);
    return PS_OK;
}

/* Adds a step running primitive descriptor pd (consumed) with args. */
static ps_status plan_add_pd(ps_plan *p, dnnl_primitive_desc_t pd, int nargs,
                             const dnnl_exec_arg_t *args, ps_err *err) {
    dnnl_primitive_t prim;
    dnnl_status_t s = dnnl_primitive_create(&prim, pd);
    dnnl_primitive_desc_destroy(pd);
    PS_DNNL(s, "primitive", err);
    return plan_add_step(p, prim, nargs, args, err);
}

/* Returns in *m layer j's output in layout md, adding a reorder when its own
 * layout differs. */
static ps_status plan_view(ps_cpu *cpu, ps_plan *p, int j, const dnnl_memory_desc_t *md,
                           dnnl_memory_t *m, ps_err *err) {
    if (dnnl_memory_desc_equal(&p->md[j], md)) {
        *m = p->out[j];
        return PS_OK;
    }
    ps_status st = plan_new_mem(cpu, p, md, m, err);
    if (st) return st;
    dnnl_primitive_desc_t pd;
    PS_DNNL(dnnl_reorder_primitive_desc_create(&pd, &p->md[j], cpu->engine, md, cpu->engine, NULL),
            "reorder", err);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, p->out[j]}, {DNNL_ARG_TO, *m}};
    return plan_add_pd(p, pd, 2, args, err);
}

static int is_conv_layer(const ps_layer *l) {
    return l->kind == PS_LAYER_CONV || l->kind == PS_LAYER_DWCONV;
}

static int is_head(const ps_net *net, int i) {
    for (int h = 0; h < PS_NUM_HEADS; h++)
        if (net->heads[h] == i) return 1;
    return 0;
}

/* Index of the last layer reading layer j's output (n_layers for heads). */
static int last_use(const ps_net *net, int j) {
    if (is_head(net, j)) return net->n_layers;
    int last = j;
    for (int i = j + 1; i < net->n_layers; i++)
        if (net->layers[i].src == j || net->layers[i].src2 == j) last = i;
    return last;
}

/* Finds a buffer for layer i's output of size bytes among slots whose owners
 * are dead by layer i. Buffers are allocated once the plan is complete. */
static ps_status plan_take_slot(ps_plan *p, const ps_net *net, int i, size_t size, ps_err *err) {
    int best = -1;
    for (int s = 0; s < p->n_slots; s++) {
        ps_slot *sl = &p->slots[s];
        if (sl->owner >= 0 && last_use(net, sl->owner) < i) sl->owner = -1;
        if (sl->owner >= 0) continue;
        /* smallest that fits, else the largest (which then grows) */
        if (best < 0 || (sl->size >= size && (p->slots[best].size < size || sl->size < p->slots[best].size)) ||
            (p->slots[best].size < size && sl->size > p->slots[best].size))
            best = s;
    }
    if (best < 0) {
        ps_slot *grown = realloc(p->slots, sizeof *grown * (size_t)(p->n_slots + 1));
        if (!grown) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        p->slots = grown;
        best = p->n_slots++;
        p->slots[best] = (ps_slot){0, -1, NULL};
    }
    if (p->slots[best].size < size) p->slots[best].size = size;
    p->slots[best].owner = i;
    p->slot_of[i] = best;
    return PS_OK;
}

static void md_nhwc(dnnl_memory_desc_t *md, int n, const ps_shape *s) {
    dnnl_dims_t dims = {n, s->c, s->h, s->w};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nhwc);
}

static void md_any(dnnl_memory_desc_t *md, int n, const ps_shape *s) {
    dnnl_dims_t dims = {n, s->c, s->h, s->w};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_format_tag_any);
}

/* Post-ops for layer l: its activation, then its residual add. */
static ps_status make_attr(const ps_layer *l, dnnl_primitive_attr_t *attr,
                           ps_err *err) {
    dnnl_post_ops_t po;
    PS_DNNL(dnnl_primitive_attr_create(attr), "attr", err);
    PS_DNNL(dnnl_post_ops_create(&po), "post ops", err);
    dnnl_status_t s = dnnl_success;
    if (l->act != PS_ACT_NONE) {
        dnnl_alg_kind_t alg;
        float alpha, beta;
        ps_dnnl_act(l->act, &alg, &alpha, &beta);
        s = dnnl_post_ops_append_eltwise(po, 1.0f, alg, alpha, beta);
    }
    /* The residual is added with a sum post-op: the output buffer holds it
     * before the convolution runs (see plan_residual). oneDNN 2.6's fastest
     * kernels take sum but fall back to slow GEMM ones for a binary add. */
    if (s == dnnl_success && l->src2 >= 0) s = dnnl_post_ops_append_sum(po, 1.0f);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(*attr, po);
    dnnl_post_ops_destroy(po);
    if (s != dnnl_success) dnnl_primitive_attr_destroy(*attr);
    PS_DNNL(s, "post ops", err);
    return PS_OK;
}

/* Weights of layer l reordered from TF's HWIO (or HW-C for depthwise) into
 * the layout the convolution chose. */
static ps_status conv_weights(ps_cpu *cpu, ps_plan *p, const ps_layer *l,
                              const dnnl_memory_desc_t *want, dnnl_memory_t *m, ps_err *err) {
    dnnl_memory_desc_t user;
    ps_dnnl_weights_md(l, &user);
    dnnl_memory_t src;
    PS_DNNL(dnnl_memory_create(&src, &user, cpu->engine, (void *)l->w), "memory", err);
    ps_status st = plan_add_mem(p, src, err);
    if (!st) st = plan_new_mem(cpu, p, want, m, err);
    if (st) return st;
    return ps_dnnl_reorder_now(cpu->engine, cpu->stream, src, *m, err);
}

static ps_status plan_conv(ps_cpu *cpu, ps_plan *p, int i, ps_err *err) {
    const ps_layer *l = &cpu->net->layers[i];
    const ps_shape *in = &cpu->shapes[l->src], *out = &cpu->shapes[i];
    dnnl_memory_desc_t src_md, w_md, b_md, dst_md;
    md_any(&src_md, p->n, in);
    if (cpu->net->layers[l->src].kind == PS_LAYER_INPUT)
        src_md = p->md[l->src]; /* the stem reads the NHWC input as it is */
    ps_dnnl_weights_any(l, &w_md);
    dnnl_dims_t bdims = {l->cout};
    dnnl_memory_desc_init_by_tag(&b_md, 1, bdims, dnnl_f32, dnnl_x);
    if (is_head(cpu->net, i)) md_nhwc(&dst_md, p->n, out);
    else md_any(&dst_md, p->n, out);
    ps_pads pads = ps_layer_pads(l, in->h, in->w);
    dnnl_dims_t strides = {l->stride, l->stride}, pl = {pads.top, pads.left},
                pr = {pads.bottom, pads.right};
    dnnl_convolution_desc_t cd;
    PS_DNNL(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                               &src_md, &w_md, l->b ? &b_md : NULL, &dst_md,
                                               strides, pl, pr),
            l->name, err);
    dnnl_primitive_attr_t attr;
    ps_status st = make_attr(l, &attr, err);
    if (st) return st;
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_primitive_desc_create(&pd, &cd, attr, cpu->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    PS_DNNL(s, l->name, err);
    p->md[i] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    dnnl_memory_t src, wts, bias = NULL;
    st = plan_view(cpu, p, l->src, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), &src, err);
    if (!st) st = conv_weights(cpu, p, l, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                               &wts, err);
    if (!st && l->b) {
        PS_DNNL(dnnl_memory_create(&bias, &b_md, cpu->engine, (void *)l->b), "memory", err);
        st = plan_add_mem(p, bias, err);
    }
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}};
    int nargs = 2;
    if (bias) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, bias};
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DST, NULL}; /* bound in plan_output */
    return plan_add_pd(p, pd, nargs, args, err);
}

static ps_status plan_resize(ps_cpu *cpu, ps_plan *p, int i, ps_err *err) {
    const ps_layer *l = &cpu->net->layers[i];
    dnnl_memory_desc_t dst_md;
    md_any(&dst_md, p->n, &cpu->shapes[i]);
    dnnl_resampling_desc_t rd;
    PS_DNNL(dnnl_resampling_forward_desc_init(&rd, dnnl_forward_inference, dnnl_resampling_linear,
                                              NULL, &p->md[l->src], &dst_md),
            l->name, err);
    dnnl_primitive_desc_t pd;
    PS_DNNL(dnnl_primitive_desc_create(&pd, &rd, NULL, cpu->engine, NULL), l->name, err);
    p->md[i] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, p->out[l->src]}, {DNNL_ARG_DST, NULL}};
    return plan_add_pd(p, pd, 2, args, err);
}

/* An ADD or ACT that was not fused into a convolution. */
static ps_status plan_elementwise(ps_cpu *cpu, ps_plan *p, int i, ps_err *err) {
    const ps_layer *l = &cpu->net->layers[i];
    dnnl_primitive_desc_t pd;
    dnnl_memory_t b = NULL;
    if (l->kind == PS_LAYER_ADD) {
        ps_status st = plan_view(cpu, p, l->src2, &p->md[l->src], &b, err);
        if (st) return st;
        dnnl_binary_desc_t bd;
        PS_DNNL(dnnl_binary_desc_init(&bd, dnnl_binary_add, &p->md[l->src], &p->md[l->src],
                                      &p->md[l->src]), l->name, err);
        PS_DNNL(dnnl_primitive_desc_create(&pd, &bd, NULL, cpu->engine, NULL), l->name, err);
    } else {
        dnnl_alg_kind_t alg;
        float alpha, beta;
        ps_dnnl_act(l->act, &alg, &alpha, &beta);
        dnnl_eltwise_desc_t ed;
        PS_DNNL(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, alg, &p->md[l->src],
                                               alpha, beta), l->name, err);
        PS_DNNL(dnnl_primitive_desc_create(&pd, &ed, NULL, cpu->engine, NULL), l->name, err);
    }
    p->md[i] = p->md[l->src];
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC_0, p->out[l->src]}, {DNNL_ARG_DST, NULL},
                               {DNNL_ARG_SRC_1, b}};
    if (l->kind == PS_LAYER_ACT) args[0].arg = DNNL_ARG_SRC;
    return plan_add_pd(p, pd, b ? 3 : 2, args, err);
}

/* A convolution with a residual accumulates into its output buffer, which
 * must hold the residual first: the residual's own buffer when this layer is
 * its last reader (in place, no copy), else a copy made just before. */
static ps_status plan_residual(ps_cpu *cpu, ps_plan *p, int i, ps_err *err) {
    const ps_layer *l = &cpu->net->layers[i];
    int r = l->src2;
    if (p->slot_of[i] >= 0 && p->slot_of[i] == p->slot_of[r]) return PS_OK;
    dnnl_primitive_desc_t pd;
    PS_DNNL(dnnl_reorder_primitive_desc_create(&pd, &p->md[r], cpu->engine, &p->md[i], cpu->engine, NULL),
            "reorder", err);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, p->out[r]}, {DNNL_ARG_TO, p->out[i]}};
    ps_status st = plan_add_pd(p, pd, 2, args, err);
    if (st) return st;
    ps_step copy = p->steps[p->n_steps - 1]; /* move it before the convolution */
    p->steps[p->n_steps - 1] = p->steps[p->n_steps - 2];
    p->steps[p->n_steps - 2] = copy;
    return PS_OK;
}

static int can_take_residual_slot(const ps_plan *p, const ps_net *net, int i) {
    int r = net->layers[i].src2;
    /* not when the convolution also reads the residual as its input */
    return r >= 0 && r != net->layers[i].src && !is_head(net, i) && p->slot_of[r] >= 0 &&
           last_use(net, r) == i &&
           dnnl_memory_desc_equal(&p->md[r], &p->md[i]);
}

/* Creates layer i's output memory (in a slot, or over the caller's head
 * buffer) and points the step that writes it there. */
static ps_status plan_output(ps_cpu *cpu, ps_plan *p, int i, ps_err *err) {
    const ps_net *net = cpu->net;
    if (is_conv_layer(&net->layers[i]) && can_take_residual_slot(p, net, i)) {
        int s = p->slot_of[net->layers[i].src2];
        p->slot_of[i] = s;
        p->slots[s].owner = i;
        PS_DNNL(dnnl_memory_create(&p->out[i], &p->md[i], cpu->engine, DNNL_MEMORY_NONE), "memory", err);
        return plan_add_mem(p, p->out[i], err);
    }
    if (is_head(net, i)) {
        dnnl_memory_desc_t nhwc;
        md_nhwc(&nhwc, p->n, &cpu->shapes[i]);
        if (dnnl_memory_desc_equal(&nhwc, &p->md[i])) {
            PS_DNNL(dnnl_memory_create(&p->out[i], &nhwc, cpu->engine, DNNL_MEMORY_NONE), "memory", err);
            /* one caller buffer per layer: a second head on the same layer
             * gets a copy in plan_heads */
            for (int h = 0; h < PS_NUM_HEADS; h++)
                if (net->heads[h] == i) {
                    p->head_mem[h] = p->out[i];
                    break;
                }
            return plan_add_mem(p, p->out[i], err);
        }
    }
    ps_status st = plan_take_slot(p, net, i, dnnl_memory_desc_get_size(&p->md[i]), err);
    if (st) return st;
    PS_DNNL(dnnl_memory_create(&p->out[i], &p->md[i], cpu->engine, DNNL_MEMORY_NONE), "memory", err);
    return plan_add_mem(p, p->out[i], err);
}

/* Sets the DST argument of the last step to layer i's output. */
static void bind_dst(ps_plan *p, int i) {
    ps_step *s = &p->steps[p->n_steps - 1];
    for (int a = 0; a < s->nargs; a++)
        if (s->args[a].arg == DNNL_ARG_DST) s->args[a].memory = p->out[i];
}

/* Heads that did not land in NHWC get a final reorder into the caller's
 * buffer. */
static ps_status plan_heads(ps_cpu *cpu, ps_plan *p, ps_err *err) {
    for (int h = 0; h < PS_NUM_HEADS; h++) {
        if (p->head_mem[h]) continue;
        int i = cpu->net->heads[h];
        dnnl_memory_desc_t nhwc;
        md_nhwc(&nhwc, p->n, &cpu->shapes[i]);
        PS_DNNL(dnnl_memory_create(&p->head_mem[h], &nhwc, cpu->engine, DNNL_MEMORY_NONE), "memory", err);
        ps_status st = plan_add_mem(p, p->head_mem[h], err);
        dnnl_primitive_desc_t pd;
        if (st) return st;
        PS_DNNL(dnnl_reorder_primitive_desc_create(&pd, &p->md[i], cpu->engine, &nhwc, cpu->engine, NULL),
                "reorder", err);
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, p->out[i]}, {DNNL_ARG_TO, p->head_mem[h]}};
        if ((st = plan_add_pd(p, pd, 2, args, err))) return st;
    }
    return PS_OK;
}

/* Gives every slot its buffer and every slot-backed memory its handle. */
static ps_status plan_bind_slots(ps_cpu *cpu, ps_plan *p, ps_err *err) {
    for (int s = 0; s < p->n_slots; s++) {
        p->slots[s].data = aligned_alloc(64, (p->slots[s].size + 63) / 64 * 64);
        if (!p->slots[s].data) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        cpu->bytes += p->slots[s].size;
    }
    for (int i = 0; i < cpu->net->n_layers; i++)
        if (p->slot_of[i] >= 0)
            PS_DNNL(dnnl_memory_set_data_handle(p->out[i], p->slots[p->slot_of[i]].data), "memory", err);
    return PS_OK;
}

static ps_status plan_layers(ps_cpu *cpu, ps_plan *p, ps_err *err) {
    const ps_net *net = cpu->net;
    md_nhwc(&p->md[0], p->n, &cpu->shapes[0]);
    ps_status st = plan_new_mem(cpu, p, &p->md[0], &p->input, err);
    if (st) return st;
    p->out[0] = p->input;
    dnnl_memory_get_data_handle(p->input, (void **)&p->input_buf);
    for (int i = 1; i < net->n_layers && !st; i++) {
        switch (net->layers[i].kind) {
        case PS_LAYER_CONV:
        case PS_LAYER_DWCONV: st = plan_conv(cpu, p, i, err); break;
        case PS_LAYER_RESIZE: st = plan_resize(cpu, p, i, err); break;
        case PS_LAYER_ADD:
        case PS_LAYER_ACT: st = plan_elementwise(cpu, p, i, err); break;
        case PS_LAYER_INPUT: st = ps_err_set(err, PS_ERR_FORMAT, "a second input layer"); break;
        }
        if (!st) st = plan_output(cpu, p, i, err);
        if (!st) bind_dst(p, i);
        if (!st && is_conv_layer(&net->layers[i]) && net->layers[i].src2 >= 0)
            st = plan_residual(cpu, p, i, err);
    }
    if (!st) st = plan_heads(cpu, p, err);
    if (!st) st = plan_bind_slots(cpu, p, err);
    return st;
}

static void plan_free(ps_plan *p) {
    if (!p) return;
    for (int s = 0; s < p->n_steps; s++) dnnl_primitive_destroy(p->steps[s].prim);
    for (int m = 0; m < p->n_mems; m++) dnnl_memory_destroy(p->mems[m]);
    for (int b = 0; b < p->n_bufs; b++) free(p->bufs[b]);
    for (int s = 0; s < p->n_slots; s++) free(p->slots[s].data);
    free(p->steps);
    free(p->mems);
    free(p->bufs);
    free(p->slots);
    free(p->md);
    free(p->out);
    free(p->slot_of);
    free(p);
}

static ps_status plan_build(ps_cpu *cpu, int n, ps_plan **out, ps_err *err) {
    int nl = cpu->net->n_layers;
    ps_plan *p = calloc(1, sizeof *p);
    if (p) {
        p->n = n;
        p->md = calloc((size_t)nl, sizeof *p->md);
        p->out = calloc((size_t)nl, sizeof *p->out);
        p->slot_of = malloc(sizeof *p->slot_of * (size_t)nl);
    }
    if (!p || !p->md || !p->out || !p->slot_of) {
        plan_free(p);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < nl; i++) p->slot_of[i] = -1;
    ps_status st = plan_layers(cpu, p, err);
    if (st) {
        plan_free(p);
        return ps_err_prefix(err, "CPU backend");
    }
    *out = p;
    return PS_OK;
}

/* The model's own normalisation, e.g. x * 0.00784 - 1, in the graph's order. */
static void normalise(const ps_net *net, const float *in, float *out, size_t pixels) {
    for (size_t px = 0; px < pixels; px++)
        for (int c = 0; c < 3; c++) {
            float v = in[px * 3 + c];
            for (int k = 0; k < net->n_norm; k++) {
                const ps_norm_step *s = &net->norm[k];
                if (s->op == PS_NORM_SUB) v = v - s->c[c];
                else if (s->op == PS_NORM_MUL) v = v * s->c[c];
                else v = v + s->c[c];
            }
            out[px * 3 + c] = v;
        }
}

/* Runs n images (n <= max_batch) with the plan for batch n. */
static ps_status run_plan(ps_cpu *cpu, const float *input, int n, float *const heads[PS_NUM_HEADS],
                          ps_err *err) {
    /* Before planning too: oneDNN splits work by the thread count it sees
     * when a primitive is created. The setting is per calling thread. */
    omp_set_num_threads(cpu->cfg.threads);
    if (!cpu->plans[n - 1]) {
        ps_status st = plan_build(cpu, n, &cpu->plans[n - 1], err);
        if (st) return st;
    }
    ps_plan *p = cpu->plans[n - 1];
    normalise(cpu->net, input, p->input_buf, (size_t)n * cpu->cfg.input_h * cpu->cfg.input_w);
    for (int h = 0; h < PS_NUM_HEADS; h++)
        PS_DNNL(dnnl_memory_set_data_handle(p->head_mem[h], heads[h]), "memory", err);
    for (int s = 0; s < p->n_steps; s++)
        PS_DNNL(dnnl_primitive_execute(p->steps[s].prim, cpu->stream, p->steps[s].nargs,
                                       p->steps[s].args), "execute", err);
    PS_DNNL(dnnl_stream_wait(cpu->stream), "execute", err);
    return PS_OK;
}

/* Builds the one-thread plans and streams of every lane (outside any
 * parallel region: oneDNN splits a primitive by the threads it sees when
 * it is made). */
static ps_status lanes_build(ps_cpu *cpu, ps_err *err) {
    omp_set_num_threads(1);
    ps_status st = PS_OK;
    for (int t = 0; t < cpu->cfg.threads && !st; t++) {
        if (cpu->lanes[t]) continue;
        if (dnnl_stream_create(&cpu->lane_streams[t], cpu->engine, dnnl_stream_default_flags) !=
            dnnl_success)
            st = ps_err_set(err, PS_ERR_BACKEND, "oneDNN: cannot create a stream");
        if (!st) st = plan_build(cpu, 1, &cpu->lanes[t], err);
    }
    omp_set_num_threads(cpu->cfg.threads);
    return st;
}

/* Runs image `img` of input on lane t (inside the parallel region). */
static ps_status lane_run(ps_cpu *cpu, int t, const float *input, int img,
                          float *const heads[PS_NUM_HEADS], ps_err *err) {
    ps_plan *p = cpu->lanes[t];
    size_t pixels = (size_t)cpu->cfg.input_h * cpu->cfg.input_w;
    size_t cells = (size_t)(cpu->cfg.input_h / 4) * (cpu->cfg.input_w / 4);
    normalise(cpu->net, input + (size_t)img * pixels * 3, p->input_buf, pixels);
    for (int h = 0; h < PS_NUM_HEADS; h++)
        PS_DNNL(dnnl_memory_set_data_handle(p->head_mem[h], heads[h] + (size_t)img * cells *
                                                                 (size_t)ps_head_channels[h]),
                "memory", err);
    for (int s = 0; s < p->n_steps; s++)
        PS_DNNL(dnnl_primitive_execute(p->steps[s].prim, cpu->lane_streams[t], p->steps[s].nargs,
                                       p->steps[s].args), "execute", err);
    PS_DNNL(dnnl_stream_wait(cpu->lane_streams[t]), "execute", err);
    return PS_OK;
}

/* Runs the first `side` images of a batch side by side, one per thread,
 * each on one core (about 4% more frames per second on two cores than each
 * frame on both, in paired runs: bench/NOTES.md). */
static ps_status run_side_by_side(ps_cpu *cpu, const float *input, int side,
                                  float *const heads[PS_NUM_HEADS], ps_err *err) {
    ps_status st = lanes_build(cpu, err);
    if (st) return st;
    int threads = cpu->cfg.threads, failed = 0;
    ps_err errs = {0};
#pragma omp parallel num_threads(threads) reduction(| : failed)
    {
        int t = omp_get_thread_num();
        ps_err e = {0};
        for (int img = t; img < side && !failed; img += threads)
            if (lane_run(cpu, t, input, img, heads, &e)) failed = 1;
        if (failed) {
#pragma omp critical
            errs = e;
        }
    }
    if (failed) *err = errs;
    return failed ? PS_ERR_BACKEND : PS_OK;
}

/* A batch of at least as many images as threads runs side by side, a whole
 * multiple of the threads at a time; the rest (or a smaller batch) in
 * chunks of cfg.chunk images on every thread: on CPUs one image at a time
 * is fastest per image, as its activations stay in cache (bench/NOTES.md). */
static ps_status cpu_run(void *state, const float *input, int n, float *const heads[PS_NUM_HEADS],
                         ps_err *err) {
    ps_cpu *cpu = state;
    ps_status st = ps_backend_check_batch(n, cpu->cfg.max_batch, err);
    size_t in_img = (size_t)cpu->cfg.input_h * cpu->cfg.input_w * 3;
    size_t cells = (size_t)(cpu->cfg.input_h / 4) * (cpu->cfg.input_w / 4);
    int threads = cpu->cfg.threads, side = threads > 1 && cpu->lanes ? n - n % threads : 0;
    if (!st && side > 0) st = run_side_by_side(cpu, input, side, heads, err);
    for (int i = side; i < n && !st; i += cpu->cfg.chunk) {
        int m = n - i < cpu->cfg.chunk ? n - i : cpu->cfg.chunk;
        float *part[PS_NUM_HEADS];
        for (int h = 0; h < PS_NUM_HEADS; h++)
            part[h] = heads[h] + (size_t)i * cells * (size_t)ps_head_channels[h];
        st = run_plan(cpu, input + (size_t)i * in_img, m, part, err);
    }
    return st;
}

static void cpu_free(void *state) {
    ps_cpu *cpu = state;
    if (!cpu) return;
    if (cpu->plans)
        for (int b = 0; b < cpu->cfg.max_batch; b++) plan_free(cpu->plans[b]);
    free(cpu->plans);
    for (int t = 0; cpu->lanes && t < cpu->cfg.threads; t++) {
        plan_free(cpu->lanes[t]);
        if (cpu->lane_streams[t]) dnnl_stream_destroy(cpu->lane_streams[t]);
    }
    free(cpu->lanes);
    free(cpu->lane_streams);
    free(cpu->shapes);
    if (cpu->stream) dnnl_stream_destroy(cpu->stream);
    if (cpu->engine) dnnl_engine_destroy(cpu->engine);
    free(cpu);
}

static ps_status cpu_init(void **state, const ps_net *net, const ps_backend_config *cfg,
                          ps_err *err) {
    ps_cpu *cpu = calloc(1, sizeof *cpu);
    if (!cpu) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    cpu->net = net;
    cpu->cfg = *cfg;
    if (cpu->cfg.chunk < 1 || cpu->cfg.chunk > cfg->max_batch) cpu->cfg.chunk = cfg->max_batch;
    cpu->shapes = malloc(sizeof *cpu->shapes * (size_t)net->n_layers);
    cpu->plans = calloc((size_t)cfg->max_batch, sizeof *cpu->plans);
    if (cfg->side_by_side && cfg->threads > 1) {
        cpu->lanes = calloc((size_t)cfg->threads, sizeof *cpu->lanes);
        cpu->lane_streams = calloc((size_t)cfg->threads, sizeof *cpu->lane_streams);
    }
    int lanes_ok = !cpu->lanes == !cpu->lane_streams;
    ps_status st = (cpu->shapes && cpu->plans && lanes_ok)
                       ? PS_OK : ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    if (!st) st = ps_net_shapes(net, cfg->input_h, cfg->input_w, cpu->shapes, err);
    if (!st && dnnl_engine_create(&cpu->engine, dnnl_cpu, 0) != dnnl_success)
        st = ps_err_set(err, PS_ERR_BACKEND, "oneDNN: cannot create a CPU engine");
    if (!st && dnnl_stream_create(&cpu->stream, cpu->engine, dnnl_stream_default_flags) != dnnl_success)
        st = ps_err_set(err, PS_ERR_BACKEND, "oneDNN: cannot create a stream");
    if (st) {
        cpu_free(cpu);
        return st;
    }
    *state = cpu;
    return PS_OK;
}

static size_t cpu_memory(const void *state) {
    return ((const ps_cpu *)state)->bytes;
}

const ps_backend_ops ps_backend_cpu = {
    .name = "cpu",
    .init = cpu_init,
    .run = cpu_run,
    .memory = cpu_memory,
    .free = cpu_free,
};
