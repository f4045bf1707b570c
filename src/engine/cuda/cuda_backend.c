/* CUDA backend: the engine interface (backend.h) over the GPU network
 * (cuda_net.h) and the GPU preprocessing and decoder (cuda_pre.h).
 *
 * A detect call: host pictures are packed into pinned memory and go up in one
 * async copy on the upload stream, where one kernel letterboxes, converts and
 * normalises them into the FP16 input; the network (a replayed CUDA graph)
 * and the decoder run on the compute stream after an event; only the decoded
 * rows (336 floats per picture) come back. CUDA events around the batch give
 * its device time. Buffers are sized at init for the largest batch; the
 * picture staging grows only when a larger picture arrives.
 *
 * Device pictures (NVDEC frames) are letterboxed on arrival instead, by
 * prepare on the reader's thread, into a small byte buffer from a pool
 * (cuda_pool.h): the decoder's surface goes back at once, and a batch of
 * such inputs only has to be gathered and normalised. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "engine/cuda/cuda_net.h"
#include "engine/cuda/cuda_pool.h"
#include "engine/cuda/cuda_stage.h"
#include "engine/cuda/cuda_pre.h"
#include "engine/cuda/nvml.h"
#include "model/decode.h"
#include "util/clock.h"
#include "util/status.h"

#define PS_CUDA(call, err)                                                              \
    do {                                                                                \
        cudaError_t ps_e_ = (call);                                                     \
        if (ps_e_ != cudaSuccess)                                                       \
            return ps_err_set((err), PS_ERR_BACKEND, "CUDA: %s: %s", #call,             \
                              cudaGetErrorString(ps_e_));                               \
    } while (0)

/* What one batch in flight needs. Two of them let batch k+1 be packed,
 * uploaded and preprocessed (upload stream) while batch k's network runs
 * (compute stream). */
typedef struct {
    cudaEvent_t ev_start, ev_pre, ev_end;
    float *d_rows, *h_rows;     /* [max_batch, 6, 56]; h_ pinned */
    ps_cuda_pre_item *h_items, *d_items; /* [max_batch]; h_ pinned */
    uint8_t *h_pix, *d_pix;     /* picture staging; h_ pinned */
    size_t pix_cap;
    void *d_pre;                /* [max_batch, H, W, 4] FP16: the preprocessed batch */
    ps_letterbox *boxes;        /* [max_batch] */
    size_t *offsets;            /* [max_batch]: each picture in the staging */
    int *pic_w, *pic_h;         /* [max_batch]: picture sizes, for placing people */
    int n;                      /* pictures in flight; 0 when free */
} ps_cuda_slot;

#define PS_CUDA_SLOTS 2

typedef struct {
    ps_backend_config cfg;
    const ps_net *net;
    ps_cuda_net *cn;
    cudaStream_t up, compute;
    float *d_input_f;           /* run(): [max_batch, H, W, 3] */
    ps_cuda_slot slots[PS_CUDA_SLOTS];
    int queue[PS_CUDA_SLOTS];   /* slots in flight, oldest first */
    int queued;
    size_t bytes;               /* device bytes this backend allocated */
    size_t used_at_start;       /* device-wide use before our buffers */
    pthread_mutex_t vram_mu;    /* sampling comes from the engine and the admission */
    size_t vram_now, vram_peak;
    int64_t vram_at;            /* when vram_now was sampled */
    ps_cuda_pool *inputs;       /* prepared inputs: [H, W] 4-byte pixels each */
    ps_cuda_stage *stage;       /* host pictures on their way up to be prepared */
    unsigned calls;             /* detect calls, to sample VRAM now and then */
    ps_nvml *nvml;
    char device[256];
    size_t total;               /* the device's memory */
} ps_cuda;

/* Makes c's GPU the calling thread's current device: the CUDA runtime keeps
 * one per thread, and the engine is called from its engine thread, the
 * readers (prepare) and admission, any of which may also serve an engine on
 * another GPU. Cheap when it already is. */
static ps_status use_device(const ps_cuda *c, ps_err *err) {
    PS_CUDA(cudaSetDevice(c->cfg.gpu), err);
    return PS_OK;
}

static ps_status cuda_alloc(ps_cuda *c, void **p, size_t bytes, ps_err *err) {
    PS_CUDA(cudaMalloc(p, bytes), err);
    c->bytes += bytes;
    return PS_OK;
}

/* This process's device memory: NVML's per-process figure when it has one,
 * else the device-wide use grown since just after our context appeared plus
 * what that context itself took (measured by the same difference). */
static void sample_vram_locked(ps_cuda *c) {
    size_t now = ps_nvml_process_memory(c->nvml);
    ps_err ignored;
    if (!now && !use_device(c, &ignored)) {
        size_t free_b = 0, total = 0;
        if (cudaMemGetInfo(&free_b, &total) == cudaSuccess)
            now = total - free_b > c->used_at_start ? total - free_b - c->used_at_start : 0;
    }
    c->vram_now = now;
    if (now > c->vram_peak) c->vram_peak = now;
    c->vram_at = ps_now_ns();
}

static void sample_vram(ps_cuda *c) {
    pthread_mutex_lock(&c->vram_mu);
    sample_vram_locked(c);
    pthread_mutex_unlock(&c->vram_mu);
}

static ps_status open_device(ps_cuda *c, ps_err *err) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaErrorInsufficientDriver)
        return ps_err_set(err, PS_ERR_UNSUPPORTED,
                          "CUDA: no usable GPU (no NVIDIA driver found, or one older than this "
                          "build's CUDA runtime needs)");
    if (e != cudaSuccess || count == 0)
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "CUDA: no usable GPU (%s)",
                          e != cudaSuccess ? cudaGetErrorString(e) : "no device");
    int g = c->cfg.gpu;
    if (g < 0 || g >= count)
        return ps_err_set(err, PS_ERR_ARG, "CUDA: no GPU %d (%d visible: 0 to %d)", g, count,
                          count - 1);
    struct cudaDeviceProp prop;
    PS_CUDA(cudaSetDevice(g), err);
    PS_CUDA(cudaGetDeviceProperties(&prop, g), err);
    snprintf(c->device, sizeof c->device, "%s", prop.name);
    size_t free_b, total;
    PS_CUDA(cudaFree(NULL), err); /* creates the context */
    PS_CUDA(cudaMemGetInfo(&free_b, &total), err);
    c->used_at_start = total - free_b;
    c->total = total;
    char pci[32];
    if (cudaDeviceGetPCIBusId(pci, sizeof pci, g) == cudaSuccess) c->nvml = ps_nvml_open(pci);
    /* the upload stream is a blocking one: it waits for work on the legacy
     * default stream, where FFmpeg's NVDEC copies decoded frames out */
    PS_CUDA(cudaStreamCreate(&c->up), err);
    PS_CUDA(cudaStreamCreateWithFlags(&c->compute, cudaStreamNonBlocking), err);
    return PS_OK;
}

static ps_status alloc_slot(ps_cuda *c, ps_cuda_slot *sl, ps_err *err) {
    size_t n = (size_t)c->cfg.max_batch;
    size_t px = (size_t)c->cfg.input_h * c->cfg.input_w;
    PS_CUDA(cudaEventCreate(&sl->ev_start), err);
    PS_CUDA(cudaEventCreate(&sl->ev_pre), err);
    PS_CUDA(cudaEventCreate(&sl->ev_end), err);
    size_t rows = n * (size_t)c->cfg.max_people * PS_DECODE_ROW * 4; /* bytes */
    ps_status st = cuda_alloc(c, (void **)&sl->d_rows, rows, err);
    if (!st) st = cuda_alloc(c, (void **)&sl->d_items, n * sizeof *sl->d_items, err);
    if (!st) st = cuda_alloc(c, &sl->d_pre, n * px * 4 * 2, err);
    if (st) return st;
    PS_CUDA(cudaHostAlloc((void **)&sl->h_rows, rows, cudaHostAllocDefault), err);
    PS_CUDA(cudaHostAlloc((void **)&sl->h_items, n * sizeof *sl->h_items, cudaHostAllocDefault),
            err);
    sl->boxes = calloc(n, sizeof *sl->boxes);
    sl->offsets = calloc(n, sizeof *sl->offsets);
    sl->pic_w = calloc(n, sizeof *sl->pic_w);
    sl->pic_h = calloc(n, sizeof *sl->pic_h);
    if (!sl->boxes || !sl->offsets || !sl->pic_w || !sl->pic_h)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    return PS_OK;
}

static ps_status alloc_buffers(ps_cuda *c, ps_err *err) {
    size_t px = (size_t)c->cfg.input_h * c->cfg.input_w;
    ps_status st = cuda_alloc(c, (void **)&c->d_input_f,
                              (size_t)c->cfg.max_batch * px * 3 * sizeof(float), err);
    for (int k = 0; !st && k < PS_CUDA_SLOTS; k++) st = alloc_slot(c, &c->slots[k], err);
    return st;
}

static void free_slot(ps_cuda_slot *sl) {
    cudaFree(sl->d_rows);
    cudaFree(sl->d_items);
    cudaFree(sl->d_pix);
    cudaFree(sl->d_pre);
    cudaFreeHost(sl->h_rows);
    cudaFreeHost(sl->h_items);
    cudaFreeHost(sl->h_pix);
    if (sl->ev_start) cudaEventDestroy(sl->ev_start);
    if (sl->ev_pre) cudaEventDestroy(sl->ev_pre);
    if (sl->ev_end) cudaEventDestroy(sl->ev_end);
    free(sl->boxes);
    free(sl->offsets);
    free(sl->pic_w);
    free(sl->pic_h);
}

static void cuda_free(void *state) {
    ps_cuda *c = state;
    if (!c) return;
    ps_err ignored;
    if (c->device[0]) use_device(c, &ignored);
    if (c->compute) cudaStreamSynchronize(c->compute);
    if (c->up) cudaStreamSynchronize(c->up);
    ps_cuda_net_free(c->cn);
    cudaFree(c->d_input_f);
    for (int k = 0; k < PS_CUDA_SLOTS; k++) free_slot(&c->slots[k]);
    if (c->up) cudaStreamDestroy(c->up);
    if (c->compute) cudaStreamDestroy(c->compute);
    ps_cuda_pool_free(c->inputs);
    ps_cuda_stage_free(c->stage);
    ps_nvml_close(c->nvml);
    pthread_mutex_destroy(&c->vram_mu);
    free(c);
}

static ps_status cuda_init(void **state, const ps_net *net, const ps_backend_config *cfg,
                           ps_err *err) {
    ps_cuda *c = calloc(1, sizeof *c);
    if (!c) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    c->cfg = *cfg;
    c->net = net;
    pthread_mutex_init(&c->vram_mu, NULL);
    c->inputs = ps_cuda_pool_create((size_t)cfg->input_h * cfg->input_w * 4);
    c->stage = ps_cuda_stage_create();
    ps_status st = c->inputs && c->stage ? open_device(c, err)
                                         : ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    if (!st) st = alloc_buffers(c, err);
    if (!st) st = ps_cuda_net_create(net, cfg->input_h, cfg->input_w, cfg->max_batch, &c->cn, err);
    if (st) {
        cuda_free(c);
        return st;
    }
    c->bytes += ps_cuda_net_bytes(c->cn);
    sample_vram(c);
    *state = c;
    return PS_OK;
}

static void head_sizes(const ps_cuda *c, int n, size_t sizes[PS_NUM_HEADS]) {
    size_t cells = (size_t)(c->cfg.input_h / 4) * (c->cfg.input_w / 4) * (size_t)n;
    for (int h = 0; h < PS_NUM_HEADS; h++) sizes[h] = cells * (size_t)ps_head_channels[h];
}

/* Host float input -> heads in host memory (the path the golden and
 * consistency tests and the engine benchmark use). */
static ps_status cuda_run(void *state, const float *input, int n, float *const heads[PS_NUM_HEADS],
                          ps_err *err) {
    ps_cuda *c = state;
    ps_status st = ps_backend_check_batch(n, c->cfg.max_batch, err);
    if (!st) st = use_device(c, err);
    if (st) return st;
    size_t px = (size_t)n * c->cfg.input_h * c->cfg.input_w;
    PS_CUDA(cudaMemcpyAsync(c->d_input_f, input, px * 3 * sizeof(float), cudaMemcpyHostToDevice,
                            c->compute), err);
    st = ps_cuda_input_from_float(c->d_input_f, n, c->cfg.input_h, c->cfg.input_w,
                                  ps_cuda_net_input(c->cn), c->net->norm, c->net->n_norm,
                                  c->compute, err);
    if (!st) st = ps_cuda_net_forward(c->cn, n, c->compute, err);
    if (st) return st;
    size_t sizes[PS_NUM_HEADS];
    head_sizes(c, n, sizes);
    for (int h = 0; h < PS_NUM_HEADS; h++)
        PS_CUDA(cudaMemcpyAsync(heads[h], ps_cuda_net_head(c->cn, (ps_head)h), sizes[h] * 4,
                                cudaMemcpyDeviceToHost, c->compute), err);
    PS_CUDA(cudaStreamSynchronize(c->compute), err);
    return PS_OK;
}

/* Bytes of picture p's planes when packed (rows back to back). */
static size_t picture_bytes(const ps_picture *p, size_t rows[3], size_t row_bytes[3]) {
    int cw = (p->width + 1) / 2, ch = (p->height + 1) / 2;
    memset(rows, 0, 3 * sizeof *rows);
    memset(row_bytes, 0, 3 * sizeof *row_bytes);
    rows[0] = (size_t)p->height;
    row_bytes[0] = (size_t)p->width * (p->fmt == PS_PIX_RGB24 ? 3 : 1);
    if (p->fmt == PS_PIX_YUV420P) {
        rows[1] = rows[2] = (size_t)ch;
        row_bytes[1] = row_bytes[2] = (size_t)cw;
    } else if (p->fmt == PS_PIX_NV12) {
        rows[1] = (size_t)ch;
        row_bytes[1] = 2 * (size_t)cw;
    }
    return rows[0] * row_bytes[0] + rows[1] * row_bytes[1] + rows[2] * row_bytes[2];
}

/* Grows a slot's picture staging to hold bytes (the slot is free, so the
 * GPU is done with its old buffers). */
static ps_status reserve_staging(ps_cuda *c, ps_cuda_slot *sl, size_t bytes, ps_err *err) {
    if (bytes <= sl->pix_cap) return PS_OK;
    cudaFreeHost(sl->h_pix);
    cudaFree(sl->d_pix);
    c->bytes -= sl->pix_cap;
    sl->h_pix = sl->d_pix = NULL;
    sl->pix_cap = 0;
    bytes += bytes / 4; /* headroom: sizes of one stream vary little */
    PS_CUDA(cudaHostAlloc((void **)&sl->h_pix, bytes, cudaHostAllocWriteCombined), err);
    ps_status st = cuda_alloc(c, (void **)&sl->d_pix, bytes, err);
    if (st) return st;
    sl->pix_cap = bytes;
    return PS_OK;
}

/* pic as it lies packed at device address base (planes back to back, as
 * pack_picture lays them out), into *dev; returns its bytes. */
static size_t place_packed(const ps_picture *pic, uint8_t *base, ps_picture *dev) {
    size_t rows[3], row_bytes[3], off = 0;
    picture_bytes(pic, rows, row_bytes);
    *dev = *pic;
    dev->on_device = 1;
    for (int k = 0; k < 3 && rows[k]; k++) {
        dev->plane[k] = base + off;
        dev->pitch[k] = (int)row_bytes[k];
        off += rows[k] * row_bytes[k];
    }
    return off;
}

/* Copies one host picture's planes, packed, to dst. */
static void pack_picture(const ps_picture *p, uint8_t *dst) {
    size_t rows[3], row_bytes[3];
    picture_bytes(p, rows, row_bytes);
    for (int k = 0; k < 3 && rows[k]; k++)
        for (size_t y = 0; y < rows[k]; y++, dst += row_bytes[k])
            memcpy(dst, p->plane[k] + y * (size_t)p->pitch[k], row_bytes[k]);
}

/* Packs host pictures into the pinned staging (in parallel: a 1080p frame is
 * 3 MB, and one thread copying a batch of them would cap the GPU's rate) and
 * describes each, planes in device memory, for the preprocessing kernel;
 * device pictures are used where they are. Returns the bytes to upload. */
static size_t stage_pictures(ps_cuda_slot *sl, const ps_picture *pics, int n) {
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        ps_cuda_pre_item *it = &sl->h_items[i];
        it->pic = pics[i];
        it->lb = sl->boxes[i];
        sl->offsets[i] = off;
        if (pics[i].on_device) continue;
        off += place_packed(&pics[i], sl->d_pix + off, &it->pic);
    }
    /* no parallel region when nothing is on the host (NVDEC frames): its
     * idle threads would spin for nothing */
    if (off == 0) return 0;
    /* at most 4 threads: a few already saturate the copy, and OpenMP's idle
     * threads spin after the region, taking cores from the decoders */
    int threads = n < 4 ? n : 4;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (n > 1)
    for (int i = 0; i < n; i++)
        if (!pics[i].on_device) pack_picture(&pics[i], sl->h_pix + sl->offsets[i]);
    return off;
}

/* Enqueues, for slot sl's n pictures: upload and preprocessing on the upload
 * stream (into the slot's own input copy, so it may run while the previous
 * batch's network still reads the network's input); then, on the compute
 * stream once that is done, the copy into the network's input, the network
 * (a replayed CUDA graph), the decoder and the rows back to the host. */
static ps_status enqueue(ps_cuda *c, ps_cuda_slot *sl, int n, size_t upload, ps_err *err) {
    PS_CUDA(cudaEventRecord(sl->ev_start, c->up), err);
    if (upload)
        PS_CUDA(cudaMemcpyAsync(sl->d_pix, sl->h_pix, upload, cudaMemcpyHostToDevice, c->up), err);
    PS_CUDA(cudaMemcpyAsync(sl->d_items, sl->h_items, (size_t)n * sizeof *sl->h_items,
                            cudaMemcpyHostToDevice, c->up), err);
    ps_status st = ps_cuda_preprocess(sl->d_items, n, sl->d_pre, c->cfg.input_w, c->cfg.input_h,
                                      c->net->norm, c->net->n_norm, c->up, err);
    if (st) return st;
    PS_CUDA(cudaEventRecord(sl->ev_pre, c->up), err);
    PS_CUDA(cudaStreamWaitEvent(c->compute, sl->ev_pre, 0), err);
    size_t bytes = (size_t)n * c->cfg.input_h * c->cfg.input_w * 4 * 2;
    PS_CUDA(cudaMemcpyAsync(ps_cuda_net_input(c->cn), sl->d_pre, bytes, cudaMemcpyDeviceToDevice,
                            c->compute), err);
    st = ps_cuda_net_forward(c->cn, n, c->compute, err);
    const float *heads[PS_NUM_HEADS];
    for (int h = 0; h < PS_NUM_HEADS; h++) heads[h] = ps_cuda_net_head(c->cn, (ps_head)h);
    if (!st)
        st = ps_cuda_decode(heads, n, c->cfg.input_h / 4, c->cfg.input_w / 4, c->cfg.input_h,
                            c->cfg.input_w, c->cfg.max_people, sl->d_rows, c->compute, err);
    if (st) return st;
    size_t row_bytes = (size_t)c->cfg.max_people * PS_DECODE_ROW * 4;
    PS_CUDA(cudaMemcpyAsync(sl->h_rows, sl->d_rows, (size_t)n * row_bytes, cudaMemcpyDeviceToHost,
                            c->compute), err);
    PS_CUDA(cudaEventRecord(sl->ev_end, c->compute), err);
    return PS_OK;
}

/* Starts a batch and returns without waiting for it; at most two can be in
 * flight (collect the oldest first). Host pictures are copied before this
 * returns; device pictures must stay valid until the batch is collected. */
static ps_status cuda_submit(void *state, const ps_picture *pics, int n, ps_err *err) {
    ps_cuda *c = state;
    if (use_device(c, err)) return err->code;
    if (c->queued == PS_CUDA_SLOTS)
        return ps_err_set(err, PS_ERR_ARG, "CUDA backend: %d batches in flight already",
                          PS_CUDA_SLOTS);
    int k = c->queued ? 1 - c->queue[0] : 0;
    ps_cuda_slot *sl = &c->slots[k];
    size_t need = 0;
    for (int i = 0; i < n; i++) {
        sl->boxes[i] = ps_letterbox_fit(pics[i].width, pics[i].height, c->cfg.input_w,
                                        c->cfg.input_h);
        sl->pic_w[i] = pics[i].width;
        sl->pic_h[i] = pics[i].height;
        size_t rows[3], row_bytes[3];
        if (!pics[i].on_device) need += picture_bytes(&pics[i], rows, row_bytes);
    }
    ps_status st = reserve_staging(c, sl, need, err);
    if (!st) st = enqueue(c, sl, n, stage_pictures(sl, pics, n), err);
    if (st) return st;
    sl->n = n;
    c->queue[c->queued++] = k;
    return PS_OK;
}

/* Waits for the oldest batch in flight and decodes its rows into people. */
static ps_status cuda_collect(void *state, float min_score, ps_person (*people)[PS_MAX_PEOPLE],
                              int32_t *counts, int *n_out, int64_t *device_ns, ps_err *err) {
    ps_cuda *c = state;
    if (!c->queued) return ps_err_set(err, PS_ERR_ARG, "CUDA backend: no batch in flight");
    if (use_device(c, err)) return err->code;
    ps_cuda_slot *sl = &c->slots[c->queue[0]];
    c->queue[0] = c->queue[1];
    c->queued--;
    int n = sl->n;
    sl->n = 0;
    PS_CUDA(cudaEventSynchronize(sl->ev_end), err);
    float ms = 0;
    PS_CUDA(cudaEventElapsedTime(&ms, sl->ev_start, sl->ev_end), err);
    *device_ns = (int64_t)(ms * 1e6);
    *n_out = n;
    int h = c->cfg.input_h, w = c->cfg.input_w, np = c->cfg.max_people;
    for (int i = 0; i < n; i++) {
        const ps_letterbox *lb = &sl->boxes[i];
        ps_placement place = {lb->sx, lb->sy, (float)lb->pad_x, (float)lb->pad_y, sl->pic_w[i],
                              sl->pic_h[i]};
        counts[i] = ps_decode_people(sl->h_rows + (size_t)i * np * PS_DECODE_ROW, np, h, w,
                                     &place, min_score, people[i]);
    }
    if (c->calls++ % 16 == 0) sample_vram(c); /* NVML asks the driver: not every batch */
    return PS_OK;
}

static ps_status cuda_detect(void *state, const ps_picture *pics, int n, float min_score,
                             ps_person (*people)[PS_MAX_PEOPLE], int32_t *counts,
                             int64_t *device_ns, ps_err *err) {
    ps_cuda *c = state;
    if (c->queued)
        return ps_err_set(err, PS_ERR_ARG, "CUDA backend: collect the batches in flight first");
    int got;
    ps_status st = cuda_submit(state, pics, n, err);
    return st ? st : cuda_collect(state, min_score, people, counts, &got, device_ns, err);
}

static size_t cuda_memory(const void *state) {
    const ps_cuda *c = state;
    return c->bytes + ps_cuda_pool_bytes(c->inputs);
}

/* Admission asks from many reader threads at once: one of them samples
 * (NVML asks the driver, which takes a while with many decoders) while the
 * others wait for that sample, and a sample younger than 20 ms is answered
 * as it is. */
static void cuda_vram(void *state, size_t *current, size_t *peak) {
    ps_cuda *c = state;
    pthread_mutex_lock(&c->vram_mu);
    if (ps_now_ns() - c->vram_at >= 20000000) sample_vram_locked(c);
    *current = c->vram_now;
    *peak = c->vram_peak;
    pthread_mutex_unlock(&c->vram_mu);
}

static size_t cuda_vram_free(void *state) {
    ps_err err;
    size_t free_b = 0, total = 0;
    if (use_device(state, &err)) return 0;
    return cudaMemGetInfo(&free_b, &total) == cudaSuccess ? free_b : 0;
}

static size_t cuda_vram_total(void *state) {
    return ((ps_cuda *)state)->total;
}

static size_t cuda_prepared_bytes(void *state) {
    ps_cuda *c = state;
    return ps_cuda_pool_bytes(c->inputs) + ps_cuda_stage_bytes(c->stage);
}

static ps_status cuda_warm(void *state, int n, ps_err *err) {
    if (use_device(state, err)) return err->code;
    return ps_cuda_net_capture(((ps_cuda *)state)->cn, n, err);
}

/* Uploads host picture pic through a staging pair (*stage, to give back
 * once the work queued on s is done): packed into its pinned half by this
 * thread, then copied up by DMA; dev describes it on the device. */
static ps_status upload_picture(ps_cuda *c, const ps_picture *pic, ps_picture *dev, void **stage,
                                cudaStream_t s, ps_err *err) {
    size_t rows[3], row_bytes[3], bytes = picture_bytes(pic, rows, row_bytes);
    void *host;
    uint8_t *dst = ps_cuda_stage_take(c->stage, bytes, &host, err);
    if (!dst) return PS_ERR_NOMEM;
    *stage = dst;
    pack_picture(pic, host);
    place_packed(pic, dst, dev);
    PS_CUDA(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, s), err);
    return PS_OK;
}

/* On the caller's per-thread stream, which (like the engine's upload
 * stream) runs after the legacy-stream copies FFmpeg makes of NVDEC frames
 * in this same thread; waited for (the thread sleeping, cuda_stage.h), so
 * the picture may go at once. A host picture goes up first: the readers'
 * threads then share the copying that the engine thread would otherwise do
 * for the whole batch. */
static ps_status cuda_prepare(void *state, const ps_picture *pic, ps_picture *out, void **slot,
                              ps_err *err) {
    ps_cuda *c = state;
    int w = c->cfg.input_w, h = c->cfg.input_h;
    if (use_device(c, err)) return err->code;
    cudaStream_t s = cudaStreamPerThread;
    void *buf = ps_cuda_pool_take(c->inputs, err), *stage = NULL;
    if (!buf) return PS_ERR_NOMEM;
    ps_picture dev = *pic;
    ps_status st = pic->on_device ? PS_OK : upload_picture(c, pic, &dev, &stage, s, err);
    ps_letterbox lb = ps_letterbox_fit(pic->width, pic->height, w, h);
    if (!st) st = ps_cuda_letterbox(&dev, lb, buf, w, h, (ps_cuda_stream)s, err);
    if (!st) st = ps_cuda_stage_sync(c->stage, s, err);
    if (st && stage) cudaStreamSynchronize(s); /* the copy may still read it */
    if (stage) ps_cuda_stage_give(c->stage, stage);
    if (st) {
        ps_cuda_pool_give(c->inputs, buf);
        return st;
    }
    *out = (ps_picture){.fmt = PS_PIX_INPUT, .plane = {buf}, .pitch = {w * 4},
                        .width = pic->width, .height = pic->height, .on_device = 1};
    *slot = buf;
    return PS_OK;
}

static void cuda_unprepare(void *state, void *slot) {
    ps_cuda_pool_give(((ps_cuda *)state)->inputs, slot);
}

/* After a failed batch: waits for what was enqueued, then checks that the
 * context still works (an illegal access or a failed launch poisons it for
 * good: then only a new process helps). Forgets the batches in flight and
 * runs batches of n as plain launches from now on, in case its graph was
 * what failed. */
static ps_status cuda_recover(void *state, int n, ps_err *err) {
    ps_cuda *c = state;
    if (use_device(c, err)) return err->code;
    cudaStreamSynchronize(c->compute);
    cudaStreamSynchronize(c->up);
    cudaGetLastError(); /* clears an error that did not poison the context */
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess)
        return ps_err_set(err, PS_ERR_BACKEND, "CUDA: the device cannot go on: %s",
                          cudaGetErrorString(e));
    for (int k = 0; k < PS_CUDA_SLOTS; k++) c->slots[k].n = 0;
    c->queued = 0;
    ps_cuda_net_drop_graph(c->cn, n);
    return PS_OK;
}

static void cuda_utilization(void *state, int *gpu, int *decoder) {
    ps_cuda *c = state;
    *gpu = ps_nvml_gpu_util(c->nvml);
    *decoder = ps_nvml_decoder_util(c->nvml);
}

static const char *cuda_device(void *state) {
    return ((ps_cuda *)state)->device;
}

int ps_backend_cuda_count(void) {
    int count = 0;
    return cudaGetDeviceCount(&count) == cudaSuccess ? count : 0;
}

const ps_backend_ops ps_backend_cuda = {
    .name = "cuda",
    .init = cuda_init,
    .run = cuda_run,
    .memory = cuda_memory,
    .free = cuda_free,
    .detect = cuda_detect,
    .vram = cuda_vram,
    .device = cuda_device,
    .utilization = cuda_utilization,
    .submit = cuda_submit,
    .collect = cuda_collect,
    .warm = cuda_warm,
    .prepare = cuda_prepare,
    .unprepare = cuda_unprepare,
    .recover = cuda_recover,
    .vram_free = cuda_vram_free,
    .prepared_bytes = cuda_prepared_bytes,
    .vram_total = cuda_vram_total,
};
