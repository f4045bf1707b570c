/* Latency histogram: log-linear buckets (HdrHistogram style: one per
 * microsecond below 64 us, then 64 per power of two, 1/64 relative
 * resolution) up to 2^35 us (about 9.5 hours; larger values land in the
 * last bucket, the maximum stays exact), so percentiles of millions of
 * samples cost a fixed 15 KiB and no sorting. Not thread-safe by itself. */
#ifndef PS_UTIL_HIST_H
#define PS_UTIL_HIST_H

#include <stdint.h>

#define PS_HIST_SUB 64 /* buckets per power of two */
#define PS_HIST_OCTAVES 30

typedef struct {
    uint64_t buckets[PS_HIST_OCTAVES * PS_HIST_SUB];
    uint64_t count;
    double sum_us;
    int64_t max_us, min_us;
} ps_hist;

void ps_hist_init(ps_hist *h);

/* Records one value in microseconds (negative values count as 0). */
void ps_hist_add(ps_hist *h, int64_t us);

/* Adds every sample of src into dst. */
void ps_hist_merge(ps_hist *dst, const ps_hist *src);

/* The value (us) at or below which fraction q (0..1) of samples lie, within
 * the bucket resolution; 0 when empty. The maximum is exact. */
double ps_hist_quantile(const ps_hist *h, double q);

double ps_hist_mean(const ps_hist *h);

/* Samples below us, within the bucket resolution (those in buckets that
 * end at or before us's own), every sample when us is above the maximum:
 * the cumulative counts of a Prometheus histogram. */
uint64_t ps_hist_count_below(const ps_hist *h, int64_t us);

#endif
