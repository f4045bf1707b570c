/* Tracks of one stream (ps_track_params in posestream.h): gives each person
 * of a frame its track's id and, when asked, smooths its keypoints. Used by
 * one thread at a time (the runtime's engine thread). */
#ifndef PS_TRACK_TRACKER_H
#define PS_TRACK_TRACKER_H

#include "posestream.h"
#include "track/one_euro.h"

#define PS_TRACK_MAX 1024 /* max_tracks is capped here */

typedef struct {
    int32_t id;
    int taken;                           /* matched in the frame at hand */
    double last_t;                       /* seconds: its last match */
    ps_person last;                      /* its last pose, normalised to [0, 1] */
    ps_one_euro filter[PS_NUM_KEYPOINTS][2];
} ps_track;

typedef struct {
    ps_track_params p;
    ps_track *tracks;                    /* [cap]: max_tracks plus a frame's new ones */
    int n, cap;
    int32_t next_id;
    double last_t;                       /* the last frame's time */
    int started;
} ps_tracker;

/* A tracker with p (max_tracks 0: 18; capped to PS_TRACK_MAX); ids start at 1.
 * Returns PS_ERR_NOMEM leaving t empty (ps_tracker_free is still fine). */
ps_status ps_tracker_init(ps_tracker *t, const ps_track_params *p);
void ps_tracker_free(ps_tracker *t);

/* Forgets every track; ids start at 1 again. */
void ps_tracker_reset(ps_tracker *t);

/* The frame at time t_s (seconds) of size w x h: sets people[i].id (people
 * in score order, as the engine gives them) and smooths their keypoints in
 * place when p.smooth. A time that steps back or jumps beyond max_age_ms
 * resets first when p.reset_on_jump. */
void ps_tracker_apply(ps_tracker *t, ps_person *people, int n, int w, int h, double t_s);

/* Object keypoint similarity of a and b (normalised coordinates): the mean
 * over keypoints scored above threshold in both of exp(-d^2 / (2 A (2 s)^2)),
 * A the area of b's box of such keypoints, s COCO's sigma; 0 with fewer
 * than min_keypoints of them. */
double ps_track_oks(const ps_person *a, const ps_person *b, double threshold, int min_keypoints);

/* Intersection over union of a's and b's boxes. */
double ps_track_iou(const ps_person *a, const ps_person *b);

#endif
