/* The multi-stream pipeline (see pipeline.h). One mutex guards every ring,
 * free list and figure: each frame crosses it a handful of times, which is
 * cheap next to decoding or inference, and it keeps the hand-offs simple.
 *
 * Frames live in a fixed pool per stream (ring + two batches + spare), so
 * nothing is allocated per frame once a stream runs. A live stream whose ring
 * is full drops its oldest frame; an offline stream waits for room. */
#include "pipeline/pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/status.h"

typedef struct {
    ps_stream_stats st;
    ps_pipeline *p;
    int id;
    ps_source *src;
    pthread_t reader;
    int reader_started;
    ps_frame **ring; /* [ring_size], oldest at ring_head */
    int ring_head, ring_count;
    ps_frame **free_frames;
    int n_free;
    ps_frame *frames; /* the pool */
    int n_frames;
} stream;

struct ps_pipeline {
    ps_pipeline_opts o;
    ps_detector *detector;
    pthread_mutex_t mu;
    pthread_cond_t sched_cv;  /* scheduler: frames pushed, engine took a batch, stop */
    pthread_cond_t space_cv;  /* readers: ring room or a free frame */
    pthread_cond_t engine_cv; /* engine: a pending batch, or no more */
    pthread_cond_t done_cv;   /* waiters: the engine thread finished */
    stream **streams;
    int n_streams;
    int stop, started;
    pthread_t sched_thread, engine_thread;
    ps_frame **forming; /* batch being collected */
    int n_forming;
    int64_t forming_t0;
    ps_frame **pending; /* batch handed to the engine thread */
    int n_pending;
    int engine_busy, sched_done, engine_done;
    int rr; /* next stream to take from */
    ps_hist engine, queue, latency, decode;
    uint64_t batches, batch_sizes[65];
    int64_t start_ns;
    char engine_error[PS_ERR_LEN];
};

/* ---- frames, rings and free lists (callers hold p->mu) ---- */

/* Returns a frame to its stream's pool, letting go of a GPU surface it held
 * so the decoder can reuse it at once. */
static void give_back(stream *s, ps_frame *f) {
    ps_frame_release(f);
    s->free_frames[s->n_free++] = f;
}

static ps_frame *ring_pop(stream *s) {
    ps_frame *f = s->ring[s->ring_head];
    s->ring_head = (s->ring_head + 1) % s->p->o.ring_size;
    s->ring_count--;
    return f;
}

static void ring_push(stream *s, ps_frame *f) {
    s->ring[(s->ring_head + s->ring_count) % s->p->o.ring_size] = f;
    s->ring_count++;
}

static void drop_oldest(stream *s) {
    give_back(s, ring_pop(s));
    s->st.dropped++;
}

static int stream_done(const stream *s) {
    return s->st.state == PS_STREAM_ENDED || s->st.state == PS_STREAM_FAILED;
}

/* ---- reader threads ---- */

/* Waits for a frame to read into: live streams drop their oldest buffered
 * frame rather than wait; offline streams wait for ring room. Returns NULL
 * when stopping. */
static ps_frame *reader_acquire(stream *s) {
    ps_pipeline *p = s->p;
    for (;;) {
        if (p->stop) return NULL;
        int room = s->st.live || s->ring_count < p->o.ring_size;
        if (s->n_free > 0 && room) return s->free_frames[--s->n_free];
        if (s->st.live && s->n_free == 0 && s->ring_count > 0) {
            drop_oldest(s);
            continue;
        }
        pthread_cond_wait(&p->space_cv, &p->mu);
    }
}

static void reader_push(stream *s, ps_frame *f) {
    if (s->ring_count == s->p->o.ring_size) drop_oldest(s); /* live only */
    f->stream = s->id;
    ring_push(s, f);
    s->st.produced++;
    if (s->st.first_ns == 0) s->st.first_ns = f->t.captured;
    pthread_cond_signal(&s->p->sched_cv);
}

static void reader_finish(stream *s, ps_read_result r, const ps_err *err) {
    if (r == PS_READ_ERROR) {
        s->st.state = PS_STREAM_FAILED;
        snprintf(s->st.error, sizeof s->st.error, "%s", err->msg);
    } else {
        s->st.state = PS_STREAM_ENDED;
    }
    pthread_cond_signal(&s->p->sched_cv);
}

static void *reader_main(void *arg) {
    stream *s = arg;
    ps_pipeline *p = s->p;
    ps_err err = {0};
    ps_read_result r = PS_READ_END;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        ps_frame *f = reader_acquire(s);
        if (!f) break;
        pthread_mutex_unlock(&p->mu);
        r = ps_source_read(s->src, f, &err);
        pthread_mutex_lock(&p->mu);
        if (r != PS_READ_FRAME) {
            give_back(s, f);
            break;
        }
        reader_push(s, f);
    }
    reader_finish(s, r, &err);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- scheduler thread ---- */

/* Moves ready frames into the forming batch, one per stream in turn, so no
 * stream starves and each stream's frames keep their order. */
static void take_frames(ps_pipeline *p) {
    int took = 1;
    while (took && p->n_forming < p->o.batch_max) {
        took = 0;
        for (int k = 0; k < p->n_streams && p->n_forming < p->o.batch_max; k++) {
            stream *s = p->streams[(p->rr + k) % p->n_streams];
            if (s->ring_count == 0) continue;
            ps_frame *f = ring_pop(s);
            f->t.batched = ps_now_ns();
            if (p->n_forming == 0) p->forming_t0 = f->t.batched;
            p->forming[p->n_forming++] = f;
            took = 1;
        }
        p->rr = (p->rr + 1) % p->n_streams;
    }
    if (took) pthread_cond_broadcast(&p->space_cv);
}

static int all_sources_done(const ps_pipeline *p) {
    for (int k = 0; k < p->n_streams; k++)
        if (!stream_done(p->streams[k]) || p->streams[k]->ring_count > 0) return 0;
    return 1;
}

/* A collected batch goes as soon as the engine is free, else when full or
 * when its first frame has waited batch_timeout_ms. */
static int should_dispatch(const ps_pipeline *p, int64_t now, int sources_done) {
    if (p->n_forming == 0 || p->n_pending > 0) return 0;
    int64_t deadline = p->forming_t0 + (int64_t)p->o.batch_timeout_ms * 1000000;
    return !p->engine_busy || p->n_forming == p->o.batch_max || now >= deadline || sources_done;
}

static void sched_wait(ps_pipeline *p) {
    if (p->n_forming > 0 && p->n_pending == 0 && p->engine_busy) {
        int64_t deadline = p->forming_t0 + (int64_t)p->o.batch_timeout_ms * 1000000;
        struct timespec ts = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
        pthread_cond_timedwait(&p->sched_cv, &p->mu, &ts);
    } else {
        pthread_cond_wait(&p->sched_cv, &p->mu);
    }
}

static void *sched_main(void *arg) {
    ps_pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        take_frames(p);
        int sources_done = all_sources_done(p);
        if (should_dispatch(p, ps_now_ns(), sources_done)) {
            memcpy(p->pending, p->forming, sizeof *p->forming * (size_t)p->n_forming);
            p->n_pending = p->n_forming;
            p->n_forming = 0;
            pthread_cond_signal(&p->engine_cv);
            continue;
        }
        if (sources_done && p->n_forming == 0) break;
        sched_wait(p);
    }
    p->sched_done = 1;
    pthread_cond_signal(&p->engine_cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- engine thread ---- */

static void record_frame(ps_pipeline *p, ps_frame *f) {
    stream *s = p->streams[f->stream];
    int64_t e2e_us = (f->t.output - f->t.captured) / 1000;
    ps_hist_add(&s->st.latency, e2e_us);
    ps_hist_add(&p->latency, e2e_us);
    ps_hist_add(&p->queue, (f->t.batched - f->t.captured) / 1000);
    ps_hist_add(&p->decode, f->t.decode_ns / 1000);
    s->st.processed++;
    s->st.last_ns = f->t.output;
    give_back(s, f);
}

/* Hands out a done batch's results (outside the lock), then records it. st
 * non-OK: the engine failed on it, which is fatal for every stream; its
 * frames count as dropped. idle: nothing else is in the engine now. */
static void engine_finish(ps_pipeline *p, ps_frame **batch, int n, ps_status st,
                          const ps_err *err, int idle) {
    for (int i = 0; i < n; i++) {
        if (st) batch[i]->n_people = 0;
        batch[i]->t.output = ps_now_ns();
        if (!st && p->o.on_result) {
            const stream *s = p->streams[batch[i]->stream];
            p->o.on_result(p->o.result_ctx, s->id, s->st.name, batch[i]);
        }
    }
    pthread_mutex_lock(&p->mu);
    if (st) {
        if (!p->engine_error[0]) snprintf(p->engine_error, sizeof p->engine_error, "%s", err->msg);
        p->stop = 1;
        for (int k = 0; k < p->n_streams; k++)
            if (p->streams[k]->src) ps_source_interrupt(p->streams[k]->src);
    }
    /* GPU batches are timed by CUDA events, CPU ones by the clock */
    const ps_frame_times *t = &batch[0]->t;
    ps_hist_add(&p->engine, (t->device_ns ? t->device_ns : t->infer_end - t->infer_start) / 1000);
    p->batches++;
    p->batch_sizes[n < 64 ? n : 64]++;
    for (int i = 0; i < n; i++) {
        if (st) {
            p->streams[batch[i]->stream]->st.dropped++;
            give_back(p->streams[batch[i]->stream], batch[i]);
        } else {
            record_frame(p, batch[i]);
        }
    }
    if (idle) p->engine_busy = 0;
    pthread_cond_signal(&p->sched_cv);
    pthread_cond_broadcast(&p->space_cv);
    pthread_mutex_unlock(&p->mu);
}

/* A batch the engine holds: submitted, not yet collected. */
typedef struct {
    ps_frame **frames;
    int n;
} engine_batch;

static void engine_collect(ps_pipeline *p, engine_batch *b, int idle) {
    ps_err err = {0};
    ps_status st = p->detector->collect(p->detector->ctx, b->frames, b->n, &err);
    engine_finish(p, b->frames, b->n, st, &err, idle);
    b->n = 0;
}

/* Runs batch `next`: synchronously, or, with a detector that splits the
 * work, submits it and then collects the one submitted before (held), so
 * that the next batch is prepared while the previous one runs. */
static void engine_step(ps_pipeline *p, engine_batch *next, engine_batch *held) {
    ps_err err = {0};
    if (!p->detector->submit) {
        ps_status st = p->detector->detect(p->detector->ctx, next->frames, next->n, &err);
        engine_finish(p, next->frames, next->n, st, &err, 1);
        next->n = 0;
        return;
    }
    ps_status st = p->detector->submit(p->detector->ctx, next->frames, next->n, &err);
    if (held->n) engine_collect(p, held, st != PS_OK);
    if (st) {
        engine_finish(p, next->frames, next->n, st, &err, 1);
        next->n = 0;
        return;
    }
    engine_batch t = *held; /* next becomes the held batch */
    *held = *next;
    *next = t;
}

static void *engine_main(void *arg) {
    ps_pipeline *p = arg;
    engine_batch next = {malloc(sizeof(ps_frame *) * (size_t)p->o.batch_max), 0};
    engine_batch held = {malloc(sizeof(ps_frame *) * (size_t)p->o.batch_max), 0};
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->n_pending == 0 && !p->sched_done && !held.n)
            pthread_cond_wait(&p->engine_cv, &p->mu);
        if (p->n_pending) {
            next.n = p->n_pending;
            memcpy(next.frames, p->pending, sizeof *next.frames * (size_t)next.n);
            p->n_pending = 0;
            p->engine_busy = 1;
            pthread_cond_signal(&p->sched_cv);
            pthread_mutex_unlock(&p->mu);
            engine_step(p, &next, &held);
        } else if (held.n) { /* nothing new: finish what runs */
            pthread_mutex_unlock(&p->mu);
            engine_collect(p, &held, 1);
        } else {
            break;
        }
        pthread_mutex_lock(&p->mu);
    }
    p->engine_done = 1;
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
    free(next.frames);
    free(held.frames);
    return NULL;
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
    p->forming = calloc((size_t)p->o.batch_max, sizeof *p->forming);
    p->pending = calloc((size_t)p->o.batch_max, sizeof *p->pending);
    /* timed waits use the monotonic clock, like every timestamp */
    pthread_condattr_t mono;
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->sched_cv, &mono);
    pthread_cond_init(&p->space_cv, NULL);
    pthread_cond_init(&p->engine_cv, NULL);
    pthread_cond_init(&p->done_cv, &mono);
    pthread_condattr_destroy(&mono);
    ps_hist_init(&p->engine);
    ps_hist_init(&p->queue);
    ps_hist_init(&p->latency);
    ps_hist_init(&p->decode);
    if (!p->forming || !p->pending) {
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
    for (int k = 0; k < s->n_frames; k++) give_back(s, &s->frames[k]);
    return PS_OK;
}

static void stream_free(stream *s) {
    if (!s) return;
    if (s->src) ps_source_close(s->src);
    for (int k = 0; k < s->n_frames; k++) free(s->frames[k].rgb);
    free(s->frames);
    free(s->free_frames);
    free(s->ring);
    free(s);
}

ps_status ps_pipeline_add(ps_pipeline *p, const char *uri, const char *name,
                          const ps_source_opts *src_opts, ps_err *err) {
    if (p->started) return ps_err_set(err, PS_ERR_ARG, "pipeline: add streams before starting");
    stream **grown = realloc(p->streams, sizeof *grown * (size_t)(p->n_streams + 1));
    stream *s = calloc(1, sizeof *s);
    if (grown) p->streams = grown;
    if (!grown || !s || stream_alloc_pool(s, p->o.ring_size, p->o.batch_max)) {
        stream_free(s);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    s->p = p;
    s->id = p->n_streams;
    snprintf(s->st.name, sizeof s->st.name, "%s", name ? name : uri);
    snprintf(s->st.uri, sizeof s->st.uri, "%s", uri);
    ps_hist_init(&s->st.latency);
    ps_err open_err = {0};
    s->src = ps_source_open(uri, src_opts, &open_err);
    if (s->src) {
        s->st.state = PS_STREAM_OPENED;
        s->st.live = ps_source_is_live(s->src);
        ps_source_info(s->src, &s->st.width, &s->st.height, &s->st.fps);
    } else {
        s->st.state = PS_STREAM_FAILED;
        snprintf(s->st.error, sizeof s->st.error, "%s", open_err.msg);
    }
    p->streams[p->n_streams++] = s;
    return PS_OK;
}

static int round_up32(double v) {
    int r = ((int)(v + 31.999) / 32) * 32;
    return r < 32 ? 32 : r > 256 ? 256 : r;
}

void ps_pipeline_suggest_input(const ps_pipeline *p, int *input_w, int *input_h) {
    int w = 0, h = 0;
    for (int k = 0; k < p->n_streams; k++) {
        const ps_stream_stats *s = &p->streams[k]->st;
        if (s->state == PS_STREAM_FAILED || s->width <= 0 || s->height <= 0) continue;
        double longer = s->width > s->height ? s->width : s->height;
        int sw = round_up32(256.0 * s->width / longer), sh = round_up32(256.0 * s->height / longer);
        w = sw > w ? sw : w;
        h = sh > h ? sh : h;
    }
    *input_w = w ? w : 256;
    *input_h = h ? h : 256;
}

/* Counts a GPU-decoding stream's device memory against max_vram; refuses
 * the stream (FAILED, before it starts) when it would not fit. */
static int admit_vram(ps_pipeline *p, stream *s, size_t *used) {
    size_t need = ps_source_vram_estimate(s->src, p->o.ring_size + 2);
    s->st.gpu_decode = ps_source_gpu_decoding(s->src);
    s->st.vram_estimate = need;
    if (p->o.max_vram && *used + need > p->o.max_vram) {
        s->st.state = PS_STREAM_FAILED;
        snprintf(s->st.error, sizeof s->st.error,
                 "%.300s: refused: decoding it on the GPU needs about %.0f MB, and with %.0f MB "
                 "in use that passes the %.1f GB limit (--max-vram-gb)",
                 s->st.uri, need / 1048576.0, *used / 1048576.0, p->o.max_vram / 1073741824.0);
        return 0;
    }
    *used += need;
    return 1;
}

ps_status ps_pipeline_start(ps_pipeline *p, ps_detector *detector, ps_err *err) {
    if (p->started || p->n_streams == 0)
        return ps_err_set(err, PS_ERR_ARG, "pipeline: nothing to start");
    if (!detector || detector->max_batch < 1)
        return ps_err_set(err, PS_ERR_ARG, "pipeline: no detector");
    p->detector = detector;
    if (p->o.batch_max > detector->max_batch) p->o.batch_max = detector->max_batch;
    size_t vram_used = 0, vram_peak = 0;
    if (detector->vram) detector->vram(detector->ctx, &vram_used, &vram_peak);
    p->start_ns = ps_now_ns();
    pthread_mutex_lock(&p->mu);
    for (int k = 0; k < p->n_streams; k++) {
        stream *s = p->streams[k];
        if (s->st.state != PS_STREAM_OPENED) continue;
        ps_source_set_fit(s->src, detector->input_w, detector->input_h);
        ps_source_set_raw(s->src, detector->wants_raw);
        if (!admit_vram(p, s, &vram_used)) continue;
        s->st.state = PS_STREAM_RUNNING;
        if (pthread_create(&s->reader, NULL, reader_main, s) == 0) {
            s->reader_started = 1;
        } else {
            s->st.state = PS_STREAM_FAILED;
            snprintf(s->st.error, sizeof s->st.error, "cannot start a reader thread");
        }
    }
    pthread_mutex_unlock(&p->mu);
    p->started = 1;
    if (pthread_create(&p->sched_thread, NULL, sched_main, p) ||
        pthread_create(&p->engine_thread, NULL, engine_main, p)) {
        ps_pipeline_stop(p);
        return ps_err_set(err, PS_ERR_NOMEM, "pipeline: cannot start threads");
    }
    p->started = 2;
    return PS_OK;
}

void ps_pipeline_stop(ps_pipeline *p) {
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    for (int k = 0; k < p->n_streams; k++)
        if (p->streams[k]->src) ps_source_interrupt(p->streams[k]->src);
    pthread_cond_broadcast(&p->space_cv);
    pthread_cond_broadcast(&p->sched_cv);
    pthread_mutex_unlock(&p->mu);
}

int ps_pipeline_wait(ps_pipeline *p, int timeout_ms) {
    if (p->started != 2) return 1;
    int64_t deadline = ps_now_ns() + (int64_t)timeout_ms * 1000000;
    struct timespec ts = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
    pthread_mutex_lock(&p->mu);
    while (!p->engine_done) {
        if (timeout_ms < 0) pthread_cond_wait(&p->done_cv, &p->mu);
        else if (pthread_cond_timedwait(&p->done_cv, &p->mu, &ts)) break;
    }
    int done = p->engine_done;
    pthread_mutex_unlock(&p->mu);
    return done;
}

ps_status ps_pipeline_stats_get(ps_pipeline *p, ps_pipeline_stats *st, ps_err *err) {
    memset(st, 0, sizeof *st);
    st->streams = calloc(p->n_streams ? (size_t)p->n_streams : 1, sizeof *st->streams);
    if (!st->streams) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&p->mu);
    st->n_streams = p->n_streams;
    for (int k = 0; k < p->n_streams; k++) {
        st->streams[k] = p->streams[k]->st;
        if (p->streams[k]->src) {
            st->streams[k].skipped = (uint64_t)ps_source_skipped(p->streams[k]->src);
            st->streams[k].reconnects = (uint64_t)ps_source_reconnects(p->streams[k]->src);
        }
    }
    st->latency = p->latency;
    st->engine = p->engine;
    st->queue = p->queue;
    st->decode = p->decode;
    st->batches = p->batches;
    memcpy(st->batch_sizes, p->batch_sizes, sizeof st->batch_sizes);
    st->start_ns = p->start_ns;
    st->now_ns = ps_now_ns();
    st->finished = p->started == 2 ? p->engine_done : 1;
    snprintf(st->engine_error, sizeof st->engine_error, "%s", p->engine_error);
    pthread_mutex_unlock(&p->mu);
    return PS_OK;
}

void ps_pipeline_stats_free(ps_pipeline_stats *st) {
    free(st->streams);
    st->streams = NULL;
}

void ps_pipeline_free(ps_pipeline *p) {
    if (!p) return;
    if (p->started) {
        ps_pipeline_stop(p);
        for (int k = 0; k < p->n_streams; k++)
            if (p->streams[k]->reader_started) pthread_join(p->streams[k]->reader, NULL);
        if (p->started == 2) {
            pthread_join(p->sched_thread, NULL);
            pthread_join(p->engine_thread, NULL);
        }
    }
    for (int k = 0; k < p->n_streams; k++) stream_free(p->streams[k]);
    free(p->streams);
    free(p->forming);
    free(p->pending);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->sched_cv);
    pthread_cond_destroy(&p->space_cv);
    pthread_cond_destroy(&p->engine_cv);
    pthread_cond_destroy(&p->done_cv);
    free(p);
}
