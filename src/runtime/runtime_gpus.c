/* Which GPUs a runtime drives (ps_runtime_params.gpus): every visible one,
 * or a list of their numbers (checked even where it does not apply); one
 * lane on GPU 0 on the CPU (see runtime_impl.h). */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "runtime/runtime_impl.h"
#include "util/status.h"

/* Parses "0,2" into rt->gpus; PS_ERR_ARG naming the bad part. */
static ps_status parse_list(ps_runtime *rt, const char *text, ps_err *err) {
    const char *at = text;
    rt->n_gpus = 0;
    while (*at) {
        char *end;
        long g = strtol(at, &end, 10);
        if (end == at || g < 0 || g >= PS_MAX_GPUS || (*end && *end != ',') ||
            (*end == ',' && !end[1]))
            return ps_err_set(err, PS_ERR_ARG, "gpus \"%.100s\": expected \"all\" or GPU numbers "
                              "0 to %d separated by commas, e.g. 0,1", text, PS_MAX_GPUS - 1);
        for (int k = 0; k < rt->n_gpus; k++)
            if (rt->gpus[k] == g)
                return ps_err_set(err, PS_ERR_ARG, "gpus \"%.100s\": GPU %ld twice", text, g);
        rt->gpus[rt->n_gpus++] = (int)g;
        at = *end ? end + 1 : end;
    }
    if (!rt->n_gpus) return ps_err_set(err, PS_ERR_ARG, "gpus: an empty list");
    return PS_OK;
}

int ps_rt_on_gpus(const ps_runtime *rt) {
    return rt->engine && strcmp(ps_engine_backend(rt->engine), "cpu") != 0;
}

ps_status ps_rt_gpus_resolve(ps_runtime *rt, ps_err *err) {
    const char *text = rt->params.gpus;
    if (text && strcmp(text, "all") != 0 && parse_list(rt, text, err)) return PS_ERR_ARG;
    int visible = ps_gpu_count();
    /* AUTO without a GPU falls back to one CPU engine, whatever the list */
    rt->on_cpu = rt->params.engine.backend == PS_BACKEND_CPU ||
                 (!visible && rt->params.engine.backend == PS_BACKEND_AUTO);
    if (rt->on_cpu || !text || !strcmp(text, "all")) {
        rt->n_gpus = 1;
        rt->gpus[0] = 0;
    }
    if (!rt->on_cpu && (!text || !strcmp(text, "all")) && visible > 1) {
        rt->n_gpus = visible < PS_MAX_GPUS ? visible : PS_MAX_GPUS;
        for (int k = 0; k < rt->n_gpus; k++) rt->gpus[k] = k;
    }
    return PS_OK;
}
