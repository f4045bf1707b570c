/* The pipeline's detector over a ps_engine (see detector.h). */
#include <stdlib.h>

#include "engine/engine.h"
#include "pipeline/detector.h"
#include "util/clock.h"
#include "util/status.h"

typedef struct {
    ps_engine *engine;
    float min_score;
    ps_image *images;
    ps_person (*people)[PS_MAX_PEOPLE];
    int32_t *counts;
} engine_ctx;

/* Scales people found in an sw x sh picture to the frame's original size. */
static void scale_people(ps_frame *f) {
    float kx = (float)f->width / (float)f->sw, ky = (float)f->height / (float)f->sh;
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

static ps_status engine_detect(void *vctx, ps_frame **frames, int n, ps_err *err) {
    engine_ctx *c = vctx;
    for (int i = 0; i < n; i++)
        c->images[i] = (ps_image){frames[i]->rgb, frames[i]->sw, frames[i]->sh, frames[i]->sw * 3};
    int64_t t0 = ps_now_ns();
    ps_status st = ps_engine_detect(c->engine, c->images, n, c->min_score, c->people, c->counts, err);
    int64_t t1 = ps_now_ns();
    if (st) return st;
    for (int i = 0; i < n; i++) {
        ps_frame *f = frames[i];
        f->t.infer_start = t0;
        f->t.infer_end = t1;
        f->n_people = c->counts[i];
        for (int k = 0; k < f->n_people; k++) f->people[k] = c->people[i][k];
        scale_people(f);
    }
    return PS_OK;
}

static size_t engine_memory(void *vctx) {
    return ps_engine_memory(((engine_ctx *)vctx)->engine);
}

ps_status ps_engine_detector(ps_engine *engine, float min_score, ps_detector *det, ps_err *err) {
    int h, w, max_batch;
    ps_engine_size(engine, &h, &w, &max_batch);
    engine_ctx *c = calloc(1, sizeof *c);
    if (c) {
        c->engine = engine;
        c->min_score = min_score;
        c->images = calloc((size_t)max_batch, sizeof *c->images);
        c->people = calloc((size_t)max_batch, sizeof *c->people);
        c->counts = calloc((size_t)max_batch, sizeof *c->counts);
    }
    *det = (ps_detector){c, max_batch, w, h, engine_detect, engine_memory};
    if (!c || !c->images || !c->people || !c->counts) {
        ps_engine_detector_free(det);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    return PS_OK;
}

void ps_engine_detector_free(ps_detector *det) {
    engine_ctx *c = det->ctx;
    if (c) {
        free(c->images);
        free(c->people);
        free(c->counts);
        free(c);
    }
    det->ctx = NULL;
}
