/* The engine's time per batch size (see batch_time.h). */
#include "pipeline/batch_time.h"

#define WEIGHT 0.05

void ps_batch_time_add(ps_batch_time *m, int n, double ns) {
    if (n < 1 || n > PS_BATCH_TIME_SIZES || !(ns > 0)) return;
    unsigned runs = ++m->runs[n];
    if (runs == 1) return; /* the warm-up */
    double *mean = &m->mean_ns[n];
    if (n > m->largest) m->largest = n;
    /* a plain mean of the first few, then a running one */
    double w = 1.0 / (runs - 1) > WEIGHT ? 1.0 / (runs - 1) : WEIGHT;
    *mean += (ns - *mean) * w;
}

double ps_batch_time_predict(const ps_batch_time *m, int n) {
    if (m->largest == 0 || n < 1) return 0;
    if (n > m->largest) return m->mean_ns[m->largest] * n / m->largest;
    if (m->mean_ns[n] > 0) return m->mean_ns[n];
    int lo = n - 1, hi = n + 1; /* a known size lies above: largest */
    while (lo > 0 && m->mean_ns[lo] == 0) lo--;
    while (m->mean_ns[hi] == 0) hi++;
    if (lo > 0) return m->mean_ns[lo] + (m->mean_ns[hi] - m->mean_ns[lo]) * (n - lo) / (hi - lo);
    return m->mean_ns[hi];
}

/* A binary search: the estimates grow (about) with the size. */
int ps_batch_time_fit(const ps_batch_time *m, double ns, int max) {
    if (m->largest == 0) return max;
    int lo = 1, hi = max; /* the answer is in [lo, hi] */
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (ps_batch_time_predict(m, mid) <= ns) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}
