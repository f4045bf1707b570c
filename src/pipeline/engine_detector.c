/* The pipeline's detector over a ps_engine (see detector.h). */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "pipeline/detector.h"
#include "source/source.h"
#include "util/clock.h"
#include "util/status.h"

typedef struct {
    ps_engine *engine;
    float min_score;
    ps_picture *pics;
    ps_person (*people)[PS_MAX_PEOPLE];
    int32_t *counts;
    int64_t submitted[2]; /* when the batches in flight were submitted */
    unsigned n_submitted, n_collected;
} engine_ctx;

/* Scales people found in the frame's picture (scaled to fit, or full size)
 * to the frame's original size. */
static void scale_people(ps_frame *f) {
    float kx = (float)f->width / (float)f->pic.width, ky = (float)f->height / (float)f->pic.height;
    for (int i = 0; i < f->n_people; i++) {
        ps_person *p = &f->people[i];
        p->x0 *= kx;
        p->x1 *= kx;
        p->y0 *= ky;
        p->y1 *= ky;
        for (int k = 0; k < PS_NUM_KEYPOINTS; k++) {
            p->kp[k].x *= kx;
            p->kp[k].y *= ky;
        }
    }
}

/* Copies the detected people into the frames and stamps their times. */
static void fill_frames(engine_ctx *c, ps_frame **frames, int n, int64_t t0, int64_t t1) {
    int64_t device = ps_engine_device_ns(c->engine);
    for (int i = 0; i < n; i++) {
        ps_frame *f = frames[i];
        f->t.infer_start = t0;
        f->t.infer_end = t1;
        f->t.device_ns = device;
        f->n_people = c->counts[i];
        for (int k = 0; k < f->n_people; k++) f->people[k] = c->people[i][k];
        scale_people(f);
    }
}

static ps_status engine_submit(void *vctx, ps_frame **frames, int n, ps_err *err) {
    engine_ctx *c = vctx;
    for (int i = 0; i < n; i++) c->pics[i] = frames[i]->pic;
    c->submitted[c->n_submitted++ % 2] = ps_now_ns();
    return ps_engine_submit_pictures(c->engine, c->pics, n, err);
}

static ps_status engine_collect(void *vctx, ps_frame **frames, int n, ps_err *err) {
    engine_ctx *c = vctx;
    int got = 0;
    ps_status st = ps_engine_collect(c->engine, c->min_score, c->people, c->counts, &got, err);
    int64_t t0 = c->submitted[c->n_collected++ % 2];
    if (!st && got != n)
        st = ps_err_set(err, PS_ERR_ARG, "engine returned %d results for %d frames", got, n);
    if (!st) fill_frames(c, frames, n, t0, ps_now_ns());
    return st;
}

static ps_status engine_detect(void *vctx, ps_frame **frames, int n, ps_err *err) {
    engine_ctx *c = vctx;
    for (int i = 0; i < n; i++) c->pics[i] = frames[i]->pic;
    int64_t t0 = ps_now_ns();
    ps_status st = ps_engine_detect_pictures(c->engine, c->pics, n, c->min_score, c->people,
                                             c->counts, err);
    int64_t t1 = ps_now_ns();
    if (st) return st;
    fill_frames(c, frames, n, t0, t1);
    return PS_OK;
}

static void engine_slot_free(void *engine, void *slot) {
    ps_engine_unprepare(engine, slot);
}

/* A frame becomes the engine's letterboxed input now, on the reader's
 * thread: a device frame's decoder surface goes back at once (rings then
 * hold 4 bytes per input pixel instead of a full-size NV12 frame), a host
 * frame goes up from here rather than with its whole batch on the engine
 * thread. */
static ps_status engine_prepare(void *vctx, ps_frame *f, ps_err *err) {
    engine_ctx *c = vctx;
    ps_picture in;
    void *slot;
    ps_status st = ps_engine_prepare_picture(c->engine, &f->pic, &in, &slot, err);
    if (st) return st;
    ps_frame_release(f);
    f->pic = in;
    f->slot = slot;
    f->slot_free = engine_slot_free;
    f->slot_ctx = c->engine;
    return PS_OK;
}

static ps_status engine_recover(void *vctx, int n, ps_err *err) {
    return ps_engine_recover(((engine_ctx *)vctx)->engine, n, err);
}

static size_t engine_vram_free(void *vctx) {
    return ps_engine_vram_free(((engine_ctx *)vctx)->engine);
}

static void engine_utilization(void *vctx, int *gpu, int *decoder) {
    ps_engine_utilization(((engine_ctx *)vctx)->engine, gpu, decoder);
}

static size_t engine_vram_total(void *vctx) {
    return ps_engine_vram_total(((engine_ctx *)vctx)->engine);
}

static size_t engine_memory(void *vctx) {
    return ps_engine_memory(((engine_ctx *)vctx)->engine);
}

static void engine_vram(void *vctx, size_t *current, size_t *peak) {
    ps_engine_vram(((engine_ctx *)vctx)->engine, current, peak);
}

ps_status ps_engine_detector(ps_engine *engine, float min_score, ps_detector *det, ps_err *err) {
    int h, w, max_batch;
    ps_engine_size(engine, &h, &w, &max_batch);
    engine_ctx *c = calloc(1, sizeof *c);
    if (c) {
        c->engine = engine;
        c->min_score = min_score;
        c->pics = calloc((size_t)max_batch, sizeof *c->pics);
        c->people = calloc((size_t)max_batch, sizeof *c->people);
        c->counts = calloc((size_t)max_batch, sizeof *c->counts);
    }
    int async = ps_engine_async(engine);
    *det = (ps_detector){c, max_batch, w, h, engine_detect, engine_memory, engine_vram,
                         strcmp(ps_engine_backend(engine), "cpu") != 0,
                         async ? engine_submit : NULL, async ? engine_collect : NULL,
                         ps_engine_prepares(engine) ? engine_prepare : NULL, engine_recover,
                         engine_vram_free, engine_utilization, engine_vram_total};
    if (!c || !c->pics || !c->people || !c->counts) {
        ps_engine_detector_free(det);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    return PS_OK;
}

void ps_engine_detector_free(ps_detector *det) {
    engine_ctx *c = det->ctx;
    if (c) {
        free(c->pics);
        free(c->people);
        free(c->counts);
        free(c);
    }
    det->ctx = NULL;
}
