/* The scheduler and engine threads (see pipeline_impl.h). The scheduler
 * moves ready frames into a batch, one per stream in turn, and hands the
 * batch to the engine thread when the engine is idle, the batch is full or
 * its first frame has waited the timeout. The engine thread runs batches,
 * two in flight with a detector that splits the work, and hands each
 * frame's result out. A batch that fails loses its frames (counted as
 * failed), the detector recovers and the run goes on; when it cannot, or
 * PS_ENGINE_MAX_FAILURES batches fail in a row, the run stops with the
 * cause (engine_fatal). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/pipeline_impl.h"
#include "util/clock.h"

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
            ps_frame *f = ps_pipe_ring_pop(s);
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
        if (!ps_pipe_stream_done(p->streams[k]) || p->streams[k]->ring_count > 0) return 0;
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

void *ps_pipe_sched_main(void *arg) {
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
    ps_pipe_give_back(s, f);
}

/* Counts a failed batch (p->mu held); the engine goes on unless too many
 * failed in a row. */
static void note_failure(ps_pipeline *p, const ps_err *err) {
    p->engine_failures++;
    snprintf(p->engine_error, sizeof p->engine_error, "%s", err->msg);
    if (++p->failures_in_row >= PS_ENGINE_MAX_FAILURES && !p->engine_fatal) {
        p->engine_fatal = 1;
        snprintf(p->engine_error, sizeof p->engine_error,
                 "%d batches in a row failed (last: %.400s)", p->failures_in_row, err->msg);
    }
}

/* The run cannot go on (p->mu held): every source is told to stop; what
 * is still queued fails without reaching the engine. */
static void stop_all(ps_pipeline *p) {
    p->stop = 1;
    for (int k = 0; k < p->n_streams; k++)
        if (p->streams[k]->src) ps_source_interrupt(p->streams[k]->src);
    pthread_cond_broadcast(&p->space_cv);
    pthread_cond_broadcast(&p->state_cv);
}

/* Hands out a done batch's results (outside the lock), then records it. st
 * non-OK: the batch failed and its frames count as failed; err says why,
 * or is NULL for a batch lost with another one's failure (not counted as a
 * failure of its own). idle: nothing else is in the engine now. */
static void engine_finish(ps_pipeline *p, ps_frame **batch, int n, ps_status st,
                          const ps_err *err, int idle) {
    for (int i = 0; i < n; i++) {
        batch[i]->t.output = ps_now_ns();
        if (!st && p->o.on_result) {
            const stream *s = p->streams[batch[i]->stream];
            p->o.on_result(p->o.result_ctx, s->id, s->st.name, batch[i]);
        }
    }
    pthread_mutex_lock(&p->mu);
    if (st && err) {
        note_failure(p, err);
        if (p->engine_fatal) stop_all(p);
    } else if (!st) {
        p->failures_in_row = 0;
        /* GPU batches are timed by CUDA events, CPU ones by the clock */
        const ps_frame_times *t = &batch[0]->t;
        ps_hist_add(&p->engine, (t->device_ns ? t->device_ns : t->infer_end - t->infer_start) / 1000);
        p->batches++;
        p->batch_sizes[n < PS_BATCH_HIST ? n : PS_BATCH_HIST]++;
    }
    for (int i = 0; i < n; i++) {
        if (st) {
            p->streams[batch[i]->stream]->st.failed++;
            ps_pipe_give_back(p->streams[batch[i]->stream], batch[i]);
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

/* After a failure of a batch of n: the detector makes the engine ready
 * again; when it cannot, the run stops with its reason. */
static void engine_recover(ps_pipeline *p, int n) {
    ps_err err = {0};
    ps_status st = p->detector->recover ? p->detector->recover(p->detector->ctx, n, &err) : PS_OK;
    if (!st) return;
    pthread_mutex_lock(&p->mu);
    if (!p->engine_fatal)
        snprintf(p->engine_error, sizeof p->engine_error,
                 "cannot recover from a failed batch: %.450s", err.msg);
    p->engine_fatal = 1;
    stop_all(p);
    pthread_mutex_unlock(&p->mu);
}

static ps_status engine_collect(ps_pipeline *p, engine_batch *b, int idle) {
    ps_err err = {0};
    ps_status st = p->detector->collect(p->detector->ctx, b->frames, b->n, &err);
    engine_finish(p, b->frames, b->n, st, &err, idle);
    if (st) engine_recover(p, b->n);
    b->n = 0;
    return st;
}

/* Runs batch `next`: synchronously, or, with a detector that splits the
 * work, submits it and then collects the one submitted before (held), so
 * that the next batch is prepared while the previous one runs. A failure
 * loses every batch in flight. */
static void engine_step(ps_pipeline *p, engine_batch *next, engine_batch *held) {
    ps_err err = {0};
    if (!p->detector->submit) {
        ps_status st = p->detector->detect(p->detector->ctx, next->frames, next->n, &err);
        engine_finish(p, next->frames, next->n, st, &err, 1);
        if (st) engine_recover(p, next->n);
        next->n = 0;
        return;
    }
    ps_status st = p->detector->submit(p->detector->ctx, next->frames, next->n, &err);
    ps_status held_st = held->n ? engine_collect(p, held, st != PS_OK) : PS_OK;
    if (st || held_st) { /* a failed submit is next's own failure; else it went with held */
        engine_finish(p, next->frames, next->n, PS_ERR_BACKEND, st ? &err : NULL, 1);
        if (st) engine_recover(p, next->n);
        next->n = 0;
        return;
    }
    engine_batch t = *held; /* next becomes the held batch */
    *held = *next;
    *next = t;
}

/* Takes the pending batch (p->mu held, released on return) and runs it,
 * or fails it at once when the engine is down. */
static void engine_take(ps_pipeline *p, engine_batch *next, engine_batch *held) {
    next->n = p->n_pending;
    memcpy(next->frames, p->pending, sizeof *next->frames * (size_t)next->n);
    p->n_pending = 0;
    p->engine_busy = 1;
    int fatal = p->engine_fatal;
    pthread_cond_signal(&p->sched_cv);
    pthread_mutex_unlock(&p->mu);
    if (!fatal) {
        engine_step(p, next, held);
        return;
    }
    engine_finish(p, next->frames, next->n, PS_ERR_BACKEND, NULL, 1);
    next->n = 0;
}

void *ps_pipe_engine_main(void *arg) {
    ps_pipeline *p = arg;
    engine_batch next = {malloc(sizeof(ps_frame *) * (size_t)p->o.batch_max), 0};
    engine_batch held = {malloc(sizeof(ps_frame *) * (size_t)p->o.batch_max), 0};
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->n_pending == 0 && !p->sched_done && !held.n)
            pthread_cond_wait(&p->engine_cv, &p->mu);
        if (p->n_pending) {
            engine_take(p, &next, &held);
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
