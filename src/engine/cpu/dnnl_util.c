/* Small oneDNN helpers for the CPU backend (see dnnl_util.h). */
#include "engine/cpu/dnnl_util.h"

#include <string.h>

void ps_dnnl_act(ps_act act, dnnl_alg_kind_t *alg, float *alpha, float *beta) {
    *alpha = 0.0f;
    *beta = 0.0f;
    switch (act) {
    case PS_ACT_RELU6:
        *alg = dnnl_eltwise_clip;
        *beta = 6.0f;
        break;
    case PS_ACT_SIGMOID:
        *alg = dnnl_eltwise_logistic;
        break;
    case PS_ACT_RELU:
        *alg = dnnl_eltwise_relu;
        break;
    case PS_ACT_NONE: /* identity: alpha * x + beta */
        *alg = dnnl_eltwise_linear;
        *alpha = 1.0f;
        break;
    }
}

/* Logical dims: conv {O, I, H, W}; depthwise {G, O=1, I=1, H, W}. */
static int weights_dims(const ps_layer *l, dnnl_dims_t dims) {
    if (l->kind == PS_LAYER_DWCONV) {
        dims[0] = l->cout;
        dims[1] = 1;
        dims[2] = 1;
        dims[3] = l->kh;
        dims[4] = l->kw;
        return 5;
    }
    dims[0] = l->cout;
    dims[1] = l->cin;
    dims[2] = l->kh;
    dims[3] = l->kw;
    return 4;
}

void ps_dnnl_weights_md(const ps_layer *l, dnnl_memory_desc_t *md) {
    dnnl_dims_t dims, strides;
    int nd = weights_dims(l, dims);
    if (nd == 5) { /* TF [kh][kw][C][1] */
        dnnl_dim_t c = l->cout;
        dnnl_dims_t s = {1, c, c, l->kw * c, c};
        memcpy(strides, s, sizeof(dnnl_dim_t) * 5);
    } else { /* TF HWIO [kh][kw][cin][cout] */
        dnnl_dim_t o = l->cout, i = l->cin;
        dnnl_dims_t s = {1, o, l->kw * i * o, i * o};
        memcpy(strides, s, sizeof(dnnl_dim_t) * 4);
    }
    dnnl_memory_desc_init_by_strides(md, nd, dims, dnnl_f32, strides);
}

void ps_dnnl_weights_any(const ps_layer *l, dnnl_memory_desc_t *md) {
    dnnl_dims_t dims;
    int nd = weights_dims(l, dims);
    dnnl_memory_desc_init_by_tag(md, nd, dims, dnnl_f32, dnnl_format_tag_any);
}

ps_status ps_dnnl_reorder_now(dnnl_engine_t engine, dnnl_stream_t stream, dnnl_memory_t src,
                              dnnl_memory_t dst, ps_err *err) {
    const dnnl_memory_desc_t *smd, *dmd;
    dnnl_memory_get_memory_desc(src, &smd);
    dnnl_memory_get_memory_desc(dst, &dmd);
    dnnl_primitive_desc_t pd;
    PS_DNNL(dnnl_reorder_primitive_desc_create(&pd, smd, engine, dmd, engine, NULL), "reorder", err);
    dnnl_primitive_t prim;
    dnnl_status_t s = dnnl_primitive_create(&prim, pd);
    dnnl_primitive_desc_destroy(pd);
    PS_DNNL(s, "reorder", err);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    s = dnnl_primitive_execute(prim, stream, 2, args);
    if (s == dnnl_success) s = dnnl_stream_wait(stream);
    dnnl_primitive_destroy(prim);
    PS_DNNL(s, "reorder", err);
    return PS_OK;
}
