/* A stream's annotator (see annotate.h). One mutex guards the queue of
 * copied frames, the results waiting for them and the watchers; drawing
 * and encoding run on the worker thread outside it. A frame leaves the
 * queue once its fate is known: its own result came, a later frame's
 * result came (it was not processed: the last poses), or the stream is
 * over. */
#include "sink/annotate.h"

#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/encode.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/status.h"

#define QUEUE_MAX 16    /* copied frames waiting for their results */
#define RESULTS_MAX QUEUE_MAX /* results waiting for their frames: only queued ones */
#define FULL_WAIT_NS 1000000000LL /* a full queue holds the reader this long, then drops */

typedef struct {
    int64_t index;
    ps_yuv img;
    uint8_t *buf;
    int src_w, src_h;   /* the source frame's size: people are in its pixels */
    double fps;         /* the source's rate (the video's) */
    int video, snapshot, preview; /* where it goes */
} item;

typedef struct {
    int64_t index;
    int n;
    ps_person people[PS_MAX_PEOPLE];
} poses;

struct ps_preview {
    ps_annotator *a;
    double fps;
    int height;
    int64_t next_ns;          /* when it wants its next picture */
    uint8_t *jpeg, *spare;    /* published picture; the worker's next one */
    size_t len, cap, spare_cap;
    int64_t seq;              /* pictures published */
    int64_t taken;            /* the last of them ps_preview_next returned */
    int busy;                 /* the worker encodes for it (mu released) */
    ps_jpeg *enc;
    struct ps_preview *next;
};

struct ps_annotator {
    ps_annotate_params p;
    char video_dir[1024], snapshot_dir[1024];
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* worker: work or finish; reader: room; watchers: pictures */
    pthread_t worker;
    int worker_started, worker_exited, stream, started, finished, refs;
    item q[QUEUE_MAX];
    int q_head, q_n;
    poses res[RESULTS_MAX];
    int r_head, r_n;
    poses last;               /* the latest result: for frames without their own */
    int64_t latest;           /* index of the latest result, -1 none */
    int64_t last_taken;       /* index of the latest frame copied, -1 none */
    double fps;
    int64_t next_snapshot;    /* frame index of the next snapshot */
    struct ps_preview *watchers;
    struct SwsContext *sws;   /* reader thread: any format -> YUV420P at output size */
    int sws_w, sws_h, sws_fmt;
    int64_t lost;             /* frames not copied: the queue stayed full */
    ps_video_out *video;
    int video_failed;
    ps_jpeg *snap;
};

ps_annotator *ps_annotator_create(const ps_annotate_params *p, ps_err *err) {
    ps_annotator *a = calloc(1, sizeof *a);
    if (!a) return ps_err_set(err, PS_ERR_NOMEM, "annotator: out of memory"), NULL;
    a->p = *p;
    if (p->video_dir) snprintf(a->video_dir, sizeof a->video_dir, "%s", p->video_dir);
    if (p->snapshot_dir) snprintf(a->snapshot_dir, sizeof a->snapshot_dir, "%s", p->snapshot_dir);
    pthread_mutex_init(&a->mu, NULL);
    ps_cond_init_mono(&a->cv);
    a->refs = 1;
    a->latest = a->last_taken = -1;
    return a;
}

/* ---- the reader's side: which frames, and their copies ---- */

static int preview_due(const ps_annotator *a, int64_t now) {
    for (const ps_preview *w = a->watchers; w; w = w->next)
        if (now >= w->next_ns) return 1;
    return 0;
}

static int tap_wants(void *ctx, int64_t index) {
    ps_annotator *a = ctx;
    pthread_mutex_lock(&a->mu);
    int yes = !a->finished && index > a->last_taken &&
              (a->video_dir[0] || (a->snapshot_dir[0] && index >= a->next_snapshot) ||
               preview_due(a, ps_now_ns()));
    pthread_mutex_unlock(&a->mu);
    return yes;
}

/* The output size for a w x h source: the asked height (or its own), the
 * width by the aspect, both even. */
static void out_size(const ps_annotator *a, int w, int h, int *ow, int *oh) {
    *oh = (a->p.height > 0 && a->p.height < h ? a->p.height : h) & ~1;
    *ow = (int)((int64_t)w * *oh / h) & ~1;
}

/* Copies the picture into it->buf as YUV420P at the output size. */
static int copy_picture(ps_annotator *a, item *it, const uint8_t *const planes[4],
                        const int strides[4], int w, int h, int fmt) {
    int ow, oh;
    out_size(a, w, h, &ow, &oh);
    if (ow < 2 || oh < 2) return -1;
    a->sws = sws_getCachedContext(a->sws, w, h, fmt, ow, oh, AV_PIX_FMT_YUV420P, SWS_BILINEAR,
                                  NULL, NULL, NULL);
    size_t luma = (size_t)ow * oh;
    if (!a->sws || !(it->buf = malloc(luma + 2 * (luma / 4)))) return -1;
    it->img = (ps_yuv){it->buf, it->buf + luma, it->buf + luma + luma / 4, ow, ow / 2, ow / 2,
                       ow, oh};
    uint8_t *dst[4] = {it->img.y, it->img.u, it->img.v, NULL};
    int dst_stride[4] = {ow, ow / 2, ow / 2, 0};
    sws_scale(a->sws, planes, strides, 0, h, dst, dst_stride);
    it->src_w = w;
    it->src_h = h;
    return 0;
}

/* Waits (mu held) up to FULL_WAIT_NS for room in the queue. */
static int wait_room(ps_annotator *a) {
    int64_t until = ps_now_ns() + FULL_WAIT_NS;
    while (a->q_n == QUEUE_MAX && !a->finished) {
        struct timespec ts = ps_timespec_at(until);
        if (ps_now_ns() >= until || pthread_cond_timedwait(&a->cv, &a->mu, &ts)) break;
    }
    return a->q_n < QUEUE_MAX;
}

static void tap_take(void *ctx, int64_t index, double fps, const uint8_t *const planes[4],
                     const int strides[4], int w, int h, int fmt) {
    ps_annotator *a = ctx;
    item it = {.index = index};
    if (copy_picture(a, &it, planes, strides, w, h, fmt)) return;
    pthread_mutex_lock(&a->mu);
    a->fps = it.fps = fps > 0 ? fps : 25;
    it.video = a->video_dir[0] != 0;
    it.snapshot = a->snapshot_dir[0] && index >= a->next_snapshot;
    if (it.snapshot) a->next_snapshot = index + (int64_t)(a->p.snapshot_every_s * a->fps + 0.5);
    it.preview = preview_due(a, ps_now_ns());
    if (index > a->last_taken && wait_room(a)) {
        a->q[(a->q_head + a->q_n++) % QUEUE_MAX] = it;
        a->last_taken = index;
        it.buf = NULL;
        pthread_cond_broadcast(&a->cv);
    } else if (index > a->last_taken) {
        a->lost++;
    }
    pthread_mutex_unlock(&a->mu);
    free(it.buf);
}

ps_source_tap ps_annotator_tap(ps_annotator *a) {
    return (ps_source_tap){tap_wants, tap_take, a};
}

/* ---- the engine's side: results ---- */

/* Whether a queued frame has this index (mu held). */
static int queued(const ps_annotator *a, int64_t index) {
    for (int i = 0; i < a->q_n; i++)
        if (a->q[(a->q_head + i) % QUEUE_MAX].index == index) return 1;
    return 0;
}

void ps_annotator_result(ps_annotator *a, int64_t index, const ps_person *people, int n) {
    poses r = {.index = index, .n = n < PS_MAX_PEOPLE ? n : PS_MAX_PEOPLE};
    memcpy(r.people, people, sizeof *people * (size_t)r.n);
    pthread_mutex_lock(&a->mu);
    a->latest = index;
    if (!queued(a, index)) {
        a->last = r; /* its frame was not copied: only the poses carry on */
    } else {
        if (a->r_n == RESULTS_MAX) { /* cannot happen while frames wait for them */
            a->r_head = (a->r_head + 1) % RESULTS_MAX;
            a->r_n--;
        }
        a->res[(a->r_head + a->r_n++) % RESULTS_MAX] = r;
    }
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* ---- the worker: poses for the oldest frame, drawing, encoding ---- */

/* The poses for the queue's oldest frame, into *out, once its fate is
 * known (mu held); 0 while it is not. */
static int poses_for(ps_annotator *a, int64_t index, poses *out) {
    while (a->r_n && a->res[a->r_head].index < index) { /* frames gone before */
        a->last = a->res[a->r_head];
        a->r_head = (a->r_head + 1) % RESULTS_MAX;
        a->r_n--;
    }
    if (a->r_n && a->res[a->r_head].index == index) {
        a->last = a->res[a->r_head];
        a->r_head = (a->r_head + 1) % RESULTS_MAX;
        a->r_n--;
    } else if (!(a->latest > index || a->finished)) {
        return 0;
    }
    *out = a->last;
    return 1;
}

/* A failed write stops that output for the stream, said once. */
static void output_failed(ps_annotator *a, const char *what, const ps_err *err) {
    ps_log(PS_LOG_WARN, "stream %d: %s: %s; no more written", a->stream, what, err->msg);
}

static void write_video(ps_annotator *a, const item *it) {
    ps_err err;
    if (a->video_failed) return;
    if (!a->video) {
        char path[1100];
        snprintf(path, sizeof path, "%s/stream%d.mp4", a->video_dir, a->stream);
        a->video = ps_video_out_open(path, it->img.width, it->img.height, it->fps, &err);
    }
    if (!a->video || ps_video_out_write(a->video, &it->img, it->index, &err)) {
        output_failed(a, "annotated video", &err);
        a->video_failed = 1;
    }
}

static void write_snapshot(ps_annotator *a, const item *it) {
    ps_err err;
    uint8_t *buf = NULL;
    size_t cap = 0, n;
    char path[1100];
    snprintf(path, sizeof path, "%s/stream%d-%06lld.jpg", a->snapshot_dir, a->stream,
             (long long)it->index);
    if (!a->snap) a->snap = ps_jpeg_new();
    n = a->snap ? ps_jpeg_encode(a->snap, &it->img, 0, &buf, &cap, &err) : 0;
    FILE *f = n ? fopen(path, "wb") : NULL;
    if (n && (!f || fwrite(buf, 1, n, f) != n)) ps_log(PS_LOG_WARN, "%s: not written", path);
    if (f && fclose(f)) ps_log(PS_LOG_WARN, "%s: not written", path);
    free(buf);
}

/* Encodes the frame for every watcher whose turn it is, then publishes. */
static void send_previews(ps_annotator *a, const item *it) {
    int64_t now = ps_now_ns();
    pthread_mutex_lock(&a->mu);
    for (ps_preview *w = a->watchers; w; w = w->next) {
        if (now < w->next_ns) continue;
        /* the rate asked on average: the next turn counts from this one's,
         * not from the frame that came a little after it */
        int64_t step = (int64_t)(1e9 / w->fps);
        w->next_ns = w->next_ns + step > now ? w->next_ns + step : now + step;
        w->busy = 1; /* ps_preview_close waits for it */
        pthread_mutex_unlock(&a->mu);
        ps_err err;
        size_t n = ps_jpeg_encode(w->enc, &it->img, w->height, &w->spare, &w->spare_cap, &err);
        pthread_mutex_lock(&a->mu);
        w->busy = 0;
        if (!n) continue;
        uint8_t *t = w->jpeg;
        size_t tc = w->cap;
        w->jpeg = w->spare, w->cap = w->spare_cap, w->len = n;
        w->spare = t, w->spare_cap = tc;
        w->seq++;
    }
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void handle(ps_annotator *a, item *it, const poses *ps) {
    ps_draw_people(&it->img, ps->people, ps->n, it->src_w, it->src_h,
                   a->p.min_score > 0 ? a->p.min_score : 0.3f);
    if (it->video) write_video(a, it);
    if (it->snapshot) write_snapshot(a, it);
    if (it->preview) send_previews(a, it);
}

/* Draws and encodes frames as their fates become known, until the stream
 * is over and the queue empty; then closes the video. */
static void *worker_main(void *arg) {
    ps_annotator *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        poses ps;
        if (a->q_n && poses_for(a, a->q[a->q_head].index, &ps)) {
            item it = a->q[a->q_head];
            a->q_head = (a->q_head + 1) % QUEUE_MAX;
            a->q_n--;
            pthread_cond_broadcast(&a->cv); /* room for the reader */
            pthread_mutex_unlock(&a->mu);
            handle(a, &it, &ps);
            free(it.buf);
            pthread_mutex_lock(&a->mu);
        } else if (a->finished && !a->q_n) {
            break;
        } else {
            pthread_cond_wait(&a->cv, &a->mu);
        }
    }
    pthread_mutex_unlock(&a->mu);
    ps_err err;
    if (a->video && ps_video_out_close(a->video, &err)) output_failed(a, "annotated video", &err);
    a->video = NULL;
    if (a->lost) ps_log(PS_LOG_WARN, "stream %d: %lld frames not annotated (drawing fell behind)",
                        a->stream, (long long)a->lost);
    pthread_mutex_lock(&a->mu);
    a->worker_exited = 1;
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int ps_annotator_idle(ps_annotator *a) {
    pthread_mutex_lock(&a->mu);
    int idle = a->finished && (!a->worker_started || a->worker_exited);
    pthread_mutex_unlock(&a->mu);
    return idle;
}

/* Starts the worker once (mu held). */
static ps_status start_worker(ps_annotator *a, ps_err *err) {
    if (a->worker_started) return PS_OK;
    if (pthread_create(&a->worker, NULL, worker_main, a))
        return ps_err_set(err, PS_ERR_NOMEM, "stream %d: cannot start its drawing thread",
                          a->stream);
    a->worker_started = 1;
    return PS_OK;
}

ps_status ps_annotator_start(ps_annotator *a, int stream, ps_err *err) {
    pthread_mutex_lock(&a->mu);
    a->stream = stream;
    a->started = 1;
    ps_status st = a->video_dir[0] || a->snapshot_dir[0] || a->watchers ? start_worker(a, err)
                                                                        : PS_OK;
    pthread_mutex_unlock(&a->mu);
    return st;
}

void ps_annotator_finish(ps_annotator *a) {
    pthread_mutex_lock(&a->mu);
    a->finished = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void annotator_free(ps_annotator *a) {
    if (a->worker_started) pthread_join(a->worker, NULL);
    for (int i = 0; i < a->q_n; i++) free(a->q[(a->q_head + i) % QUEUE_MAX].buf);
    if (a->video) ps_video_out_close(a->video, &(ps_err){0});
    ps_jpeg_free(a->snap);
    sws_freeContext(a->sws);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}

void ps_annotator_release(ps_annotator *a) {
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    int last = --a->refs == 0;
    if (last) a->finished = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (last) annotator_free(a);
}

/* ---- watchers ---- */

ps_preview *ps_annotator_watch(ps_annotator *a, double fps, int height, ps_err *err) {
    ps_preview *w = calloc(1, sizeof *w);
    if (w) w->enc = ps_jpeg_new();
    if (!w || !w->enc) {
        free(w);
        return ps_err_set(err, PS_ERR_NOMEM, "preview: out of memory"), NULL;
    }
    *w = (ps_preview){.a = a, .fps = fps, .height = height, .enc = w->enc};
    pthread_mutex_lock(&a->mu);
    ps_status st = a->finished ? ps_err_set(err, PS_ERR_ARG, "stream %d has ended", a->stream)
                   : a->started ? start_worker(a, err) : PS_OK;
    if (!st) {
        w->next = a->watchers;
        a->watchers = w;
        a->refs++;
    }
    pthread_mutex_unlock(&a->mu);
    if (st) {
        ps_jpeg_free(w->enc);
        free(w);
        return NULL;
    }
    return w;
}

int64_t ps_preview_next(ps_preview *w, uint8_t **jpeg, size_t *cap, int32_t timeout_ms) {
    ps_annotator *a = w->a;
    int64_t until = ps_now_ns() + (int64_t)timeout_ms * 1000000;
    struct timespec ts = ps_timespec_at(until);
    pthread_mutex_lock(&a->mu);
    while (w->seq == w->taken && !a->finished &&
           pthread_cond_timedwait(&a->cv, &a->mu, &ts) == 0) {
    }
    int64_t n = w->seq != w->taken ? (int64_t)w->len : a->finished ? -1 : 0;
    w->taken = w->seq;
    if (n > 0 && (size_t)n > *cap) {
        uint8_t *grown = realloc(*jpeg, (size_t)n);
        if (grown) *jpeg = grown, *cap = (size_t)n;
        else n = 0;
    }
    if (n > 0) memcpy(*jpeg, w->jpeg, (size_t)n);
    pthread_mutex_unlock(&a->mu);
    return n;
}

void ps_preview_close(ps_preview *w) {
    if (!w) return;
    ps_annotator *a = w->a;
    pthread_mutex_lock(&a->mu);
    while (w->busy) pthread_cond_wait(&a->cv, &a->mu);
    for (ps_preview **pp = &a->watchers; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    pthread_mutex_unlock(&a->mu);
    ps_jpeg_free(w->enc);
    free(w->jpeg);
    free(w->spare);
    free(w);
    ps_annotator_release(a);
}
