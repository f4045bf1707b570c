/* The multi-stream runtime (posestream.h): the set-up order that used to
 * live in the CLI, in one place. Streams are added first so their sources
 * open in parallel while the model loads; the start waits a little for them
 * to tell the input size, sets up GPU decoding before each GPU's CUDA engine
 * (FFmpeg must create the GPU's primary context first), builds an engine
 * and its detector per GPU, then lets the fleet (a pipeline per GPU) go. */
#include "runtime/runtime_impl.h"

#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "pipeline/stream_spec.h"
#include "util/log.h"
#include "util/memory.h"
#include "util/status.h"

ps_runtime_params ps_runtime_default_params(void) {
    return (ps_runtime_params){.verify_model = 1, .min_score = 0.2f, .batch_max = 8,
                               .batch_timeout_ms = 50, .ring_size = 4, .max_vram_gb = 11,
                               .open_wait_ms = 1000, .track = ps_track_default_params()};
}

ps_stream_params ps_stream_default_params(void) {
    return (ps_stream_params){.reconnect = -1, .gpu = -1};
}

/* Stream id's tracker, made on its first frame; NULL when out of memory
 * (its people then go without ids). rt->track_mu held. */
static ps_tracker *tracker_of(ps_runtime *rt, int id) {
    if (id < 0) return NULL;
    if (id >= rt->n_trackers) {
        ps_tracker **grown = ps_grow_zeroed(rt->trackers, &rt->n_trackers, id + 16, sizeof *grown);
        if (!grown) return NULL;
        rt->trackers = grown;
    }
    ps_tracker *t = rt->trackers[id];
    if (!t && (t = malloc(sizeof *t)) && ps_tracker_init(t, &rt->params.track)) {
        ps_tracker_free(t);
        free(t);
        t = NULL;
    }
    return rt->trackers[id] = t;
}

/* Frees stream k's tracker, if it has one (rt->track_mu held). */
static void tracker_drop(ps_runtime *rt, int k) {
    if (k < 0 || k >= rt->n_trackers || !rt->trackers[k]) return;
    ps_tracker_free(rt->trackers[k]);
    free(rt->trackers[k]);
    rt->trackers[k] = NULL;
}

/* A stream that is done for good: its tracker goes and its annotator
 * finishes (the fleet's thread, no lock held). */
static void on_stream_done(void *ctx, int stream) {
    ps_runtime *rt = ctx;
    pthread_mutex_lock(&rt->track_mu);
    tracker_drop(rt, stream);
    pthread_mutex_unlock(&rt->track_mu);
    ps_rt_annot_done(rt, stream);
}

static void trackers_free(ps_runtime *rt) {
    for (int k = 0; k < rt->n_trackers; k++) tracker_drop(rt, k);
    free(rt->trackers);
    rt->trackers = NULL;
    rt->n_trackers = 0;
}

/* Every processed frame: ids and smoothing (video only), to the results,
 * then to the caller. */
static void on_frame(void *ctx, int stream, const char *name, const ps_frame *f) {
    ps_runtime *rt = ctx;
    ps_person people[PS_MAX_PEOPLE];
    int n = f->n_people < PS_MAX_PEOPLE ? f->n_people : PS_MAX_PEOPLE;
    memcpy(people, f->people, sizeof *people * (size_t)n);
    if (rt->params.track.enabled && !f->still) {
        pthread_mutex_lock(&rt->track_mu);
        ps_tracker *t = tracker_of(rt, stream);
        if (t) ps_tracker_apply(t, people, n, f->width, f->height, f->pts);
        pthread_mutex_unlock(&rt->track_mu);
    }
    ps_result r = {.stream = stream, .name = name, .frame = f->index, .pts = f->pts,
                   .captured_ns = f->t.captured, .output_ns = f->t.output, .width = f->width,
                   .height = f->height, .n_people = n, .people = people};
    if (rt->results) ps_results_write(rt->results, &r);
    if (ps_rt_annot_enabled(rt)) ps_rt_annot_result(rt, stream, f->index, people, n);
    if (rt->mqtt) ps_rt_mqtt_result(rt, &r);
    if (rt->params.on_result) rt->params.on_result(&r, rt->params.user);
}

static ps_status check_params(const ps_runtime_params *p, ps_err *err) {
    if (p->batch_max < 1 || p->batch_max > 1024)
        return ps_err_set(err, PS_ERR_ARG, "batch_max %d: expected 1 to 1024", p->batch_max);
    if (p->ring_size < 1 || p->ring_size > 1024)
        return ps_err_set(err, PS_ERR_ARG, "ring_size %d: expected 1 to 1024", p->ring_size);
    if (p->batch_timeout_ms < 0 || p->open_wait_ms < 0)
        return ps_err_set(err, PS_ERR_ARG, "batch_timeout_ms and open_wait_ms must be >= 0");
    if (!(p->max_vram_gb >= 0) || !(p->max_host_gb >= 0) || !(p->max_latency_ms >= 0))
        return ps_err_set(err, PS_ERR_ARG, "max_vram_gb, max_host_gb and max_latency_ms "
                                           "must be numbers >= 0");
    if (p->failover < 0 || p->failover > 1)
        return ps_err_set(err, PS_ERR_ARG, "failover %d: expected 0 or 1", p->failover);
    if (p->engine.max_people < 0 || p->engine.max_people > PS_MAX_PEOPLE)
        return ps_err_set(err, PS_ERR_ARG, "max_people %d: expected 1 to %d (0: %d)",
                          p->engine.max_people, PS_MAX_PEOPLE, PS_DEFAULT_PEOPLE);
    return ps_rt_annot_check(&p->annotate, err);
}

/* max_tracks 0: three times the people a frame can hold, as TF.js keeps 18
 * tracks for its 6, so that a crowd's tracks are not cut every frame. */
static void resolve_tracks(ps_track_params *t, int max_people) {
    if (t->max_tracks == 0) t->max_tracks = 3 * (max_people ? max_people : PS_DEFAULT_PEOPLE);
}

static ps_status make_fleet(ps_runtime *rt, ps_err *err) {
    const ps_runtime_params *p = &rt->params;
    ps_status st = ps_rt_gpus_resolve(rt, err);
    if (st) return st;
    ps_fleet_opts fo = {.n_lanes = rt->n_gpus, .failover = p->failover};
    fo.pipe = (ps_pipeline_opts){.batch_max = p->batch_max, .batch_timeout_ms = p->batch_timeout_ms,
                                 .ring_size = p->ring_size, .keep_running = p->keep_running,
                                 .max_vram = (size_t)(p->max_vram_gb * 1073741824.0),
                                 .max_host = (size_t)(p->max_host_gb * 1073741824.0),
                                 .on_result = on_frame, .result_ctx = rt,
                                 .on_stream_done = on_stream_done};
    memcpy(fo.gpu, rt->gpus, sizeof fo.gpu);
    rt->fleet = ps_fleet_create(&fo, err);
    return rt->fleet ? PS_OK : err->code;
}

ps_runtime *ps_runtime_create(const ps_runtime_params *params, ps_err *err) {
    ps_runtime_params p = params ? *params : ps_runtime_default_params();
    if (check_params(&p, err)) return NULL;
    ps_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) return ps_err_set(err, PS_ERR_NOMEM, "out of memory"), NULL;
    rt->params = p;
    resolve_tracks(&rt->params.track, p.engine.max_people);
    pthread_mutex_init(&rt->track_mu, NULL);
    pthread_mutex_init(&rt->annot_mu, NULL);
    pthread_mutex_init(&rt->mqtt_mu, NULL);
    if (p.model) snprintf(rt->model_path, sizeof rt->model_path, "%s", p.model);
    rt->params.model = p.model ? rt->model_path : NULL;
    if (p.output) snprintf(rt->output, sizeof rt->output, "%s", p.output);
    rt->params.output = p.output ? rt->output : NULL;
    if (p.gpus) snprintf(rt->gpus_text, sizeof rt->gpus_text, "%s", p.gpus);
    rt->params.gpus = p.gpus ? rt->gpus_text : NULL;
    ps_status st = PS_OK;
    if (p.output && !(rt->results = ps_results_open(p.output, err))) st = err->code;
    if (!st && !(rt->model = ps_model_find(rt->params.model, p.verify_model, err))) st = err->code;
    if (!st) st = make_fleet(rt, err);
    if (!st) st = ps_rt_mqtt_open(rt, err); /* its thread polls the fleet's figures */
    if (st) {
        ps_runtime_free(rt);
        return NULL;
    }
    return rt;
}

/* The pipeline's settings and source options of a public stream. */
static void split_stream(const ps_runtime *rt, const ps_stream_params *sp, char *name, size_t cap,
                         ps_stream_settings *set, ps_source_opts *so) {
    if (sp->name && sp->name[0]) snprintf(name, cap, "%s", sp->name);
    else ps_stream_name_of(sp->uri, name, cap);
    *set = (ps_stream_settings){.name = name, .priority = sp->priority,
                                .max_latency_ms = sp->max_latency_ms, .max_fps = sp->max_fps};
    if (set->max_latency_ms == 0) set->max_latency_ms = rt->params.max_latency_ms;
    *so = (ps_source_opts){.loop = sp->loop, .realtime = sp->realtime,
                           .av_options = sp->options, .open_timeout_s = sp->open_timeout_s,
                           .stall_timeout_s = sp->stall_timeout_s, .decode = rt->params.decode,
                           .reconnect = sp->reconnect};
}

ps_status ps_runtime_add_stream(ps_runtime *rt, const ps_stream_params *sp, int32_t *id,
                                ps_err *err) {
    if (!rt || !sp || !sp->uri || !sp->uri[0])
        return ps_err_set(err, PS_ERR_ARG, "add stream: no uri");
    if (!(sp->max_latency_ms >= 0) || !(sp->max_fps >= 0) || sp->reconnect < -1 || sp->gpu < -1)
        return ps_err_set(err, PS_ERR_ARG, "%s: max_latency_ms and max_fps must be >= 0, "
                                           "reconnect and gpu >= -1", sp->uri);
    if (rt->closed) return ps_err_set(err, PS_ERR_ARG, "%s: the runtime is closed", sp->uri);
    char name[128];
    ps_stream_settings set;
    ps_source_opts so;
    split_stream(rt, sp, name, sizeof name, &set, &so);
    struct ps_annotator *a;
    int got = -1;
    ps_status st = ps_rt_annot_prepare(rt, &a, &so, err);
    int pin = rt->on_cpu ? -1 : sp->gpu; /* a streams file written for a GPU host runs here too */
    if (!st) st = ps_fleet_add_stream(rt->fleet, sp->uri, &set, pin, &so, &got, err);
    ps_rt_annot_added(rt, a, st ? -1 : got);
    if (!st && id) *id = got;
    return st;
}

ps_status ps_runtime_set_stream(ps_runtime *rt, int32_t id, int32_t priority,
                                double max_latency_ms, double max_fps, ps_err *err) {
    if (!rt || rt->closed) return ps_err_set(err, PS_ERR_ARG, "stream %d: the runtime is closed", id);
    if (!(max_latency_ms >= 0) || !(max_fps >= 0) || max_latency_ms > 1e7 || max_fps > 1e7)
        return ps_err_set(err, PS_ERR_ARG, "stream %d: max_latency_ms and max_fps must be "
                                           "numbers from 0 to 1e7", id);
    ps_stream_settings set = {.priority = priority, .max_latency_ms = max_latency_ms,
                              .max_fps = max_fps};
    if (set.max_latency_ms == 0) set.max_latency_ms = rt->params.max_latency_ms;
    return ps_fleet_update(rt->fleet, id, &set, err);
}

ps_status ps_runtime_remove_stream(ps_runtime *rt, int32_t id, ps_err *err) {
    if (!rt || rt->closed) return ps_err_set(err, PS_ERR_ARG, "stream %d: the runtime is closed", id);
    return ps_fleet_remove(rt->fleet, id, err);
}

/* GPU decoding on GPU g set up before its engine; an error only when
 * asked for. */
static ps_status prepare_decoding(ps_runtime *rt, int g, ps_err *err) {
    ps_decode_mode d = rt->params.decode;
    ps_err gpu_err = {0};
    ps_status gpu = PS_ERR_UNSUPPORTED;
    if (rt->params.engine.backend != PS_BACKEND_CPU && d != PS_DECODE_CPU)
        gpu = ps_source_gpu_prepare(g, &gpu_err);
    if (d != PS_DECODE_GPU || !gpu) return PS_OK;
    return ps_err_set(err, PS_ERR_UNSUPPORTED, "decode gpu: %s",
                      rt->params.engine.backend == PS_BACKEND_CPU
                          ? "needs the CUDA backend (not the CPU)" : gpu_err.msg);
}

/* Lane k's engine (on GPU rt->gpus[k]) and its detector. */
static ps_status build_lane(ps_runtime *rt, int k, const ps_engine_opts *base, ps_err *err) {
    ps_engine_opts eo = *base;
    eo.gpu = rt->gpus[k];
    ps_status st = prepare_decoding(rt, eo.gpu, err);
    if (st) return st;
    if (!(rt->engines[k] = ps_engine_create(rt->model, &eo, err))) {
        if (rt->n_gpus > 1) ps_err_set(err, err->code, "GPU %d: %.480s", eo.gpu, err->msg);
        return err->code;
    }
    int on_cpu = strcmp(ps_engine_backend(rt->engines[k]), "cuda") != 0;
    if (rt->params.decode == PS_DECODE_GPU && on_cpu)
        return ps_err_set(err, PS_ERR_UNSUPPORTED,
                          "decode gpu: the engine runs on the CPU (no usable GPU)");
    /* with GPUs present, one asked for by number, or one of several, never
     * falls back to the CPU (without any, AUTO runs one CPU engine) */
    int listed = rt->params.gpus && strcmp(rt->params.gpus, "all") != 0;
    if (on_cpu && !rt->on_cpu && (listed || rt->n_gpus > 1)) {
        const char *note = ps_engine_note(rt->engines[k]); /* "why; using the CPU" */
        const char *cut = strstr(note, "; using the CPU");
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "GPU %d: %.*s", eo.gpu,
                          (int)(cut ? cut - note : 400), note);
    }
    if (ps_engine_note(rt->engines[k])[0]) ps_log(PS_LOG_WARN, "%s", ps_engine_note(rt->engines[k]));
    if ((st = ps_engine_detector(rt->engines[k], rt->params.min_score, &rt->dets[k], err)))
        return st;
    rt->n_dets = k + 1;
    return PS_OK;
}

static ps_status build_engines(ps_runtime *rt, ps_err *err) {
    ps_engine_opts eo = rt->params.engine;
    if (!eo.input_w || !eo.input_h) {
        ps_fleet_wait_opened(rt->fleet, rt->params.open_wait_ms);
        ps_fleet_suggest_input(rt->fleet, &eo.input_w, &eo.input_h);
    }
    eo.max_batch = rt->params.batch_max;
    for (int k = 0; k < rt->n_gpus; k++) {
        ps_status st = build_lane(rt, k, &eo, err);
        if (st) return st;
    }
    rt->engine = rt->engines[0];
    rt->input_w = eo.input_w;
    rt->input_h = eo.input_h;
    rt->batch_max = eo.max_batch;
    return PS_OK;
}

ps_status ps_runtime_start(ps_runtime *rt, ps_err *err) {
    if (!rt || rt->closed || rt->started || rt->engine)
        return ps_err_set(err, PS_ERR_ARG, "start: the runtime has %s",
                          rt && rt->closed ? "been closed" : "already been started");
    ps_status st = build_engines(rt, err);
    if (!st) st = ps_fleet_start(rt->fleet, rt->dets, err);
    if (!st) rt->started = 1;
    return st;
}

void ps_runtime_stop(ps_runtime *rt) {
    if (rt && !rt->closed) ps_fleet_stop(rt->fleet);
}

void ps_runtime_cancel(ps_runtime *rt) {
    if (rt && !rt->closed) ps_fleet_cancel(rt->fleet);
}

int32_t ps_runtime_wait(ps_runtime *rt, int32_t timeout_ms) {
    if (!rt || rt->closed || !rt->started) return 1;
    return ps_fleet_wait(rt->fleet, timeout_ms);
}

int32_t ps_runtime_output_failed(ps_runtime *rt, ps_err *err) {
    return rt && ps_results_failed(rt->results, err);
}

void ps_runtime_utilization(ps_runtime *rt, int32_t *gpu, int32_t *decoder) {
    int sum_g = 0, sum_d = 0, n_g = 0, n_d = 0;
    for (int k = 0; rt && !rt->closed && k < rt->n_dets; k++) {
        int g, d;
        ps_engine_utilization(rt->engines[k], &g, &d);
        if (g >= 0) sum_g += g, n_g++;
        if (d >= 0) sum_d += d, n_d++;
    }
    if (gpu) *gpu = n_g ? (sum_g + n_g / 2) / n_g : -1;
    if (decoder) *decoder = n_d ? (sum_d + n_d / 2) / n_d : -1;
}

ps_status ps_runtime_close(ps_runtime *rt, ps_err *err) {
    if (!rt || rt->closed) return PS_OK;
    if (rt->fleet && rt->started && !ps_fleet_wait(rt->fleet, 0)) {
        ps_fleet_cancel(rt->fleet);
        ps_fleet_wait(rt->fleet, -1);
    }
    ps_err ignored;
    if (rt->fleet && ps_fleet_stats_get(rt->fleet, &rt->final, &ignored))
        memset(&rt->final, 0, sizeof rt->final);
    ps_runtime_engine_mb(rt, &rt->final_engine_mb, &rt->final_prepared_mb);
    ps_rt_mqtt_stop(rt, &rt->final.all); /* the final states, before the fleet goes */
    ps_fleet_free(rt->fleet); /* joins the threads: nothing writes results after */
    rt->fleet = NULL;
    ps_rt_annot_close(rt);      /* waits for the annotated files */
    rt->closed = 1;
    ps_status st = ps_results_close(rt->results, err);
    rt->results = NULL;
    return st;
}

void ps_runtime_free(ps_runtime *rt) {
    if (!rt) return;
    ps_err ignored;
    ps_runtime_close(rt, &ignored);
    ps_fleet_stats_free(&rt->final);
    trackers_free(rt);
    pthread_mutex_destroy(&rt->track_mu);
    pthread_mutex_destroy(&rt->annot_mu);
    ps_rt_mqtt_free(rt);
    pthread_mutex_destroy(&rt->mqtt_mu);
    for (int k = 0; k < rt->n_dets; k++) ps_engine_detector_free(&rt->dets[k]);
    for (int k = 0; k < rt->n_gpus; k++) ps_engine_free(rt->engines[k]);
    ps_model_free(rt->model);
    free(rt);
}
