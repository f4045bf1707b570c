/* bench's figures by priority and the live-pipeline criteria (see
 * bench_groups.h). */
#include "cli/bench_groups.h"

#include <stdio.h>

int bench_criterion(const char *what, double value, const char *unit, double bound, int at_least) {
    int ok = at_least ? value >= bound : value <= bound;
    printf("  %-38s %9.2f %-8s (%s %.2f)  %s\n", what, value, unit, at_least ? "min" : "max",
           bound, ok ? "PASS" : "FAIL");
    return ok;
}

/* The priorities present, highest first; returns how many (at most max). */
static int priorities(const ps_pipeline_stats *st, int *out, int max) {
    int n = 0;
    for (int k = 0; k < st->n_streams; k++) {
        int p = st->streams[k].settings.priority, at = n;
        for (int i = 0; i < n; i++)
            if (out[i] == p) at = -1;
        if (at < 0 || n == max) continue;
        while (at > 0 && out[at - 1] < p) out[at] = out[at - 1], at--;
        out[at] = p;
        n++;
    }
    return n;
}

static int any_deadline(const ps_pipeline_stats *st) {
    for (int k = 0; k < st->n_streams; k++)
        if (st->streams[k].settings.max_latency_ms > 0) return 1;
    return 0;
}

/* The sums of one priority's streams. */
typedef struct {
    int streams;
    uint64_t in, processed, dropped, late, skipped, cancelled, failed;
    ps_hist latency;
} group;

static void group_of(const ps_pipeline_stats *st, int prio, group *g) {
    *g = (group){0};
    ps_hist_init(&g->latency);
    for (int k = 0; k < st->n_streams; k++) {
        const ps_stream_stats *s = &st->streams[k];
        if (s->settings.priority != prio) continue;
        g->streams++;
        g->in += s->produced, g->processed += s->processed, g->dropped += s->dropped;
        g->late += s->late, g->skipped += s->skipped, g->cancelled += s->cancelled;
        g->failed += s->failed;
        ps_hist_merge(&g->latency, &s->latency);
    }
}

void bench_print_priorities(const ps_pipeline_stats *st) {
    int prios[16], n = priorities(st, prios, 16);
    if (n < 2 && !any_deadline(st)) return;
    printf("  by priority (frames in = processed + dropped + late + skipped + cancelled + "
           "failed):\n");
    for (int i = 0; i < n; i++) {
        group g;
        group_of(st, prios[i], &g);
        printf("    priority %-3d %4d streams: in %llu = %llu + %llu + %llu + %llu + %llu + %llu, "
               "p99 %.1f ms\n", prios[i], g.streams, (unsigned long long)g.in,
               (unsigned long long)g.processed, (unsigned long long)g.dropped,
               (unsigned long long)g.late, (unsigned long long)g.skipped,
               (unsigned long long)g.cancelled, (unsigned long long)g.failed,
               ps_hist_quantile(&g.latency, 0.99) / 1e3);
    }
}

/* Stream k's frames lost (dropped, late, failed, cancelled) after the
 * snapshot: all of them for a stream added since. */
static uint64_t lost_since(const ps_pipeline_stats *end, const ps_pipeline_stats *snap, int k) {
    const ps_stream_stats *e = &end->streams[k];
    uint64_t lost = e->dropped + e->late + e->failed + e->cancelled;
    if (k >= snap->n_streams) return lost;
    const ps_stream_stats *s = &snap->streams[k];
    return lost - (s->dropped + s->late + s->failed + s->cancelled);
}

/* The stream furthest over (or least under) its own deadline. */
static int deadline_criterion(const ps_pipeline_stats *st) {
    int worst = -1;
    double worst_ratio = 0, worst_p99 = 0;
    for (int k = 0; k < st->n_streams; k++) {
        const ps_stream_stats *s = &st->streams[k];
        double p99 = ps_hist_quantile(&s->latency, 0.99) / 1e3;
        if (s->settings.max_latency_ms <= 0 || !s->processed) continue;
        if (worst < 0 || p99 / s->settings.max_latency_ms > worst_ratio)
            worst = k, worst_ratio = p99 / s->settings.max_latency_ms, worst_p99 = p99;
    }
    if (worst < 0) return 1;
    char what[96];
    snprintf(what, sizeof what, "p99 within own deadline, worst (%.20s)", st->streams[worst].name);
    return bench_criterion(what, worst_p99, "ms", st->streams[worst].settings.max_latency_ms, 0);
}

int bench_live_criteria(const ps_pipeline_stats *end, const ps_pipeline_stats *snap,
                        double warmup_s, int churn) {
    int ok = deadline_criterion(end), prios[16], n = priorities(end, prios, 16);
    char what[96];
    if (n > 1) {
        uint64_t lost = 0;
        for (int k = 0; k < end->n_streams; k++)
            if (end->streams[k].settings.priority == prios[0]) lost += lost_since(end, snap, k);
        snprintf(what, sizeof what, "lost after %.0f s, highest priority (%d)", warmup_s, prios[0]);
        ok &= bench_criterion(what, (double)lost, "frames", 0, 0);
    }
    if (churn) {
        uint64_t lost = 0;
        for (int k = 0; k < end->n_streams; k++)
            if (end->streams[k].state != PS_STREAM_REMOVED) lost += lost_since(end, snap, k);
        snprintf(what, sizeof what, "lost after %.0f s by streams that stay", warmup_s);
        ok &= bench_criterion(what, (double)lost, "frames", 0, 0);
    }
    return ok;
}
