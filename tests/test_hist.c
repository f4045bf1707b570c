/* The latency histogram (src/util/hist.c) on known distributions: exact
 * below 64 us, quantiles within its 1/64 relative resolution above (the
 * error printed), the maximum and mean exact, negative values as 0, values
 * past the top in the last bucket, and a merge the same as adding both
 * halves into one. */
#include <math.h>
#include <stdio.h>

#include "testutil.h"
#include "util/hist.h"

/* 1..n us, once each: quantile q is about q * n, within one sample's rank
 * (1 us, or one sample's worth, 1/n of the range) and the resolution. */
static void test_uniform(int n) {
    ps_hist h;
    ps_hist_init(&h);
    for (int v = 1; v <= n; v++) ps_hist_add(&h, v);
    double worst = 0;
    for (double q = 0.01; q < 1.0; q += 0.01) {
        double want = q * n, got = ps_hist_quantile(&h, q);
        double err = fabs(got - want) - 1; /* one rank either way */
        double rel = err > 0 ? err / want : 0;
        if (rel > worst) worst = rel;
    }
    printf("uniform 1..%d us: worst quantile error %.4f beyond one rank (resolution 1/64 = "
           "%.4f), mean %.1f\n", n, worst, 1.0 / 64, ps_hist_mean(&h));
    TU_CHECK(worst <= 1.0 / 64);
    TU_CHECK(h.count == (uint64_t)n && h.max_us == n && h.min_us == 1);
    TU_CHECK(fabs(ps_hist_mean(&h) - (n + 1) / 2.0) < 1e-9);
}

static void test_edges(void) {
    ps_hist h;
    ps_hist_init(&h);
    TU_CHECK(ps_hist_quantile(&h, 0.5) == 0); /* empty */
    ps_hist_add(&h, -5);
    TU_CHECK(ps_hist_quantile(&h, 0.5) == 0 && h.min_us == 0);
    const int64_t huge = (int64_t)1 << 40; /* past the top: ~12.7 days */
    ps_hist_add(&h, huge);
    printf("a value past the top: p99 %.0f us, max %lld us exact\n", ps_hist_quantile(&h, 0.99),
           (long long)h.max_us);
    TU_CHECK(h.max_us == huge && ps_hist_quantile(&h, 0.99) >= (double)((int64_t)1 << 34));
}

/* Cumulative counts at Prometheus' bucket bounds: exact where the bound is
 * a bucket edge (1 ms, 2 ms), within 1/64 elsewhere. */
static void test_count_below(void) {
    ps_hist h;
    ps_hist_init(&h);
    for (int64_t us = 1; us <= 100000; us++) ps_hist_add(&h, us); /* 1 us .. 100 ms */
    static const int64_t bounds[] = {1000, 2000, 5000, 50000, 100001};
    for (int i = 0; i < 5; i++) {
        uint64_t got = ps_hist_count_below(&h, bounds[i]);
        double want = (double)(bounds[i] < 100001 ? bounds[i] - 1 : 100000);
        double off = ((double)got - want) / want;
        printf("count below %lld us: %llu (exact %.0f, %+.4f)\n", (long long)bounds[i],
               (unsigned long long)got, want, off);
        TU_CHECK(off <= 0.0001 && off >= -1.0 / 64);
    }
    TU_CHECK(ps_hist_count_below(&h, 1000) == 999 && ps_hist_count_below(&h, 0) == 0);
    TU_CHECK(ps_hist_count_below(&h, 200000) == h.count);
}

static void test_merge(void) {
    ps_hist a, b, all;
    ps_hist_init(&a);
    ps_hist_init(&b);
    ps_hist_init(&all);
    for (int v = 0; v < 5000; v++) {
        int64_t us = (int64_t)v * v % 100003;
        ps_hist_add(v % 2 ? &a : &b, us);
        ps_hist_add(&all, us);
    }
    ps_hist_merge(&a, &b);
    int same = a.count == all.count && a.max_us == all.max_us && a.min_us == all.min_us;
    for (size_t k = 0; k < sizeof a.buckets / sizeof *a.buckets; k++)
        same &= a.buckets[k] == all.buckets[k];
    printf("merge of two halves equals the whole: %s\n", same ? "yes" : "no");
    TU_CHECK(same && fabs(a.sum_us - all.sum_us) < 1e-6);
}

int main(void) {
    test_uniform(50);
    test_uniform(100000);
    test_edges();
    test_count_below();
    test_merge();
    return tu_finish("test_hist");
}
