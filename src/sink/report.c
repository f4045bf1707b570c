/* Reports of a pipeline run (see report.h). */
#include "sink/report.h"

#include <sys/resource.h>

#include "sink/json.h"

static const char *state_name(ps_stream_state s) {
    switch (s) {
    case PS_STREAM_OPENING: return "opening";
    case PS_STREAM_OPENED: return "opened";
    case PS_STREAM_RUNNING: return "running";
    case PS_STREAM_ENDED: return "ended";
    case PS_STREAM_FAILED: return "FAILED";
    case PS_STREAM_REFUSED: return "REFUSED";
    case PS_STREAM_REMOVED: return "removed";
    }
    return "?";
}

double ps_report_peak_rss_mb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static double seconds(const ps_pipeline_stats *st) {
    double s = (double)(st->now_ns - st->start_ns) / 1e9;
    return s > 1e-9 ? s : 1e-9;
}

double ps_report_fps(const ps_pipeline_stats *st) {
    uint64_t n = 0;
    for (int k = 0; k < st->n_streams; k++) n += st->streams[k].processed;
    return (double)n / seconds(st);
}

static double pct(uint64_t part, uint64_t whole) {
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

double ps_report_drop_pct(const ps_pipeline_stats *st) {
    uint64_t produced = 0, dropped = 0;
    for (int k = 0; k < st->n_streams; k++) {
        produced += st->streams[k].produced;
        dropped += st->streams[k].dropped;
    }
    return pct(dropped, produced);
}

void ps_report_status(FILE *f, const ps_pipeline_stats *now, const ps_pipeline_stats *prev,
                      int redraw) {
    if (redraw) fprintf(f, "\033[%dA", now->n_streams);
    double dt = prev ? (double)(now->now_ns - prev->now_ns) / 1e9 : seconds(now);
    for (int k = 0; k < now->n_streams; k++) {
        const ps_stream_stats *s = &now->streams[k];
        uint64_t before = prev ? prev->streams[k].processed : 0;
        double fps = dt > 0 ? (double)(s->processed - before) / dt : 0;
        fprintf(f, "\033[2K[%2d] %-24.24s %-7s %6.1f fps  latency p50 %6.1f p99 %6.1f ms  "
                   "dropped %llu (%.1f%%) late %llu skipped %llu failed %llu\n",
                k, s->name, state_name(s->state), fps, ps_hist_quantile(&s->latency, 0.5) / 1e3,
                ps_hist_quantile(&s->latency, 0.99) / 1e3, (unsigned long long)s->dropped,
                pct(s->dropped, s->produced), (unsigned long long)s->late,
                (unsigned long long)s->skipped, (unsigned long long)s->failed);
    }
    fflush(f);
}

static void summary_row(FILE *f, const char *id, const char *name, const ps_stream_stats *s,
                        double fps, const ps_hist *lat) {
    fprintf(f, "%-4s %-22.22s %8llu %9llu %8llu %6.2f%% %6llu %7llu %9llu %6llu %7.1f %7.1f %7.1f "
               "%7.1f %7.1f\n",
            id, name, (unsigned long long)s->produced, (unsigned long long)s->processed,
            (unsigned long long)s->dropped, pct(s->dropped, s->produced),
            (unsigned long long)s->late, (unsigned long long)s->skipped,
            (unsigned long long)s->cancelled, (unsigned long long)s->failed, fps,
            ps_hist_quantile(lat, 0.5) / 1e3, ps_hist_quantile(lat, 0.95) / 1e3,
            ps_hist_quantile(lat, 0.99) / 1e3, (double)lat->max_us / 1e3);
}

static void summary_streams(FILE *f, const ps_pipeline_stats *st) {
    ps_stream_stats all = {0};
    for (int k = 0; k < st->n_streams; k++) {
        const ps_stream_stats *s = &st->streams[k];
        char id[16];
        snprintf(id, sizeof id, "%d", k);
        double span = s->last_ns > s->first_ns ? (double)(s->last_ns - s->first_ns) / 1e9 : 0;
        summary_row(f, id, s->name, s, span > 0 ? (double)s->processed / span : 0, &s->latency);
        all.produced += s->produced;
        all.processed += s->processed;
        all.dropped += s->dropped;
        all.late += s->late;
        all.skipped += s->skipped;
        all.cancelled += s->cancelled;
        all.failed += s->failed;
    }
    summary_row(f, "all", "", &all, ps_report_fps(st), &st->latency);
}

/* The lines under the table: what happened to streams beyond their
 * counts, and to the engine. */
static void summary_events(FILE *f, const ps_pipeline_stats *st) {
    for (int k = 0; k < st->n_streams; k++) {
        const ps_stream_stats *s = &st->streams[k];
        if (s->reconnects || s->down)
            fprintf(f, "stream %d (%s): reconnected %llu times, down %.1f s in all: %llu frames "
                       "never arrived%s\n", k, s->name, (unsigned long long)s->reconnects,
                    s->outage_s, (unsigned long long)s->lost_outage,
                    s->down ? "; DOWN at the end" : "");
        if (s->bad_packets)
            fprintf(f, "stream %d (%s): %llu corrupt packets skipped by the decoder\n", k,
                    s->name, (unsigned long long)s->bad_packets);
        if (s->state == PS_STREAM_FAILED || s->state == PS_STREAM_REFUSED)
            fprintf(f, "stream %d (%s) %s: %s\n", k, s->name, state_name(s->state), s->error);
        if (s->note[0]) fprintf(f, "stream %d (%s): %s\n", k, s->name, s->note);
        if (s->stride > 1)
            fprintf(f, "stream %d (%s): giving way to higher priorities at the end, keeping "
                       "every %d%s frame\n", k, s->name, s->stride,
                    s->stride == 2 ? "nd" : s->stride == 3 ? "rd" : "th");
    }
    if (st->engine_failures || st->engine_fatal)
        fprintf(f, "engine: %llu batches failed%s: %s\n", (unsigned long long)st->engine_failures,
                st->engine_fatal ? ", could not go on (the run stopped)" : ", recovered each time",
                st->engine_error);
}

void ps_report_summary(FILE *f, const ps_pipeline_stats *st, const ps_report_extra *x) {
    fprintf(f, "\n%-4s %-22s %8s %9s %8s %7s %6s %7s %9s %6s %7s %7s %7s %7s %7s\n", "id",
            "stream", "in", "processed", "dropped", "drop", "late", "skipped", "cancelled",
            "failed", "fps", "p50 ms", "p95 ms", "p99 ms", "max ms");
    summary_streams(f, st);
    fprintf(f, "engine: %llu batches, %.2f ms avg, %.2f ms p99 per batch; batch sizes:",
            (unsigned long long)st->batches, ps_hist_mean(&st->engine) / 1e3,
            ps_hist_quantile(&st->engine, 0.99) / 1e3);
    for (int b = 1; b <= PS_BATCH_HIST; b++)
        if (st->batch_sizes[b]) fprintf(f, " %d%s:%llu", b, b == PS_BATCH_HIST ? "+" : "",
                                        (unsigned long long)st->batch_sizes[b]);
    fprintf(f, "\nqueue wait (captured -> batched): p50 %.1f ms, p99 %.1f ms\n",
            ps_hist_quantile(&st->queue, 0.5) / 1e3, ps_hist_quantile(&st->queue, 0.99) / 1e3);
    fprintf(f, "memory: peak RSS %.0f MB, engine %.0f MB", x->peak_rss_mb, x->engine_mb);
    if (x->vram_mb >= 0) fprintf(f, ", peak VRAM %.0f MB", x->vram_mb);
    fputc('\n', f);
    summary_events(f, st);
}

static void json_hist(FILE *f, const char *key, const ps_hist *h) {
    fprintf(f, "\"%s\":{\"count\":%llu,\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,"
               "\"p99_ms\":%.3f,\"max_ms\":%.3f}",
            key, (unsigned long long)h->count, ps_hist_mean(h) / 1e3,
            ps_hist_quantile(h, 0.5) / 1e3, ps_hist_quantile(h, 0.95) / 1e3,
            ps_hist_quantile(h, 0.99) / 1e3, (double)h->max_us / 1e3);
}

/* start_s: first frame since the pipeline's start (-1: none). */
static void json_stream(FILE *f, const ps_stream_stats *s, int64_t start_ns) {
    fprintf(f, "{\"id\":%d,\"name\":", s->id);
    ps_json_string(f, s->name);
    fputs(",\"uri\":", f);
    ps_json_string(f, s->uri);
    fprintf(f, ",\"state\":\"%s\",\"error\":", state_name(s->state));
    ps_json_string(f, s->error);
    fputs(",\"note\":", f);
    ps_json_string(f, s->note);
    fprintf(f, ",\"live\":%s,\"width\":%d,\"height\":%d,\"fps_nominal\":%.3f,\"produced\":%llu,"
               "\"processed\":%llu,\"dropped\":%llu,\"drop_pct\":%.3f,\"late\":%llu,"
               "\"skipped\":%llu,\"cancelled\":%llu,\"failed\":%llu,\"priority\":%d,"
               "\"max_latency_ms\":%.3f,\"max_fps\":%.3f,"
               "\"skipped_packets\":%llu,\"reconnects\":%llu,\"gpu_decode\":%s,"
               "\"vram_estimate_mb\":%.1f,\"vram_estimate_measured\":%s,"
               "\"host_estimate_mb\":%.1f,\"host_estimate_measured\":%s,\"stride\":%d,"
               "\"outage_s\":%.3f,\"lost_outage\":%llu,\"down\":%s,\"expected\":%lld,"
               "\"start_s\":%.3f,",
            s->live ? "true" : "false", s->width, s->height, s->fps,
            (unsigned long long)s->produced, (unsigned long long)s->processed,
            (unsigned long long)s->dropped, pct(s->dropped, s->produced),
            (unsigned long long)s->late, (unsigned long long)s->skipped,
            (unsigned long long)s->cancelled, (unsigned long long)s->failed,
            s->settings.priority, s->settings.max_latency_ms, s->settings.max_fps,
            (unsigned long long)s->bad_packets,
            (unsigned long long)s->reconnects, s->gpu_decode ? "true" : "false",
            (double)s->vram_estimate / 1048576.0, s->vram_measured ? "true" : "false",
            (double)s->host_estimate / 1048576.0, s->host_measured ? "true" : "false", s->stride,
            s->outage_s, (unsigned long long)s->lost_outage, s->down ? "true" : "false",
            (long long)s->expected,
            s->first_ns ? (double)(s->first_ns - start_ns) / 1e9 : -1.0);
    json_hist(f, "latency", &s->latency);
    fputc('}', f);
}

void ps_report_json(FILE *f, const ps_pipeline_stats *st, const ps_report_extra *x) {
    fprintf(f, "{\"seconds\":%.3f,\"streams\":[", seconds(st));
    for (int k = 0; k < st->n_streams; k++) {
        if (k) fputc(',', f);
        json_stream(f, &st->streams[k], st->start_ns);
    }
    fprintf(f, "],\"fps\":%.3f,\"drop_pct\":%.4f,", ps_report_fps(st), ps_report_drop_pct(st));
    json_hist(f, "latency", &st->latency);
    fputc(',', f);
    json_hist(f, "engine", &st->engine);
    fputc(',', f);
    json_hist(f, "queue", &st->queue);
    fprintf(f, ",\"batches\":%llu,\"batch_sizes\":{", (unsigned long long)st->batches);
    int first = 1;
    for (int b = 1; b <= PS_BATCH_HIST; b++)
        if (st->batch_sizes[b]) {
            fprintf(f, "%s\"%d\":%llu", first ? "" : ",", b, (unsigned long long)st->batch_sizes[b]);
            first = 0;
        }
    fprintf(f, "},\"peak_rss_mb\":%.1f,\"engine_mb\":%.1f,\"vram_mb\":%.1f,"
               "\"engine_failures\":%llu,\"engine_fatal\":%s,\"engine_error\":",
            x->peak_rss_mb, x->engine_mb, x->vram_mb, (unsigned long long)st->engine_failures,
            st->engine_fatal ? "true" : "false");
    ps_json_string(f, st->engine_error);
    fputs("}\n", f);
}
