/* Reports of a run from its public figures (posestream.h): the live status
 * lines, the summary table, and every figure as JSON. */
#include <stdio.h>

#include "posestream.h"

const char *ps_stream_state_name(ps_stream_state s) {
    switch (s) {
    case PS_STREAM_OPENING: return "opening";
    case PS_STREAM_OPENED: return "opened";
    case PS_STREAM_RUNNING: return "running";
    case PS_STREAM_ENDED: return "ended";
    case PS_STREAM_FAILED: return "failed";
    case PS_STREAM_REFUSED: return "refused";
    case PS_STREAM_REMOVED: return "removed";
    }
    return "unknown";
}

/* For people reading a table: the states that need a look stand out. */
static const char *shown_state(ps_stream_state s) {
    return s == PS_STREAM_FAILED ? "FAILED" : s == PS_STREAM_REFUSED ? "REFUSED"
                                            : ps_stream_state_name(s);
}

static double seconds(const ps_stats *st) {
    double s = (double)(st->now_ns - st->start_ns) / 1e9;
    return s > 1e-9 ? s : 1e-9;
}

double ps_stats_fps(const ps_stats *st) {
    uint64_t n = 0;
    for (int k = 0; k < st->n_streams; k++) n += st->streams[k].processed;
    return (double)n / seconds(st);
}

static double pct(uint64_t part, uint64_t whole) {
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

double ps_stats_drop_pct(const ps_stats *st) {
    uint64_t produced = 0, dropped = 0;
    for (int k = 0; k < st->n_streams; k++) {
        produced += st->streams[k].produced;
        dropped += st->streams[k].dropped;
    }
    return pct(dropped, produced);
}

void ps_stats_print_status(FILE *f, const ps_stats *now, const ps_stats *prev, int32_t redraw) {
    if (redraw) fprintf(f, "\033[%dA", now->n_streams);
    double dt = prev ? (double)(now->now_ns - prev->now_ns) / 1e9 : seconds(now);
    for (int k = 0; k < now->n_streams; k++) {
        const ps_stream_stats *s = &now->streams[k];
        uint64_t before = prev && k < prev->n_streams ? prev->streams[k].processed : 0;
        double fps = dt > 0 ? (double)(s->processed - before) / dt : 0;
        fprintf(f, "\033[2K[%2d] %-24.24s %-7s %6.1f fps  latency p50 %6.1f p99 %6.1f ms  "
                   "dropped %llu (%.1f%%) late %llu skipped %llu failed %llu\n",
                k, s->name, shown_state(s->state), fps, s->latency.p50_ms, s->latency.p99_ms,
                (unsigned long long)s->dropped, pct(s->dropped, s->produced),
                (unsigned long long)s->late, (unsigned long long)s->skipped,
                (unsigned long long)s->failed);
    }
    fflush(f);
}

static void summary_row(FILE *f, const char *id, const char *name, const ps_stream_stats *s,
                        double fps, const ps_latency *lat) {
    fprintf(f, "%-4s %-22.22s %8llu %9llu %8llu %6.2f%% %6llu %7llu %9llu %6llu %7.1f %7.1f %7.1f "
               "%7.1f %7.1f\n",
            id, name, (unsigned long long)s->produced, (unsigned long long)s->processed,
            (unsigned long long)s->dropped, pct(s->dropped, s->produced),
            (unsigned long long)s->late, (unsigned long long)s->skipped,
            (unsigned long long)s->cancelled, (unsigned long long)s->failed, fps, lat->p50_ms,
            lat->p95_ms, lat->p99_ms, lat->max_ms);
}

static void summary_streams(FILE *f, const ps_stats *st) {
    ps_stream_stats all = {0};
    for (int k = 0; k < st->n_streams; k++) {
        const ps_stream_stats *s = &st->streams[k];
        char id[16];
        snprintf(id, sizeof id, "%d", s->id);
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
    summary_row(f, "all", "", &all, ps_stats_fps(st), &st->latency);
}

/* The lines under the table: what happened to streams beyond their
 * counts, and to the engine. */
static void summary_events(FILE *f, const ps_stats *st) {
    for (int k = 0; k < st->n_streams; k++) {
        const ps_stream_stats *s = &st->streams[k];
        if (s->reconnects || s->down)
            fprintf(f, "stream %d (%s): reconnected %llu times, down %.1f s in all: %llu frames "
                       "never arrived%s\n", s->id, s->name, (unsigned long long)s->reconnects,
                    s->outage_s, (unsigned long long)s->lost_outage,
                    s->down ? "; DOWN at the end" : "");
        if (s->bad_packets)
            fprintf(f, "stream %d (%s): %llu corrupt packets skipped by the decoder\n", s->id,
                    s->name, (unsigned long long)s->bad_packets);
        if (s->state == PS_STREAM_FAILED || s->state == PS_STREAM_REFUSED)
            fprintf(f, "stream %d (%s) %s: %s\n", s->id, s->name, shown_state(s->state), s->error);
        if (s->note[0]) fprintf(f, "stream %d (%s): %s\n", s->id, s->name, s->note);
        if (s->moves)
            fprintf(f, "stream %d (%s): moved %d time%s to another GPU, last on GPU %d (its "
                       "counts cover every GPU it ran on)\n", s->id, s->name, s->moves,
                    s->moves == 1 ? "" : "s", s->gpu);
        if (s->stride > 1)
            fprintf(f, "stream %d (%s): giving way to higher priorities at the end, keeping "
                       "every %d%s frame\n", s->id, s->name, s->stride,
                    s->stride == 2 ? "nd" : s->stride == 3 ? "rd" : "th");
    }
    if (st->mqtt.on) {
        fprintf(f, "mqtt %s: %llu messages published, %llu dropped, %llu outages", st->mqtt.url,
                (unsigned long long)st->mqtt.published, (unsigned long long)st->mqtt.dropped,
                (unsigned long long)st->mqtt.outages);
        for (int k = 0, n = 0; k < st->n_streams; k++)
            if (st->streams[k].mqtt_dropped)
                fprintf(f, "%s stream %d: %llu", n++ ? "," : "; dropped by", st->streams[k].id,
                        (unsigned long long)st->streams[k].mqtt_dropped);
        fputc('\n', f);
    }
    if (st->engine_failures || st->engine_fatal)
        fprintf(f, "engine: %llu batches failed%s: %s\n", (unsigned long long)st->engine_failures,
                st->engine_fatal ? ", could not go on (the run stopped)" : ", recovered each time",
                st->engine_error);
}

/* One line per GPU, with several. */
static void summary_gpus(FILE *f, const ps_stats *st) {
    double secs = seconds(st);
    for (int k = 0; st->n_gpus > 1 && k < st->n_gpus; k++) {
        const ps_gpu_stats *g = &st->gpus[k];
        fprintf(f, "GPU %d (%s): %llu streams (%d now), %.1f frames/s, p99 %.1f ms, engine busy "
                   "%.0f%%", g->gpu, g->device, (unsigned long long)g->streams_total, g->streams,
                secs > 0 ? (double)g->processed / secs : 0, g->latency.p99_ms, 100 * g->busy);
        if (g->util_decoder >= 0) fprintf(f, ", decoders %d%%", g->util_decoder);
        fprintf(f, ", VRAM %.0f MB (peak %.0f MB)", g->vram_mb, g->vram_peak_mb);
        if (g->failed) fprintf(f, "; FAILED: %s", g->error);
        fputc('\n', f);
    }
}

void ps_stats_print_summary(FILE *f, const ps_stats *st) {
    fprintf(f, "\n%-4s %-22s %8s %9s %8s %7s %6s %7s %9s %6s %7s %7s %7s %7s %7s\n", "id",
            "stream", "in", "processed", "dropped", "drop", "late", "skipped", "cancelled",
            "failed", "fps", "p50 ms", "p95 ms", "p99 ms", "max ms");
    summary_streams(f, st);
    fprintf(f, "engine: %llu batches, %.2f ms avg, %.2f ms p99 per batch; batch sizes:",
            (unsigned long long)st->batches, st->engine.mean_ms, st->engine.p99_ms);
    for (int b = 1; b <= PS_BATCH_SIZES; b++)
        if (st->batch_sizes[b]) fprintf(f, " %d%s:%llu", b, b == PS_BATCH_SIZES ? "+" : "",
                                        (unsigned long long)st->batch_sizes[b]);
    fprintf(f, "\nqueue wait (captured -> batched): p50 %.1f ms, p99 %.1f ms\n", st->queue.p50_ms,
            st->queue.p99_ms);
    fprintf(f, "memory: peak RSS %.0f MB, engine %.0f MB", st->peak_rss_mb, st->engine_mb);
    if (st->vram_peak_mb >= 0) fprintf(f, ", peak VRAM %.0f MB", st->vram_peak_mb);
    fputc('\n', f);
    summary_gpus(f, st);
    summary_events(f, st);
}

static void json_latency(ps_json *w, const char *key, const ps_latency *l) {
    ps_json_key(w, key);
    ps_json_object(w);
    ps_json_key_uint(w, "count", l->count);
    ps_json_key_number(w, "mean_ms", l->mean_ms, 3);
    ps_json_key_number(w, "p50_ms", l->p50_ms, 3);
    ps_json_key_number(w, "p95_ms", l->p95_ms, 3);
    ps_json_key_number(w, "p99_ms", l->p99_ms, 3);
    ps_json_key_number(w, "max_ms", l->max_ms, 3);
    ps_json_object_end(w);
}

static void json_counts(ps_json *w, const ps_stream_stats *s) {
    ps_json_key_uint(w, "produced", s->produced);
    ps_json_key_uint(w, "processed", s->processed);
    ps_json_key_uint(w, "dropped", s->dropped);
    ps_json_key_number(w, "drop_pct", pct(s->dropped, s->produced), 3);
    ps_json_key_uint(w, "late", s->late);
    ps_json_key_uint(w, "skipped", s->skipped);
    ps_json_key_uint(w, "cancelled", s->cancelled);
    ps_json_key_uint(w, "failed", s->failed);
}

/* start_s: first frame since the run's start (-1: none); fps: processed
 * over the stream's own span. */
void ps_stream_json(ps_json *w, const ps_stream_stats *s, int64_t start_ns) {
    double span = s->last_ns > s->first_ns ? (double)(s->last_ns - s->first_ns) / 1e9 : 0;
    ps_json_object(w);
    ps_json_key_int(w, "id", s->id);
    ps_json_key_string(w, "name", s->name);
    ps_json_key_string(w, "uri", s->uri);
    ps_json_key_string(w, "state", ps_stream_state_name(s->state));
    ps_json_key_string(w, "error", s->error);
    ps_json_key_string(w, "note", s->note);
    ps_json_key_bool(w, "live", s->live);
    ps_json_key_int(w, "width", s->width);
    ps_json_key_int(w, "height", s->height);
    ps_json_key_number(w, "fps_nominal", s->fps, 3);
    ps_json_key_number(w, "fps", span > 0 ? (double)s->processed / span : 0, 3);
    json_counts(w, s);
    ps_json_key_int(w, "priority", s->priority);
    ps_json_key_number(w, "max_latency_ms", s->max_latency_ms, 3);
    ps_json_key_number(w, "max_fps", s->max_fps, 3);
    ps_json_key_uint(w, "skipped_packets", s->bad_packets);
    ps_json_key_uint(w, "reconnects", s->reconnects);
    ps_json_key_bool(w, "gpu_decode", s->gpu_decode);
    ps_json_key_number(w, "vram_estimate_mb", s->vram_mb, 1);
    ps_json_key_bool(w, "vram_estimate_measured", s->vram_measured);
    ps_json_key_number(w, "host_estimate_mb", s->host_mb, 1);
    ps_json_key_bool(w, "host_estimate_measured", s->host_measured);
    ps_json_key_int(w, "stride", s->stride);
    ps_json_key_number(w, "outage_s", s->outage_s, 3);
    ps_json_key_uint(w, "lost_outage", s->lost_outage);
    ps_json_key_bool(w, "down", s->down);
    ps_json_key_int(w, "expected", s->expected);
    ps_json_key_uint(w, "mqtt_dropped", s->mqtt_dropped);
    ps_json_key_int(w, "gpu", s->gpu);
    ps_json_key_int(w, "moves", s->moves);
    ps_json_key_number(w, "start_s", s->first_ns ? (double)(s->first_ns - start_ns) / 1e9 : -1.0, 3);
    json_latency(w, "latency", &s->latency);
    ps_json_object_end(w);
}

static void json_batches(ps_json *w, const ps_stats *st) {
    ps_json_key_uint(w, "batches", st->batches);
    ps_json_key(w, "batch_sizes");
    ps_json_object(w);
    for (int b = 1; b <= PS_BATCH_SIZES; b++) {
        char key[16];
        snprintf(key, sizeof key, "%d", b);
        if (st->batch_sizes[b]) ps_json_key_uint(w, key, st->batch_sizes[b]);
    }
    ps_json_object_end(w);
}

static void json_gpu(ps_json *w, const ps_gpu_stats *g, double secs) {
    ps_json_object(w);
    ps_json_key_int(w, "gpu", g->gpu);
    ps_json_key_string(w, "device", g->device);
    ps_json_key_bool(w, "failed", g->failed);
    ps_json_key_string(w, "error", g->error);
    ps_json_key_int(w, "streams", g->streams);
    ps_json_key_uint(w, "streams_total", g->streams_total);
    ps_json_key_uint(w, "processed", g->processed);
    ps_json_key_number(w, "fps", secs > 0 ? (double)g->processed / secs : 0, 3);
    ps_json_key_uint(w, "batches", g->batches);
    ps_json_key_uint(w, "engine_failures", g->engine_failures);
    ps_json_key_number(w, "engine_busy", g->busy, 4);
    ps_json_key_int(w, "util_gpu", g->util_gpu);
    ps_json_key_int(w, "util_decoder", g->util_decoder);
    ps_json_key_number(w, "vram_mb", g->vram_mb, 1);
    ps_json_key_number(w, "vram_peak_mb", g->vram_peak_mb, 1);
    ps_json_key_number(w, "vram_total_mb", g->vram_total_mb, 1);
    json_latency(w, "latency", &g->latency);
    json_latency(w, "engine", &g->engine);
    ps_json_object_end(w);
}

void ps_stats_json(ps_json *w, const ps_stats *st) {
    ps_json_object(w);
    ps_json_key_number(w, "seconds", seconds(st), 3);
    ps_json_key(w, "streams");
    ps_json_array(w);
    for (int k = 0; k < st->n_streams; k++) ps_stream_json(w, &st->streams[k], st->start_ns);
    ps_json_array_end(w);
    ps_json_key_number(w, "fps", ps_stats_fps(st), 3);
    ps_json_key_number(w, "drop_pct", ps_stats_drop_pct(st), 4);
    json_latency(w, "latency", &st->latency);
    json_latency(w, "engine", &st->engine);
    json_latency(w, "queue", &st->queue);
    json_batches(w, st);
    ps_json_key_string(w, "backend", st->backend);
    ps_json_key_string(w, "device", st->device);
    ps_json_key_number(w, "peak_rss_mb", st->peak_rss_mb, 1);
    ps_json_key_number(w, "engine_mb", st->engine_mb, 1);
    ps_json_key_number(w, "vram_mb", st->vram_peak_mb, 1);
    ps_json_key_uint(w, "engine_failures", st->engine_failures);
    ps_json_key_bool(w, "engine_fatal", st->engine_fatal);
    ps_json_key_string(w, "engine_error", st->engine_error);
    ps_json_key(w, "gpus");
    ps_json_array(w);
    for (int k = 0; k < st->n_gpus; k++) json_gpu(w, &st->gpus[k], seconds(st));
    ps_json_array_end(w);
    if (st->mqtt.on) {
        ps_json_key(w, "mqtt");
        ps_json_object(w);
        ps_json_key_string(w, "url", st->mqtt.url);
        ps_json_key_uint(w, "published", st->mqtt.published);
        ps_json_key_uint(w, "dropped", st->mqtt.dropped);
        ps_json_key_uint(w, "outages", st->mqtt.outages);
        ps_json_object_end(w);
    }
    ps_json_object_end(w);
}
