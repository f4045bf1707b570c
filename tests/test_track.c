/* Tracking and smoothing (src/track): the One Euro filter against values
 * worked out by hand, and the tracker on hand-made pose sequences with
 * known answers: two people crossing, one leaving and coming back before
 * and after max_age, a detection that flickers for a frame, more people
 * than max_tracks, a time that steps back (a loop), boxes by IoU. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "track/one_euro.h"
#include "track/tracker.h"

/* min_cutoff 1 Hz, beta 0.5, d_cutoff 1 Hz; 0 at t=0 then 1 at t=0.1:
 * alpha_d = 1 / (1 + 1 / (2 pi * 1 * 0.1)) = 0.385869, speed 10 -> dx =
 * 3.85869; cutoff = 1 + 0.5 * 3.85869 = 2.929345; alpha = 1 / (1 + 1 /
 * (2 pi * 2.929345 * 0.1)) = 0.647957 -> x = 0.647957. The next two steps
 * (1 at 0.2, 3 at 0.25) the same way: 0.851634, 2.306856. */
static void test_one_euro(void) {
    ps_one_euro f;
    ps_one_euro_init(&f, 1.0, 0.5, 1.0);
    const double v[] = {0, 1, 1, 3}, t[] = {0, 0.1, 0.2, 0.25};
    const double want[] = {0, 0.647957170, 0.851633697, 2.306856109};
    double worst = 0;
    for (int i = 0; i < 4; i++) worst = fmax(worst, fabs(ps_one_euro_apply(&f, v[i], t[i]) - want[i]));
    printf("one euro: max |got - by hand| %.2e (tolerance 1e-6: the hand values' digits)\n", worst);
    TU_CHECK(worst < 1e-6);
    TU_CHECK(ps_one_euro_apply(&f, 9, 0.25) == f.x); /* the same time again: unchanged */
}

/* A standing person centred at (cx, cy) pixels, h pixels tall, every
 * keypoint scored s. */
static ps_person person_at(double cx, double cy, double h, float s) {
    ps_person p = {.score = s};
    static const double dy[PS_NUM_KEYPOINTS] = {-0.45, -0.47, -0.47, -0.46, -0.46, -0.3, -0.3,
                                                -0.1, -0.1, 0.05, 0.05, 0.05, 0.05, 0.25, 0.25,
                                                0.45, 0.45};
    for (int k = 0; k < PS_NUM_KEYPOINTS; k++) {
        double side = k == 0 ? 0 : (k % 2 ? -1 : 1);
        p.kp[k] = (ps_keypoint){(float)(cx + side * 0.12 * h), (float)(cy + dy[k] * h), s};
    }
    p.x0 = (float)(cx - 0.2 * h), p.x1 = (float)(cx + 0.2 * h);
    p.y0 = (float)(cy - 0.5 * h), p.y1 = (float)(cy + 0.5 * h);
    return p;
}

/* The keypoint tracker, unsmoothed (the box tracker is tested below). */
static ps_track_params params(void) {
    ps_track_params p = ps_track_default_params();
    p.kind = PS_TRACK_KEYPOINTS, p.min_similarity = 0.2;
    p.smooth = 0;
    return p;
}

/* A walks right, B left, 40 px apart in height, over 30 frames at 30 fps:
 * the ids must not swap where they pass. */
static void test_crossing(void) {
    ps_tracker t;
    ps_track_params p = params();
    TU_CHECK(ps_tracker_init(&t, &p) == PS_OK);
    int swaps = 0, id_a = 0, id_b = 0;
    for (int f = 0; f < 30; f++) {
        ps_person two[2] = {person_at(100 + 15 * f, 300, 200, 0.9f),
                            person_at(535 - 15 * f, 340, 200, 0.8f)};
        ps_tracker_apply(&t, two, 2, 640, 480, f / 30.0);
        if (f == 0) id_a = two[0].id, id_b = two[1].id;
        swaps += two[0].id != id_a || two[1].id != id_b;
    }
    printf("crossing: ids %d and %d, %d frames with another id\n", id_a, id_b, swaps);
    TU_CHECK(id_a == 1 && id_b == 2 && swaps == 0);
    ps_tracker_free(&t);
}

/* One person in a stream that runs on at 30 fps: gone 10 frames (333 ms <
 * max_age) keeps its id; gone one frame (a flicker) keeps it; gone 40
 * (1.33 s > 1 s) comes back with a new one. */
static void test_leave_and_return(void) {
    ps_tracker t;
    ps_track_params p = params();
    TU_CHECK(ps_tracker_init(&t, &p) == PS_OK);
    /* frames 0-4 present; 5-14 gone; 15-19 present; 20 gone; 21-25; 26-65 gone; 66-70 */
    int ids[4] = {0}, seen = 0, last_present = 0;
    for (int f = 0; f <= 70; f++) {
        int present = f <= 4 || (f >= 15 && f <= 19) || (f >= 21 && f <= 25) || f >= 66;
        ps_person one = person_at(320, 240, 200, 0.9f);
        ps_tracker_apply(&t, &one, present, 640, 480, f / 30.0);
        if (present && !last_present) ids[seen++] = one.id;
        last_present = present;
    }
    printf("leave and return: ids %d, after 333 ms %d, after a flicker %d, after 1.33 s %d\n",
           ids[0], ids[1], ids[2], ids[3]);
    TU_CHECK(seen == 4 && ids[0] == 1 && ids[1] == 1 && ids[2] == 1 && ids[3] == 2);
    ps_tracker_free(&t);
}

/* Four people, max_tracks 2: all get ids, only the two best are kept, so
 * the other two come back with new ones. */
static void test_max_tracks(void) {
    ps_tracker t;
    ps_track_params p = params();
    p.max_tracks = 2;
    TU_CHECK(ps_tracker_init(&t, &p) == PS_OK);
    int first[4], second[4];
    for (int f = 0; f < 2; f++) {
        ps_person four[4];
        for (int i = 0; i < 4; i++) four[i] = person_at(80 + 160 * i, 240, 150, 0.9f - 0.1f * i);
        ps_tracker_apply(&t, four, 4, 640, 480, f / 30.0);
        for (int i = 0; i < 4; i++) (f ? second : first)[i] = four[i].id;
    }
    printf("max_tracks 2: frame 1 ids %d %d %d %d, frame 2 %d %d %d %d, %d kept\n", first[0],
           first[1], first[2], first[3], second[0], second[1], second[2], second[3], t.n);
    TU_CHECK(first[0] == 1 && first[3] == 4 && second[0] == 1 && second[1] == 2);
    TU_CHECK(second[2] == 5 && second[3] == 6 && t.n == 2);
    ps_tracker_free(&t);
}

/* Time that steps back (a file that loops) starts afresh: ids from 1. */
static void test_loop_resets(void) {
    ps_tracker t;
    ps_track_params p = params();
    TU_CHECK(ps_tracker_init(&t, &p) == PS_OK);
    ps_person a = person_at(100, 240, 150, 0.9f), b = person_at(500, 240, 150, 0.9f);
    ps_tracker_apply(&t, &a, 1, 640, 480, 5.0);
    ps_tracker_apply(&t, &b, 1, 640, 480, 5.1); /* elsewhere: a second id */
    int before = b.id;
    ps_person c = person_at(500, 240, 150, 0.9f);
    ps_tracker_apply(&t, &c, 1, 640, 480, 0.0);
    printf("loop: id %d before, %d after the time stepped back\n", before, c.id);
    TU_CHECK(before == 2 && c.id == 1);
    ps_tracker_free(&t);
}

/* Boxes by IoU, and the similarities themselves. */
static void test_boxes_and_similarity(void) {
    ps_person a = person_at(0.5, 0.5, 0.4, 0.9f), same = a, moved = person_at(0.52, 0.5, 0.4, 0.9f);
    double oks_same = ps_track_oks(&a, &same, 0.3, 4), oks_moved = ps_track_oks(&a, &moved, 0.3, 4);
    ps_person dim = a;
    for (int k = 0; k < PS_NUM_KEYPOINTS; k++) dim.kp[k].score = k < 3 ? 0.9f : 0.1f;
    printf("oks: same %.4f, moved by 5%% of its height %.4f, 3 keypoints %.4f; iou same %.3f\n",
           oks_same, oks_moved, ps_track_oks(&dim, &same, 0.3, 4), ps_track_iou(&a, &same));
    TU_CHECK(fabs(oks_same - 1) < 1e-9 && oks_moved > 0.2 && oks_moved < 1);
    TU_CHECK(ps_track_oks(&dim, &same, 0.3, 4) == 0 && fabs(ps_track_iou(&a, &same) - 1) < 1e-6);
    ps_tracker t;
    ps_track_params p = params();
    p.kind = PS_TRACK_BOXES, p.min_similarity = 0.15;
    TU_CHECK(ps_tracker_init(&t, &p) == PS_OK);
    int ids[3];
    for (int f = 0; f < 3; f++) {
        ps_person one = person_at(200 + 10 * f, 240, 200, 0.9f);
        ps_tracker_apply(&t, &one, 1, 640, 480, f / 30.0);
        ids[f] = one.id;
    }
    TU_CHECK(ids[0] == 1 && ids[1] == 1 && ids[2] == 1);
    ps_tracker_free(&t);
}

/* Smoothing: a still person's jitter shrinks; a track's filters start from
 * its first pose. */
static void test_smoothing(void) {
    ps_tracker t;
    ps_track_params p = ps_track_default_params();
    TU_CHECK(ps_tracker_init(&t, &p) == PS_OK);
    double raw = 0, smoothed = 0;
    for (int f = 0; f < 60; f++) {
        double jitter = (f % 2 ? 1 : -1) * 2.0; /* +-2 px around 320 */
        ps_person one = person_at(320 + jitter, 240, 200, 0.9f);
        ps_tracker_apply(&t, &one, 1, 640, 480, f / 30.0);
        if (f >= 30) raw += fabs(jitter), smoothed += fabs(one.kp[0].x - 320);
    }
    printf("smoothing: nose jitter %.2f px raw, %.2f px filtered (mean over 30 frames)\n",
           raw / 30, smoothed / 30);
    TU_CHECK(smoothed < 0.7 * raw);
    ps_tracker_free(&t);
}

int main(void) {
    test_one_euro();
    test_crossing();
    test_leave_and_return();
    test_max_tracks();
    test_loop_resets();
    test_boxes_and_similarity();
    test_smoothing();
    return tu_finish("test_track");
}
