/* Memory-aware admission (see admit.h). */
#include "pipeline/admit.h"

#include <stdio.h>

#define MB (1048576.0)

size_t ps_admit_need(const ps_admit_in *in, int *measured) {
    *measured = in->active > 0 && in->reserved == 0 && in->used > in->base;
    if (!*measured) return in->static_need;
    size_t avg = (in->used - in->base) / (size_t)in->active;
    return avg > ((size_t)1 << 20) ? avg : (size_t)1 << 20;
}

static int fits_budget(const ps_admit_in *in, size_t need) {
    return !in->limit || in->used + in->reserved + need <= in->limit;
}

static int fits_device(const ps_admit_in *in, size_t need) {
    return !in->free_now || in->reserved + need + PS_ADMIT_DEVICE_MARGIN <= in->free_now;
}

ps_admit_verdict ps_admit_decide(const ps_admit_in *in, size_t need) {
    if (fits_budget(in, need) && fits_device(in, need)) return PS_ADMIT_YES;
    return in->reserved ? PS_ADMIT_WAIT : PS_ADMIT_REFUSE;
}

void ps_admit_explain(const ps_admit_in *in, size_t need, int measured, char *buf, size_t cap) {
    const char *how = measured ? "the measured average of the streams running"
                               : "estimated from its frame size";
    int host = in->kind == PS_MEM_HOST;
    const char *what = host ? "running it needs about %.0f MB of host memory (%s)"
                            : "decoding it on the GPU needs about %.0f MB (%s)";
    int at = snprintf(buf, cap, "refused: ");
    if (at > 0 && (size_t)at < cap) at += snprintf(buf + at, cap - (size_t)at, what, need / MB, how);
    if (at < 0 || (size_t)at >= cap) return;
    if (!fits_budget(in, need))
        snprintf(buf + at, cap - (size_t)at, ", and the process already uses %.0f MB of its "
                 "%.0f MB limit (%s)", (in->used + in->reserved) / MB, in->limit / MB,
                 host ? "--max-host-gb" : "--max-vram-gb");
    else
        snprintf(buf + at, cap - (size_t)at, ", and the %s has %.0f MB %s (%.0f MB kept in "
                 "reserve)", host ? "machine" : "device", in->free_now / MB,
                 host ? "available" : "free", PS_ADMIT_DEVICE_MARGIN / MB);
}
