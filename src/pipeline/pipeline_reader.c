/* Reader threads (see pipeline_impl.h): one per stream. It opens the
 * source (streams open in parallel, so a slow one holds up no other),
 * waits for the start, is admitted against the host-memory budget and,
 * decoding on the GPU, the device-memory one (admit.h), then reads: each
 * frame is prepared for the engine as it arrives (a GPU frame becomes the
 * engine's small input at once) and pushed into the stream's ring. A live stream drops its
 * oldest frame when the ring is full; an offline one waits for room. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pipeline/admit.h"
#include "pipeline/pipeline_impl.h"
#include "util/clock.h"
#include "util/memory.h"
#include "util/status.h"

#define ADMIT_POLL_MS 50

static void drop_oldest(stream *s) {
    ps_pipe_give_back(s, ps_pipe_ring_pop(s));
    s->st.dropped++;
}

static void ring_push(stream *s, ps_frame *f) {
    s->ring[(s->ring_head + s->ring_count) % s->p->o.ring_size] = f;
    s->ring_count++;
}

/* ---- opening and admission ---- */

/* Opens the source (outside the lock: it may wait on the network) and
 * records its state and size. */
static void reader_open(stream *s) {
    ps_err err = {0};
    ps_source *src = ps_source_open(s->st.uri, &s->src_opts, &err);
    pthread_mutex_lock(&s->p->mu);
    s->src = src;
    if (src) {
        s->st.state = PS_STREAM_OPENED;
        s->st.live = ps_source_is_live(src);
        ps_source_info(src, &s->st.width, &s->st.height, &s->st.fps);
        snprintf(s->st.note, sizeof s->st.note, "%s", ps_source_note(src));
    } else {
        s->st.state = PS_STREAM_FAILED;
        snprintf(s->st.error, sizeof s->st.error, "%s", err.msg);
    }
    pthread_cond_broadcast(&s->p->state_cv);
    pthread_mutex_unlock(&s->p->mu);
}

/* What the process and the device measure now (outside the lock: NVML
 * asks the driver), before any stream's own estimate. */
static ps_admit_in device_measured(ps_pipeline *p) {
    ps_detector *d = p->detector;
    ps_admit_in in = {.kind = PS_MEM_DEVICE, .limit = p->o.max_vram};
    size_t peak = 0;
    if (d->vram) d->vram(d->ctx, &in.used, &peak);
    if (d->vram_free) in.free_now = d->vram_free(d->ctx);
    return in;
}

/* The process's resident memory and the machine's available memory. */
static ps_admit_in host_measured(ps_pipeline *p) {
    return (ps_admit_in){.kind = PS_MEM_HOST, .limit = p->o.max_host,
                         .used = ps_mem_resident(), .free_now = ps_mem_available()};
}

/* The device figures admission judges s by: the measure and its own
 * frame-size estimate. */
static ps_admit_in device_figures(stream *s) {
    ps_pipeline *p = s->p;
    ps_detector *d = p->detector;
    ps_admit_in in = device_measured(p);
    /* a prepared frame holds 4 bytes per input pixel, a raw one the
     * decoder's full-size picture */
    size_t ring = d->prepare ? (size_t)p->o.ring_size * d->input_w * d->input_h * 4 : 0;
    in.static_need = ps_source_vram_estimate(s->src, d->prepare ? 0 : p->o.ring_size + 2) + ring;
    return in;
}

/* The host figures: the measure, and what the stream's decoder and frame
 * pool should take by their sizes. */
static ps_admit_in host_figures(stream *s) {
    ps_admit_in in = host_measured(s->p);
    in.static_need = ps_source_host_estimate(s->src, s->n_frames);
    return in;
}

/* The pipeline's own figures of in's kind: base, reservations, streams
 * counted (p->mu held). */
static void admit_fill(ps_pipeline *p, ps_admit_in *in) {
    ps_ledger_fill(p->mem[in->kind], in);
}

/* Takes what admission granted s in memory kind k (p->mu held). */
static void admit_take(stream *s, int k, size_t need, int measured) {
    s->reserve[k] = need;
    ps_ledger_change(s->p->mem[k], (long long)need, 1);
    s->counted[k] = 1;
    if (k == PS_MEM_DEVICE) {
        s->st.gpu_decode = 1;
        s->st.vram_estimate = need;
        s->st.vram_measured = measured;
    } else {
        s->st.host_estimate = need;
        s->st.host_measured = measured;
    }
}

/* Marks s refused for memory kind `in` (p->mu held), saying why. */
static void admit_refuse(stream *s, const ps_admit_in *in, size_t need, int measured) {
    s->st.state = PS_STREAM_REFUSED;
    snprintf(s->st.error, sizeof s->st.error, "%.200s: ", s->st.uri);
    size_t at = strlen(s->st.error);
    ps_admit_explain(in, need, measured, s->st.error + at, sizeof s->st.error - at);
}

/* One admission decision on figures in[] (p->mu held): every kind that
 * applies must fit. Admitted (its reservations taken), refused (state and
 * error set), to wait, or stopping (PS_ADMIT_REFUSE with nothing set). */
static ps_admit_verdict admit_once(stream *s, ps_admit_in *in, int n_kinds) {
    ps_pipeline *p = s->p;
    if (p->stop || s->removing) return PS_ADMIT_REFUSE;
    size_t need[PS_MEM_KINDS];
    int measured[PS_MEM_KINDS];
    ps_admit_verdict v = PS_ADMIT_YES;
    for (int i = 0; i < n_kinds && v != PS_ADMIT_REFUSE; i++) {
        admit_fill(p, &in[i]);
        need[i] = ps_admit_need(&in[i], &measured[i]);
        ps_admit_verdict vk = ps_admit_decide(&in[i], need[i]);
        if (vk == PS_ADMIT_REFUSE) admit_refuse(s, &in[i], need[i], measured[i]);
        if (vk != PS_ADMIT_YES) v = vk;
    }
    for (int i = 0; i < n_kinds && v == PS_ADMIT_YES; i++)
        admit_take(s, in[i].kind, need[i], measured[i]);
    return v;
}

/* Whether the measured average of the settled streams of kind in->kind
 * still fits (p->mu held); unjudged (fits) while any is unsettled. */
static int precheck_kind(ps_pipeline *p, ps_admit_in *in, const char *uri, ps_err *err) {
    int measured = 0;
    admit_fill(p, in);
    if (!in->active || in->reserved) return 1;
    size_t need = ps_admit_need(in, &measured);
    if (ps_admit_decide(in, need) != PS_ADMIT_REFUSE) return 1;
    char why[PS_ERR_LEN];
    ps_admit_explain(in, need, measured, why, sizeof why);
    ps_err_set(err, PS_ERR_REFUSED, "%.200s: %s", uri, why);
    return 0;
}

ps_status ps_pipe_admit_precheck(ps_pipeline *p, const char *uri, ps_err *err) {
    pthread_mutex_lock(&p->mu);
    ps_detector *d = p->started ? p->detector : NULL;
    ps_admit_in dev = {0};
    ps_ledger_fill(p->mem[PS_MEM_DEVICE], &dev);
    int gpu = d && dev.active > 0;
    pthread_mutex_unlock(&p->mu);
    if (!d) return PS_OK; /* before the start nothing is measured */
    ps_admit_in in[PS_MEM_KINDS] = {host_measured(p)};
    if (gpu) in[1] = device_measured(p);
    pthread_mutex_lock(&p->mu);
    int fits = precheck_kind(p, &in[0], uri, err) && (!gpu || precheck_kind(p, &in[1], uri, err));
    pthread_mutex_unlock(&p->mu);
    return fits ? PS_OK : PS_ERR_REFUSED;
}

/* Waits until the stream fits in host memory and, decoding on the GPU, in
 * device memory (p->mu not held). Returns 1 when admitted, 0 when refused
 * (state and error set) or stopping. */
static int reader_admit(stream *s) {
    ps_pipeline *p = s->p;
    int gpu = ps_source_gpu_decoding(s->src);
    for (;;) {
        ps_admit_in in[PS_MEM_KINDS] = {host_figures(s)};
        if (gpu) in[1] = device_figures(s);
        pthread_mutex_lock(&p->mu);
        ps_admit_verdict v = admit_once(s, in, gpu ? 2 : 1);
        if (v == PS_ADMIT_WAIT) {
            int64_t t = ps_now_ns() + (int64_t)ADMIT_POLL_MS * 1000000;
            struct timespec ts = ps_timespec_at(t);
            pthread_cond_timedwait(&p->state_cv, &p->mu, &ts);
        }
        pthread_mutex_unlock(&p->mu);
        if (v != PS_ADMIT_WAIT) return v == PS_ADMIT_YES;
    }
}

/* Waits for the start; then sizes the source for the detector and admits
 * it. Returns 1 when the stream should read. */
static int reader_wait_start(stream *s) {
    ps_pipeline *p = s->p;
    pthread_mutex_lock(&p->mu);
    while (!p->started && !p->stop && !s->removing) pthread_cond_wait(&p->state_cv, &p->mu);
    int go = !p->stop && !s->removing && s->st.state == PS_STREAM_OPENED;
    if (go) {
        ps_source_set_fit(s->src, p->detector->input_w, p->detector->input_h);
        ps_source_set_raw(s->src, p->detector->wants_raw);
        /* a frame prepared on arrival is done with its pixels before the
         * reader reads the next */
        ps_source_set_borrow(s->src, p->detector->wants_raw && p->detector->prepare);
    }
    pthread_mutex_unlock(&p->mu);
    if (!go || !reader_admit(s)) return 0;
    pthread_mutex_lock(&p->mu);
    s->st.state = PS_STREAM_RUNNING;
    s->st.running_ns = ps_now_ns();
    pthread_mutex_unlock(&p->mu);
    return 1;
}

/* ---- reading ---- */

/* Waits for a frame to read into: live streams drop their oldest buffered
 * frame rather than wait; offline streams wait for ring room. Returns NULL
 * when stopping. */
static ps_frame *reader_acquire(stream *s) {
    ps_pipeline *p = s->p;
    for (;;) {
        if (p->stop || s->removing) return NULL;
        int room = s->st.live || s->ring_count < p->o.ring_size;
        if (s->n_free > 0 && room) return s->free_frames[--s->n_free];
        if (s->st.live && s->n_free == 0 && s->ring_count > 0) {
            drop_oldest(s);
            continue;
        }
        pthread_cond_wait(&p->space_cv, &p->mu);
    }
}

static void reader_count(stream *s, const ps_frame *f) {
    s->st.produced++;
    if (s->st.first_ns == 0) s->st.first_ns = f->t.captured;
    int reserving = s->reserve[PS_MEM_DEVICE] || s->reserve[PS_MEM_HOST];
    if (reserving && s->st.produced >= PS_ADMIT_SETTLE_FRAMES) ps_pipe_settle(s);
}

static void reader_push(stream *s, ps_frame *f) {
    if (s->ring_count == s->p->o.ring_size) drop_oldest(s); /* live only */
    f->stream = s->id;
    ring_push(s, f);
    reader_count(s, f);
    s->prepare_failures = 0;
    pthread_cond_signal(&s->p->sched_cv);
}

/* A frame the engine could not take: counted as failed; too many in a row
 * end the stream. Returns 0 when the stream must end. */
static int reader_fail_frame(stream *s, ps_frame *f, const ps_err *err) {
    reader_count(s, f);
    s->st.failed++;
    ps_pipe_give_back(s, f);
    if (++s->prepare_failures < PS_PREPARE_MAX_FAILURES) return 1;
    s->st.state = PS_STREAM_FAILED;
    snprintf(s->st.error, sizeof s->st.error, "%.160s: %d frames in a row could not be prepared "
             "for the engine (last: %.240s)", s->st.uri, s->prepare_failures, err->msg);
    return 0;
}

/* How a reader's stream ends (p->mu held): removed, failed (its own
 * error, or the engine's when that could not go on: the stream did not end
 * by itself), or ended. */
static void reader_finish(stream *s, ps_read_result r, const ps_err *err) {
    int open = s->st.state == PS_STREAM_RUNNING || s->st.state == PS_STREAM_OPENED;
    if (s->removing && open) {
        s->st.state = PS_STREAM_REMOVED;
    } else if (open && s->p->engine_fatal && r != PS_READ_ERROR) {
        s->st.state = PS_STREAM_FAILED;
        s->st.engine_lost = 1;
        snprintf(s->st.error, sizeof s->st.error, "%.100s: stopped, the engine could not go on "
                 "(%.360s)", s->st.uri, s->p->engine_error);
    } else if (s->st.state == PS_STREAM_RUNNING) {
        if (r == PS_READ_ERROR) {
            s->st.state = PS_STREAM_FAILED;
            snprintf(s->st.error, sizeof s->st.error, "%s", err->msg);
        } else {
            s->st.state = PS_STREAM_ENDED;
        }
    } else if (s->st.state == PS_STREAM_OPENED) {
        s->st.state = PS_STREAM_ENDED; /* stopped before it began */
    }
    ps_pipe_leave(s);
    pthread_cond_signal(&s->p->sched_cv);
    pthread_cond_broadcast(&s->p->state_cv);
}

/* max_fps: whether frame f is kept, by its own time (so a file read offline
 * and in real time keeps the same frames); reader thread only. */
static int rate_keep(stream *s, const ps_frame *f) {
    double fps = s->st.settings.max_fps;
    if (fps <= 0) return 1;
    /* a frame up to 1% early still counts, so 30 fps taken at 15 keeps every
     * other frame despite rounding in the pts */
    if (s->kept_any && f->pts - s->kept_pts < 0.99 / fps && f->pts >= s->kept_pts) return 0;
    s->kept_any = 1;
    s->kept_pts = f->pts;
    return 1;
}

/* The scheduler's stride (read under p->mu by the caller): whether this
 * frame is one of every `stride`; reader thread only. */
static int stride_keep(stream *s, int stride) {
    if (stride <= 1) {
        s->stride_phase = 0;
        return 1;
    }
    if (s->stride_phase++ % stride) return 0;
    s->stride_phase = 1;
    return 1;
}

/* What became of a frame read (p->mu held): a bad one counted failed with
 * its reason, one left out by rate or stride skipped, one read after a
 * cancel cancelled, one prepared pushed, one that could not be prepared
 * failed. Returns -1 to read on, else how the reading ends. */
static int reader_take(stream *s, ps_frame *f, ps_read_result r, int keep, ps_status pst,
                       const ps_err *err, const ps_err *perr) {
    if (r == PS_READ_BAD) {
        reader_count(s, f);
        s->st.failed++;
        snprintf(s->st.note, sizeof s->st.note, "%.250s", err->msg);
        ps_pipe_give_back(s, f);
        return -1;
    }
    if (r != PS_READ_FRAME) {
        ps_pipe_give_back(s, f);
        return r;
    }
    if (!keep || s->p->cancel) {
        reader_count(s, f);
        if (keep) s->st.cancelled++;
        else s->st.skipped++;
        ps_pipe_give_back(s, f);
    } else if (pst == PS_OK) {
        reader_push(s, f);
    } else if (!reader_fail_frame(s, f, perr)) {
        return PS_READ_END;
    }
    return -1;
}

/* Reads until the source ends, fails or the pipeline stops (p->mu held on
 * entry and exit). */
static ps_read_result reader_loop(stream *s, ps_err *err) {
    ps_pipeline *p = s->p;
    ps_detector *d = p->detector;
    for (;;) {
        ps_frame *f = reader_acquire(s);
        if (!f) return PS_READ_END;
        int stride = s->st.stride;
        pthread_mutex_unlock(&p->mu);
        ps_read_result r = ps_source_read(s->src, f, err);
        int keep = r == PS_READ_FRAME && rate_keep(s, f) && stride_keep(s, stride);
        ps_err perr = {0};
        ps_status pst = keep && d->prepare ? d->prepare(d->ctx, f, &perr) : PS_OK;
        pthread_mutex_lock(&p->mu);
        int end = reader_take(s, f, r, keep, pst, err, &perr);
        if (end >= 0) return (ps_read_result)end;
    }
}

void *ps_pipe_reader_main(void *arg) {
    stream *s = arg;
    ps_pipeline *p = s->p;
    reader_open(s);
    ps_err err = {0};
    ps_read_result r = PS_READ_END;
    int go = s->src && reader_wait_start(s);
    pthread_mutex_lock(&p->mu);
    if (go) r = reader_loop(s, &err);
    reader_finish(s, r, &err);
    /* the reader closes what it opened (FFmpeg's decoder threads are its
     * own); the figures the source kept stay in the stream's */
    ps_source *src = s->src;
    ps_pipe_source_figures(s, &s->st);
    s->src = NULL;
    pthread_mutex_unlock(&p->mu);
    ps_source_close(src);
    pthread_mutex_lock(&p->mu);
    s->reader_done = 1;
    ps_pipe_free_pool_if_idle(s);
    pthread_cond_signal(&p->sched_cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}
