/* What --max-people costs: the MoveNet decoder's time per image for 1, 6,
 * 16 and 32 centres, on real heads (the reference photographs' heads in
 * tests/data/golden, 256x256 input, 64x64 grid): on one CPU core
 * (ps_decode_heads, median of rounds) and, in CUDA builds with a GPU, the
 * decode kernel for a batch of 64 images (CUDA events, median of runs).
 *
 *   bench_decode [GOLDEN_DIR] [--rounds 15]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "model/decode.h"
#include "model/net.h"
#include "util/clock.h"
#ifdef POSESTREAM_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "engine/cuda/cuda_pre.h"
#endif

#define GRID 64
#define BATCH 64

static const char *head_file[PS_NUM_HEADS] = {"center", "kpt_heat", "kpt_regress",
                                              "kpt_offset", "box_scale", "box_offset"};
static const int head_ch[PS_NUM_HEADS] = {1, 17, 34, 34, 2, 2};

static float *read_head(const char *dir, const char *photo, int h) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.%s.f32", dir, photo, head_file[h]);
    size_t want = (size_t)GRID * GRID * head_ch[h] * sizeof(float);
    float *p = malloc(want);
    FILE *f = fopen(path, "rb");
    if (!p || !f || fread(p, 1, want, f) != want) {
        fprintf(stderr, "bench_decode: %s: missing or short (expected %zu bytes)\n", path, want);
        exit(1);
    }
    fclose(f);
    return p;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median microseconds per image of ps_decode_heads at np centres. */
static double cpu_us(const ps_heads *h, int np, int rounds) {
    static float rows[PS_MAX_PEOPLE * PS_DECODE_ROW];
    double t[64];
    int reps = 200;
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = ps_now_ns();
        for (int i = 0; i < reps; i++) ps_decode_heads(h, 256, 256, np, rows);
        t[r] = (double)(ps_now_ns() - t0) / 1e3 / reps;
    }
    qsort(t, (size_t)rounds, sizeof *t, cmp_double);
    return t[rounds / 2];
}

#ifdef POSESTREAM_HAVE_CUDA
/* Median microseconds per image of the decode kernel over a batch of BATCH
 * copies of h at np centres; -1 without a GPU. */
static double gpu_us(float *const *heads, int np, int rounds) {
    int dev = 0;
    if (cudaGetDeviceCount(&dev) != cudaSuccess || dev == 0) return -1;
    const float *d[PS_NUM_HEADS];
    for (int k = 0; k < PS_NUM_HEADS; k++) {
        size_t one = (size_t)GRID * GRID * head_ch[k] * sizeof(float);
        char *p;
        if (cudaMalloc((void **)&p, one * BATCH) != cudaSuccess) return -1;
        for (int i = 0; i < BATCH; i++)
            cudaMemcpy(p + one * i, heads[k], one, cudaMemcpyHostToDevice);
        d[k] = (const float *)p;
    }
    float *rows;
    cudaMalloc((void **)&rows, (size_t)BATCH * np * PS_DECODE_ROW * sizeof(float));
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    double t[64];
    ps_err err;
    for (int r = 0; r <= rounds; r++) {
        cudaEventRecord(a, 0);
        ps_cuda_decode(d, BATCH, GRID, GRID, 256, 256, np, rows, 0, &err);
        cudaEventRecord(b, 0);
        cudaEventSynchronize(b);
        float ms = 0;
        cudaEventElapsedTime(&ms, a, b);
        if (r) t[r - 1] = ms * 1e3 / BATCH; /* the first run warms up */
    }
    for (int k = 0; k < PS_NUM_HEADS; k++) cudaFree((void *)d[k]);
    cudaFree(rows);
    qsort(t, (size_t)rounds, sizeof *t, cmp_double);
    return t[rounds / 2];
}
#endif

int main(int argc, char **argv) {
    const char *dir = "tests/data/golden";
    int rounds = 15;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else dir = argv[i];
    }
    if (rounds < 1 || rounds > 64) rounds = 15;
    static const int nps[4] = {1, 6, 16, 32};
    static const char *photos[2] = {"photo1", "photo2"};
    printf("%-8s %-8s %14s %22s\n", "photo", "centres", "CPU us/image", "GPU us/image (b64)");
    for (int p = 0; p < 2; p++) {
        float *hd[PS_NUM_HEADS];
        for (int k = 0; k < PS_NUM_HEADS; k++) hd[k] = read_head(dir, photos[p], k);
        ps_heads h = {hd[0], hd[1], hd[2], hd[3], hd[4], hd[5], GRID, GRID};
        for (int i = 0; i < 4; i++) {
            double g = -1;
#ifdef POSESTREAM_HAVE_CUDA
            g = gpu_us(hd, nps[i], rounds);
#endif
            char gs[32] = "-";
            if (g >= 0) snprintf(gs, sizeof gs, "%.3f", g);
            printf("%-8s %-8d %14.2f %22s\n", photos[p], nps[i], cpu_us(&h, nps[i], rounds), gs);
        }
        for (int k = 0; k < PS_NUM_HEADS; k++) free(hd[k]);
    }
    return 0;
}
