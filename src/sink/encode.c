/* Annotated video and JPEG pictures through libavcodec / libavformat (see
 * encode.h). Video: libx264 (preset superfast, CRF 23, one thread per
 * stream: streams encode side by side), MP4 with its index at the front
 * (+faststart) so that a browser plays it while it loads; MPEG-4 Part 2 at
 * a fixed quantiser where libx264 is missing. JPEG: the mjpeg encoder on
 * full-range 4:2:0, scaled by libswscale. */
#include "sink/encode.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "source/av_log.h"
#include "util/log.h"
#include "util/status.h"

struct ps_video_out {
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    const char *codec;
    char path[1024];
};

static ps_status av_fail(ps_err *err, const char *path, const char *doing, int averr) {
    return ps_err_set(err, PS_ERR_IO, "%s: %s: %s", path, doing, av_err2str(averr));
}

/* libx264 when this FFmpeg has it, else MPEG-4 (said once per process). */
static const AVCodec *pick_encoder(void) {
    static atomic_int told;
    const AVCodec *c = avcodec_find_encoder_by_name("libx264");
    if (c) return c;
    if (!atomic_exchange(&told, 1))
        ps_log(PS_LOG_WARN, "annotated video: this FFmpeg has no libx264; writing MPEG-4 Part 2 "
                            "in MP4 (plays in VLC and FFmpeg, not in most browsers)");
    return avcodec_find_encoder(AV_CODEC_ID_MPEG4);
}

static ps_status open_encoder(ps_video_out *v, int w, int h, double fps, ps_err *err) {
    const AVCodec *c = pick_encoder();
    if (!c || !(v->enc = avcodec_alloc_context3(c)))
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "%s: no H.264 or MPEG-4 encoder", v->path);
    AVRational rate = av_d2q(fps > 0 ? fps : 25, 100000);
    v->enc->width = w;
    v->enc->height = h;
    v->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    v->enc->time_base = av_inv_q(rate);
    v->enc->framerate = rate;
    v->enc->gop_size = (int)(2 * av_q2d(rate) + 0.5);
    v->enc->thread_count = 1;
    if (v->fmt->oformat->flags & AVFMT_GLOBALHEADER) v->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (c->id == AV_CODEC_ID_H264) {
        av_opt_set(v->enc->priv_data, "preset", "superfast", 0);
        av_opt_set(v->enc->priv_data, "crf", "23", 0);
    } else {
        v->enc->flags |= AV_CODEC_FLAG_QSCALE;
        v->enc->global_quality = FF_QP2LAMBDA * 4;
    }
    v->codec = c->name;
    int r = avcodec_open2(v->enc, c, NULL);
    return r < 0 ? av_fail(err, v->path, "opening the encoder", r) : PS_OK;
}

static ps_status open_file(ps_video_out *v, ps_err *err) {
    if (!(v->st = avformat_new_stream(v->fmt, NULL)))
        return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", v->path);
    int r = avcodec_parameters_from_context(v->st->codecpar, v->enc);
    v->st->time_base = v->enc->time_base;
    if (r >= 0) r = avio_open(&v->fmt->pb, v->path, AVIO_FLAG_WRITE);
    if (r < 0) return av_fail(err, v->path, "opening for writing", r);
    AVDictionary *o = NULL;
    av_dict_set(&o, "movflags", "+faststart", 0);
    r = avformat_write_header(v->fmt, &o);
    av_dict_free(&o);
    return r < 0 ? av_fail(err, v->path, "writing the header", r) : PS_OK;
}

static ps_status alloc_frame(ps_video_out *v, int w, int h, ps_err *err) {
    v->frame = av_frame_alloc();
    v->pkt = av_packet_alloc();
    if (!v->frame || !v->pkt) return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", v->path);
    v->frame->format = AV_PIX_FMT_YUV420P;
    v->frame->width = w;
    v->frame->height = h;
    int r = av_frame_get_buffer(v->frame, 0);
    return r < 0 ? av_fail(err, v->path, "allocating a frame", r) : PS_OK;
}

static void video_free(ps_video_out *v) {
    if (v->fmt && v->fmt->pb) avio_closep(&v->fmt->pb);
    avformat_free_context(v->fmt);
    avcodec_free_context(&v->enc);
    av_frame_free(&v->frame);
    av_packet_free(&v->pkt);
    free(v);
}

ps_video_out *ps_video_out_open(const char *path, int w, int h, double fps, ps_err *err) {
    ps_av_init(); /* FFmpeg's messages through the library's log */
    ps_video_out *v = calloc(1, sizeof *v);
    if (!v) return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", path), NULL;
    snprintf(v->path, sizeof v->path, "%s", path);
    int r = avformat_alloc_output_context2(&v->fmt, NULL, "mp4", path);
    ps_status st = r < 0 ? av_fail(err, path, "no MP4 muxer", r) : PS_OK;
    if (!st) st = open_encoder(v, w, h, fps, err);
    if (!st) st = open_file(v, err);
    if (!st) st = alloc_frame(v, w, h, err);
    if (st) {
        video_free(v);
        return NULL;
    }
    return v;
}

const char *ps_video_out_codec(const ps_video_out *v) {
    return v->codec;
}

/* Writes every packet the encoder has ready. */
static ps_status drain(ps_video_out *v, ps_err *err) {
    for (;;) {
        int r = avcodec_receive_packet(v->enc, v->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return PS_OK;
        if (r < 0) return av_fail(err, v->path, "encoding", r);
        if (!v->pkt->duration) v->pkt->duration = 1; /* one frame: else MP4's last is cut */
        av_packet_rescale_ts(v->pkt, v->enc->time_base, v->st->time_base);
        v->pkt->stream_index = v->st->index;
        r = av_interleaved_write_frame(v->fmt, v->pkt);
        if (r < 0) return av_fail(err, v->path, "writing", r);
    }
}

static void copy_plane(uint8_t *dst, int dst_stride, const uint8_t *src, int src_stride, int w,
                       int h) {
    for (int y = 0; y < h; y++)
        memcpy(dst + (size_t)y * dst_stride, src + (size_t)y * src_stride, (size_t)w);
}

ps_status ps_video_out_write(ps_video_out *v, const ps_yuv *img, int64_t frame, ps_err *err) {
    int r = av_frame_make_writable(v->frame);
    if (r < 0) return av_fail(err, v->path, "a frame buffer", r);
    int w = v->enc->width, h = v->enc->height;
    copy_plane(v->frame->data[0], v->frame->linesize[0], img->y, img->y_stride, w, h);
    copy_plane(v->frame->data[1], v->frame->linesize[1], img->u, img->u_stride, w / 2, h / 2);
    copy_plane(v->frame->data[2], v->frame->linesize[2], img->v, img->v_stride, w / 2, h / 2);
    v->frame->pts = frame;
    r = avcodec_send_frame(v->enc, v->frame);
    if (r < 0) return av_fail(err, v->path, "encoding", r);
    return drain(v, err);
}

ps_status ps_video_out_close(ps_video_out *v, ps_err *err) {
    ps_status st = PS_OK;
    int r = avcodec_send_frame(v->enc, NULL);
    if (r < 0) st = av_fail(err, v->path, "flushing the encoder", r);
    if (!st) st = drain(v, err);
    if (!st && (r = av_write_trailer(v->fmt)) < 0)
        st = av_fail(err, v->path, "writing the index", r);
    if (!st && (r = avio_closep(&v->fmt->pb)) < 0) st = av_fail(err, v->path, "closing", r);
    video_free(v);
    return st;
}

/* ---- JPEG ---- */

struct ps_jpeg {
    AVCodecContext *enc;
    struct SwsContext *sws;
    AVFrame *frame;
    AVPacket *pkt;
    int in_w, in_h, out_w, out_h;
};

ps_jpeg *ps_jpeg_new(void) {
    ps_av_init(); /* FFmpeg's messages through the library's log */
    return calloc(1, sizeof(ps_jpeg));
}

static void jpeg_reset(ps_jpeg *j) {
    avcodec_free_context(&j->enc);
    sws_freeContext(j->sws);
    j->sws = NULL;
    av_frame_free(&j->frame);
    av_packet_free(&j->pkt);
}

void ps_jpeg_free(ps_jpeg *j) {
    if (!j) return;
    jpeg_reset(j);
    free(j);
}

/* Encoder, scaler and frame for in_w x in_h -> out_w x out_h. */
static ps_status jpeg_setup(ps_jpeg *j, int in_w, int in_h, int out_w, int out_h, ps_err *err) {
    jpeg_reset(j);
    const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    if (!c || !(j->enc = avcodec_alloc_context3(c)))
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "JPEG: this FFmpeg has no mjpeg encoder");
    j->enc->width = out_w;
    j->enc->height = out_h;
    j->enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
    j->enc->time_base = (AVRational){1, 25};
    j->enc->flags |= AV_CODEC_FLAG_QSCALE;
    j->enc->global_quality = FF_QP2LAMBDA * 4;
    int r = avcodec_open2(j->enc, c, NULL);
    if (r < 0) return ps_err_set(err, PS_ERR_BACKEND, "JPEG encoder: %s", av_err2str(r));
    j->sws = sws_getContext(in_w, in_h, AV_PIX_FMT_YUV420P, out_w, out_h, AV_PIX_FMT_YUVJ420P,
                            SWS_BILINEAR, NULL, NULL, NULL);
    j->frame = av_frame_alloc();
    j->pkt = av_packet_alloc();
    if (!j->sws || !j->frame || !j->pkt)
        return ps_err_set(err, PS_ERR_NOMEM, "JPEG: out of memory");
    j->frame->format = AV_PIX_FMT_YUVJ420P;
    j->frame->width = out_w;
    j->frame->height = out_h;
    if ((r = av_frame_get_buffer(j->frame, 0)) < 0)
        return ps_err_set(err, PS_ERR_NOMEM, "JPEG frame: %s", av_err2str(r));
    j->in_w = in_w, j->in_h = in_h, j->out_w = out_w, j->out_h = out_h;
    return PS_OK;
}

/* Copies the encoded packet into *buf; returns its size or 0. */
static size_t jpeg_take(ps_jpeg *j, uint8_t **buf, size_t *cap, ps_err *err) {
    int r = avcodec_receive_packet(j->enc, j->pkt);
    if (r < 0) return ps_err_set(err, PS_ERR_BACKEND, "JPEG encoding: %s", av_err2str(r)), 0;
    size_t n = (size_t)j->pkt->size;
    uint8_t *grown = n > *cap ? realloc(*buf, n) : *buf;
    if (!grown) {
        av_packet_unref(j->pkt);
        ps_err_set(err, PS_ERR_NOMEM, "JPEG: out of memory");
        return 0;
    }
    if (n > *cap) *buf = grown, *cap = n;
    memcpy(*buf, j->pkt->data, n);
    av_packet_unref(j->pkt);
    return n;
}

size_t ps_jpeg_encode(ps_jpeg *j, const ps_yuv *img, int out_h, uint8_t **buf, size_t *cap,
                      ps_err *err) {
    if (out_h <= 0 || out_h > img->height) out_h = img->height;
    out_h &= ~1;
    int out_w = (int)((int64_t)img->width * out_h / img->height) & ~1;
    if (out_w < 2 || out_h < 2) return ps_err_set(err, PS_ERR_ARG, "JPEG: picture too small"), 0;
    if ((!j->enc || j->in_w != img->width || j->in_h != img->height || j->out_w != out_w ||
         j->out_h != out_h) && jpeg_setup(j, img->width, img->height, out_w, out_h, err))
        return 0;
    int r = av_frame_make_writable(j->frame);
    if (r < 0) return ps_err_set(err, PS_ERR_NOMEM, "JPEG frame: %s", av_err2str(r)), 0;
    const uint8_t *src[4] = {img->y, img->u, img->v, NULL};
    const int stride[4] = {img->y_stride, img->u_stride, img->v_stride, 0};
    sws_scale(j->sws, src, stride, 0, img->height, j->frame->data, j->frame->linesize);
    if ((r = avcodec_send_frame(j->enc, j->frame)) < 0)
        return ps_err_set(err, PS_ERR_BACKEND, "JPEG encoding: %s", av_err2str(r)), 0;
    return jpeg_take(j, buf, cap, err);
}
