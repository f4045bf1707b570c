/* ps_engine: letterbox -> backend network -> native decoder, for a batch of
 * images. Buffers are sized once, for the largest batch. */
#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/preprocess.h"
#include "model/decode.h"
#include "model/model.h"
#include "util/status.h"

struct ps_engine {
    const ps_model *model;
    const ps_backend_ops *ops;
    void *state;
    ps_backend_config cfg;
    float *input;                /* [max_batch, H, W, 3] */
    float *heads[PS_NUM_HEADS];  /* [max_batch, H/4, W/4, C] */
    ps_letterbox *boxes;         /* [max_batch]: where each image landed */
    float rows[PS_MAX_PEOPLE * PS_DECODE_ROW];
};

static ps_status resolve_config(const ps_engine_opts *o, ps_backend_config *cfg, ps_err *err) {
    cfg->input_h = o && o->input_h ? o->input_h : 256;
    cfg->input_w = o && o->input_w ? o->input_w : 256;
    cfg->max_batch = o && o->max_batch ? o->max_batch : 8;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = o && o->threads ? o->threads : (cores > 0 ? (int)cores : 1);
    if (cfg->max_batch < 1 || cfg->max_batch > 1024)
        return ps_err_set(err, PS_ERR_ARG, "batch size %d: must be 1..1024", cfg->max_batch);
    cfg->chunk = o && o->cpu_chunk ? o->cpu_chunk : 1;
    if (cfg->chunk < 1 || cfg->chunk > cfg->max_batch) cfg->chunk = cfg->max_batch;
    if (cfg->threads < 1 || cfg->threads > 1024)
        return ps_err_set(err, PS_ERR_ARG, "threads %d: must be 1..1024", cfg->threads);
    if (o && o->backend != PS_BACKEND_CPU)
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "backend %d is not built in", (int)o->backend);
    return PS_OK;
}

static ps_status alloc_buffers(ps_engine *e, ps_err *err) {
    size_t n = (size_t)e->cfg.max_batch, h = (size_t)e->cfg.input_h, w = (size_t)e->cfg.input_w;
    e->input = malloc(sizeof(float) * n * h * w * 3);
    e->boxes = malloc(sizeof *e->boxes * n);
    if (!e->input || !e->boxes) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    for (int k = 0; k < PS_NUM_HEADS; k++) {
        e->heads[k] = malloc(sizeof(float) * n * (h / 4) * (w / 4) * (size_t)ps_head_channels[k]);
        if (!e->heads[k]) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    return PS_OK;
}

/* One run on a black image builds the plans and JIT kernels the first
 * batches will use. */
static ps_status warm_up(ps_engine *e, ps_err *err) {
    int n = e->cfg.chunk;
    memset(e->input, 0, sizeof(float) * (size_t)n * e->cfg.input_h * e->cfg.input_w * 3);
    return e->ops->run(e->state, e->input, n, e->heads, err);
}

ps_engine *ps_engine_create(const ps_model *model, const ps_engine_opts *opts, ps_err *err) {
    ps_engine *e = calloc(1, sizeof *e);
    if (!e) {
        ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    e->model = model;
    e->ops = &ps_backend_cpu;
    ps_status st = resolve_config(opts, &e->cfg, err);
    if (!st) {
        ps_shape *shapes = malloc(sizeof *shapes * (size_t)model->net.n_layers);
        st = shapes ? ps_net_shapes(&model->net, e->cfg.input_h, e->cfg.input_w, shapes, err)
                    : ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        free(shapes);
    }
    if (!st) st = alloc_buffers(e, err);
    if (!st) st = e->ops->init(&e->state, &model->net, &e->cfg, err);
    if (!st) st = warm_up(e, err);
    if (st) {
        ps_engine_free(e);
        return NULL;
    }
    return e;
}

void ps_engine_free(ps_engine *e) {
    if (!e) return;
    if (e->state) e->ops->free(e->state);
    free(e->input);
    free(e->boxes);
    for (int k = 0; k < PS_NUM_HEADS; k++) free(e->heads[k]);
    free(e);
}

ps_status ps_engine_run(ps_engine *e, const float *input, int n, ps_err *err) {
    return e->ops->run(e->state, input, n, e->heads, err);
}

const float *ps_engine_head(const ps_engine *e, ps_head h) {
    return e->heads[h];
}

float *ps_engine_input(ps_engine *e) {
    return e->input;
}

void ps_engine_size(const ps_engine *e, int *input_h, int *input_w, int *max_batch) {
    *input_h = e->cfg.input_h;
    *input_w = e->cfg.input_w;
    *max_batch = e->cfg.max_batch;
}

size_t ps_engine_memory(const ps_engine *e) {
    return e->ops->memory(e->state);
}

/* The heads of image i of the last batch. */
static ps_heads image_heads(const ps_engine *e, int i) {
    int gh = e->cfg.input_h / 4, gw = e->cfg.input_w / 4;
    size_t cell = (size_t)i * gh * gw;
    return (ps_heads){
        .center = e->heads[PS_HEAD_CENTER] + cell * 1,
        .kpt_heat = e->heads[PS_HEAD_KPT_HEAT] + cell * 17,
        .kpt_regress = e->heads[PS_HEAD_KPT_REGRESS] + cell * 34,
        .kpt_offset = e->heads[PS_HEAD_KPT_OFFSET] + cell * 34,
        .box_scale = e->heads[PS_HEAD_BOX_SCALE] + cell * 2,
        .box_offset = e->heads[PS_HEAD_BOX_OFFSET] + cell * 2,
        .gh = gh,
        .gw = gw,
    };
}

ps_status ps_engine_detect(ps_engine *e, const ps_image *images, int32_t n, float min_score,
                           ps_person (*people)[PS_MAX_PEOPLE], int32_t *counts, ps_err *err) {
    int h = e->cfg.input_h, w = e->cfg.input_w;
    if (n < 1 || n > e->cfg.max_batch)
        return ps_err_set(err, PS_ERR_ARG, "batch of %d images (engine takes 1..%d)", (int)n,
                          e->cfg.max_batch);
    ps_letterbox *boxes = e->boxes;
    for (int i = 0; i < n; i++) {
        const ps_image *im = &images[i];
        if (!im->rgb || im->width < 1 || im->height < 1 || im->stride < im->width * 3)
            return ps_err_set(err, PS_ERR_ARG, "image %d: bad size or stride", i);
        boxes[i] = ps_letterbox_rgb8(im->rgb, im->width, im->height, im->stride,
                                     e->input + (size_t)i * h * w * 3, w, h);
    }
    ps_status st = ps_engine_run(e, e->input, n, err);
    if (st) return st;
    for (int i = 0; i < n; i++) {
        ps_heads heads = image_heads(e, i);
        ps_decode_heads(&heads, h, w, e->rows);
        ps_placement place = {boxes[i].sx, boxes[i].sy, (float)boxes[i].pad_x,
                              (float)boxes[i].pad_y, images[i].width, images[i].height};
        counts[i] = ps_decode_people(e->rows, h, w, &place, min_score, people[i]);
    }
    return PS_OK;
}
