/* Staging for host pictures (see cuda_stage.h): a short array of pinned
 * and device buffer pairs under a mutex, searched in full (it holds about as many
 * as readers prepare at once). */
#include "engine/cuda/cuda_stage.h"

#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct {
    void *buf, *host; /* device, pinned host */
    size_t cap;
    int taken;
} stage_buf;

struct ps_cuda_stage {
    pthread_mutex_t mu;
    stage_buf *bufs;
    int n, capacity;
    size_t bytes;
    cudaEvent_t *events; /* free blocking-sync events */
    int n_events, events_cap;
};

ps_cuda_stage *ps_cuda_stage_create(void) {
    ps_cuda_stage *s = calloc(1, sizeof *s);
    if (s) pthread_mutex_init(&s->mu, NULL);
    return s;
}

/* The smallest free buffer of at least bytes, -1 when none (s->mu held). */
static int find_free(const ps_cuda_stage *s, size_t bytes) {
    int best = -1;
    for (int i = 0; i < s->n; i++)
        if (!s->bufs[i].taken && s->bufs[i].cap >= bytes &&
            (best < 0 || s->bufs[i].cap < s->bufs[best].cap))
            best = i;
    return best;
}

/* Adds a taken buffer of bytes plus headroom (a stream's sizes vary
 * little); returns its index or -1 with err set (s->mu held). */
static int add_buffer(ps_cuda_stage *s, size_t bytes, ps_err *err) {
    if (s->n == s->capacity) {
        int cap = s->capacity ? 2 * s->capacity : 16;
        stage_buf *b = realloc(s->bufs, sizeof *b * (size_t)cap);
        if (!b) return ps_err_set(err, PS_ERR_NOMEM, "out of memory"), -1;
        s->bufs = b;
        s->capacity = cap;
    }
    size_t cap = bytes + bytes / 8;
    void *buf = NULL, *host = NULL;
    cudaError_t e = cudaMalloc(&buf, cap);
    if (e == cudaSuccess) e = cudaHostAlloc(&host, cap, cudaHostAllocWriteCombined);
    if (e != cudaSuccess) {
        cudaFree(buf);
        ps_err_set(err, PS_ERR_NOMEM, "CUDA: no memory to stage a %.1f MB picture on arrival: %s",
                   cap / 1048576.0, cudaGetErrorString(e));
        return -1;
    }
    s->bufs[s->n] = (stage_buf){buf, host, cap, 1};
    s->bytes += cap;
    return s->n++;
}

void *ps_cuda_stage_take(ps_cuda_stage *s, size_t bytes, void **host, ps_err *err) {
    pthread_mutex_lock(&s->mu);
    int i = find_free(s, bytes);
    if (i >= 0) s->bufs[i].taken = 1;
    else i = add_buffer(s, bytes, err);
    void *buf = i >= 0 ? s->bufs[i].buf : NULL;
    *host = i >= 0 ? s->bufs[i].host : NULL;
    pthread_mutex_unlock(&s->mu);
    return buf;
}

void ps_cuda_stage_give(ps_cuda_stage *s, void *buf) {
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++)
        if (s->bufs[i].buf == buf) s->bufs[i].taken = 0;
    pthread_mutex_unlock(&s->mu);
}

/* A free event, made when none is (cudaEventBlockingSync: its waiter
 * sleeps); NULL with err set when CUDA cannot make one. */
static cudaEvent_t event_take(ps_cuda_stage *s, ps_err *err) {
    cudaEvent_t ev = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->n_events > 0) ev = s->events[--s->n_events];
    pthread_mutex_unlock(&s->mu);
    if (ev) return ev;
    cudaError_t e = cudaEventCreateWithFlags(&ev, cudaEventBlockingSync | cudaEventDisableTiming);
    if (e != cudaSuccess) {
        ps_err_set(err, PS_ERR_BACKEND, "CUDA: cannot create an event: %s", cudaGetErrorString(e));
        return NULL;
    }
    return ev;
}

/* Keeps ev for the next wait (or destroys it when out of memory). */
static void event_give(ps_cuda_stage *s, cudaEvent_t ev) {
    pthread_mutex_lock(&s->mu);
    if (s->n_events == s->events_cap) {
        int cap = s->events_cap ? 2 * s->events_cap : 16;
        cudaEvent_t *e = realloc(s->events, sizeof *e * (size_t)cap);
        if (e) s->events = e, s->events_cap = cap;
    }
    if (s->n_events < s->events_cap) s->events[s->n_events++] = ev;
    else cudaEventDestroy(ev);
    pthread_mutex_unlock(&s->mu);
}

ps_status ps_cuda_stage_sync(ps_cuda_stage *s, void *stream, ps_err *err) {
    cudaEvent_t ev = event_take(s, err);
    if (!ev) return PS_ERR_BACKEND;
    cudaError_t e = cudaEventRecord(ev, (cudaStream_t)stream);
    if (e == cudaSuccess) e = cudaEventSynchronize(ev);
    event_give(s, ev);
    if (e != cudaSuccess)
        return ps_err_set(err, PS_ERR_BACKEND, "CUDA: waiting for a frame's upload: %s",
                          cudaGetErrorString(e));
    return PS_OK;
}

size_t ps_cuda_stage_bytes(ps_cuda_stage *s) {
    pthread_mutex_lock(&s->mu);
    size_t b = s->bytes;
    pthread_mutex_unlock(&s->mu);
    return b;
}

void ps_cuda_stage_free(ps_cuda_stage *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        cudaFree(s->bufs[i].buf);
        cudaFreeHost(s->bufs[i].host);
    }
    free(s->bufs);
    for (int i = 0; i < s->n_events; i++) cudaEventDestroy(s->events[i]);
    free(s->events);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
