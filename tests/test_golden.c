/* Golden test: the CPU backend's six heads and the decoded output against
 * TensorFlow.js 4.22 (tests/data/golden, made by tools/make_reference.js),
 * all cases run as one batch so batching is checked too, both with the
 * images side by side (one per thread) and each on every thread.
 * Tolerances: sigmoid heads 1e-4, regression heads 2e-3 (values up to ~50),
 * decoded rows 1e-4 (keypoint coordinates, scores and boxes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "golden_util.h"
#include "model/decode.h"
#include "testutil.h"

static const char *const head_files[PS_NUM_HEADS] = {
    "center.f32", "kpt_heat.f32", "kpt_regress.f32", "kpt_offset.f32", "box_scale.f32",
    "box_offset.f32"};

static void check_heads(const ps_engine *e, const char *dir, const golden_case *c, int i) {
    for (int h = 0; h < PS_NUM_HEADS; h++) {
        size_t n = 64 * 64 * (size_t)ps_head_channels[h];
        float *want = golden_read(dir, c->name, head_files[h], n * 4);
        char label[128];
        snprintf(label, sizeof label, "%.60s %s", c->name, head_files[h]);
        float tol = h <= PS_HEAD_KPT_HEAT ? 1e-4f : 2e-3f;
        tu_close(label, ps_engine_head(e, (ps_head)h) + n * (size_t)i, want, n, tol);
        free(want);
    }
}

static void check_output(const ps_engine *e, const char *dir, const golden_case *c, int i) {
    ps_heads heads = ps_engine_image_heads(e, i);
    float rows[PS_DEFAULT_PEOPLE * PS_DECODE_ROW]; /* the graph's [6,56] */
    ps_decode_heads(&heads, 256, 256, PS_DEFAULT_PEOPLE, rows);
    float *want = golden_read(dir, c->name, "output.f32", sizeof rows);
    char label[128];
    snprintf(label, sizeof label, "%.60s output [6,56]", c->name);
    tu_close(label, rows, want, PS_DEFAULT_PEOPLE * PS_DECODE_ROW, 1e-4f);
    free(want);
}

static void run_cases(const ps_model *model, const char *dir, const golden_case *cases, int n,
                      int chunk, int one_per_core);

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/data/golden";
    golden_case cases[GOLDEN_MAX_CASES];
    int n = golden_cases(dir, cases);
    ps_model *model = golden_model();
    /* two threads: the images side by side, one per thread (the default);
     * then every image on both threads, the whole batch in one network
     * call and one image per call */
    printf("-- side by side, one image per thread\n");
    run_cases(model, dir, cases, n, 1, 0);
    for (int chunk = n; chunk >= 1; chunk = chunk > 1 ? 1 : 0) {
        printf("-- every image on both threads, %d images per network call\n", chunk);
        run_cases(model, dir, cases, n, chunk, -1);
    }
    ps_model_free(model);
    return tu_finish("test_golden");
}

static void run_cases(const ps_model *model, const char *dir, const golden_case *cases, int n,
                      int chunk, int one_per_core) {
    ps_err err;
    ps_engine_opts o = {.backend = PS_BACKEND_CPU, .max_batch = n, .threads = 2, .cpu_chunk = chunk,
                        .cpu_one_per_core = one_per_core};
    ps_engine *e = ps_engine_create(model, &o, &err);
    if (!e) {
        fprintf(stderr, "engine: %s\n", err.msg);
        exit(1);
    }
    float *in = ps_engine_input(e);
    for (int i = 0; i < n; i++) {
        unsigned char *u8 = golden_read(dir, cases[i].name, "input.u8", 256 * 256 * 3);
        for (size_t k = 0; k < 256 * 256 * 3; k++) in[(size_t)i * 256 * 256 * 3 + k] = u8[k];
        free(u8);
    }
    if (ps_engine_run(e, in, n, &err)) {
        fprintf(stderr, "run: %s\n", err.msg);
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        if (cases[i].has_heads) check_heads(e, dir, &cases[i], i);
        check_output(e, dir, &cases[i], i);
    }
    ps_engine_free(e);
}
