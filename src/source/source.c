/* Sources: picks the kind from the uri (synthetic:, an image file or folder,
 * else FFmpeg), forwards reads to it, and holds what every kind shares:
 * scaling a picture into a frame with libswscale, the frame stamps, and the
 * interruptible sleep that pacing uses. */
#include "source/av_hw.h"
#include "source/source_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/pixdesc.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>

#include "util/letterbox.h"
#include "util/clock.h"
#include "util/status.h"

#define DEFAULT_FIT 256
#define SLEEP_SLICE_NS 5000000 /* how late an interrupt may be noticed */

void ps_source_set_fit(ps_source *s, int fit_w, int fit_h) {
    s->opts.fit_w = fit_w > 0 ? fit_w : DEFAULT_FIT;
    s->opts.fit_h = fit_h > 0 ? fit_h : DEFAULT_FIT;
}

int64_t ps_source_reconnects(const ps_source *s) {
    return atomic_load(&((ps_source *)s)->reconnects);
}

void ps_source_set_raw(ps_source *s, int raw) {
    s->opts.raw = raw;
}

void ps_source_set_borrow(ps_source *s, int borrow) {
    s->opts.borrow = borrow;
}

ps_status ps_source_gpu_prepare(int gpu, ps_err *err) {
    ps_av_global_init(); /* FFmpeg's own log lines stay quiet here too */
    char why[300];
    if (ps_av_hw_prepare(gpu, why, sizeof why) == 0) return PS_OK;
    return ps_err_set(err, PS_ERR_UNSUPPORTED, "%s", why);
}

void ps_frame_release(ps_frame *f) {
    if (f->hw) {
        AVFrame *hw = f->hw;
        av_frame_free(&hw);
        f->hw = NULL;
    }
    if (f->slot) {
        f->slot_free(f->slot_ctx, f->slot);
        f->slot = NULL;
    }
}

size_t ps_source_vram_estimate(const ps_source *s, int frames_in_flight) {
    if (!ps_source_gpu_decoding(s) || s->width <= 0 || s->height <= 0) return 0;
    size_t frame = (size_t)s->width * (((size_t)s->height + 15) / 16 * 16) * 3 / 2;
    return s->gpu_bytes + frame * (size_t)frames_in_flight;
}

/* A CPU decoder holds about this many pictures: references, frame threads
 * and the one being output. */
#define HOST_DECODER_PICTURES 8
#define HOST_FIXED_BYTES ((size_t)4 << 20)

size_t ps_source_host_estimate(const ps_source *s, int frames_held) {
    size_t w = s->width > 0 ? (size_t)s->width : 0, h = s->height > 0 ? (size_t)s->height : 0;
    size_t yuv = w * h * 3 / 2, frame;
    int gpu = ps_source_gpu_decoding(s);
    if (gpu) frame = 0; /* its pictures stay on the GPU */
    else if (s->opts.raw) frame = yuv;
    else if (s->opts.fit_w > 0 && s->opts.fit_h > 0) frame = (size_t)s->opts.fit_w * s->opts.fit_h * 3;
    else frame = w * h * 3;
    size_t decoder = gpu ? 0 : yuv * HOST_DECODER_PICTURES;
    return HOST_FIXED_BYTES + decoder + frame * (size_t)(frames_held > 0 ? frames_held : 0);
}

int ps_source_outage(const ps_source *s, double *seconds, int64_t *frames) {
    ps_source *m = (ps_source *)s;
    int64_t ns = atomic_load(&m->outage_ns), since = atomic_load(&m->down_since);
    int64_t missed = atomic_load(&m->outage_frames);
    if (since) { /* down now: the outage so far counts too */
        int64_t now = ps_now_ns() - since;
        ns += now;
        if (s->fps > 0) missed += (int64_t)(now / 1e9 * s->fps);
    }
    *seconds = ns / 1e9;
    *frames = missed;
    return since != 0;
}

int64_t ps_source_expected_frames(const ps_source *s) {
    return s->expected;
}

const char *ps_source_note(const ps_source *s) {
    return s->note;
}

int ps_source_gpu_decoding(const ps_source *s) {
    return s->ops->gpu ? s->ops->gpu(s) : 0;
}

void *ps_source_new(size_t bytes, const ps_source_ops *ops, const char *uri,
                    const ps_source_opts *opts, ps_err *err) {
    ps_source *s = calloc(1, bytes);
    char *copy = strdup(uri);
    if (!s || !copy) {
        free(s);
        free(copy);
        ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", uri);
        return NULL;
    }
    s->ops = ops;
    s->uri = copy;
    if (opts) s->opts = *opts;
    ps_source_set_fit(s, s->opts.fit_w, s->opts.fit_h);
    atomic_init(&s->interrupted, 0);
    atomic_init(&s->skipped, 0);
    atomic_init(&s->reconnects, 0);
    atomic_init(&s->outage_ns, 0);
    atomic_init(&s->outage_frames, 0);
    atomic_init(&s->down_since, 0);
    return s;
}

/* Only JPEG and PNG start this way; the rest goes to FFmpeg. */
static int is_image_file(const char *path) {
    uint8_t magic[4] = {0};
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    size_t n = fread(magic, 1, sizeof magic, fp);
    fclose(fp);
    if (n < 4) return 0;
    int jpeg = magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF;
    int png = magic[0] == 0x89 && magic[1] == 'P' && magic[2] == 'N' && magic[3] == 'G';
    return jpeg || png;
}

ps_source *ps_source_open(const char *uri, const ps_source_opts *opts,
                          ps_err *err) {
    if (!uri || !*uri) {
        ps_err_set(err, PS_ERR_ARG, "source: empty uri");
        return NULL;
    }
    if (strncmp(uri, "synthetic:", 10) == 0) return ps_synthetic_open(uri, opts, err);
    struct stat st;
    if (!strstr(uri, "://") && stat(uri, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return ps_still_open(uri, opts, 1, err);
        if (S_ISREG(st.st_mode) && is_image_file(uri))
            return ps_still_open(uri, opts, 0, err);
    }
    return ps_av_open(uri, opts, err);
}

ps_read_result ps_source_read(ps_source *s, ps_frame *f, ps_err *err) {
    if (ps_source_is_interrupted(s)) return PS_READ_END;
    return s->ops->read(s, f, err);
}

void ps_source_interrupt(ps_source *s) { atomic_store(&s->interrupted, 1); }

int ps_source_is_interrupted(const ps_source *s) {
    return atomic_load(&((ps_source *)s)->interrupted);
}

int ps_source_is_live(const ps_source *s) { return s->live; }

void ps_source_info(const ps_source *s, int *width, int *height, double *fps) {
    if (width) *width = s->width;
    if (height) *height = s->height;
    if (fps) *fps = s->fps;
}

int64_t ps_source_skipped(const ps_source *s) {
    return atomic_load(&((ps_source *)s)->skipped);
}

void ps_source_close(ps_source *s) {
    if (!s) return;
    s->ops->close(s);
    sws_freeContext(s->sws);
    free(s->uri);
    free(s);
}

/* ---- scaling ----------------------------------------------------------- */

/* The JPEG ("j") formats are the plain ones at full range; swscale wants the
 * plain format plus a range flag and warns about the old names. */
static enum AVPixelFormat unjpeg_format(enum AVPixelFormat fmt, int *full) {
    *full = 1;
    switch (fmt) {
    case AV_PIX_FMT_YUVJ420P: return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: return AV_PIX_FMT_YUV411P;
    default: *full = 0; return fmt;
    }
}

/* Returns s's converter for a w x h fmt picture scaled to sw x sh, building
 * it when any of these changed (a stream may change size mid-way). Returns
 * NULL when swscale refuses (an unsupported pixel format). */
static struct SwsContext *scale_context(ps_source *s, int w, int h,
                                        enum AVPixelFormat fmt, int sw, int sh) {
    if (s->sws && s->sws_w == w && s->sws_h == h && s->sws_fmt == fmt &&
        s->sws_sw == sw && s->sws_sh == sh)
        return s->sws;
    sws_freeContext(s->sws);
    int full;
    enum AVPixelFormat in = unjpeg_format(fmt, &full);
    s->sws = sws_getContext(w, h, in, sw, sh, AV_PIX_FMT_RGB24, SWS_BILINEAR,
                            NULL, NULL, NULL);
    if (s->sws && full) {
        const int *coef = sws_getCoefficients(SWS_CS_DEFAULT);
        sws_setColorspaceDetails(s->sws, coef, 1, coef, 1, 0, 1 << 16, 1 << 16);
    }
    s->sws_w = w;
    s->sws_h = h;
    s->sws_fmt = fmt;
    s->sws_sw = sw;
    s->sws_sh = sh;
    return s->sws;
}

/* Makes f->rgb hold bytes; returns 0 when out of memory (f unchanged). */
static int frame_reserve(ps_frame *f, size_t bytes) {
    if (f->capacity >= bytes && f->rgb) return 1;
    uint8_t *p = realloc(f->rgb, bytes);
    if (!p) return 0;
    f->rgb = p;
    f->capacity = bytes;
    return 1;
}

/* Raw mode for YUV420P / NV12: the planes copied as they are, packed. */
static ps_read_result copy_planes(ps_source *s, const uint8_t *const planes[4],
                                  const int strides[4], int w, int h, enum AVPixelFormat fmt,
                                  ps_frame *f, ps_err *err) {
    int cw = (w + 1) / 2, ch = (h + 1) / 2, nv12 = fmt == AV_PIX_FMT_NV12;
    int n_planes = nv12 ? 2 : 3;
    if (s->opts.borrow) { /* the source's own planes, until the next read */
        f->pic = (ps_picture){.fmt = nv12 ? PS_PIX_NV12 : PS_PIX_YUV420P, .width = w, .height = h};
        for (int p = 0; p < n_planes; p++) {
            f->pic.plane[p] = planes[p];
            f->pic.pitch[p] = strides[p];
        }
        f->width = f->sw = w;
        f->height = f->sh = h;
        return PS_READ_FRAME;
    }
    int widths[3] = {w, nv12 ? 2 * cw : cw, cw}, heights[3] = {h, ch, ch};
    size_t bytes = (size_t)w * h + 2 * (size_t)cw * ch; /* both layouts */
    if (!frame_reserve(f, bytes)) {
        ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory for a %dx%d frame", s->uri, w, h);
        return PS_READ_ERROR;
    }
    uint8_t *dst = f->rgb;
    f->pic = (ps_picture){.fmt = nv12 ? PS_PIX_NV12 : PS_PIX_YUV420P, .width = w, .height = h};
    for (int p = 0; p < n_planes; p++) {
        f->pic.plane[p] = dst;
        f->pic.pitch[p] = widths[p];
        for (int y = 0; y < heights[p]; y++, dst += widths[p])
            memcpy(dst, planes[p] + (size_t)y * strides[p], (size_t)widths[p]);
    }
    f->width = f->sw = w;
    f->height = f->sh = h;
    return PS_READ_FRAME;
}

int ps_source_tap_wants(ps_source *s) {
    return s->opts.tap.wants && s->opts.tap.wants(s->opts.tap.ctx, s->index);
}

void ps_source_tap_take(ps_source *s, const uint8_t *const planes[4], const int strides[4], int w,
                        int h, enum AVPixelFormat fmt) {
    s->opts.tap.take(s->opts.tap.ctx, s->index, s->fps, planes, strides, w, h, fmt);
}

ps_read_result ps_source_scale(ps_source *s, const uint8_t *const planes[4],
                               const int strides[4], int w, int h,
                               enum AVPixelFormat fmt, ps_frame *f,
                               ps_err *err) {
    if (ps_source_tap_wants(s)) ps_source_tap_take(s, planes, strides, w, h, fmt);
    if (s->opts.raw && (fmt == AV_PIX_FMT_YUV420P || fmt == AV_PIX_FMT_NV12))
        return copy_planes(s, planes, strides, w, h, fmt, f, err);
    ps_letterbox lb = ps_letterbox_fit(w, h, s->opts.fit_w, s->opts.fit_h);
    if (s->opts.raw) { /* other formats: full-size RGB24 */
        lb.sw = w;
        lb.sh = h;
    }
    struct SwsContext *c = scale_context(s, w, h, fmt, lb.sw, lb.sh);
    if (!c) {
        ps_err_set(err, PS_ERR_UNSUPPORTED, "%s: cannot convert %dx%d %s to RGB",
                   s->uri, w, h, av_get_pix_fmt_name(fmt));
        return PS_READ_ERROR;
    }
    if (!frame_reserve(f, (size_t)lb.sw * (size_t)lb.sh * 3)) {
        ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory for a %dx%d frame",
                   s->uri, lb.sw, lb.sh);
        return PS_READ_ERROR;
    }
    uint8_t *dst[4] = {f->rgb, NULL, NULL, NULL};
    int dst_stride[4] = {lb.sw * 3, 0, 0, 0};
    sws_scale(c, planes, strides, 0, h, dst, dst_stride);
    f->width = w;
    f->height = h;
    f->sw = lb.sw;
    f->sh = lb.sh;
    f->pic = (ps_picture){.fmt = PS_PIX_RGB24, .plane = {f->rgb}, .pitch = {lb.sw * 3},
                          .width = lb.sw, .height = lb.sh};
    return PS_READ_FRAME;
}

void ps_source_stamp(ps_source *s, ps_frame *f, double pts, int64_t captured) {
    f->index = s->index++;
    f->pts = pts;
    f->still = 0;
    f->t.captured = captured;
    f->t.decoded = ps_now_ns();
}

int ps_source_sleep_until(ps_source *s, int64_t t_ns) {
    for (;;) {
        if (ps_source_is_interrupted(s)) return 0;
        int64_t now = ps_now_ns();
        if (now >= t_ns) return 1;
        ps_sleep_until_ns(t_ns - now > SLEEP_SLICE_NS ? now + SLEEP_SLICE_NS : t_ns);
    }
}
