/* The One Euro filter (Casiez, Roussel, Vogel, CHI 2012): a low-pass filter
 * whose cut-off rises with the signal's speed, so a still keypoint stops
 * jittering and a moving one does not lag. Times in seconds. */
#ifndef PS_TRACK_ONE_EURO_H
#define PS_TRACK_ONE_EURO_H

typedef struct {
    double min_cutoff, beta, d_cutoff; /* Hz, per unit per second, Hz */
    double x, dx;                      /* the filtered value and speed */
    double raw;                        /* the last value given: the speed is
                                          taken from it, as in the authors'
                                          own implementation */
    double last_t;
    int started;
} ps_one_euro;

void ps_one_euro_init(ps_one_euro *f, double min_cutoff, double beta, double d_cutoff);

/* The filtered value of v at time t. The first value passes as it is; a
 * time not after the last (a repeated frame) returns the last output. */
double ps_one_euro_apply(ps_one_euro *f, double v, double t);

#endif
