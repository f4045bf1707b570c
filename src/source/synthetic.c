/* Synthetic source "synthetic:WxH@FPS": a live camera stand-in. Each frame
 * is a full W x H YUV420P picture (a static gradient with a bright bar
 * sweeping across it) that goes through the same swscale path as a decoded
 * video, so its cost resembles a real stream of that size. Frames are paced
 * by the clock: frame k is due at start + k / FPS; a consumer that falls
 * behind gets the current slot next, never a burst of the missed ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/source_impl.h"
#include "util/clock.h"
#include "util/status.h"

#define SYNTH_MAX_SIDE 16384
#define SYNTH_SWEEP_S 4.0 /* the bar crosses the picture in this long */

typedef struct {
    ps_source base;
    uint8_t *planes[3]; /* Y, U, V */
    int strides[3];
    int bar_w, bar_x;   /* the bar's width and where it is drawn now */
    int64_t start_ns;   /* slot 0; 0 until the first read */
    int64_t next_slot;
} synth_source;

/* Luma of the background at column x, row y: a diagonal ramp 16..235. */
static uint8_t synth_ramp(const synth_source *g, int x, int y) {
    int span = g->base.width + g->base.height;
    return (uint8_t)(16 + (x + y) * 219 / span);
}

/* Paints columns [x0, x0 + bar_w) either as bar or as background. */
static void synth_paint_bar(synth_source *g, int x0, int bar) {
    int x1 = x0 + g->bar_w;
    for (int y = 0; y < g->base.height; y++) {
        uint8_t *row = g->planes[0] + (size_t)y * g->strides[0];
        for (int x = x0; x < x1; x++) row[x] = bar ? 235 : synth_ramp(g, x, y);
    }
}

/* Fills the whole picture once; later frames only move the bar. */
static void synth_fill(synth_source *g) {
    int w = g->base.width, h = g->base.height;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            g->planes[0][(size_t)y * g->strides[0] + x] = synth_ramp(g, x, y);
    for (int y = 0; y < (h + 1) / 2; y++)
        for (int x = 0; x < g->strides[1]; x++) {
            g->planes[1][(size_t)y * g->strides[1] + x] = (uint8_t)(64 + x * 128 / g->strides[1]);
            g->planes[2][(size_t)y * g->strides[2] + x] = (uint8_t)(64 + y * 256 / (h + 1));
        }
    synth_paint_bar(g, g->bar_x, 1);
}

/* Moves the bar to where slot puts it: repaint the old columns, paint new. */
static void synth_move_bar(synth_source *g, int64_t slot) {
    int travel = g->base.width - g->bar_w;
    if (travel <= 0) return;
    double px_per_slot = travel / (SYNTH_SWEEP_S * g->base.fps);
    int x = (int)((int64_t)(slot * px_per_slot) % travel);
    if (x == g->bar_x) return;
    synth_paint_bar(g, g->bar_x, 0);
    g->bar_x = x;
    synth_paint_bar(g, x, 1);
}

/* Waits for the next slot (or the current one when late). Returns the slot
 * and sets *due, or -1 when interrupted. */
static int64_t synth_wait_slot(synth_source *g, int64_t *due) {
    double period_ns = 1e9 / g->base.fps;
    int64_t now = ps_now_ns();
    if (!g->start_ns) g->start_ns = now;
    int64_t slot = g->next_slot;
    *due = g->start_ns + (int64_t)(slot * period_ns);
    if (now - *due > period_ns) { /* late by a slot or more: skip ahead */
        slot = (int64_t)((now - g->start_ns) / period_ns);
        *due = g->start_ns + (int64_t)(slot * period_ns);
    }
    if (!ps_source_sleep_until(&g->base, *due)) return -1;
    g->next_slot = slot + 1;
    return slot;
}

static ps_read_result synth_read(ps_source *s, ps_frame *f, ps_err *err) {
    synth_source *g = (synth_source *)s;
    int64_t due;
    int64_t slot = synth_wait_slot(g, &due);
    if (slot < 0) return PS_READ_END;
    synth_move_bar(g, slot);
    const uint8_t *planes[4] = {g->planes[0], g->planes[1], g->planes[2], NULL};
    int strides[4] = {g->strides[0], g->strides[1], g->strides[2], 0};
    ps_read_result r = ps_source_scale(s, planes, strides, s->width, s->height,
                                       AV_PIX_FMT_YUV420P, f, err);
    if (r == PS_READ_FRAME) ps_source_stamp(s, f, (double)slot / s->fps, due);
    return r;
}

static void synth_close(ps_source *s) {
    synth_source *g = (synth_source *)s;
    for (int i = 0; i < 3; i++) free(g->planes[i]);
}

static const ps_source_ops synth_ops = {synth_read, synth_close, NULL};

/* Parses "synthetic:WxH@FPS". Returns 0 when malformed or out of range. */
static int synth_parse(const char *uri, int *w, int *h, double *fps) {
    char tail;
    if (sscanf(uri, "synthetic:%dx%d@%lf%c", w, h, fps, &tail) != 3) return 0;
    return *w > 0 && *h > 0 && *w <= SYNTH_MAX_SIDE && *h <= SYNTH_MAX_SIDE &&
           *fps > 0 && *fps <= 1000;
}

/* Allocates the three planes; returns 0 when out of memory. */
static int synth_alloc(synth_source *g) {
    int cw = (g->base.width + 1) / 2, ch = (g->base.height + 1) / 2;
    g->strides[0] = g->base.width;
    g->strides[1] = g->strides[2] = cw;
    g->planes[0] = malloc((size_t)g->base.width * g->base.height);
    g->planes[1] = malloc((size_t)cw * ch);
    g->planes[2] = malloc((size_t)cw * ch);
    return g->planes[0] && g->planes[1] && g->planes[2];
}

ps_source *ps_synthetic_open(const char *uri, const ps_source_opts *opts,
                             ps_err *err) {
    int w, h;
    double fps;
    if (!synth_parse(uri, &w, &h, &fps)) {
        ps_err_set(err, PS_ERR_ARG,
                   "%s: expected synthetic:WxH@FPS (sides 1..%d, FPS above 0 and at most 1000)",
                   uri, SYNTH_MAX_SIDE);
        return NULL;
    }
    synth_source *g = ps_source_new(sizeof *g, &synth_ops, uri, opts, err);
    if (!g) return NULL;
    ps_source *s = &g->base;
    s->width = w;
    s->height = h;
    s->fps = fps;
    s->live = 1;
    g->bar_w = w / 20 > 2 ? w / 20 : (w < 2 ? w : 2);
    if (!synth_alloc(g)) {
        ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory for %dx%d picture", uri, w, h);
        ps_source_close(s);
        return NULL;
    }
    synth_fill(g);
    return s;
}
