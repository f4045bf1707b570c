/* Several GPUs, one pipeline each (see fleet.h): set-up, streams placed and
 * moved, the fleet's thread, tear-down. The figures are in fleet_stats.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/fleet_impl.h"
#include "pipeline/place.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/memory.h"
#include "util/status.h"

#define TICK_MS 200          /* the thread looks at the lanes this often */
#define SAMPLE_NS 1000000000 /* and samples their load once a second */

/* ---- the lanes' id maps and callbacks ---- */

int ps_fleet_id_of(ps_fleet *f, int lane, int local) {
    pthread_mutex_lock(&f->map_mu);
    const fleet_lane *l = &f->lanes[lane];
    int id = local >= 0 && local < l->cap_ids ? l->ids[local] : -1;
    pthread_mutex_unlock(&f->map_mu);
    return id;
}

/* Maps lane l's next local id to fleet id `id` before the stream is added
 * (a result may come out before the add returns). Returns non-OK when out
 * of memory. */
static ps_status map_next(ps_fleet *f, fleet_lane *l, int id) {
    pthread_mutex_lock(&f->map_mu);
    int need = l->next_local + 1, old = l->cap_ids;
    int *grown = need > old ? ps_grow_zeroed(l->ids, &l->cap_ids, need + 64, sizeof *grown) : l->ids;
    if (grown) {
        for (int k = old; k < l->cap_ids; k++) grown[k] = -1;
        l->ids = grown;
        l->ids[l->next_local] = id;
    }
    pthread_mutex_unlock(&f->map_mu);
    return grown ? PS_OK : PS_ERR_NOMEM;
}

static void lane_result(void *ctx, int local, const char *name, const ps_frame *fr) {
    fleet_lane *l = ctx;
    int id = ps_fleet_id_of(l->f, l->index, local);
    if (id >= 0 && l->f->o.pipe.on_result) l->f->o.pipe.on_result(l->f->o.pipe.result_ctx, id, name, fr);
}

/* A lane's stream is done (its pipeline's lock held): queued for the
 * fleet's thread, which decides whether it moves or is done for good. */
static void lane_done(void *ctx, int local) {
    fleet_lane *l = ctx;
    ps_fleet *f = l->f;
    pthread_mutex_lock(&f->ev_mu);
    fleet_event *grown = f->n_events < f->cap_events
                             ? f->events
                             : ps_grow_zeroed(f->events, &f->cap_events, f->cap_events * 2 + 16,
                                              sizeof *grown);
    if (grown) {
        f->events = grown;
        f->events[f->n_events++] = (fleet_event){l->index, local};
    } else { /* its end still counts (the lane is idle); only its moving is lost */
        ps_log(PS_LOG_ERROR, "GPU %d: out of memory noting the end of a stream: it is not "
               "moved to another GPU, and its tracker stays until the close", l->gpu);
    }
    pthread_cond_signal(&f->ev_cv);
    pthread_mutex_unlock(&f->ev_mu);
}

/* ---- set-up ---- */

static ps_status make_lanes(ps_fleet *f, ps_err *err) {
    for (int k = 0; k < f->o.n_lanes; k++) {
        fleet_lane *l = &f->lanes[k];
        *l = (fleet_lane){.f = f, .index = k, .gpu = f->o.gpu[k]};
        ps_pipeline_opts po = f->o.pipe;
        po.keep_running = 1; /* the fleet ends them (fleet.h) */
        po.host_ledger = &f->host;
        po.on_result = lane_result;
        po.on_stream_done = lane_done;
        po.result_ctx = l;
        if (!(l->pipe = ps_pipeline_create(&po, err))) return err->code;
    }
    return PS_OK;
}

ps_fleet *ps_fleet_create(const ps_fleet_opts *opts, ps_err *err) {
    if (opts->n_lanes < 1 || opts->n_lanes > PS_MAX_GPUS) {
        ps_err_set(err, PS_ERR_ARG, "%d GPUs: expected 1 to %d", opts->n_lanes, PS_MAX_GPUS);
        return NULL;
    }
    ps_fleet *f = calloc(1, sizeof *f);
    if (!f) {
        ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    f->o = *opts;
    ps_ledger_init(&f->host);
    pthread_mutex_init(&f->mu, NULL);
    pthread_mutex_init(&f->map_mu, NULL);
    pthread_mutex_init(&f->ev_mu, NULL);
    ps_cond_init_mono(&f->ev_cv);
    if (make_lanes(f, err)) {
        ps_fleet_free(f);
        return NULL;
    }
    return f;
}

/* ---- streams ---- */

static void stream_free(fleet_stream *s) {
    if (!s) return;
    free(s->uri);
    free(s->av_options);
    free(s->past);
    free(s);
}

/* A fleet stream keeping its own copies of what adding it again needs;
 * NULL when out of memory. */
static fleet_stream *stream_new(const char *uri, const ps_stream_settings *set,
                                const ps_source_opts *so, int pin) {
    fleet_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->uri = strdup(uri))) {
        free(s);
        return NULL;
    }
    s->pin = pin;
    if (set) s->set = *set;
    snprintf(s->name, sizeof s->name, "%s", set && set->name ? set->name : uri);
    s->set.name = s->name;
    if (so) s->so = *so;
    if (so && so->av_options && !(s->av_options = strdup(so->av_options))) {
        stream_free(s);
        return NULL;
    }
    s->so.av_options = s->av_options;
    return s;
}

/* What placement judges each lane by (f->mu held). */
static void place_figures(ps_fleet *f, ps_place_gpu *g) {
    for (int k = 0; k < f->o.n_lanes; k++) {
        fleet_lane *l = &f->lanes[k];
        ps_pipeline_load ld;
        ps_pipeline_load_get(l->pipe, &ld);
        g[k] = (ps_place_gpu){.id = l->gpu, .alive = !ld.fatal, .streams = ld.streams,
                              .settled = ld.settled, .load = l->load, .mem = ld.device};
        size_t peak;
        if (l->det && l->det->vram) l->det->vram(l->det->ctx, &g[k].mem.used, &peak);
        if (l->det && l->det->vram_free) g[k].mem.free_now = l->det->vram_free(l->det->ctx);
        if (l->det && l->det->vram_total) g[k].total = l->det->vram_total(l->det->ctx);
    }
}

/* Adds s as fleet id `id` on lane k (f->mu held). */
static ps_status add_on_lane(ps_fleet *f, fleet_stream *s, int id, int k, ps_err *err) {
    fleet_lane *l = &f->lanes[k];
    ps_source_opts so = s->so;
    so.gpu = l->gpu;
    if (map_next(f, l, id)) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    int local = -1;
    ps_status st = ps_pipeline_add_stream(l->pipe, s->uri, &s->set, &so, &local, err);
    if (st) return st;
    l->next_local = local + 1;
    s->lane = k;
    s->local = local;
    return PS_OK;
}

/* Chooses the lane for s (not `away`, the one it leaves; -1 none) and adds
 * it there (f->mu held). */
static ps_status place_and_add(ps_fleet *f, fleet_stream *s, int id, int away, ps_err *err) {
    ps_place_gpu g[PS_MAX_GPUS];
    place_figures(f, g);
    if (away >= 0) g[away].alive = 0;
    char why[PS_ERR_LEN];
    int k = ps_place_choose(g, f->o.n_lanes, s->pin, why, sizeof why);
    if (k < 0) return ps_err_set(err, PS_ERR_REFUSED, "%.120s: no GPU can take it: %.370s", s->uri,
                                 why);
    return add_on_lane(f, s, id, k, err);
}

/* The lane of GPU number gpu, or -1 with err naming the fleet's GPUs. */
static int lane_of_gpu(const ps_fleet *f, int gpu, const char *uri, ps_err *err) {
    char list[128] = "";
    for (int k = 0; k < f->o.n_lanes; k++) {
        if (f->o.gpu[k] == gpu) return k;
        size_t at = strlen(list);
        snprintf(list + at, sizeof list - at, "%s%d", k ? ", " : "", f->o.gpu[k]);
    }
    ps_err_set(err, PS_ERR_ARG, "%.300s: gpu %d is not one of this run's GPUs (%s)", uri, gpu, list);
    return -1;
}

ps_status ps_fleet_add_stream(ps_fleet *f, const char *uri, const ps_stream_settings *set,
                              int gpu, const ps_source_opts *src_opts, int *id, ps_err *err) {
    if (!uri || !*uri) return ps_err_set(err, PS_ERR_ARG, "pipeline: no uri");
    int pin = gpu >= 0 ? lane_of_gpu(f, gpu, uri, err) : -1;
    if (gpu >= 0 && pin < 0) return PS_ERR_ARG;
    fleet_stream *s = stream_new(uri, set, src_opts, pin);
    if (!s) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&f->mu);
    int at = f->n_streams;
    ps_status st = f->stopping ? ps_err_set(err, PS_ERR_ARG, "pipeline: finished, no stream can join")
                               : PS_OK;
    fleet_stream **grown = st ? NULL : realloc(f->streams, sizeof *grown * (size_t)(at + 1));
    if (!st && !grown) st = ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    if (grown) f->streams = grown;
    if (!st) st = place_and_add(f, s, at, -1, err);
    if (!st) f->streams[f->n_streams++] = s;
    pthread_mutex_unlock(&f->mu);
    if (st) stream_free(s);
    else if (id) *id = at;
    return st;
}

/* Fleet stream id (f->mu held), or NULL with err. */
static fleet_stream *stream_of(ps_fleet *f, int id, ps_err *err) {
    if (id >= 0 && id < f->n_streams) return f->streams[id];
    ps_err_set(err, PS_ERR_ARG, "stream %d: no such stream", id);
    return NULL;
}

/* The pipeline's refusal of a checked change to fleet stream s (id), which
 * can only be that it has ended: said by the fleet's id, not the lane's. */
static ps_status ended(ps_status st, int id, const fleet_stream *s, ps_err *err) {
    if (st == PS_OK || !s) return st;
    return ps_err_set(err, st, "stream %d (%s): already ended or removed", id, s->name);
}

ps_status ps_fleet_update(ps_fleet *f, int id, const ps_stream_settings *set, ps_err *err) {
    if (ps_stream_settings_check(set, err)) return PS_ERR_ARG;
    pthread_mutex_lock(&f->mu);
    fleet_stream *s = stream_of(f, id, err);
    ps_status st = s ? ps_pipeline_update(f->lanes[s->lane].pipe, s->local, set, err) : PS_ERR_ARG;
    if (!st) {
        s->set.priority = set->priority;
        s->set.max_latency_ms = set->max_latency_ms;
        s->set.max_fps = set->max_fps;
    }
    pthread_mutex_unlock(&f->mu);
    return ended(st, id, s, err);
}

ps_status ps_fleet_remove(ps_fleet *f, int id, ps_err *err) {
    pthread_mutex_lock(&f->mu);
    fleet_stream *s = stream_of(f, id, err);
    ps_status st = s ? ps_pipeline_remove(f->lanes[s->lane].pipe, s->local, err) : PS_ERR_ARG;
    if (!st) s->removed = 1;
    pthread_mutex_unlock(&f->mu);
    return ended(st, id, s, err);
}

int ps_fleet_wait_opened(ps_fleet *f, int timeout_ms) {
    int64_t end = ps_now_ns() + (int64_t)timeout_ms * 1000000;
    int all = 1;
    for (int k = 0; k < f->o.n_lanes; k++) {
        int left = timeout_ms < 0 ? -1 : (int)((end - ps_now_ns()) / 1000000);
        all &= ps_pipeline_wait_opened(f->lanes[k].pipe, left < 0 && timeout_ms >= 0 ? 0 : left);
    }
    return all;
}

void ps_fleet_suggest_input(ps_fleet *f, int *input_w, int *input_h) {
    int w = 0, h = 0;
    for (int k = 0; k < f->o.n_lanes; k++) {
        int lw, lh;
        ps_pipeline_suggest_known(f->lanes[k].pipe, &lw, &lh);
        w = lw > w ? lw : w;
        h = lh > h ? lh : h;
    }
    *input_w = w ? w : 256;
    *input_h = h ? h : 256;
}

/* ---- the fleet's thread ---- */

/* Waits up to TICK_MS for ended streams; takes up to cap of them into ev.
 * Returns how many, or -1 when the fleet is being freed. */
static int take_events(ps_fleet *f, fleet_event *ev, int cap) {
    pthread_mutex_lock(&f->ev_mu);
    if (!f->n_events && !f->quit) {
        struct timespec ts = ps_timespec_at(ps_now_ns() + (int64_t)TICK_MS * 1000000);
        pthread_cond_timedwait(&f->ev_cv, &f->ev_mu, &ts);
    }
    int n = f->quit ? -1 : f->n_events < cap ? f->n_events : cap;
    if (n > 0) {
        memcpy(ev, f->events, sizeof *ev * (size_t)n);
        memmove(f->events, f->events + n, sizeof *ev * (size_t)(f->n_events - n));
        f->n_events -= n;
    }
    pthread_mutex_unlock(&f->ev_mu);
    return n;
}

/* Moves s, which its lane's failed engine ended, to another lane (f->mu
 * held): its figures there are kept in s->past. Returns 1 when it moved;
 * else its note says why not. */
static int try_move(ps_fleet *f, fleet_stream *s, int id) {
    ps_stream_figures *was = malloc(sizeof *was);
    ps_err err = {0};
    int from = s->lane;
    if (!was || ps_pipeline_stream_get(f->lanes[from].pipe, s->local, was, NULL, &err)) {
        free(was);
        return 0;
    }
    if (!was->engine_lost || place_and_add(f, s, id, from, &err)) {
        if (was->engine_lost)
            snprintf(s->note, sizeof s->note, "could not be moved to another GPU: %.400s", err.msg);
        free(was);
        return 0;
    }
    if (s->past) ps_fleet_fold(s->past, was);
    else s->past = was, was = NULL;
    free(was);
    s->moves++;
    ps_log(PS_LOG_WARN, "stream %d (%s): GPU %d could not go on; moved to GPU %d", id, s->name,
           f->lanes[from].gpu, f->lanes[s->lane].gpu);
    return 1;
}

/* A lane's stream is done (f->mu held): moved when its GPU failed and
 * failover allows, else done for good. Returns its fleet id when the
 * caller should say so (on_stream_done), else -1. */
static int handle_done(ps_fleet *f, fleet_event ev) {
    int id = ps_fleet_id_of(f, ev.lane, ev.local);
    fleet_stream *s = id >= 0 && id < f->n_streams ? f->streams[id] : NULL;
    if (!s || s->lane != ev.lane || s->local != ev.local || s->done) return -1; /* it moved */
    ps_pipeline_load ld;
    ps_pipeline_load_get(f->lanes[ev.lane].pipe, &ld);
    int movable = ld.fatal && f->o.failover && !s->removed && !f->stopping && s->pin < 0;
    if (movable && try_move(f, s, id)) return -1;
    s->done = 1;
    return id;
}

/* Each lane's busy share since the last sample: the larger of its engine's
 * time per second and its decoders' use (f->mu held). */
static void sample_loads(ps_fleet *f, int64_t now) {
    for (int k = 0; k < f->o.n_lanes; k++) {
        fleet_lane *l = &f->lanes[k];
        if (now - l->sampled_ns < SAMPLE_NS || !l->det) continue;
        ps_pipeline_load ld;
        ps_pipeline_load_get(l->pipe, &ld);
        double engine = (ld.engine_us - l->sampled_us) * 1e3 / (double)(now - l->sampled_ns);
        int gpu = -1, dec = -1;
        if (l->det->utilization) l->det->utilization(l->det->ctx, &gpu, &dec);
        l->load = dec / 100.0 > engine ? dec / 100.0 : engine;
        l->sampled_us = ld.engine_us;
        l->sampled_ns = now;
    }
}

/* Whether the run is over (f->mu held): every lane idle with nothing left
 * to move, and not kept running. Marks it stopping. */
static int should_finish(ps_fleet *f) {
    if (f->stopping || f->o.pipe.keep_running) return 0;
    for (int k = 0; k < f->o.n_lanes; k++)
        if (!ps_pipeline_idle(f->lanes[k].pipe)) return 0;
    pthread_mutex_lock(&f->ev_mu);
    int pending = f->n_events;
    pthread_mutex_unlock(&f->ev_mu);
    if (pending) return 0;
    f->stopping = 1;
    return 1;
}

static void stop_lanes(ps_fleet *f, int cancel) {
    for (int k = 0; k < f->o.n_lanes; k++) {
        if (cancel) ps_pipeline_cancel(f->lanes[k].pipe);
        else ps_pipeline_stop(f->lanes[k].pipe);
    }
}

static void *fleet_main(void *arg) {
    ps_fleet *f = arg;
    fleet_event ev[64];
    int done[64], n;
    while ((n = take_events(f, ev, 64)) >= 0) {
        int n_done = 0;
        pthread_mutex_lock(&f->mu);
        for (int i = 0; i < n; i++)
            if ((done[n_done] = handle_done(f, ev[i])) >= 0) n_done++;
        sample_loads(f, ps_now_ns());
        int finish = should_finish(f);
        pthread_mutex_unlock(&f->mu);
        for (int i = 0; i < n_done; i++)
            if (f->o.pipe.on_stream_done) f->o.pipe.on_stream_done(f->o.pipe.result_ctx, done[i]);
        if (finish) stop_lanes(f, 0);
    }
    return NULL;
}

/* ---- start, stop, tear-down ---- */

ps_status ps_fleet_start(ps_fleet *f, ps_detector *dets, ps_err *err) {
    pthread_mutex_lock(&f->mu);
    ps_status st = f->started ? ps_err_set(err, PS_ERR_ARG, "pipeline: started already")
                   : !f->n_streams && !f->o.pipe.keep_running
                       ? ps_err_set(err, PS_ERR_ARG, "pipeline: nothing to start")
                       : PS_OK;
    for (int k = 0; !st && k < f->o.n_lanes; k++) f->lanes[k].det = &dets[k];
    pthread_mutex_unlock(&f->mu);
    for (int k = 0; !st && k < f->o.n_lanes; k++) {
        if (!(st = ps_pipeline_start(f->lanes[k].pipe, &dets[k], err))) continue;
        if (f->o.n_lanes > 1) ps_err_set(err, st, "GPU %d: %.480s", f->lanes[k].gpu, err->msg);
    }
    pthread_mutex_lock(&f->mu);
    int64_t now = ps_now_ns();
    for (int k = 0; k < f->o.n_lanes; k++) f->lanes[k].sampled_ns = now;
    f->started = !st;
    if (!st && pthread_create(&f->thread, NULL, fleet_main, f) == 0) f->thread_started = 1;
    else if (!st) st = ps_err_set(err, PS_ERR_NOMEM, "pipeline: cannot start the fleet's thread");
    if (st) f->stopping = 1;
    pthread_mutex_unlock(&f->mu);
    if (st) stop_lanes(f, 0);
    return st;
}

void ps_fleet_stop(ps_fleet *f) {
    pthread_mutex_lock(&f->mu);
    f->stopping = 1;
    pthread_mutex_unlock(&f->mu);
    stop_lanes(f, 0);
}

void ps_fleet_cancel(ps_fleet *f) {
    pthread_mutex_lock(&f->mu);
    f->stopping = 1;
    pthread_mutex_unlock(&f->mu);
    stop_lanes(f, 1);
}

int ps_fleet_wait(ps_fleet *f, int timeout_ms) {
    int64_t end = ps_now_ns() + (int64_t)timeout_ms * 1000000;
    for (int k = 0; k < f->o.n_lanes; k++) {
        int left = timeout_ms < 0 ? -1 : (int)((end - ps_now_ns()) / 1000000);
        if (!ps_pipeline_wait(f->lanes[k].pipe, timeout_ms >= 0 && left < 0 ? 0 : left)) return 0;
    }
    return 1;
}

void ps_fleet_free(ps_fleet *f) {
    if (!f) return;
    for (int k = 0; k < f->o.n_lanes; k++)
        if (f->lanes[k].pipe) ps_pipeline_stop(f->lanes[k].pipe);
    pthread_mutex_lock(&f->ev_mu);
    f->quit = 1;
    pthread_cond_signal(&f->ev_cv);
    pthread_mutex_unlock(&f->ev_mu);
    if (f->thread_started) pthread_join(f->thread, NULL);
    for (int k = 0; k < f->o.n_lanes; k++) {
        ps_pipeline_free(f->lanes[k].pipe);
        free(f->lanes[k].ids);
    }
    for (int k = 0; k < f->n_streams; k++) stream_free(f->streams[k]);
    free(f->streams);
    free(f->events);
    pthread_mutex_destroy(&f->mu);
    pthread_mutex_destroy(&f->map_mu);
    pthread_mutex_destroy(&f->ev_mu);
    pthread_cond_destroy(&f->ev_cv);
    ps_ledger_destroy(&f->host);
    free(f);
}
