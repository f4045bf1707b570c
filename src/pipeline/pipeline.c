/* The multi-stream pipeline (see pipeline.h): set-up, the start, the
 * figures and tear-down, and the frame hand-offs every thread uses. The
 * threads themselves are in pipeline_reader.c and pipeline_engine.c. One
 * mutex guards every ring, free list and figure: each frame crosses it a
 * handful of times, which is cheap next to decoding or inference, and it
 * keeps the hand-offs simple.
 *
 * Frames live in a fixed pool per stream (ring + two batches + spare), so
 * nothing is allocated per frame once a stream runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline_impl.h"
#include "util/clock.h"
#include "util/memory.h"
#include "util/status.h"

/* ---- frames, rings and free lists (callers hold p->mu) ---- */

void ps_pipe_give_back(stream *s, ps_frame *f) {
    ps_frame_release(f);
    s->free_frames[s->n_free++] = f;
}

ps_frame *ps_pipe_ring_pop(stream *s) {
    ps_frame *f = s->ring[s->ring_head];
    s->ring_head = (s->ring_head + 1) % s->p->o.ring_size;
    s->ring_count--;
    return f;
}

int ps_pipe_stream_done(const stream *s) {
    return s->st.state == PS_STREAM_ENDED || s->st.state == PS_STREAM_FAILED ||
           s->st.state == PS_STREAM_REFUSED || s->st.state == PS_STREAM_REMOVED;
}

static void pool_free(stream *s) {
    for (int k = 0; k < s->n_frames; k++) {
        ps_frame_release(&s->frames[k]);
        free(s->frames[k].rgb);
    }
    free(s->frames);
    free(s->free_frames);
    free(s->ring);
    s->frames = NULL;
    s->free_frames = NULL;
    s->ring = NULL;
    s->n_frames = s->n_free = 0;
}

void ps_pipe_free_pool_if_idle(stream *s) {
    if (!s->reader_done || !s->frames || s->n_free != s->n_frames) return;
    pool_free(s);
    if (s->p->o.on_stream_done) s->p->o.on_stream_done(s->p->o.result_ctx, s->id);
}

void ps_pipe_settle(stream *s) {
    for (int k = 0; k < PS_MEM_KINDS; k++) {
        if (s->reserve[k]) ps_ledger_change(s->p->mem[k], -(long long)s->reserve[k], 0);
        s->reserve[k] = 0;
    }
    pthread_cond_broadcast(&s->p->state_cv); /* waiting streams judge again */
}

void ps_pipe_leave(stream *s) {
    ps_pipe_settle(s);
    for (int k = 0; k < PS_MEM_KINDS; k++) {
        if (s->counted[k]) ps_ledger_change(s->p->mem[k], 0, -1);
        s->counted[k] = 0;
    }
}

/* ---- set-up and tear-down ---- */

ps_pipeline *ps_pipeline_create(const ps_pipeline_opts *opts, ps_err *err) {
    if (opts->batch_max < 1 || opts->ring_size < 1 || opts->batch_timeout_ms < 0) {
        ps_err_set(err, PS_ERR_ARG, "pipeline: needs batch >= 1, ring >= 1, timeout >= 0");
        return NULL;
    }
    ps_pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->o = *opts;
    for (int k = 0; k < PS_MEM_KINDS; k++) {
        ps_ledger_init(&p->own_mem[k]);
        p->mem[k] = &p->own_mem[k];
    }
    if (opts->host_ledger) p->mem[PS_MEM_HOST] = opts->host_ledger;
    p->forming = calloc((size_t)p->o.batch_max, sizeof *p->forming);
    p->pending = calloc((size_t)p->o.batch_max, sizeof *p->pending);
    p->owners = calloc((size_t)p->o.batch_max, sizeof *p->owners);
    /* timed waits use the monotonic clock, like every timestamp */
    pthread_mutex_init(&p->mu, NULL);
    ps_cond_init_mono(&p->sched_cv);
    pthread_cond_init(&p->space_cv, NULL);
    pthread_cond_init(&p->engine_cv, NULL);
    ps_cond_init_mono(&p->done_cv);
    ps_cond_init_mono(&p->state_cv);
    ps_hist_init(&p->engine);
    ps_hist_init(&p->queue);
    ps_hist_init(&p->latency);
    ps_hist_init(&p->decode);
    if (!p->forming || !p->pending || !p->owners) {
        ps_pipeline_free(p);
        ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return p;
}

static ps_status stream_alloc_pool(stream *s, int ring_size, int batch_max) {
    /* ring + a batch forming + one pending + one in the engine + spare */
    s->n_frames = ring_size + 3 * batch_max + 2;
    s->frames = calloc((size_t)s->n_frames, sizeof *s->frames);
    s->free_frames = calloc((size_t)s->n_frames, sizeof *s->free_frames);
    s->ring = calloc((size_t)ring_size, sizeof *s->ring);
    if (!s->frames || !s->free_frames || !s->ring) return PS_ERR_NOMEM;
    for (int k = 0; k < s->n_frames; k++) ps_pipe_give_back(s, &s->frames[k]);
    return PS_OK;
}

static void stream_free(stream *s) {
    if (!s) return;
    pool_free(s);
    free(s->av_options);
    free(s);
}

/* A new stream's struct, named, with its frame pool and a copy of the
 * source options; NULL when out of memory. */
static stream *stream_new(ps_pipeline *p, const char *uri, const ps_stream_settings *set,
                          const ps_source_opts *so) {
    stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = p;
    if (so) s->src_opts = *so;
    if (so && so->av_options && !(s->av_options = strdup(so->av_options))) {
        free(s);
        return NULL;
    }
    s->src_opts.av_options = s->av_options;
    if (stream_alloc_pool(s, p->o.ring_size, p->o.batch_max)) {
        stream_free(s);
        return NULL;
    }
    if (set) s->st.settings = *set;
    snprintf(s->st.name, sizeof s->st.name, "%s", set && set->name ? set->name : uri);
    s->st.settings.name = s->st.name;
    snprintf(s->st.uri, sizeof s->st.uri, "%s", uri);
    ps_hist_init(&s->st.latency);
    s->st.state = PS_STREAM_OPENING;
    s->st.stride = 1;
    return s;
}

ps_status ps_stream_settings_check(const ps_stream_settings *set, ps_err *err) {
    if (set && (!(set->max_latency_ms >= 0) || !(set->max_fps >= 0)))
        return ps_err_set(err, PS_ERR_ARG, "stream settings: max_latency_ms and max_fps must be "
                          ">= 0 (0: none)");
    return PS_OK;
}

ps_status ps_pipeline_add_stream(ps_pipeline *p, const char *uri, const ps_stream_settings *set,
                                 const ps_source_opts *src_opts, int *id, ps_err *err) {
    if (!uri || !*uri) return ps_err_set(err, PS_ERR_ARG, "pipeline: no uri");
    if (ps_stream_settings_check(set, err)) return PS_ERR_ARG;
    ps_status pre = ps_pipe_admit_precheck(p, uri, err);
    if (pre) return pre;
    stream *s = stream_new(p, uri, set, src_opts);
    if (!s) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&p->mu);
    ps_status st = p->sched_done || p->engine_done
                       ? ps_err_set(err, PS_ERR_ARG, "pipeline: finished, no stream can join")
                       : PS_OK;
    stream **grown = st ? NULL : realloc(p->streams, sizeof *grown * (size_t)(p->n_streams + 1));
    if (!st && !grown) st = ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    if (st) {
        pthread_mutex_unlock(&p->mu);
        stream_free(s);
        return st;
    }
    p->streams = grown;
    s->id = s->st.id = p->n_streams;
    p->streams[p->n_streams++] = s;
    if (pthread_create(&s->reader, NULL, ps_pipe_reader_main, s) == 0) {
        s->reader_started = 1;
    } else {
        s->st.state = PS_STREAM_FAILED;
        s->reader_done = 1;
        snprintf(s->st.error, sizeof s->st.error, "%.400s: cannot start a reader thread", uri);
    }
    if (id) *id = s->id;
    pthread_mutex_unlock(&p->mu);
    return PS_OK;
}

ps_status ps_pipeline_add(ps_pipeline *p, const char *uri, const char *name,
                          const ps_source_opts *src_opts, ps_err *err) {
    ps_stream_settings set = {.name = name};
    return ps_pipeline_add_stream(p, uri, &set, src_opts, NULL, err);
}

/* Stream id while it still runs (p->mu held); NULL with err saying why
 * (unknown, or already ended or removed). */
static stream *live_stream(ps_pipeline *p, int id, ps_err *err) {
    stream *s = id >= 0 && id < p->n_streams ? p->streams[id] : NULL;
    if (!s) ps_err_set(err, PS_ERR_ARG, "stream %d: no such stream", id);
    else if (s->removing || ps_pipe_stream_done(s))
        ps_err_set(err, PS_ERR_ARG, "stream %d (%s): already ended or removed", id, s->st.name);
    else return s;
    return NULL;
}

ps_status ps_pipeline_update(ps_pipeline *p, int id, const ps_stream_settings *set, ps_err *err) {
    if (ps_stream_settings_check(set, err)) return PS_ERR_ARG;
    pthread_mutex_lock(&p->mu);
    stream *s = live_stream(p, id, err);
    ps_status st = s ? PS_OK : PS_ERR_ARG;
    if (!st) {
        s->st.settings.priority = set->priority;
        s->st.settings.max_latency_ms = set->max_latency_ms;
        s->st.settings.max_fps = set->max_fps;
        pthread_cond_signal(&p->sched_cv); /* a new order for the scheduler */
    }
    pthread_mutex_unlock(&p->mu);
    return st;
}

/* Counts s's buffered frames cancelled, never to run (p->mu held). */
static void cancel_ring(stream *s) {
    while (s->ring_count > 0) {
        ps_pipe_give_back(s, ps_pipe_ring_pop(s));
        s->st.cancelled++;
    }
}

ps_status ps_pipeline_remove(ps_pipeline *p, int id, ps_err *err) {
    pthread_mutex_lock(&p->mu);
    stream *s = live_stream(p, id, err);
    ps_status st = s ? PS_OK : PS_ERR_ARG;
    if (!st) {
        s->removing = 1;
        if (s->src) ps_source_interrupt(s->src);
        cancel_ring(s);
        pthread_cond_broadcast(&p->space_cv);
        pthread_cond_broadcast(&p->state_cv);
        pthread_cond_signal(&p->sched_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return st;
}

int ps_pipeline_wait_opened(ps_pipeline *p, int timeout_ms) {
    int64_t deadline = ps_now_ns() + (int64_t)timeout_ms * 1000000;
    struct timespec ts = ps_timespec_at(deadline);
    pthread_mutex_lock(&p->mu);
    int opening;
    for (;;) {
        opening = 0;
        for (int k = 0; k < p->n_streams; k++) opening += p->streams[k]->st.state == PS_STREAM_OPENING;
        if (!opening) break;
        if (timeout_ms < 0) pthread_cond_wait(&p->state_cv, &p->mu);
        else if (pthread_cond_timedwait(&p->state_cv, &p->mu, &ts)) break;
    }
    pthread_mutex_unlock(&p->mu);
    return opening == 0;
}

static int round_up32(double v) {
    int r = ((int)(v + 31.999) / 32) * 32;
    return r < 32 ? 32 : r > 256 ? 256 : r;
}

void ps_pipeline_suggest_input(ps_pipeline *p, int *input_w, int *input_h) {
    int w, h;
    ps_pipeline_suggest_known(p, &w, &h);
    *input_w = w ? w : 256;
    *input_h = h ? h : 256;
}

void ps_pipeline_suggest_known(ps_pipeline *p, int *input_w, int *input_h) {
    int w = 0, h = 0;
    pthread_mutex_lock(&p->mu);
    for (int k = 0; k < p->n_streams; k++) {
        const ps_stream_figures *s = &p->streams[k]->st;
        if (s->state == PS_STREAM_FAILED || s->width <= 0 || s->height <= 0) continue;
        double longer = s->width > s->height ? s->width : s->height;
        int sw = round_up32(256.0 * s->width / longer), sh = round_up32(256.0 * s->height / longer);
        w = sw > w ? sw : w;
        h = sh > h ? sh : h;
    }
    pthread_mutex_unlock(&p->mu);
    *input_w = w;
    *input_h = h;
}

ps_status ps_pipeline_start(ps_pipeline *p, ps_detector *detector, ps_err *err) {
    if (!detector || detector->max_batch < 1)
        return ps_err_set(err, PS_ERR_ARG, "pipeline: no detector");
    size_t vram_peak = 0;
    pthread_mutex_lock(&p->mu);
    if (p->started || (p->n_streams == 0 && !p->o.keep_running)) {
        pthread_mutex_unlock(&p->mu);
        return ps_err_set(err, PS_ERR_ARG, "pipeline: nothing to start");
    }
    p->detector = detector;
    if (p->o.batch_max > detector->max_batch) p->o.batch_max = detector->max_batch;
    size_t vram_base = 0;
    if (detector->vram) detector->vram(detector->ctx, &vram_base, &vram_peak);
    ps_ledger_set_base(p->mem[PS_MEM_DEVICE], vram_base);
    ps_ledger_set_base(p->mem[PS_MEM_HOST], ps_mem_resident());
    p->start_ns = ps_now_ns();
    p->started = 1;
    pthread_cond_broadcast(&p->state_cv); /* the readers go */
    pthread_mutex_unlock(&p->mu);
    int sched = pthread_create(&p->sched_thread, NULL, ps_pipe_sched_main, p) == 0;
    int engine = sched && pthread_create(&p->engine_thread, NULL, ps_pipe_engine_main, p) == 0;
    pthread_mutex_lock(&p->mu);
    p->sched_started = sched;
    p->engine_started = engine;
    if (engine) p->started = 2;
    pthread_mutex_unlock(&p->mu);
    if (engine) return PS_OK;
    ps_pipeline_stop(p);
    return ps_err_set(err, PS_ERR_NOMEM, "pipeline: cannot start threads");
}

void ps_pipeline_stop(ps_pipeline *p) {
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    for (int k = 0; k < p->n_streams; k++)
        if (p->streams[k]->src) ps_source_interrupt(p->streams[k]->src);
    pthread_cond_broadcast(&p->space_cv);
    pthread_cond_broadcast(&p->sched_cv);
    pthread_cond_broadcast(&p->state_cv);
    pthread_mutex_unlock(&p->mu);
}

void ps_pipeline_cancel(ps_pipeline *p) {
    pthread_mutex_lock(&p->mu);
    p->cancel = 1;
    for (int k = 0; k < p->n_streams; k++) cancel_ring(p->streams[k]);
    for (int i = 0; i < p->n_forming; i++) { /* collected, not yet in the engine */
        stream *s = p->streams[p->forming[i]->stream];
        ps_pipe_give_back(s, p->forming[i]);
        s->st.cancelled++;
    }
    p->n_forming = 0;
    pthread_mutex_unlock(&p->mu);
    ps_pipeline_stop(p);
}

int ps_pipeline_wait(ps_pipeline *p, int timeout_ms) {
    int64_t deadline = ps_now_ns() + (int64_t)timeout_ms * 1000000;
    struct timespec ts = ps_timespec_at(deadline);
    pthread_mutex_lock(&p->mu);
    while (p->started == 2 && !p->engine_done) {
        if (timeout_ms < 0) pthread_cond_wait(&p->done_cv, &p->mu);
        else if (pthread_cond_timedwait(&p->done_cv, &p->mu, &ts)) break;
    }
    int done = p->started != 2 || p->engine_done;
    pthread_mutex_unlock(&p->mu);
    return done;
}

void ps_pipe_source_figures(const stream *s, ps_stream_figures *st) {
    if (!s->src) return; /* closed: its last figures are in s->st */
    st->expected = ps_source_expected_frames(s->src);
    if (st->expected) snprintf(st->note, sizeof st->note, "%s", ps_source_note(s->src));
    st->bad_packets = (uint64_t)ps_source_skipped(s->src);
    st->reconnects = (uint64_t)ps_source_reconnects(s->src);
    int64_t lost;
    st->down = ps_source_outage(s->src, &st->outage_s, &lost);
    st->lost_outage = (uint64_t)lost;
}

static void stats_copy_streams(ps_pipeline *p, ps_pipeline_stats *st) {
    st->n_streams = p->n_streams;
    for (int k = 0; k < p->n_streams; k++) {
        st->streams[k] = p->streams[k]->st;
        ps_pipe_source_figures(p->streams[k], &st->streams[k]);
    }
}

ps_status ps_pipeline_stream_get(ps_pipeline *p, int id, ps_stream_figures *out, int64_t *start_ns,
                                 ps_err *err) {
    pthread_mutex_lock(&p->mu);
    int known = id >= 0 && id < p->n_streams;
    if (known) {
        *out = p->streams[id]->st;
        ps_pipe_source_figures(p->streams[id], out);
        if (start_ns) *start_ns = p->start_ns;
    }
    pthread_mutex_unlock(&p->mu);
    return known ? PS_OK : ps_err_set(err, PS_ERR_ARG, "stream %d: no such stream", id);
}

/* Room for the streams' figures, allocated outside p->mu (a few MB with
 * hundreds of streams: page faults and their zeroing would hold up every
 * reader); returns with p->mu held and room for all, or NULL unlocked. */
static ps_stream_figures *lock_with_room(ps_pipeline *p) {
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int n = p->n_streams;
        pthread_mutex_unlock(&p->mu);
        ps_stream_figures *room = malloc(sizeof *room * (size_t)(n ? n : 1));
        if (!room) return NULL;
        pthread_mutex_lock(&p->mu);
        if (p->n_streams <= n) return room;
        pthread_mutex_unlock(&p->mu); /* streams were added meanwhile */
        free(room);
    }
}

ps_status ps_pipeline_stats_get(ps_pipeline *p, ps_pipeline_stats *st, ps_err *err) {
    memset(st, 0, sizeof *st);
    if (!(st->streams = lock_with_room(p))) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    stats_copy_streams(p, st);
    st->latency = p->latency;
    st->engine = p->engine;
    st->queue = p->queue;
    st->decode = p->decode;
    st->batches = p->batches;
    memcpy(st->batch_sizes, p->batch_sizes, sizeof st->batch_sizes);
    st->start_ns = p->start_ns;
    st->now_ns = ps_now_ns();
    st->finished = p->started == 2 ? p->engine_done : 1;
    st->engine_failures = p->engine_failures;
    st->engine_fatal = p->engine_fatal;
    ps_admit_in dev = {0}, host = {0};
    ps_ledger_fill(p->mem[PS_MEM_DEVICE], &dev);
    ps_ledger_fill(p->mem[PS_MEM_HOST], &host);
    st->vram_base = dev.base;
    st->host_base = host.base;
    snprintf(st->engine_error, sizeof st->engine_error, "%s", p->engine_error);
    pthread_mutex_unlock(&p->mu);
    return PS_OK;
}

void ps_pipeline_load_get(ps_pipeline *p, ps_pipeline_load *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&p->mu);
    for (int k = 0; k < p->n_streams; k++) {
        const stream *s = p->streams[k];
        if (ps_pipe_stream_done(s) || s->removing) continue;
        out->streams++;
        out->settled += s->st.state == PS_STREAM_RUNNING && !s->reserve[PS_MEM_DEVICE] &&
                        !s->reserve[PS_MEM_HOST];
    }
    out->engine_us = p->engine.sum_us;
    out->fatal = p->engine_fatal;
    pthread_mutex_unlock(&p->mu);
    ps_ledger_fill(p->mem[PS_MEM_DEVICE], &out->device);
    out->device.kind = PS_MEM_DEVICE;
    out->device.limit = p->o.max_vram;
}

int ps_pipeline_idle(ps_pipeline *p) {
    pthread_mutex_lock(&p->mu);
    int idle = 1;
    for (int k = 0; k < p->n_streams && idle; k++) {
        const stream *s = p->streams[k];
        idle = s->reader_done && (!s->frames || s->n_free == s->n_frames);
    }
    pthread_mutex_unlock(&p->mu);
    return idle;
}

void ps_pipeline_stats_free(ps_pipeline_stats *st) {
    free(st->streams);
    st->streams = NULL;
}

void ps_pipeline_free(ps_pipeline *p) {
    if (!p) return;
    ps_pipeline_stop(p);
    for (int k = 0; k < p->n_streams; k++)
        if (p->streams[k]->reader_started) pthread_join(p->streams[k]->reader, NULL);
    if (p->sched_started) pthread_join(p->sched_thread, NULL);
    if (p->engine_started) pthread_join(p->engine_thread, NULL);
    for (int k = 0; k < p->n_streams; k++) stream_free(p->streams[k]);
    free(p->streams);
    free(p->forming);
    free(p->pending);
    free(p->owners);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->sched_cv);
    pthread_cond_destroy(&p->space_cv);
    pthread_cond_destroy(&p->engine_cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->state_cv);
    for (int k = 0; k < PS_MEM_KINDS; k++) ps_ledger_destroy(&p->own_mem[k]);
    free(p);
}
