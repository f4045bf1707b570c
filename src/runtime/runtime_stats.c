/* The runtime's figures as plain numbers (posestream.h): the pipeline's
 * histograms become quantiles here, and priorities are summed here, where
 * the histograms still are. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "engine/engine.h"
#include "runtime/runtime_impl.h"
#include "util/status.h"

static ps_latency latency_of(const ps_hist *h) {
    if (!h->count) return (ps_latency){0};
    return (ps_latency){.count = h->count, .mean_ms = ps_hist_mean(h) / 1e3,
                        .p50_ms = ps_hist_quantile(h, 0.5) / 1e3,
                        .p95_ms = ps_hist_quantile(h, 0.95) / 1e3,
                        .p99_ms = ps_hist_quantile(h, 0.99) / 1e3,
                        .max_ms = (double)h->max_us / 1e3};
}

static void stream_of(const ps_stream_figures *s, ps_stream_stats *o) {
    *o = (ps_stream_stats){.id = s->id, .priority = s->settings.priority,
        .max_latency_ms = s->settings.max_latency_ms, .max_fps = s->settings.max_fps,
        .state = s->state, .live = s->live, .stride = s->stride, .width = s->width,
        .height = s->height, .fps = s->fps, .produced = s->produced, .processed = s->processed,
        .dropped = s->dropped, .late = s->late, .skipped = s->skipped, .cancelled = s->cancelled,
        .failed = s->failed, .expected = s->expected, .first_ns = s->first_ns,
        .last_ns = s->last_ns, .running_ns = s->running_ns, .latency = latency_of(&s->latency),
        .gpu_decode = s->gpu_decode, .bad_packets = s->bad_packets, .reconnects = s->reconnects,
        .outage_s = s->outage_s, .lost_outage = s->lost_outage, .down = s->down,
        .vram_mb = (double)s->vram_estimate / 1048576.0,
        .host_mb = (double)s->host_estimate / 1048576.0, .vram_measured = s->vram_measured,
        .host_measured = s->host_measured, .gpu = s->gpu, .moves = s->moves};
    snprintf(o->name, sizeof o->name, "%s", s->name);
    snprintf(o->uri, sizeof o->uri, "%s", s->uri);
    snprintf(o->error, sizeof o->error, "%s", s->error);
    snprintf(o->note, sizeof o->note, "%s", s->note);
}

/* The sums of one priority's streams into g (its latency merged in h). */
static void add_to_group(const ps_stream_figures *s, ps_priority_stats *g, ps_hist *h) {
    g->streams++;
    g->produced += s->produced, g->processed += s->processed, g->dropped += s->dropped;
    g->late += s->late, g->skipped += s->skipped, g->cancelled += s->cancelled;
    g->failed += s->failed;
    ps_hist_merge(h, &s->latency);
}

/* The slot for priority p in out (kept highest first), or -1 when full of
 * higher ones. */
static int group_slot(ps_stats *out, int p, ps_hist *hists) {
    int at = 0;
    while (at < out->n_priorities && out->priorities[at].priority > p) at++;
    if (at < out->n_priorities && out->priorities[at].priority == p) return at;
    if (at == PS_MAX_PRIORITIES) return -1;
    int last = out->n_priorities < PS_MAX_PRIORITIES ? out->n_priorities : PS_MAX_PRIORITIES - 1;
    memmove(&out->priorities[at + 1], &out->priorities[at], sizeof *out->priorities * (size_t)(last - at));
    memmove(&hists[at + 1], &hists[at], sizeof *hists * (size_t)(last - at));
    out->priorities[at] = (ps_priority_stats){.priority = p};
    ps_hist_init(&hists[at]);
    if (out->n_priorities < PS_MAX_PRIORITIES) out->n_priorities++;
    return at;
}

static ps_status group_priorities(const ps_pipeline_stats *in, ps_stats *out, ps_err *err) {
    ps_hist *hists = malloc(sizeof *hists * PS_MAX_PRIORITIES);
    if (!hists) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    for (int k = 0; k < in->n_streams; k++) {
        int at = group_slot(out, in->streams[k].settings.priority, hists);
        if (at >= 0) add_to_group(&in->streams[k], &out->priorities[at], &hists[at]);
    }
    for (int i = 0; i < out->n_priorities; i++) out->priorities[i].latency = latency_of(&hists[i]);
    free(hists);
    return PS_OK;
}

void ps_runtime_engine_mb(const ps_runtime *rt, double *engine_mb, double *prepared_mb) {
    *engine_mb = *prepared_mb = 0;
    for (int k = 0; k < rt->n_gpus; k++) {
        if (!rt->engines[k]) continue;
        *engine_mb += (double)ps_engine_memory(rt->engines[k]) / 1048576.0;
        *prepared_mb += (double)ps_engine_prepared_bytes(rt->engines[k]) / 1048576.0;
    }
}

/* What the engine and the process hold (as the run ended, once closed). */
static void engine_figures(const ps_runtime *rt, ps_stats *out) {
    struct rusage ru;
    out->peak_rss_mb = getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0;
    out->vram_peak_mb = -1;
    out->input_w = rt->input_w, out->input_h = rt->input_h, out->batch_max = rt->batch_max;
    if (!rt->engine) return;
    snprintf(out->backend, sizeof out->backend, "%s", ps_engine_backend(rt->engine));
    snprintf(out->device, sizeof out->device, "%s", ps_engine_device(rt->engine));
    if (rt->closed) out->engine_mb = rt->final_engine_mb, out->prepared_mb = rt->final_prepared_mb;
    else ps_runtime_engine_mb(rt, &out->engine_mb, &out->prepared_mb);
    if (!strcmp(out->backend, "cpu")) return;
    out->vram_peak_mb = 0; /* the sum of each GPU's */
    for (int k = 0; k < rt->n_gpus; k++) {
        size_t now = 0, peak = 0;
        if (rt->engines[k]) ps_engine_vram(rt->engines[k], &now, &peak);
        out->vram_peak_mb += (double)peak / 1048576.0;
    }
}

/* Each GPU's figures, on GPUs. */
static void gpu_figures(const ps_runtime *rt, const ps_fleet_stats *in, ps_stats *out) {
    if (!ps_rt_on_gpus(rt)) {
        for (int k = 0; k < out->n_streams; k++) out->streams[k].gpu = -1;
        return;
    }
    out->n_gpus = in->n_lanes;
    for (int k = 0; k < in->n_lanes; k++) {
        const ps_lane_stats *l = &in->lanes[k];
        ps_gpu_stats *g = &out->gpus[k];
        *g = (ps_gpu_stats){.gpu = l->gpu, .failed = l->fatal, .streams = l->streams,
            .streams_total = (uint64_t)l->st.n_streams, .processed = l->st.latency.count,
            .batches = l->st.batches, .engine_failures = l->st.engine_failures,
            .latency = latency_of(&l->st.latency), .engine = latency_of(&l->st.engine),
            .busy = l->busy, .vram_mb = (double)l->vram_now / 1048576.0,
            .vram_peak_mb = (double)l->vram_peak / 1048576.0,
            .vram_total_mb = (double)l->vram_total / 1048576.0, .util_gpu = l->util_gpu,
            .util_decoder = l->util_decoder};
        snprintf(g->device, sizeof g->device, "%s",
                 rt->engines[k] ? ps_engine_device(rt->engines[k]) : "");
        snprintf(g->error, sizeof g->error, "%s", l->st.engine_error);
    }
}

ps_status ps_runtime_convert(const ps_runtime *rt, const ps_fleet_stats *fleet, ps_stats *out,
                             ps_err *err) {
    const ps_pipeline_stats *in = &fleet->all;
    memset(out, 0, sizeof *out);
    out->streams = calloc(in->n_streams ? (size_t)in->n_streams : 1, sizeof *out->streams);
    if (!out->streams || group_priorities(in, out, err)) {
        free(out->streams);
        memset(out, 0, sizeof *out);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    out->n_streams = in->n_streams;
    for (int k = 0; k < in->n_streams; k++) stream_of(&in->streams[k], &out->streams[k]);
    out->latency = latency_of(&in->latency), out->engine = latency_of(&in->engine);
    out->queue = latency_of(&in->queue), out->decode = latency_of(&in->decode);
    out->batches = in->batches;
    memcpy(out->batch_sizes, in->batch_sizes, sizeof out->batch_sizes);
    uint64_t frames = 0;
    for (int b = 1; b <= PS_BATCH_SIZES; b++) frames += (uint64_t)b * in->batch_sizes[b];
    out->mean_batch = in->batches ? (double)frames / (double)in->batches : 0;
    out->start_ns = in->start_ns, out->now_ns = in->now_ns, out->finished = in->finished;
    out->engine_failures = in->engine_failures, out->engine_fatal = in->engine_fatal;
    snprintf(out->engine_error, sizeof out->engine_error, "%s", in->engine_error);
    out->vram_base_mb = (double)in->vram_base / 1048576.0;
    engine_figures(rt, out);
    gpu_figures(rt, fleet, out);
    ps_rt_mqtt_figures(rt, out);
    return PS_OK;
}

ps_status ps_runtime_stats(ps_runtime *rt, ps_stats *st, ps_err *err) {
    if (!rt) return ps_err_set(err, PS_ERR_ARG, "stats: no runtime");
    if (rt->closed) return ps_runtime_convert(rt, &rt->final, st, err);
    ps_fleet_stats in;
    ps_status s = ps_fleet_stats_get(rt->fleet, &in, err);
    if (!s) s = ps_runtime_convert(rt, &in, st, err);
    ps_fleet_stats_free(&in);
    return s;
}

ps_status ps_runtime_stream_stats(ps_runtime *rt, int32_t id, ps_stream_stats *out,
                                  int64_t *start_ns, ps_err *err) {
    if (!rt) return ps_err_set(err, PS_ERR_ARG, "stats: no runtime");
    if (rt->closed) {
        if (id < 0 || id >= rt->final.all.n_streams)
            return ps_err_set(err, PS_ERR_ARG, "stream %d: no such stream", id);
        stream_of(&rt->final.all.streams[id], out);
        if (start_ns) *start_ns = rt->final.all.start_ns;
        return PS_OK;
    }
    ps_stream_figures *one = malloc(sizeof *one); /* 15 KiB of histogram: not on the stack */
    if (!one) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    ps_status st = ps_fleet_stream_get(rt->fleet, id, one, start_ns, err);
    if (!st) stream_of(one, out);
    if (!st && !ps_rt_on_gpus(rt)) out->gpu = -1;
    free(one);
    return st;
}

void ps_stats_free(ps_stats *st) {
    if (!st) return;
    free(st->streams);
    memset(st, 0, sizeof *st);
}

/* counts[i] of h at bounds_ms[i]. */
static void count_below(const ps_hist *h, const double *bounds_ms, int32_t n, uint64_t *counts) {
    for (int32_t i = 0; i < n; i++)
        counts[i] = ps_hist_count_below(h, (int64_t)(bounds_ms[i] * 1e3 + 0.5));
}

ps_status ps_runtime_latency_counts(ps_runtime *rt, int32_t id, const double *bounds_ms,
                                    int32_t n, uint64_t *counts, ps_err *err) {
    if (!rt || n < 0 || (n && (!bounds_ms || !counts)))
        return ps_err_set(err, PS_ERR_ARG, "latency counts: bad arguments");
    ps_fleet_stats live;
    const ps_pipeline_stats *st = &rt->final.all;
    if (!rt->closed) {
        ps_status s = ps_fleet_stats_get(rt->fleet, &live, err);
        if (s) return s;
        st = &live.all;
    }
    ps_status s = PS_OK;
    if (id < -1 || id >= st->n_streams)
        s = ps_err_set(err, PS_ERR_ARG, "stream %d: no such stream", id);
    else count_below(id < 0 ? &st->latency : &st->streams[id].latency, bounds_ms, n, counts);
    if (!rt->closed) ps_fleet_stats_free(&live);
    return s;
}
