/* bench's figures by priority and the live-pipeline criteria (see
 * bench_groups.h). */
#include "cli/bench_groups.h"

#include <stdio.h>
#include <string.h>

bench_verdict bench_verdicts[BENCH_MAX_VERDICTS];
int bench_n_verdicts;

void bench_verdict_line(const char *what, const char *value, const char *unit, const char *bound,
                        const char *verdict) {
    int pad = 10 - (int)strlen(bound);
    printf("  %-38s %9s %-8s (%s)%*s  %s\n", what, value, unit, bound, pad > 0 ? pad : 0, "",
           verdict);
    if (bench_n_verdicts == BENCH_MAX_VERDICTS) return;
    bench_verdict *v = &bench_verdicts[bench_n_verdicts++];
    snprintf(v->what, sizeof v->what, "%s", what);
    snprintf(v->value, sizeof v->value, "%s", value);
    snprintf(v->unit, sizeof v->unit, "%s", unit);
    snprintf(v->bound, sizeof v->bound, "%s", bound);
    snprintf(v->verdict, sizeof v->verdict, "%s", verdict);
}

int bench_criterion(const char *what, double value, const char *unit, double bound, int at_least) {
    int ok = at_least ? value >= bound : value <= bound;
    char v[32], b[32];
    snprintf(v, sizeof v, "%.2f", value);
    snprintf(b, sizeof b, "%s %.2f", at_least ? "min" : "max", bound);
    bench_verdict_line(what, v, unit, b, ok ? "PASS" : "FAIL");
    return ok;
}

static int any_deadline(const ps_stats *st) {
    for (int k = 0; k < st->n_streams; k++)
        if (st->streams[k].max_latency_ms > 0) return 1;
    return 0;
}

void bench_print_priorities(const ps_stats *st) {
    if (st->n_priorities < 2 && !any_deadline(st)) return;
    printf("  by priority (frames in = processed + dropped + late + skipped + cancelled + "
           "failed):\n");
    for (int i = 0; i < st->n_priorities; i++) {
        const ps_priority_stats *g = &st->priorities[i];
        printf("    priority %-3d %4d streams: in %llu = %llu + %llu + %llu + %llu + %llu + %llu, "
               "p99 %.1f ms\n", g->priority, g->streams, (unsigned long long)g->produced,
               (unsigned long long)g->processed, (unsigned long long)g->dropped,
               (unsigned long long)g->late, (unsigned long long)g->skipped,
               (unsigned long long)g->cancelled, (unsigned long long)g->failed,
               g->latency.p99_ms);
    }
}

/* Stream k's frames lost (dropped, late, failed, cancelled) after the
 * snapshot: all of them for a stream added since. */
static uint64_t lost_since(const ps_stats *end, const ps_stats *snap, int k) {
    const ps_stream_stats *e = &end->streams[k];
    uint64_t lost = e->dropped + e->late + e->failed + e->cancelled;
    if (k >= snap->n_streams) return lost;
    const ps_stream_stats *s = &snap->streams[k];
    return lost - (s->dropped + s->late + s->failed + s->cancelled);
}

/* The stream furthest over (or least under) its own deadline. */
static int deadline_criterion(const ps_stats *st) {
    int worst = -1;
    double worst_ratio = 0, worst_p99 = 0;
    for (int k = 0; k < st->n_streams; k++) {
        const ps_stream_stats *s = &st->streams[k];
        double p99 = s->latency.p99_ms;
        if (s->max_latency_ms <= 0 || !s->processed) continue;
        if (worst < 0 || p99 / s->max_latency_ms > worst_ratio)
            worst = k, worst_ratio = p99 / s->max_latency_ms, worst_p99 = p99;
    }
    if (worst < 0) return 1;
    char what[96];
    snprintf(what, sizeof what, "p99 within own deadline, worst (%.20s)", st->streams[worst].name);
    return bench_criterion(what, worst_p99, "ms", st->streams[worst].max_latency_ms, 0);
}

int bench_live_criteria(const ps_stats *end, const ps_stats *snap, double warmup_s, int churn) {
    int ok = deadline_criterion(end);
    char what[96];
    if (end->n_priorities > 1) {
        int top = end->priorities[0].priority;
        uint64_t lost = 0;
        for (int k = 0; k < end->n_streams; k++)
            if (end->streams[k].priority == top) lost += lost_since(end, snap, k);
        snprintf(what, sizeof what, "lost after %.0f s, highest priority (%d)", warmup_s, top);
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
