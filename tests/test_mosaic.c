/* More than six people: the reference photographs tiled 2x2 into one image
 * (photo1, photo2, photo3, photo2: 15 people) are detected at max_people 32
 * and every person of the single photographs must be found there, each of
 * their keypoints within 2% of the mosaic's width and height of where the
 * single-photo result puts it. At the default 6 the mosaic gives exactly 6.
 *
 * Cells are 1920x1920 pixels with the photograph in the middle; the mosaic
 * (3840x3840) runs at input 512x512, so that a cell is exactly the 256x256
 * input its photograph is letterboxed into when run alone, at the same
 * scale (1/7.5) and on the same grid. What differs is what the network sees
 * beyond the cell: the neighbouring photographs instead of black (the
 * photographs are as wide as their cells). Keypoints are compared where the
 * single photo scores them above 0.3 (below that their place is noise, as
 * in test_detect).
 *   test_mosaic GOLDEN_DIR [cpu|cuda] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden_util.h"
#include "testutil.h"

#define TILES 4
#define CELL_W 1920
#define CELL_H 1920
#define TOL 0.02f

typedef struct {
    ps_person people[PS_MAX_PEOPLE];
    int32_t n;
} found;

static ps_engine *make_engine(const ps_model *m, ps_backend b, int h, int w, int np) {
    ps_err err;
    ps_engine_opts o = {.backend = b, .input_h = h, .input_w = w, .max_batch = 1,
                        .max_people = np};
    ps_engine *e = ps_engine_create(m, &o, &err);
    if (!e && b == PS_BACKEND_CUDA && err.code == PS_ERR_UNSUPPORTED) TU_SKIP("%s", err.msg);
    if (!e) {
        fprintf(stderr, "engine: %s\n", err.msg);
        exit(1);
    }
    return e;
}

static found detect(ps_engine *e, const ps_image *img) {
    found f;
    ps_err err;
    if (ps_engine_detect(e, img, 1, 0.2f, &f.people, &f.n, &err)) {
        fprintf(stderr, "detect: %s\n", err.msg);
        exit(1);
    }
    return f;
}

/* Copies each photograph into the middle of its cell of a black 2x2 mosaic;
 * *at gets where each one's top-left corner went. */
static ps_image make_mosaic(const ps_image *photos, int at[TILES][2]) {
    ps_image m = {NULL, 2 * CELL_W, 2 * CELL_H, 2 * CELL_W * 3};
    uint8_t *px = calloc((size_t)m.stride * m.height, 1);
    if (!px) exit(1);
    for (int t = 0; t < TILES; t++) {
        const ps_image *p = &photos[t];
        TU_CHECK(p->width <= CELL_W && p->height <= CELL_H);
        at[t][0] = t % 2 * CELL_W + (CELL_W - p->width) / 2;
        at[t][1] = t / 2 * CELL_H + (CELL_H - p->height) / 2;
        for (int y = 0; y < p->height; y++)
            memcpy(px + (size_t)(at[t][1] + y) * m.stride + (size_t)at[t][0] * 3,
                   p->rgb + (size_t)y * p->stride, (size_t)p->width * 3);
    }
    m.rgb = px;
    return m;
}

/* The largest distance, as a fraction of the mosaic's width or height,
 * between single-photo person s (moved by dx, dy) and mosaic person q, over
 * the keypoints s scores above 0.3. */
static float distance(const ps_person *s, const ps_person *q, float dx, float dy) {
    float worst = 0;
    for (int k = 0; k < PS_NUM_KEYPOINTS; k++) {
        if (s->kp[k].score <= 0.3f) continue;
        worst = fmaxf(worst, fabsf(s->kp[k].x + dx - q->kp[k].x) / (2 * CELL_W));
        worst = fmaxf(worst, fabsf(s->kp[k].y + dy - q->kp[k].y) / (2 * CELL_H));
    }
    return worst;
}

/* Finds each person of tile t's single result, placed at (x, y), among the
 * mosaic's people not taken yet; returns how many were found within TOL. */
static int match_tile(const found *single, int t, const int at[2], const found *mosaic,
                      int *taken) {
    float dx = (float)at[0], dy = (float)at[1];
    int ok = 0;
    for (int i = 0; i < single->n; i++) {
        int best = -1;
        float best_d = INFINITY;
        for (int j = 0; j < mosaic->n; j++) {
            float d = taken[j] ? INFINITY
                               : distance(&single->people[i], &mosaic->people[j], dx, dy);
            if (d < best_d) best_d = d, best = j;
        }
        int hit = best >= 0 && best_d <= TOL;
        if (hit) taken[best] = 1;
        ok += hit;
        printf("  tile %d person %d (score %.3f): %s, worst keypoint %.4f of the mosaic's size "
               "(score there %.3f)\n", t, i, single->people[i].score, hit ? "found" : "MISSING",
               best_d, best >= 0 ? mosaic->people[best].score : 0.0f);
    }
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_mosaic GOLDEN_DIR [cpu|cuda]\n");
        return 2;
    }
    ps_backend b = argc > 2 && !strcmp(argv[2], "cuda") ? PS_BACKEND_CUDA : PS_BACKEND_CPU;
    ps_model *model = golden_model();
    static const char *files[TILES] = {"photo1.jpg", "photo2.jpg", "photo3.jpg", "photo2.jpg"};
    ps_image photos[TILES];
    found single[TILES];
    ps_engine *e = make_engine(model, b, 256, 256, PS_DEFAULT_PEOPLE);
    int expected = 0;
    for (int t = 0; t < TILES; t++) {
        char path[1024];
        ps_err err;
        snprintf(path, sizeof path, "%s/%s", argv[1], files[t]);
        if (ps_image_read(path, &photos[t], &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        single[t] = detect(e, &photos[t]);
        expected += single[t].n;
    }
    ps_engine_free(e);
    int at[TILES][2];
    ps_image mosaic = make_mosaic(photos, at);
    e = make_engine(model, b, 512, 512, PS_DEFAULT_PEOPLE);
    found six = detect(e, &mosaic);
    ps_engine_free(e);
    e = make_engine(model, b, 512, 512, PS_MAX_PEOPLE);
    found many = detect(e, &mosaic);
    printf("%s: %d people in the single photographs; the mosaic gives %d at max_people %d and "
           "%d at %d\n", ps_engine_backend(e), expected, six.n, PS_DEFAULT_PEOPLE, many.n,
           PS_MAX_PEOPLE);
    ps_engine_free(e);
    int taken[PS_MAX_PEOPLE] = {0}, hits = 0;
    for (int t = 0; t < TILES; t++) hits += match_tile(&single[t], t, at[t], &many, taken);
    printf("found %d of %d within %.0f%% of the mosaic's size\n", hits, expected, TOL * 100);
    TU_CHECK(expected > PS_DEFAULT_PEOPLE && six.n == PS_DEFAULT_PEOPLE);
    TU_CHECK(hits == expected);
    for (int t = 0; t < TILES; t++) ps_image_free(&photos[t]);
    free((void *)mosaic.rgb);
    ps_model_free(model);
    return tu_finish("test_mosaic");
}
