/* What tracking and smoothing cost per frame on one core: ps_tracker_apply
 * with P people walking (boxes and keypoints, smoothing on), median of 9
 * rounds of 20,000 frames. usage: bench_track [PEOPLE...] (default 6 32) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "track/tracker.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* People in a grid, each drifting a little every frame. */
static void make_people(ps_person *p, int n, int frame) {
    for (int i = 0; i < n; i++) {
        double cx = 60 + (i % 8) * 220 + frame * 0.7, cy = 150 + (i / 8) * 240;
        p[i] = (ps_person){.score = 0.9f - 0.01f * (float)i, .id = 0};
        for (int k = 0; k < PS_NUM_KEYPOINTS; k++)
            p[i].kp[k] = (ps_keypoint){(float)(cx + (k % 3 - 1) * 20 + sin(frame + k)),
                                       (float)(cy + (k - 8) * 10 + cos(frame * 1.3 + k)), 0.8f};
        p[i].x0 = (float)(cx - 40), p[i].x1 = (float)(cx + 40);
        p[i].y0 = (float)(cy - 100), p[i].y1 = (float)(cy + 100);
    }
}

static double round_us(ps_track_kind kind, int n, int frames) {
    ps_track_params tp = ps_track_default_params();
    tp.kind = kind;
    tp.min_similarity = kind == PS_TRACK_BOXES ? 0.15 : 0.2;
    tp.max_tracks = n > 18 ? n : 18;
    ps_tracker t;
    if (ps_tracker_init(&t, &tp)) return NAN;
    ps_person *p = malloc(sizeof *p * (size_t)n);
    double spent = 0;
    for (int f = 0; f < frames; f++) {
        make_people(p, n, f);
        double t0 = now_s();
        ps_tracker_apply(&t, p, n, 1920, 1080, f / 30.0);
        spent += now_s() - t0;
    }
    free(p);
    ps_tracker_free(&t);
    return spent / frames * 1e6;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int sizes[8] = {6, 32}, n_sizes = 2;
    if (argc > 1) n_sizes = 0;
    for (int i = 1; i < argc && n_sizes < 8; i++) sizes[n_sizes++] = atoi(argv[i]);
    printf("%-10s %7s %14s\n", "tracker", "people", "us per frame");
    for (int kind = 0; kind < 2; kind++)
        for (int s = 0; s < n_sizes; s++) {
            double r[9];
            for (int k = 0; k < 9; k++) r[k] = round_us((ps_track_kind)kind, sizes[s], 20000);
            qsort(r, 9, sizeof *r, cmp);
            printf("%-10s %7d %14.2f (median of 9; %.2f to %.2f)\n",
                   kind == PS_TRACK_BOXES ? "boxes" : "keypoints", sizes[s], r[4], r[0], r[8]);
        }
    return 0;
}
