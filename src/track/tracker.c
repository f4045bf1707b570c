/* Tracks of one stream (see tracker.h), designed after the published
 * behaviour of TensorFlow.js's MoveNet tracker: tracks older than max_age
 * go first, then each person in score order takes the most similar track
 * left (at least min_similarity), the rest start new tracks, and only the
 * max_tracks most recently matched are kept. Similarities are on
 * coordinates normalised to the frame (x / width, y / height), as theirs. */
#include "track/tracker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* COCO's per-keypoint sigmas (the falloff of object keypoint similarity),
 * in model order: nose, eyes, ears, shoulders, elbows, wrists, hips,
 * knees, ankles. */
static const double coco_sigma[PS_NUM_KEYPOINTS] = {
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089};

ps_track_params ps_track_default_params(void) {
    return (ps_track_params){.enabled = 1, .kind = PS_TRACK_BOXES, .max_tracks = 0,
                             .max_age_ms = 1000, .min_similarity = 0.15,
                             .keypoint_threshold = 0.3, .min_keypoints = 4,
                             .reset_on_jump = 1, .smooth = 1, .min_cutoff = 2.5,
                             .beta = 300, .d_cutoff = 2.5};
}

void ps_tracker_reset(ps_tracker *t) {
    t->n = 0;
    t->next_id = 1;
    t->started = 0;
}

ps_status ps_tracker_init(ps_tracker *t, const ps_track_params *p) {
    memset(t, 0, sizeof *t);
    t->p = *p;
    if (t->p.max_tracks == 0) t->p.max_tracks = 3 * PS_DEFAULT_PEOPLE; /* TF.js's 18 */
    if (t->p.max_tracks < 1) t->p.max_tracks = 1;
    if (t->p.max_tracks > PS_TRACK_MAX) t->p.max_tracks = PS_TRACK_MAX;
    t->cap = t->p.max_tracks + PS_MAX_PEOPLE;
    t->tracks = calloc((size_t)t->cap, sizeof *t->tracks);
    ps_tracker_reset(t);
    return t->tracks ? PS_OK : PS_ERR_NOMEM;
}

void ps_tracker_free(ps_tracker *t) {
    free(t->tracks);
    memset(t, 0, sizeof *t);
}

double ps_track_oks(const ps_person *a, const ps_person *b, double threshold, int min_keypoints) {
    double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    for (int k = 0; k < PS_NUM_KEYPOINTS; k++) {
        if (b->kp[k].score <= threshold) continue;
        x0 = fmin(x0, b->kp[k].x), x1 = fmax(x1, b->kp[k].x);
        y0 = fmin(y0, b->kp[k].y), y1 = fmax(y1, b->kp[k].y);
    }
    double area = x1 > x0 && y1 > y0 ? (x1 - x0) * (y1 - y0) : 1e-12;
    double sum = 0;
    int valid = 0;
    for (int k = 0; k < PS_NUM_KEYPOINTS; k++) {
        if (a->kp[k].score <= threshold || b->kp[k].score <= threshold) continue;
        double dx = a->kp[k].x - b->kp[k].x, dy = a->kp[k].y - b->kp[k].y;
        double s = 2 * coco_sigma[k];
        sum += exp(-(dx * dx + dy * dy) / (2 * area * s * s));
        valid++;
    }
    return valid >= min_keypoints && valid > 0 ? sum / valid : 0;
}

double ps_track_iou(const ps_person *a, const ps_person *b) {
    double w = fmin(a->x1, b->x1) - fmax(a->x0, b->x0);
    double h = fmin(a->y1, b->y1) - fmax(a->y0, b->y0);
    if (w <= 0 || h <= 0) return 0;
    double inter = w * h;
    double ua = (a->x1 - a->x0) * (a->y1 - a->y0) + (b->x1 - b->x0) * (b->y1 - b->y0) - inter;
    return ua > 0 ? inter / ua : 0;
}

/* p in coordinates normalised to a w x h frame. */
static void normalise(const ps_person *p, int w, int h, ps_person *out) {
    double sx = w > 0 ? 1.0 / w : 1, sy = h > 0 ? 1.0 / h : 1;
    *out = *p;
    out->x0 = (float)(p->x0 * sx), out->x1 = (float)(p->x1 * sx);
    out->y0 = (float)(p->y0 * sy), out->y1 = (float)(p->y1 * sy);
    for (int k = 0; k < PS_NUM_KEYPOINTS; k++) {
        out->kp[k].x = (float)(p->kp[k].x * sx);
        out->kp[k].y = (float)(p->kp[k].y * sy);
    }
}

static double similarity(const ps_tracker *t, const ps_person *a, const ps_track *tr) {
    if (t->p.kind == PS_TRACK_BOXES) return ps_track_iou(a, &tr->last);
    return ps_track_oks(a, &tr->last, t->p.keypoint_threshold, t->p.min_keypoints);
}

/* Tracks not matched within max_age of now end. */
static void drop_old(ps_tracker *t, double now) {
    int kept = 0;
    for (int i = 0; i < t->n; i++)
        if ((now - t->tracks[i].last_t) * 1e3 <= t->p.max_age_ms) t->tracks[kept++] = t->tracks[i];
    t->n = kept;
}

/* The unmatched track most similar to a (at least min_similarity), or -1. */
static int best_track(const ps_tracker *t, const ps_person *a) {
    int best = -1;
    double best_sim = -1;
    for (int i = 0; i < t->n; i++) {
        if (t->tracks[i].taken) continue;
        double sim = similarity(t, a, &t->tracks[i]);
        if (sim >= t->p.min_similarity && sim > best_sim) best = i, best_sim = sim;
    }
    return best;
}

/* Smooths person p (pixels) through track tr's filters; norm is p
 * normalised. */
static void smooth(ps_track *tr, const ps_person *norm, ps_person *p, int w, int h, double now) {
    for (int k = 0; k < PS_NUM_KEYPOINTS; k++) {
        p->kp[k].x = (float)(ps_one_euro_apply(&tr->filter[k][0], norm->kp[k].x, now) * w);
        p->kp[k].y = (float)(ps_one_euro_apply(&tr->filter[k][1], norm->kp[k].y, now) * h);
    }
}

/* A new track for norm; its index, or -1 when no room is left this frame
 * (the person keeps the id, the track is not kept). */
static int new_track(ps_tracker *t, const ps_person *norm, double now, int32_t *id) {
    *id = t->next_id++;
    if (t->n == t->cap) return -1;
    ps_track *tr = &t->tracks[t->n];
    tr->id = *id;
    tr->taken = 1;
    tr->last_t = now;
    tr->last = *norm;
    for (int k = 0; k < PS_NUM_KEYPOINTS; k++)
        for (int c = 0; c < 2; c++)
            ps_one_euro_init(&tr->filter[k][c], t->p.min_cutoff, t->p.beta, t->p.d_cutoff);
    return t->n++;
}

/* Keeps the max_tracks most recently matched (ties: the older track first,
 * as they were). */
static void trim(ps_tracker *t) {
    if (t->n <= t->p.max_tracks) return;
    for (int i = 1; i < t->n; i++) { /* insertion sort, stable, by last_t descending */
        ps_track tmp = t->tracks[i];
        int j = i;
        for (; j > 0 && t->tracks[j - 1].last_t < tmp.last_t; j--) t->tracks[j] = t->tracks[j - 1];
        t->tracks[j] = tmp;
    }
    t->n = t->p.max_tracks;
}

/* Whether the time steps back or jumps beyond max_age: a loop, a reconnect. */
static int jumped(const ps_tracker *t, double now) {
    return t->started && (now < t->last_t || (now - t->last_t) * 1e3 > t->p.max_age_ms);
}

void ps_tracker_apply(ps_tracker *t, ps_person *people, int n, int w, int h, double now) {
    if (!t->p.enabled) return;
    if (t->p.reset_on_jump && jumped(t, now)) ps_tracker_reset(t);
    t->started = 1;
    t->last_t = now;
    drop_old(t, now);
    for (int i = 0; i < t->n; i++) t->tracks[i].taken = 0;
    for (int i = 0; i < n; i++) {
        ps_person norm;
        normalise(&people[i], w, h, &norm);
        int k = best_track(t, &norm);
        if (k < 0) k = new_track(t, &norm, now, &people[i].id);
        else people[i].id = t->tracks[k].id;
        if (k < 0) continue;
        t->tracks[k].taken = 1;
        t->tracks[k].last_t = now;
        t->tracks[k].last = norm;
        if (t->p.smooth) smooth(&t->tracks[k], &norm, &people[i], w, h, now);
    }
    trim(t);
}
