/* Device buffer pool (see cuda_pool.h): a free list under a mutex, filled by
 * chunks of CHUNK_SLOTS buffers from one cudaMalloc each. */
#include "engine/cuda/cuda_pool.h"

#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define CHUNK_SLOTS 16 /* one cudaMalloc per 16 frames in flight */

struct ps_cuda_pool {
    pthread_mutex_t mu;
    size_t slot_bytes;
    void **free_slots; /* [capacity] */
    int n_free, capacity;
    void **chunks;
    int n_chunks;
};

ps_cuda_pool *ps_cuda_pool_create(size_t slot_bytes) {
    ps_cuda_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->slot_bytes = (slot_bytes + 255) / 256 * 256;
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

/* Adds one chunk of free buffers (p->mu held). */
static ps_status pool_grow(ps_cuda_pool *p, ps_err *err) {
    void **chunks = realloc(p->chunks, sizeof *chunks * (size_t)(p->n_chunks + 1));
    if (!chunks) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    p->chunks = chunks;
    int cap = p->capacity + CHUNK_SLOTS;
    void **slots = realloc(p->free_slots, sizeof *slots * (size_t)cap);
    if (!slots) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    p->free_slots = slots;
    void *mem = NULL;
    cudaError_t e = cudaMalloc(&mem, p->slot_bytes * CHUNK_SLOTS);
    if (e != cudaSuccess)
        return ps_err_set(err, PS_ERR_NOMEM,
                          "CUDA: no device memory for %d more frame inputs (%zu bytes): %s",
                          CHUNK_SLOTS, p->slot_bytes * CHUNK_SLOTS, cudaGetErrorString(e));
    p->chunks[p->n_chunks++] = mem;
    p->capacity = cap;
    for (int k = 0; k < CHUNK_SLOTS; k++)
        p->free_slots[p->n_free++] = (uint8_t *)mem + (size_t)k * p->slot_bytes;
    return PS_OK;
}

void *ps_cuda_pool_take(ps_cuda_pool *p, ps_err *err) {
    pthread_mutex_lock(&p->mu);
    void *slot = NULL;
    if (p->n_free > 0 || pool_grow(p, err) == PS_OK) slot = p->free_slots[--p->n_free];
    pthread_mutex_unlock(&p->mu);
    return slot;
}

void ps_cuda_pool_give(ps_cuda_pool *p, void *slot) {
    pthread_mutex_lock(&p->mu);
    p->free_slots[p->n_free++] = slot;
    pthread_mutex_unlock(&p->mu);
}

size_t ps_cuda_pool_bytes(ps_cuda_pool *p) {
    pthread_mutex_lock(&p->mu);
    size_t bytes = (size_t)p->n_chunks * CHUNK_SLOTS * p->slot_bytes;
    pthread_mutex_unlock(&p->mu);
    return bytes;
}

void ps_cuda_pool_free(ps_cuda_pool *p) {
    if (!p) return;
    for (int k = 0; k < p->n_chunks; k++) cudaFree(p->chunks[k]);
    free(p->chunks);
    free(p->free_slots);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
