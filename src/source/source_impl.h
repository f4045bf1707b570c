/* Inside a source: the base every kind of source (synthetic, still images,
 * FFmpeg) embeds as its first member, the two operations each kind provides,
 * and the helpers they share (scaling into a frame, interruptible sleep).
 * Private to src/source/. */
#ifndef PS_SOURCE_SOURCE_IMPL_H
#define PS_SOURCE_SOURCE_IMPL_H

#include <stdatomic.h>
#include <stdint.h>

#include <libavutil/pixfmt.h>

#include "source/source.h"

struct SwsContext;

typedef struct {
    /* Produces the next frame (see ps_source_read); never called after
     * ps_source_interrupt. */
    ps_read_result (*read)(ps_source *s, ps_frame *f, ps_err *err);
    /* Frees what the kind allocated; the base is freed by ps_source_close. */
    void (*close)(ps_source *s);
    /* Optional: whether it decodes (or, before the first read, will decode)
     * on the GPU; NULL means never. */
    int (*gpu)(const ps_source *s);
} ps_source_ops;

struct ps_source {
    const ps_source_ops *ops;
    char *uri;
    ps_source_opts opts;     /* fit sides already defaulted */
    int width, height;       /* of the first frame */
    double fps;              /* nominal, 0 when unknown */
    size_t gpu_bytes;        /* device memory its GPU decoder takes (estimate) */
    int live;
    atomic_int interrupted;  /* set by ps_source_interrupt from any thread */
    atomic_llong skipped;    /* corrupt packets skipped */
    atomic_llong reconnects; /* network reconnections made */
    int64_t index;           /* next frame's index */
    struct SwsContext *sws;  /* cached; rebuilt when the input changes */
    int sws_w, sws_h, sws_sw, sws_sh; /* what sws converts from and to */
    enum AVPixelFormat sws_fmt;
    char note[256];          /* a warning set while opening ("" none) */
    int64_t expected;        /* frames the file says it has, when it ended short */
    /* outages of a network source (reconnections): time down and frames
     * missed in past ones, and when the current one began (0: up) */
    atomic_llong outage_ns, outage_frames, down_since;
};

/* A zeroed kind-specific struct of `bytes` whose first member is its
 * ps_source base, with the base set up; NULL with err set (PS_ERR_NOMEM,
 * naming uri) when out of memory. Freed by ps_source_close. */
void *ps_source_new(size_t bytes, const ps_source_ops *ops, const char *uri,
                    const ps_source_opts *opts, ps_err *err);

/* Scales a w x h picture in pixel format fmt (planes and strides as FFmpeg
 * lays them out) into f at the fit size, growing f->rgb as needed, and sets
 * f->width, height, sw, sh and pic. With opts.raw, copies it at full size
 * instead (YUV420P / NV12 as they are, other formats converted to RGB24).
 * Returns PS_READ_FRAME, or PS_READ_ERROR with err naming the uri (f->rgb is
 * then unchanged or grown, never freed). */
ps_read_result ps_source_scale(ps_source *s, const uint8_t *const planes[4],
                               const int strides[4], int w, int h,
                               enum AVPixelFormat fmt, ps_frame *f,
                               ps_err *err);

/* Whether opts.tap wants the frame about to be stamped. */
int ps_source_tap_wants(ps_source *s);

/* Hands the picture about to be stamped to opts.tap (take only; ask
 * ps_source_tap_wants first). */
void ps_source_tap_take(ps_source *s, const uint8_t *const planes[4], const int strides[4], int w,
                        int h, enum AVPixelFormat fmt);

/* Stamps a scaled frame: index (then counts it), pts, captured, decoded. */
void ps_source_stamp(ps_source *s, ps_frame *f, double pts, int64_t captured);

/* Sleeps until ps_now_ns() reaches t_ns, waking every few milliseconds to
 * notice ps_source_interrupt. Returns 1 on time, 0 when interrupted. */
int ps_source_sleep_until(ps_source *s, int64_t t_ns);

int ps_source_is_interrupted(const ps_source *s);

/* The kinds. Each returns NULL with err naming uri and the reason. */
ps_source *ps_synthetic_open(const char *uri, const ps_source_opts *opts,
                             ps_err *err);
ps_source *ps_still_open(const char *uri, const ps_source_opts *opts,
                         int is_dir, ps_err *err);
ps_source *ps_av_open(const char *uri, const ps_source_opts *opts, ps_err *err);

/* FFmpeg's once-per-process set-up (network, log level); ps_av_open and
 * ps_source_gpu_prepare call it. */
void ps_av_global_init(void);

#endif
