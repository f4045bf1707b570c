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

void ps_ledger_init(ps_mem_ledger *l) {
    *l = (ps_mem_ledger){0};
    pthread_mutex_init(&l->mu, NULL);
}

void ps_ledger_destroy(ps_mem_ledger *l) {
    pthread_mutex_destroy(&l->mu);
}

void ps_ledger_set_base(ps_mem_ledger *l, size_t base) {
    pthread_mutex_lock(&l->mu);
    if (!l->based) l->base = base;
    l->based = 1;
    pthread_mutex_unlock(&l->mu);
}

void ps_ledger_change(ps_mem_ledger *l, long long reserved, int active) {
    pthread_mutex_lock(&l->mu);
    l->reserved = (size_t)((long long)l->reserved + reserved);
    l->active += active;
    pthread_mutex_unlock(&l->mu);
}

void ps_ledger_fill(ps_mem_ledger *l, ps_admit_in *in) {
    pthread_mutex_lock(&l->mu);
    in->base = l->base;
    in->reserved = l->reserved;
    in->active = l->active;
    pthread_mutex_unlock(&l->mu);
}
