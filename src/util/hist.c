/* Log-linear latency histogram (see hist.h). Values below PS_HIST_SUB us map
 * one to one; above, each power of two splits into PS_HIST_SUB buckets. */
#include "util/hist.h"

#include <string.h>

void ps_hist_init(ps_hist *h) {
    memset(h, 0, sizeof *h);
    h->min_us = INT64_MAX;
}

static int bucket_of(uint64_t v) {
    if (v < PS_HIST_SUB) return (int)v;
    int msb = 63 - __builtin_clzll(v);      /* >= 6 */
    int octave = msb - 5;                   /* 1.. */
    int sub = (int)((v >> (msb - 6)) & (PS_HIST_SUB - 1));
    int b = octave * PS_HIST_SUB + sub;
    int last = PS_HIST_OCTAVES * PS_HIST_SUB - 1;
    return b < last ? b : last;
}

/* The midpoint of bucket b's value range. */
static double bucket_value(int b) {
    if (b < PS_HIST_SUB) return b;
    int octave = b / PS_HIST_SUB, sub = b % PS_HIST_SUB;
    double lo = (double)(PS_HIST_SUB + sub) * (double)(1ull << (octave - 1));
    double width = (double)(1ull << (octave - 1));
    return lo + width / 2;
}

void ps_hist_add(ps_hist *h, int64_t us) {
    if (us < 0) us = 0;
    h->buckets[bucket_of((uint64_t)us)]++;
    h->count++;
    h->sum_us += (double)us;
    if (us > h->max_us) h->max_us = us;
    if (us < h->min_us) h->min_us = us;
}

void ps_hist_merge(ps_hist *dst, const ps_hist *src) {
    for (int b = 0; b < PS_HIST_OCTAVES * PS_HIST_SUB; b++) dst->buckets[b] += src->buckets[b];
    dst->count += src->count;
    dst->sum_us += src->sum_us;
    if (src->max_us > dst->max_us) dst->max_us = src->max_us;
    if (src->min_us < dst->min_us) dst->min_us = src->min_us;
}

double ps_hist_quantile(const ps_hist *h, double q) {
    if (h->count == 0) return 0;
    if (q >= 1) return (double)h->max_us;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count) rank = h->count - 1;
    uint64_t seen = 0;
    for (int b = 0; b < PS_HIST_OCTAVES * PS_HIST_SUB; b++) {
        seen += h->buckets[b];
        if (seen > rank) {
            double v = bucket_value(b);
            if (v > (double)h->max_us) v = (double)h->max_us;
            if (v < (double)h->min_us) v = (double)h->min_us;
            return v;
        }
    }
    return (double)h->max_us;
}

uint64_t ps_hist_count_below(const ps_hist *h, int64_t us) {
    if (us <= 0) return 0;
    int top = bucket_of((uint64_t)us);
    uint64_t n = 0;
    for (int b = 0; b < top; b++) n += h->buckets[b];
    if (us > h->max_us) n = h->count; /* the last bucket also holds what is beyond its range */
    return n;
}

double ps_hist_mean(const ps_hist *h) {
    return h->count ? h->sum_us / (double)h->count : 0;
}
