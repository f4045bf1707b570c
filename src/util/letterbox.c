/* Letterbox geometry (see letterbox.h). */
#include "util/letterbox.h"

#include <math.h>

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

ps_letterbox ps_letterbox_fit(int src_w, int src_h, int dst_w, int dst_h) {
    ps_letterbox lb = {0};
    if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0) return lb;
    double s = fmin((double)dst_w / src_w, (double)dst_h / src_h);
    /* Math.round for the non-negative values met here: half rounds up */
    lb.sw = clamp_int((int)floor(src_w * s + 0.5), 1, dst_w);
    lb.sh = clamp_int((int)floor(src_h * s + 0.5), 1, dst_h);
    lb.pad_x = (dst_w - lb.sw) / 2;
    lb.pad_y = (dst_h - lb.sh) / 2;
    lb.sx = (float)((double)lb.sw / src_w);
    lb.sy = (float)((double)lb.sh / src_h);
    return lb;
}
