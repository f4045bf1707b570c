/* Engine throughput on the CPU: frames/s of the network alone (no decode, no
 * letterbox) at one input size, for several batch sizes and thread counts,
 * median of many timed runs after a warm-up. Prints a table; never fails on
 * a timing.
 *
 *   bench_engine [--model PATH] [--size 256] [--batches 1,8] [--threads 1,2]
 *                [--runs 40] [--chunk N] [--all-threads-per-image]
 * Batches of at least `threads` images run one image per thread (side by
 * side) unless --all-threads-per-image.
 * --chunk N runs a batch as network calls of N images (0, the default: the
 * whole batch in one call). 
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "bench_util.h"
#include "model/model.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_run(ps_engine *e, int batch, int runs) {
    ps_err err;
    double *t = malloc(sizeof *t * (size_t)runs);
    for (int w = 0; w < 3; w++)
        if (ps_engine_run(e, ps_engine_input(e), batch, &err)) {
            fprintf(stderr, "bench_engine: error: %s\n", err.msg);
            exit(1);
        }
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        ps_engine_run(e, ps_engine_input(e), batch, &err);
        t[r] = now_s() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    double m = t[runs / 2];
    free(t);
    return m;
}

int main(int argc, char **argv) {
    char def[4096];
    ps_model_cache_dir(def, sizeof def);
    const char *model_path = def;
    int size = 256, runs = 40, chunk = 0, batches[16] = {1, 8}, threads[16] = {1, 2}, nb = 2, nt = 2;
    int one_per_core = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--all-threads-per-image")) { one_per_core = -1; continue; }
        if (!v) { fprintf(stderr, "bench_engine: %s needs a value\n", argv[i]); return 2; }
        i++;
        if (!strcmp(argv[i - 1], "--model")) model_path = v;
        else if (!strcmp(argv[i - 1], "--size")) size = atoi(v);
        else if (!strcmp(argv[i - 1], "--runs")) runs = atoi(v);
        else if (!strcmp(argv[i - 1], "--chunk")) chunk = atoi(v);
        else if (!strcmp(argv[i - 1], "--batches")) nb = bench_parse_list(v, batches, 16);
        else if (!strcmp(argv[i - 1], "--threads")) nt = bench_parse_list(v, threads, 16);
        else { fprintf(stderr, "bench_engine: unknown option %s\n", argv[i - 1]); return 2; }
    }
    if (runs < 1) runs = 1;
    ps_err err;
    ps_model *model = ps_model_load(model_path, &err);
    if (!model) { fprintf(stderr, "bench_engine: error: %s\n", err.msg); return 1; }
    ps_shape *shapes = malloc(sizeof *shapes * (size_t)model->net.n_layers);
    if (ps_net_shapes(&model->net, size, size, shapes, &err)) {
        fprintf(stderr, "bench_engine: error: %s\n", err.msg);
        return 1;
    }
    double gflop = 2e-9 * ps_net_macs(&model->net, shapes);
    printf("input %dx%d, %.3f GFLOP/frame, median of %d runs, %s per network call, %s\n", size,
           size, gflop, runs, chunk ? "chunks of images" : "whole batch",
           one_per_core < 0 ? "every image on all threads" : "side by side when batch >= threads");
    printf("%7s %7s %12s %10s %10s\n", "threads", "batch", "ms/batch", "frames/s", "GFLOP/s");
    for (int ti = 0; ti < nt; ti++) {
        int maxb = 1;
        for (int bi = 0; bi < nb; bi++) maxb = batches[bi] > maxb ? batches[bi] : maxb;
        ps_engine_opts o = {.backend = PS_BACKEND_CPU, .input_h = size, .input_w = size,
                            .max_batch = maxb, .threads = threads[ti],
                             .cpu_chunk = chunk ? chunk : maxb, .cpu_one_per_core = one_per_core};
        ps_engine *e = ps_engine_create(model, &o, &err);
        if (!e) { fprintf(stderr, "bench_engine: error: %s\n", err.msg); return 1; }
        float *in = ps_engine_input(e);
        unsigned s = 1;
        for (size_t k = 0; k < (size_t)maxb * size * size * 3; k++) in[k] = (float)((s = s * 1103515245u + 12345u) >> 24);
        for (int bi = 0; bi < nb; bi++) {
            double t = median_run(e, batches[bi], runs);
            printf("%7d %7d %12.2f %10.1f %10.1f\n", threads[ti], batches[bi], t * 1e3,
                   batches[bi] / t, gflop * batches[bi] / t);
            fflush(stdout);
        }
        ps_engine_free(e);
    }
    free(shapes);
    ps_model_free(model);
    return 0;
}
