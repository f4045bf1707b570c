/* The runtime's figures in Prometheus' text format (ps_runtime_write_metrics):
 * base units (seconds, bytes, ratios), counters ending in _total, latencies
 * as histograms (cumulative counts from the pipeline's own histograms,
 * within their 1/64 resolution). Streams carry two labels: their id (stable
 * for the life of the process) and their name. */
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "runtime/runtime_impl.h"
#include "util/memory.h"
#include "util/status.h"

/* 1 ms to 2 s: from an idle GPU's frame to a stalled CPU's. */
static const double latency_bounds[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                        0.1,   0.2,   0.5,   1.0,  2.0};
#define N_LATENCY_BOUNDS (sizeof latency_bounds / sizeof *latency_bounds)

/* A label value, escaped as the format asks (\\, \", \n). */
static void label_value(FILE *f, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') fprintf(f, "\\%c", *v);
        else if (*v == '\n') fputs("\\n", f);
        else fputc(*v, f);
    }
}

static void stream_labels(FILE *f, const ps_stream_figures *s) {
    fprintf(f, "stream=\"%d\",name=\"", s->id);
    label_value(f, s->name);
    fputc('"', f);
}

static void head(FILE *f, const char *name, const char *type, const char *help) {
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The labels of one series: the stream's (when s is not NULL) and, when
 * le is, the bucket's bound. */
static void labels(FILE *f, const ps_stream_figures *s, const char *le) {
    if (!s && !le) return;
    fputc('{', f);
    if (s) stream_labels(f, s);
    if (le) fprintf(f, "%sle=\"%s\"", s ? "," : "", le);
    fputc('}', f);
}

/* One histogram's series, of stream s (NULL: the whole run). */
static void histogram(FILE *f, const char *name, const ps_stream_figures *s, const ps_hist *h) {
    for (size_t i = 0; i <= N_LATENCY_BOUNDS; i++) {
        char le[32] = "+Inf";
        uint64_t n = h->count;
        if (i < N_LATENCY_BOUNDS) {
            snprintf(le, sizeof le, "%g", latency_bounds[i]);
            n = ps_hist_count_below(h, (int64_t)(latency_bounds[i] * 1e6 + 0.5));
        }
        fprintf(f, "%s_bucket", name);
        labels(f, s, le);
        fprintf(f, " %llu\n", (unsigned long long)n);
    }
    fprintf(f, "%s_sum", name);
    labels(f, s, NULL);
    fprintf(f, " %.6f\n%s_count", h->sum_us / 1e6, name);
    labels(f, s, NULL);
    fprintf(f, " %llu\n", (unsigned long long)h->count);
}

static void frames_total(FILE *f, const ps_pipeline_stats *st) {
    static const char *const outcome[] = {"processed", "dropped", "late", "skipped",
                                          "cancelled", "failed"};
    head(f, "posestream_frames_total", "counter",
         "Frames each stream's source delivered, by what became of them.");
    for (int k = 0; k < st->n_streams; k++) {
        const ps_stream_figures *s = &st->streams[k];
        const uint64_t n[] = {s->processed, s->dropped, s->late, s->skipped, s->cancelled, s->failed};
        for (int o = 0; o < 6; o++) {
            fputs("posestream_frames_total{", f);
            stream_labels(f, s);
            fprintf(f, ",outcome=\"%s\"} %llu\n", outcome[o], (unsigned long long)n[o]);
        }
    }
}

/* A per-stream counter or gauge from one field. */
typedef double (*stream_value)(const ps_stream_figures *s);

static void per_stream(FILE *f, const ps_pipeline_stats *st, const char *name, const char *type,
                       const char *help, stream_value value) {
    head(f, name, type, help);
    for (int k = 0; k < st->n_streams; k++) {
        fprintf(f, "%s{", name);
        stream_labels(f, &st->streams[k]);
        fprintf(f, "} %.17g\n", value(&st->streams[k]));
    }
}

static double reconnects(const ps_stream_figures *s) { return (double)s->reconnects; }
static double outage(const ps_stream_figures *s) { return s->outage_s; }
static double lost_outage(const ps_stream_figures *s) { return (double)s->lost_outage; }
static double bad_packets(const ps_stream_figures *s) { return (double)s->bad_packets; }
static double up(const ps_stream_figures *s) {
    return s->state == PS_STREAM_RUNNING && !s->down ? 1 : 0;
}

static void stream_series(FILE *f, const ps_pipeline_stats *st) {
    frames_total(f, st);
    per_stream(f, st, "posestream_reconnects_total", "counter",
               "Times a network stream connected again after it broke.", reconnects);
    per_stream(f, st, "posestream_outage_seconds_total", "counter",
               "Time a network stream was down (reconnecting).", outage);
    per_stream(f, st, "posestream_outage_frames_total", "counter",
               "Frames a stream would have delivered while down, at its nominal rate "
               "(never arrived, so not in posestream_frames_total).", lost_outage);
    per_stream(f, st, "posestream_corrupt_packets_total", "counter",
               "Damaged packets the decoder skipped.", bad_packets);
    per_stream(f, st, "posestream_stream_up", "gauge",
               "1 while the stream runs and its source is up.", up);
    head(f, "posestream_latency_seconds", "histogram",
         "End to end: frame captured (or its slot, for a file in real time) to keypoints out.");
    for (int k = 0; k < st->n_streams; k++)
        histogram(f, "posestream_latency_seconds", &st->streams[k], &st->streams[k].latency);
}

static void streams_by_state(FILE *f, const ps_pipeline_stats *st) {
    head(f, "posestream_streams", "gauge", "Streams in each state.");
    for (int state = PS_STREAM_OPENING; state <= PS_STREAM_REMOVED; state++) {
        int n = 0;
        for (int k = 0; k < st->n_streams; k++) n += (int)st->streams[k].state == state;
        fprintf(f, "posestream_streams{state=\"%s\"} %d\n",
                ps_stream_state_name((ps_stream_state)state), n);
    }
}

static void batch_series(FILE *f, const ps_pipeline_stats *st) {
    head(f, "posestream_queue_wait_seconds", "histogram", "Frame captured to taken into a batch.");
    histogram(f, "posestream_queue_wait_seconds", NULL, &st->queue);
    head(f, "posestream_engine_batch_seconds", "histogram", "The engine's time per batch.");
    histogram(f, "posestream_engine_batch_seconds", NULL, &st->engine);
    head(f, "posestream_batch_frames", "histogram", "Frames per batch.");
    uint64_t below = 0, frames = 0;
    for (int le = 1, b = 1; le <= PS_BATCH_SIZES; le *= 2) {
        for (; b <= le; b++) below += st->batch_sizes[b], frames += (uint64_t)b * st->batch_sizes[b];
        fprintf(f, "posestream_batch_frames_bucket{le=\"%d\"} %llu\n", le, (unsigned long long)below);
    }
    fprintf(f, "posestream_batch_frames_bucket{le=\"+Inf\"} %llu\nposestream_batch_frames_sum %llu\n"
               "posestream_batch_frames_count %llu\n", (unsigned long long)st->batches,
            (unsigned long long)frames, (unsigned long long)st->batches);
    head(f, "posestream_engine_failures_total", "counter", "Batches that failed in the engine.");
    fprintf(f, "posestream_engine_failures_total %llu\n", (unsigned long long)st->engine_failures);
}

static void process_series(FILE *f, const ps_runtime *rt) {
    head(f, "posestream_build_info", "gauge", "The library's version and build, and the engine.");
    fprintf(f, "posestream_build_info{version=\"%s\",cuda=\"%s\",backend=\"%s\",device=\"",
            ps_version(), ps_has_cuda() ? "yes" : "no", rt->engine ? ps_engine_backend(rt->engine) : "");
    label_value(f, rt->engine ? ps_engine_device(rt->engine) : "");
    fputs("\"} 1\n", f);
    head(f, "process_resident_memory_bytes", "gauge", "Resident memory of the process.");
    fprintf(f, "process_resident_memory_bytes %zu\n", ps_mem_resident());
}

/* One gauge or counter per GPU, of lane figures picked by `value`. */
static void gpu_series(FILE *f, const ps_fleet_stats *st, const char *name, const char *type,
                       const char *help, double (*value)(const ps_lane_stats *)) {
    head(f, name, type, help);
    for (int k = 0; k < st->n_lanes; k++) {
        double v = value(&st->lanes[k]);
        if (v >= 0) fprintf(f, "%s{gpu=\"%d\"} %.15g\n", name, st->lanes[k].gpu, v);
    }
}

static double lane_vram(const ps_lane_stats *l) { return (double)l->vram_now; }
static double lane_vram_peak(const ps_lane_stats *l) { return (double)l->vram_peak; }
static double lane_util(const ps_lane_stats *l) { return l->util_gpu < 0 ? -1 : l->util_gpu / 100.0; }
static double lane_dec(const ps_lane_stats *l) {
    return l->util_decoder < 0 ? -1 : l->util_decoder / 100.0;
}
static double lane_streams(const ps_lane_stats *l) { return l->streams; }
static double lane_frames(const ps_lane_stats *l) { return (double)l->st.latency.count; }
static double lane_busy(const ps_lane_stats *l) { return l->busy; }
static double lane_up(const ps_lane_stats *l) { return !l->fatal; }

/* Each GPU's figures (label gpu, its number), on a GPU. */
static void gpus_series(FILE *f, const ps_runtime *rt, const ps_fleet_stats *st) {
    if (!ps_rt_on_gpus(rt)) return;
    gpu_series(f, st, "posestream_gpu_memory_bytes", "gauge", "Device memory of the process.",
               lane_vram);
    gpu_series(f, st, "posestream_gpu_memory_peak_bytes", "gauge",
               "Peak device memory of the process.", lane_vram_peak);
    gpu_series(f, st, "posestream_gpu_utilization_ratio", "gauge", "The GPU's busy share (NVML).",
               lane_util);
    gpu_series(f, st, "posestream_decoder_utilization_ratio", "gauge",
               "The GPU's video decoders' busy share (NVML).", lane_dec);
    gpu_series(f, st, "posestream_gpu_streams", "gauge", "Streams placed on the GPU now.",
               lane_streams);
    gpu_series(f, st, "posestream_gpu_frames_total", "counter", "Frames the GPU's engine ran.",
               lane_frames);
    gpu_series(f, st, "posestream_gpu_engine_busy_ratio", "gauge",
               "The GPU's engine time per second of the run.", lane_busy);
    gpu_series(f, st, "posestream_gpu_up", "gauge", "0 once the GPU's engine could not go on.",
               lane_up);
    head(f, "posestream_stream_gpu", "gauge", "The GPU a stream runs (or last ran) on.");
    for (int k = 0; k < st->all.n_streams; k++) {
        fputs("posestream_stream_gpu{", f);
        stream_labels(f, &st->all.streams[k]);
        fprintf(f, "} %d\n", st->all.streams[k].gpu);
    }
}

/* The MQTT sink's counts, when results go to a broker. */
static void mqtt_series(FILE *f, const ps_runtime *rt, const ps_pipeline_stats *st) {
    uint64_t published, dropped, outages;
    if (!ps_rt_mqtt_totals(rt, &published, &dropped, &outages)) return;
    head(f, "posestream_mqtt_messages_total", "counter", "Messages for the MQTT broker, by outcome.");
    fprintf(f, "posestream_mqtt_messages_total{outcome=\"published\"} %llu\n"
               "posestream_mqtt_messages_total{outcome=\"dropped\"} %llu\n",
            (unsigned long long)published, (unsigned long long)dropped);
    head(f, "posestream_mqtt_outages_total", "counter", "Times the connection to the broker broke.");
    fprintf(f, "posestream_mqtt_outages_total %llu\n", (unsigned long long)outages);
    head(f, "posestream_mqtt_dropped_total", "counter",
         "A stream's results not published: the broker slow, away or refusing.");
    for (int k = 0; k < st->n_streams; k++) {
        fputs("posestream_mqtt_dropped_total{", f);
        stream_labels(f, &st->streams[k]);
        fprintf(f, "} %llu\n", (unsigned long long)ps_rt_mqtt_dropped(rt, st->streams[k].id));
    }
}

ps_status ps_runtime_write_metrics(ps_runtime *rt, FILE *f, ps_err *err) {
    ps_fleet_stats st;
    ps_status s = !rt ? ps_err_set(err, PS_ERR_ARG, "metrics: no runtime")
                  : rt->closed ? PS_OK : ps_fleet_stats_get(rt->fleet, &st, err);
    if (s) return s;
    const ps_fleet_stats *use = rt->closed ? &rt->final : &st;
    stream_series(f, &use->all);
    streams_by_state(f, &use->all);
    batch_series(f, &use->all);
    process_series(f, rt);
    gpus_series(f, rt, use);
    mqtt_series(f, rt, &use->all);
    if (!rt->closed) ps_fleet_stats_free(&st);
    return ferror(f) ? ps_err_set(err, PS_ERR_IO, "metrics: writing failed") : PS_OK;
}
