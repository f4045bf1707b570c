/* The engine's time per batch size (see batch_time.h). */
#include "pipeline/batch_time.h"

#define DECAY 0.99

void ps_batch_time_add(ps_batch_time *m, int n, double ns) {
    m->w = m->w * DECAY + 1;
    m->sn = m->sn * DECAY + n;
    m->st = m->st * DECAY + ns;
    m->snn = m->snn * DECAY + (double)n * n;
    m->snt = m->snt * DECAY + n * ns;
}

double ps_batch_time_predict(const ps_batch_time *m, int n) {
    if (m->w <= 0) return 0;
    double mn = m->sn / m->w, mt = m->st / m->w, var = m->snn / m->w - mn * mn;
    /* sizes that barely vary cannot tell the fixed cost from the cost per
     * frame: take it all as per frame, which errs on the long side for
     * larger batches, the side a deadline can afford */
    if (var < 0.25) return mt * n / mn;
    double b = (m->snt / m->w - mn * mt) / var, a = mt - b * mn;
    if (b < 0) return mt; /* noise: the size makes no measurable difference */
    if (a < 0) return mt * n / mn;
    return a + b * n;
}

int ps_batch_time_fit(const ps_batch_time *m, double ns, int max) {
    if (m->w <= 0) return max;
    int n = 1;
    while (n < max && ps_batch_time_predict(m, n + 1) <= ns) n++;
    return n;
}
