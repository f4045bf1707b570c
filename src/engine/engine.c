/* ps_engine: letterbox -> backend network -> native decoder, for a batch of
 * images. Buffers are sized once, for the largest batch. */
#include "engine/engine.h"

#include <stdio.h>
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
    char note[PS_ERR_LEN];       /* why AUTO fell back to the CPU */
    int64_t device_ns;           /* device time of the last batch, 0 if none */
    ps_backend_config cfg;
    float *input;                /* [max_batch, H, W, 3] */
    float *heads[PS_NUM_HEADS];  /* [max_batch, H/4, W/4, C] */
    ps_letterbox *boxes;         /* [max_batch]: where each image landed */
    ps_picture *pics;            /* [max_batch]: ps_engine_detect's images */
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
    cfg->side_by_side = !(o && o->cpu_one_per_core < 0);
    if (cfg->chunk < 1 || cfg->chunk > cfg->max_batch) cfg->chunk = cfg->max_batch;
    if (cfg->threads < 1 || cfg->threads > 1024)
        return ps_err_set(err, PS_ERR_ARG, "threads %d: must be 1..1024", cfg->threads);
    cfg->gpu = o ? o->gpu : 0;
    if (cfg->gpu < 0 || cfg->gpu >= PS_MAX_GPUS)
        return ps_err_set(err, PS_ERR_ARG, "gpu %d: expected a CUDA device number 0..%d",
                          cfg->gpu, PS_MAX_GPUS - 1);
    cfg->max_people = o && o->max_people ? o->max_people : PS_DEFAULT_PEOPLE;
    if (cfg->max_people < 1 || cfg->max_people > PS_MAX_PEOPLE)
        return ps_err_set(err, PS_ERR_ARG, "max_people %d: must be 1..%d", cfg->max_people,
                          PS_MAX_PEOPLE);
    return PS_OK;
}

static ps_status alloc_buffers(ps_engine *e, ps_err *err) {
    size_t n = (size_t)e->cfg.max_batch, h = (size_t)e->cfg.input_h, w = (size_t)e->cfg.input_w;
    e->input = malloc(sizeof(float) * n * h * w * 3);
    e->boxes = malloc(sizeof *e->boxes * n);
    e->pics = malloc(sizeof *e->pics * n);
    if (!e->input || !e->boxes || !e->pics) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    for (int k = 0; k < PS_NUM_HEADS; k++) {
        e->heads[k] = malloc(sizeof(float) * n * (h / 4) * (w / 4) * (size_t)ps_head_channels[k]);
        if (!e->heads[k]) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    return PS_OK;
}

/* Makes every batch size fast before a run, on black images so the first
 * real batches do not pay for set-up: the CPU builds its plan and JIT
 * kernels for a chunk; the GPU captures the CUDA graph of every batch size
 * now, while no source uses the device (a capture in the middle of a run
 * is invalidated by the decoders' threads), then runs the smallest and the
 * largest once. */
static ps_status warm_up(ps_engine *e, ps_err *err) {
    int max = e->cfg.max_batch;
    memset(e->input, 0, sizeof(float) * (size_t)max * e->cfg.input_h * e->cfg.input_w * 3);
    if (!e->ops->warm) return e->ops->run(e->state, e->input, e->cfg.chunk, e->heads, err);
    for (int n = 1; n <= max; n++) {
        ps_status st = e->ops->warm(e->state, n, err);
        if (st) return st;
    }
    ps_status st = e->ops->run(e->state, e->input, 1, e->heads, err);
    return st || max == 1 ? st : e->ops->run(e->state, e->input, max, e->heads, err);
}

/* The backend asked for; AUTO tries CUDA first and notes why it did not
 * take it. */
static ps_status init_backend(ps_engine *e, ps_backend want, ps_err *err) {
#ifdef POSESTREAM_HAVE_CUDA
    if (want == PS_BACKEND_CUDA || want == PS_BACKEND_AUTO) {
        ps_err cuda_err = {0};
        e->ops = &ps_backend_cuda;
        ps_status st = e->ops->init(&e->state, &e->model->net, &e->cfg, &cuda_err);
        if (!st) return PS_OK;
        e->state = NULL;
        if (want == PS_BACKEND_CUDA) return ps_err_set(err, cuda_err.code, "%s", cuda_err.msg);
        snprintf(e->note, sizeof e->note, "%.480s; using the CPU", cuda_err.msg);
    }
#else
    if (want == PS_BACKEND_CUDA)
        return ps_err_set(err, PS_ERR_UNSUPPORTED,
                          "this build has no CUDA backend (configure with nvcc present)");
#endif
    e->ops = &ps_backend_cpu;
    return e->ops->init(&e->state, &e->model->net, &e->cfg, err);
}

int32_t ps_gpu_count(void) {
#ifdef POSESTREAM_HAVE_CUDA
    return ps_backend_cuda_count();
#else
    return 0;
#endif
}

const char *ps_engine_backend(const ps_engine *e) {
    return e->ops->name;
}

const char *ps_engine_note(const ps_engine *e) {
    return e->note;
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
    if (!st) st = init_backend(e, opts ? opts->backend : PS_BACKEND_AUTO, err);
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
    free(e->pics);
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
ps_heads ps_engine_image_heads(const ps_engine *e, int i) {
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

static ps_status check_picture(const ps_engine *e, const ps_picture *p, int i, ps_err *err) {
    if (p->fmt == PS_PIX_INPUT && (!p->on_device || !p->plane[0] || p->width < 1 ||
                                   p->height < 1 || p->pitch[0] < e->cfg.input_w * 4))
        return ps_err_set(err, PS_ERR_ARG, "picture %d: not a prepared input of this engine", i);
    if (p->fmt == PS_PIX_INPUT) return PS_OK;
    int min_pitch = p->fmt == PS_PIX_RGB24 ? p->width * 3 : p->width;
    if (!p->plane[0] || p->width < 1 || p->height < 1 || p->pitch[0] < min_pitch ||
        (p->fmt != PS_PIX_RGB24 && !p->plane[1]) || (p->fmt == PS_PIX_YUV420P && !p->plane[2]))
        return ps_err_set(err, PS_ERR_ARG, "picture %d: bad size, pitch or planes", i);
    return PS_OK;
}

/* Letterbox on the CPU, network on the backend, decoder on the CPU. */
static ps_status detect_on_host(ps_engine *e, const ps_picture *pics, int n, float min_score,
                                ps_person (*people)[PS_MAX_PEOPLE], int32_t *counts,
                                ps_err *err) {
    int h = e->cfg.input_h, w = e->cfg.input_w;
    for (int i = 0; i < n; i++) {
        if (pics[i].on_device)
            return ps_err_set(err, PS_ERR_UNSUPPORTED,
                              "picture %d is in GPU memory but the engine runs on the %s", i,
                              e->ops->name);
        e->boxes[i] = ps_letterbox_picture(&pics[i], e->input + (size_t)i * h * w * 3, w, h);
    }
    ps_status st = ps_engine_run(e, e->input, n, err);
    if (st) return st;
    for (int i = 0; i < n; i++) {
        ps_heads heads = ps_engine_image_heads(e, i);
        int rows = ps_decode_heads(&heads, h, w, e->cfg.max_people, e->rows);
        const ps_letterbox *lb = &e->boxes[i];
        ps_placement place = {lb->sx, lb->sy, (float)lb->pad_x, (float)lb->pad_y, pics[i].width,
                              pics[i].height};
        counts[i] = ps_decode_people(e->rows, rows, h, w, &place, min_score, people[i]);
    }
    return PS_OK;
}

ps_status ps_backend_check_batch(int n, int max_batch, ps_err *err) {
    if (n < 1 || n > max_batch)
        return ps_err_set(err, PS_ERR_ARG, "batch of %d images (engine takes 1..%d)", n,
                          max_batch);
    return PS_OK;
}

/* A batch of 1..max_batch pictures the engine can take. */
static ps_status check_batch(const ps_engine *e, const ps_picture *pics, int n, ps_err *err) {
    ps_status st = ps_backend_check_batch(n, e->cfg.max_batch, err);
    for (int i = 0; i < n && !st; i++) st = check_picture(e, &pics[i], i, err);
    return st;
}

ps_status ps_engine_detect_pictures(ps_engine *e, const ps_picture *pics, int n, float min_score,
                                    ps_person (*people)[PS_MAX_PEOPLE], int32_t *counts,
                                    ps_err *err) {
    ps_status st = check_batch(e, pics, n, err);
    if (st) return st;
    e->device_ns = 0;
    if (e->ops->detect)
        return e->ops->detect(e->state, pics, n, min_score, people, counts, &e->device_ns, err);
    return detect_on_host(e, pics, n, min_score, people, counts, err);
}

int ps_engine_async(const ps_engine *e) {
    return e->ops->submit && e->ops->collect;
}

ps_status ps_engine_submit_pictures(ps_engine *e, const ps_picture *pics, int n, ps_err *err) {
    if (!ps_engine_async(e))
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "the %s backend detects synchronously",
                          e->ops->name);
    ps_status st = check_batch(e, pics, n, err);
    if (st) return st;
    return e->ops->submit(e->state, pics, n, err);
}

ps_status ps_engine_collect(ps_engine *e, float min_score, ps_person (*people)[PS_MAX_PEOPLE],
                            int32_t *counts, int *n, ps_err *err) {
    if (!ps_engine_async(e))
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "the %s backend detects synchronously",
                          e->ops->name);
    e->device_ns = 0;
    return e->ops->collect(e->state, min_score, people, counts, n, &e->device_ns, err);
}

ps_status ps_engine_detect(ps_engine *e, const ps_image *images, int32_t n, float min_score,
                           ps_person (*people)[PS_MAX_PEOPLE], int32_t *counts, ps_err *err) {
    ps_status st = ps_backend_check_batch(n, e->cfg.max_batch, err);
    if (st) return st; /* before e->pics, sized for max_batch, is filled */
    ps_picture *pics = e->pics;
    for (int i = 0; i < n; i++)
        pics[i] = (ps_picture){.fmt = PS_PIX_RGB24, .plane = {images[i].rgb},
                               .pitch = {images[i].stride}, .width = images[i].width,
                               .height = images[i].height};
    return ps_engine_detect_pictures(e, pics, n, min_score, people, counts, err);
}

int64_t ps_engine_device_ns(const ps_engine *e) {
    return e->device_ns;
}

void ps_engine_vram(const ps_engine *e, size_t *current, size_t *peak) {
    *current = *peak = 0;
    if (e->ops->vram) e->ops->vram(e->state, current, peak);
}

size_t ps_engine_vram_free(const ps_engine *e) {
    return e->ops->vram_free ? e->ops->vram_free(e->state) : 0;
}

size_t ps_engine_vram_total(const ps_engine *e) {
    return e->ops->vram_total ? e->ops->vram_total(e->state) : 0;
}

size_t ps_engine_prepared_bytes(const ps_engine *e) {
    return e->ops->prepared_bytes ? e->ops->prepared_bytes(e->state) : 0;
}

void ps_engine_utilization(const ps_engine *e, int *gpu, int *decoder) {
    *gpu = *decoder = -1;
    if (e->ops->utilization) e->ops->utilization(e->state, gpu, decoder);
}

int ps_engine_prepares(const ps_engine *e) {
    return e->ops->prepare != NULL;
}

ps_status ps_engine_prepare_picture(ps_engine *e, const ps_picture *pic, ps_picture *out,
                                    void **slot, ps_err *err) {
    if (!e->ops->prepare || pic->fmt == PS_PIX_INPUT)
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "the %s backend cannot prepare this picture",
                          e->ops->name);
    return e->ops->prepare(e->state, pic, out, slot, err);
}

void ps_engine_unprepare(ps_engine *e, void *slot) {
    if (slot && e->ops->unprepare) e->ops->unprepare(e->state, slot);
}

ps_status ps_engine_recover(ps_engine *e, int n, ps_err *err) {
    return e->ops->recover ? e->ops->recover(e->state, n, err) : PS_OK;
}

const char *ps_engine_device(const ps_engine *e) {
    return e->ops->device ? e->ops->device(e->state) : "CPU";
}
