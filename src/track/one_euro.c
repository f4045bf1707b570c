/* The One Euro filter (see one_euro.h): each step smooths the speed with a
 * fixed cut-off, then the value with a cut-off of min_cutoff + beta * |speed|,
 * each an exponential smoother with alpha = 1 / (1 + tau / dt), tau =
 * 1 / (2 pi cutoff); the speed is that of the raw values. */
#include "track/one_euro.h"

#include <math.h>

void ps_one_euro_init(ps_one_euro *f, double min_cutoff, double beta, double d_cutoff) {
    *f = (ps_one_euro){.min_cutoff = min_cutoff, .beta = beta, .d_cutoff = d_cutoff};
}

static double alpha(double cutoff, double dt) {
    double tau = 1.0 / (2.0 * M_PI * cutoff);
    return 1.0 / (1.0 + tau / dt);
}

double ps_one_euro_apply(ps_one_euro *f, double v, double t) {
    if (!f->started) {
        f->x = f->raw = v;
        f->dx = 0;
        f->last_t = t;
        f->started = 1;
        return v;
    }
    double dt = t - f->last_t;
    if (dt <= 0) return f->x;
    double speed = (v - f->raw) / dt;
    f->raw = v;
    f->dx += alpha(f->d_cutoff, dt) * (speed - f->dx);
    double cutoff = f->min_cutoff + f->beta * fabs(f->dx);
    f->x += alpha(cutoff, dt) * (v - f->x);
    f->last_t = t;
    return f->x;
}
