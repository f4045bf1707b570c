/* Small oneDNN helpers for the CPU backend. */
#ifndef PS_ENGINE_CPU_DNNL_UTIL_H
#define PS_ENGINE_CPU_DNNL_UTIL_H

#include <dnnl.h>

#include "model/net.h"
#include "util/status.h"

/* Returns PS_ERR_BACKEND from the calling function when a oneDNN call fails. */
#define PS_DNNL(call, what, err)                                                   \
    do {                                                                           \
        dnnl_status_t ps_s_ = (call);                                              \
        if (ps_s_ != dnnl_success)                                                 \
            return ps_err_set((err), PS_ERR_BACKEND, "oneDNN: %s: %s (status %d)", \
                              (what), #call, (int)ps_s_);                          \
    } while (0)

/* The oneDNN eltwise algorithm and parameters of an activation. */
void ps_dnnl_act(ps_act act, dnnl_alg_kind_t *alg, float *alpha, float *beta);

/* Layer l's weights as TF stores them (HWIO; depthwise HW-C), as a memory
 * descriptor over l->w. */
void ps_dnnl_weights_md(const ps_layer *l, dnnl_memory_desc_t *md);

/* The same weights' logical shape with layout left to oneDNN. */
void ps_dnnl_weights_any(const ps_layer *l, dnnl_memory_desc_t *md);

/* Copies src into dst (any layouts) right away. */
ps_status ps_dnnl_reorder_now(dnnl_engine_t engine, dnnl_stream_t stream, dnnl_memory_t src,
                              dnnl_memory_t dst, ps_err *err);

#endif
