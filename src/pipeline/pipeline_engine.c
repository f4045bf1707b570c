/* The scheduler and engine threads (see pipeline_impl.h). The scheduler
 * moves ready frames into a batch, the highest priority first and then the
 * earliest deadline, leaving out (as late) frames that could no longer be
 * done in time, and hands the batch to the engine thread when the engine
 * is idle, the batch is full or its first frame has waited the timeout.
 * The engine thread runs batches, two in flight with a detector that
 * splits the work, and hands each frame's result out. A batch that fails
 * loses its frames (counted as
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

/* A frame without a deadline of its own yields to one due within this. */
#define NO_DEADLINE_NS 1000000000LL

/* The deadline of s's frames after their capture, ns (0: none). Only live
 * streams have one: an offline stream's frames wait for the engine and are
 * all processed. */
static int64_t deadline_span(const stream *s) {
    return s->st.live ? (int64_t)(s->st.settings.max_latency_ms * 1e6) : 0;
}

/* When frame f of s must be done (its capture + the stream's deadline). */
static int64_t deadline_of(const stream *s, const ps_frame *f) {
    int64_t span = deadline_span(s);
    return f->t.captured + (span > 0 ? span : NO_DEADLINE_NS);
}

/* Deadlines are judged by the engine's expected time with a margin: at
 * least MARGIN_MIN (the CPU's times vary by about 10%), and after a batch
 * that ran over its expected time by more, that ratio, coming back down by
 * MARGIN_EASE of the difference per batch: a machine whose speed drops (a
 * shared VM's can halve for seconds) is judged by its slower times until
 * the means per batch size have caught up. */
#define MARGIN_MIN 1.15
#define MARGIN_MAX 2.5 /* one batch stalled by a page fault must not stop the rest */
#define MARGIN_EASE 0.02

static double margin(const ps_pipeline *p) {
    return p->margin > MARGIN_MIN ? p->margin : MARGIN_MIN;
}

/* How long a batch of n takes, with the margin (0 before the first). */
static int64_t expect_ns(const ps_pipeline *p, int n) {
    return (int64_t)(ps_batch_time_predict(&p->batch_time, n) * margin(p));
}

/* Learns from a batch of n that took ns (p->mu held). */
static void note_batch_time(ps_pipeline *p, int n, double ns) {
    double expected = ps_batch_time_predict(&p->batch_time, n), m = margin(p);
    m -= (m - MARGIN_MIN) * MARGIN_EASE;
    if (expected > 0 && ns / expected > m) m = ns / expected;
    p->margin = m < MARGIN_MAX ? m : MARGIN_MAX;
    ps_batch_time_add(&p->batch_time, n, ns);
}

/* How long until a frame taken now is done: what is left of the batch in
 * the engine (if any), then its own batch, expected to take batch_ns. */
static int64_t time_to_done(const ps_pipeline *p, int64_t now, int64_t batch_ns) {
    int64_t left = expect_ns(p, p->engine_n) - (now - p->engine_since);
    return batch_ns + (p->engine_busy && left > 0 ? left : 0);
}

/* Drops the frames of s that can no longer be done in time (need from now,
 * time_to_done), counting them late. A deadline that not even a batch of
 * one (one_ns, plainly expected) can meet drops nothing: the freshest
 * frames still run. */
static void drop_late(stream *s, int64_t now, int64_t need, double one_ns) {
    int64_t span = deadline_span(s);
    if (span <= 0 || one_ns >= (double)span) return;
    while (s->ring_count > 0 && deadline_of(s, s->ring[s->ring_head]) < now + need) {
        ps_pipe_give_back(s, ps_pipe_ring_pop(s));
        s->st.late++;
    }
}

/* Whether a's oldest frame goes before b's: the higher priority, then the
 * earlier deadline, told apart only when a batch's time or more apart
 * (finer differences are the streams' phases), then the stream served
 * longest ago, so streams alike take turns. */
static int goes_before(const stream *a, int64_t a_due, const stream *b, int64_t b_due,
                       int64_t quantum) {
    if (a->st.settings.priority != b->st.settings.priority)
        return a->st.settings.priority > b->st.settings.priority;
    if (a_due / quantum != b_due / quantum) return a_due < b_due;
    return a->served < b->served;
}

/* The stream whose oldest frame goes next, deadlines told apart at quantum;
 * NULL when none is ready. */
static stream *next_stream(ps_pipeline *p, int64_t quantum) {
    stream *best = NULL;
    int64_t best_due = 0;
    for (int k = 0; k < p->n_streams; k++) {
        stream *s = p->streams[k];
        if (s->ring_count == 0) continue;
        int64_t due = deadline_of(s, s->ring[s->ring_head]);
        if (!best || goes_before(s, due, best, best_due, quantum)) best = s, best_due = due;
    }
    return best;
}

/* The largest batch that still meets the tightest deadline of the running
 * streams, by the measured engine time per batch size: a frame may wait for
 * the batch before it and then for its own, and the rest of the deadline
 * absorbs the reader's delay and the engine's jitter, so a batch may take
 * a third of it. Without deadlines, batch_max. */
static int batch_limit(ps_pipeline *p) {
    /* the same until a batch has run or the streams changed */
    if (p->limit && p->limit_batches == p->batches && p->limit_streams == p->n_streams)
        return p->limit;
    p->limit_batches = p->batches;
    p->limit_streams = p->n_streams;
    int64_t tight = 0;
    for (int k = 0; k < p->n_streams; k++) {
        const stream *s = p->streams[k];
        int64_t span = deadline_span(s);
        if (s->st.state == PS_STREAM_RUNNING && span > 0 && (tight == 0 || span < tight))
            tight = span;
    }
    p->limit = tight == 0 ? p->o.batch_max
                          : ps_batch_time_fit(&p->batch_time, (double)tight / 3 / margin(p),
                                              p->o.batch_max);
    return p->limit;
}

/* The frames ready in every ring. */
static int frames_ready(const ps_pipeline *p) {
    int n = 0;
    for (int k = 0; k < p->n_streams; k++) n += p->streams[k]->ring_count;
    return n;
}

/* Moves ready frames into the forming batch, by priority and then
 * deadline; frames that can no longer be done in time are counted late.
 * With an engine that runs one batch at a time (the CPU), frames are taken
 * only once it is free: until then they wait in their rings, where a frame
 * of higher priority arriving meanwhile still goes first and deadlines are
 * checked again (a batch taken early would wait a whole batch time). An
 * engine that overlaps two batches (the GPU) takes the next batch while
 * one runs, in a few milliseconds. */
static void take_frames(ps_pipeline *p) {
    if (!p->detector->submit && (p->n_pending > 0 || p->engine_busy)) return;
    int64_t now = ps_now_ns();
    int limit = batch_limit(p), ready = frames_ready(p);
    ps_pipe_plan_strides(p, now, limit);
    if (p->n_forming == 0) p->forming_limit = limit;
    /* the batch these frames go into: what is forming and what is ready */
    int n = p->n_forming + ready < p->forming_limit ? p->n_forming + ready : p->forming_limit;
    int64_t batch_ns = expect_ns(p, n), need = time_to_done(p, now, batch_ns);
    double one_ns = ps_batch_time_predict(&p->batch_time, 1);
    for (int k = 0; k < p->n_streams; k++) drop_late(p->streams[k], now, need, one_ns);
    int took = 0;
    int64_t quantum = batch_ns > 1000000 ? batch_ns : 1000000;
    stream *s;
    while (p->n_forming < p->forming_limit && (s = next_stream(p, quantum))) {
        ps_frame *f = ps_pipe_ring_pop(s);
        s->served = ++p->serve_seq;
        f->t.batched = now;
        if (p->n_forming == 0) p->forming_t0 = now;
        p->forming[p->n_forming++] = f;
        took = 1;
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
    return !p->engine_busy || p->n_forming >= p->forming_limit || now >= deadline || sources_done;
}

static void sched_wait(ps_pipeline *p) {
    if (p->n_forming > 0 && p->n_pending == 0 && p->engine_busy) {
        int64_t deadline = p->forming_t0 + (int64_t)p->o.batch_timeout_ms * 1000000;
        struct timespec ts = ps_timespec_at(deadline);
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
        if (sources_done && p->n_forming == 0 && (!p->o.keep_running || p->stop)) break;
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
    if (!st && p->o.on_result) {
        /* the streams' table grows under the lock as streams are added; the
         * streams themselves stay where they are, and their ids and names
         * never change */
        pthread_mutex_lock(&p->mu);
        for (int i = 0; i < n; i++) p->owners[i] = p->streams[batch[i]->stream];
        pthread_mutex_unlock(&p->mu);
    }
    for (int i = 0; i < n; i++) {
        batch[i]->t.output = ps_now_ns();
        if (!st && p->o.on_result)
            p->o.on_result(p->o.result_ctx, p->owners[i]->id, p->owners[i]->st.name, batch[i]);
    }
    pthread_mutex_lock(&p->mu);
    if (st && err) {
        note_failure(p, err);
        if (p->engine_fatal) stop_all(p);
    } else if (!st) {
        p->failures_in_row = 0;
        /* GPU batches are timed by CUDA events, CPU ones by the clock */
        const ps_frame_times *t = &batch[0]->t;
        int64_t ns = t->device_ns ? t->device_ns : t->infer_end - t->infer_start;
        ps_hist_add(&p->engine, ns / 1000);
        note_batch_time(p, n, (double)ns);
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
    /* every stream, not the batch's: a freed pool takes its frames with it */
    for (int k = 0; k < p->n_streams; k++) ps_pipe_free_pool_if_idle(p->streams[k]);
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
    p->engine_since = ps_now_ns();
    p->engine_n = next->n;
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
