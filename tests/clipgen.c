/* Test clips (see clipgen.h). Frame layout, in luma:
 *   top quarter     a ramp that shifts with the index (some motion to code)
 *   middle half     CLIPGEN_BITS vertical stripes, bit b of the index
 *                   (most significant first): 235 for 1, 16 for 0
 *   bottom quarter  mid grey
 * Stripes are a twelfth of the width, so even a 640-wide frame scaled to
 * 256 keeps 21-pixel stripes: the centre of each is far from any edge that
 * lossy coding or bilinear scaling would blur. */
#include "clipgen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>

#include "util/clock.h"
#include "util/status.h"

typedef struct {
    AVFormatContext *oc;
    AVStream *st;
    AVCodecContext *enc;
    AVFrame *frame;
    AVPacket *pkt;
    const char *path;
} clip_writer;

/* Paints frame index i into f (f's planes sized for its width/height). */
static void clip_draw(AVFrame *f, int i) {
    int w = f->width, h = f->height;
    for (int y = 0; y < h; y++) {
        uint8_t *row = f->data[0] + (size_t)y * f->linesize[0];
        for (int x = 0; x < w; x++) {
            int v = 128;
            if (y < h / 4)
                v = 16 + ((x + 8 * i) % w) * 219 / w;
            else if (y < 3 * h / 4)
                v = (i >> (CLIPGEN_BITS - 1 - x * CLIPGEN_BITS / w)) & 1 ? 235 : 16;
            row[x] = (uint8_t)v;
        }
    }
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < (h + 1) / 2; y++)
            memset(f->data[p] + (size_t)y * f->linesize[p], 128, (size_t)(w + 1) / 2);
}

/* Opens an encoder for w x h frames and the frame to draw them in. Returns
 * PS_OK or an error naming the path. */
static ps_status clip_open_encoder(clip_writer *c, const clipgen_spec *s, int w, int h,
                                   ps_err *err) {
    const char *name = s->codec ? s->codec : "mpeg4";
    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    if (!codec) return ps_err_set(err, PS_ERR_UNSUPPORTED, "%s: no %s encoder", c->path, name);
    avcodec_free_context(&c->enc);
    av_frame_free(&c->frame);
    c->enc = avcodec_alloc_context3(codec);
    c->frame = av_frame_alloc();
    if (!c->enc || !c->frame) return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", c->path);
    c->enc->width = w;
    c->enc->height = h;
    c->enc->time_base = (AVRational){1, s->fps};
    c->enc->framerate = (AVRational){s->fps, 1};
    c->enc->pix_fmt = strcmp(name, "mjpeg") == 0 ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P;
    c->enc->gop_size = 12;
    c->enc->flags |= AV_CODEC_FLAG_QSCALE;
    c->enc->global_quality = FF_QP2LAMBDA * 4;
    /* Out-of-band headers let a muxer such as RTSP describe the stream (SDP). */
    if (strcmp(name, "mpeg4") == 0) c->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    c->frame->width = w;
    c->frame->height = h;
    c->frame->format = c->enc->pix_fmt;
    int r = avcodec_open2(c->enc, codec, NULL);
    if (r >= 0) r = av_frame_get_buffer(c->frame, 0);
    if (r < 0)
        return ps_err_set(err, PS_ERR_BACKEND, "%s: %s encoder: %s", c->path, name,
                          av_err2str(r));
    return PS_OK;
}

/* Creates the container and its one video stream. Returns PS_OK or an
 * error naming the path. */
static ps_status clip_open_output(clip_writer *c, const clipgen_spec *s, ps_err *err) {
    int r = avformat_alloc_output_context2(&c->oc, NULL, NULL, c->path);
    if (r < 0) return ps_err_set(err, PS_ERR_ARG, "%s: %s", c->path, av_err2str(r));
    c->st = avformat_new_stream(c->oc, NULL);
    c->pkt = av_packet_alloc();
    if (!c->st || !c->pkt) return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", c->path);
    c->st->time_base = (AVRational){1, s->fps};
    r = avcodec_parameters_from_context(c->st->codecpar, c->enc);
    if (r >= 0) r = avio_open(&c->oc->pb, c->path, AVIO_FLAG_WRITE);
    if (r >= 0) r = avformat_write_header(c->oc, NULL);
    if (r < 0) return ps_err_set(err, PS_ERR_IO, "%s: %s", c->path, av_err2str(r));
    return PS_OK;
}

/* Sends frame (NULL flushes) and writes every packet that comes out.
 * Returns PS_OK or an error naming the path. */
static ps_status clip_encode(clip_writer *c, AVFrame *frame, ps_err *err) {
    int r = avcodec_send_frame(c->enc, frame);
    while (r >= 0) {
        r = avcodec_receive_packet(c->enc, c->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return PS_OK;
        if (r < 0) break;
        av_packet_rescale_ts(c->pkt, c->enc->time_base, c->st->time_base);
        c->pkt->stream_index = 0;
        r = av_interleaved_write_frame(c->oc, c->pkt);
    }
    return ps_err_set(err, PS_ERR_IO, "%s: encoding: %s", c->path, av_err2str(r));
}

static void clip_close(clip_writer *c) {
    avcodec_free_context(&c->enc);
    av_frame_free(&c->frame);
    av_packet_free(&c->pkt);
    if (c->oc) avio_closep(&c->oc->pb);
    avformat_free_context(c->oc);
}

/* Encodes all frames, switching encoders at spec->switch_at. */
static ps_status clip_write_frames(clip_writer *c, const clipgen_spec *s, ps_err *err) {
    ps_status st = PS_OK;
    for (int i = 0; i < s->n_frames && st == PS_OK; i++) {
        if (s->switch_at > 0 && i == s->switch_at) {
            st = clip_encode(c, NULL, err);
            if (st == PS_OK) st = clip_open_encoder(c, s, s->w2, s->h2, err);
            if (st != PS_OK) break;
        }
        st = av_frame_make_writable(c->frame) < 0
                 ? ps_err_set(err, PS_ERR_NOMEM, "%s: frame not writable", c->path)
                 : PS_OK;
        if (st != PS_OK) break;
        clip_draw(c->frame, i);
        c->frame->pts = i;
        st = clip_encode(c, c->frame, err);
    }
    if (st == PS_OK) st = clip_encode(c, NULL, err);
    return st;
}

ps_status clipgen_write_spec(const char *path, const clipgen_spec *spec, ps_err *err) {
    clip_writer c = {.path = path};
    ps_status st = clip_open_encoder(&c, spec, spec->w, spec->h, err);
    if (st == PS_OK) st = clip_open_output(&c, spec, err);
    if (st == PS_OK) st = clip_write_frames(&c, spec, err);
    if (st == PS_OK) {
        int r = av_write_trailer(c.oc);
        if (r < 0) st = ps_err_set(err, PS_ERR_IO, "%s: %s", path, av_err2str(r));
    }
    clip_close(&c);
    return st;
}

ps_status clipgen_write(const char *path, int w, int h, int fps, int n_frames,
                        ps_err *err) {
    clipgen_spec s = {.codec = "mpeg4", .w = w, .h = h, .fps = fps, .n_frames = n_frames};
    return clipgen_write_spec(path, &s, err);
}

/* Mean luma-ish value (R+G+B)/3 of a box around (cx, cy). */
static double clip_mean(const uint8_t *rgb, int w, int cx, int cy, int rx, int ry) {
    double sum = 0;
    int n = 0;
    for (int y = cy - ry; y <= cy + ry; y++)
        for (int x = cx - rx; x <= cx + rx; x++, n++) {
            const uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            sum += (p[0] + p[1] + p[2]) / 3.0;
        }
    return sum / n;
}

int clipgen_read_index(const uint8_t *rgb, int w, int h) {
    int index = 0;
    int rx = w / (CLIPGEN_BITS * 5), ry = h / 8;
    for (int b = 0; b < CLIPGEN_BITS; b++) {
        int cx = (int)((b + 0.5) * w / CLIPGEN_BITS);
        double m = clip_mean(rgb, w, cx, h / 2, rx, ry);
        if (m > 80 && m < 176) return -1; /* neither black nor white */
        index = index * 2 + (m >= 128);
    }
    return index;
}

/* ---- pushing ----------------------------------------------------------- */

/* Opens the muxer and connects, retrying while the peer refuses (it may
 * not listen yet). Returns PS_OK with *oc set, or an error naming the url. */
static ps_status push_connect(clipgen_push_spec *p, const AVStream *in, AVFormatContext **oc,
                              ps_err *err) {
    int64_t give_up = ps_now_ns() + (int64_t)(p->connect_timeout_s * 1e9);
    for (;;) {
        AVDictionary *opts = NULL;
        if (p->options) av_dict_parse_string(&opts, p->options, "=", ",", 0);
        int r = avformat_alloc_output_context2(oc, NULL, p->format, p->url);
        AVStream *st = r >= 0 ? avformat_new_stream(*oc, NULL) : NULL;
        if (st) {
            r = avcodec_parameters_copy(st->codecpar, in->codecpar);
            st->codecpar->codec_tag = 0;
            st->time_base = in->time_base;
            if (r >= 0) r = avformat_write_header(*oc, &opts);
        } else if (r >= 0) {
            r = AVERROR(ENOMEM);
        }
        av_dict_free(&opts);
        if (r >= 0) return PS_OK;
        avformat_free_context(*oc);
        *oc = NULL;
        if (ps_now_ns() > give_up)
            return ps_err_set(err, PS_ERR_IO, "%s: %s", p->url, av_err2str(r));
        ps_sleep_until_ns(ps_now_ns() + 20000000);
    }
}

/* Copies packets from in to oc, each at its pts on the clock. */
static ps_status push_packets(clipgen_push_spec *p, AVFormatContext *in, AVFormatContext *oc,
                              ps_err *err) {
    AVPacket *pkt = av_packet_alloc();
    AVRational tb = in->streams[0]->time_base;
    int64_t start = ps_now_ns(), first = AV_NOPTS_VALUE;
    int r = pkt ? 0 : AVERROR(ENOMEM);
    while (r >= 0 && (r = av_read_frame(in, pkt)) >= 0) {
        if (first == AV_NOPTS_VALUE) first = pkt->pts;
        ps_sleep_until_ns(start + (int64_t)((pkt->pts - first) * av_q2d(tb) * 1e9));
        av_packet_rescale_ts(pkt, tb, oc->streams[0]->time_base);
        pkt->stream_index = 0;
        r = av_write_frame(oc, pkt);
        av_packet_unref(pkt);
        if (r >= 0) p->sent++;
    }
    av_packet_free(&pkt);
    if (r < 0 && r != AVERROR_EOF)
        return ps_err_set(err, PS_ERR_IO, "%s: sending: %s", p->url, av_err2str(r));
    return PS_OK;
}

ps_status clipgen_push(clipgen_push_spec *p, ps_err *err) {
    AVFormatContext *in = NULL, *oc = NULL;
    int r = avformat_open_input(&in, p->clip, NULL, NULL);
    if (r >= 0) r = avformat_find_stream_info(in, NULL);
    if (r < 0) {
        avformat_close_input(&in);
        return ps_err_set(err, PS_ERR_IO, "%s: %s", p->clip, av_err2str(r));
    }
    ps_status st = push_connect(p, in->streams[0], &oc, err);
    if (st == PS_OK) st = push_packets(p, in, oc, err);
    while (st == PS_OK && p->hold && atomic_load(p->hold))
        ps_sleep_until_ns(ps_now_ns() + 5000000);
    if (oc) {
        av_write_trailer(oc);
        avformat_free_context(oc);
    }
    avformat_close_input(&in);
    return st;
}

int clipgen_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

void *clipgen_push_thread(void *arg) {
    clipgen_pusher *p = arg;
    p->st = clipgen_push(&p->spec, &p->err);
    return NULL;
}

int clipgen_can_push(const char *format) {
    return av_guess_format(format, NULL, NULL) != NULL;
}
