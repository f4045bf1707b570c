/* Letterbox geometry: where a picture lands when it is scaled, aspect
 * kept, into a box and centred. Shared by the sources (which scale frames
 * to fit the engine's input) and the engine (which letterboxes them), so
 * neither has to include the other. */
#ifndef PS_UTIL_LETTERBOX_H
#define PS_UTIL_LETTERBOX_H

/* Where an image lands in the input: input_x = image_x * sx + pad_x (same for
 * y). The scaled image is (sw, sh) whole pixels at whole-pixel pads. */
typedef struct {
    float sx, sy;
    int pad_x, pad_y;
    int sw, sh;
} ps_letterbox;

/* The letterbox of a src_w x src_h image in a dst_w x dst_h input: scaled by
 * s = min(dst_w / src_w, dst_h / src_h) (aspect kept), sw = round(src_w * s)
 * and sh = round(src_h * s) clamped to 1..dst, centred with
 * pad = (dst - scaled) / 2 rounded down; sx = sw / src_w, sy = sh / src_h.
 * All zero when a side is not positive. */
ps_letterbox ps_letterbox_fit(int src_w, int src_h, int dst_w, int dst_h);

#endif
