/* FFmpeg source: video files and network streams (rtsp, http(s), udp, rtp,
 * tcp) demuxed by libavformat and decoded in software by libavcodec.
 *
 * Nothing here may block forever: every FFmpeg call that can wait on I/O is
 * watched by an AVIOInterruptCB that fires on ps_source_interrupt, on the
 * open deadline, and (network sources) on the read-stall deadline. Corrupt
 * packets are skipped and counted; a run of too many ends the stream.
 * Files may loop (pts keep rising) or play in real time (paced by pts).
 * Network sources are live and do not reconnect: a lost connection ends
 * the stream with an error. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>

#include "source/av_hw.h"
#include "source/av_log.h"
#include "source/source_impl.h"
#include "util/clock.h"
#include "util/status.h"

#define AVS_DEFAULT_TIMEOUT_S 10.0
#define AVS_MAX_FAILURES 100    /* consecutive undecodable packets before giving up */
#define AVS_FALLBACK_FPS 25.0   /* for frames without pts in a stream without a rate */

typedef enum { AVS_GO_ON = -1 } avs_step; /* "no result yet" next to ps_read_result */

typedef struct {
    ps_source base;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    int stream;
    int network;
    double open_timeout_s, stall_timeout_s;
    int64_t deadline_ns;   /* interrupt callback fires after this; 0: never */
    int timed_out;         /* the callback fired because of the deadline */
    int draining;          /* the decoder was told the input ended */
    int pending_err;       /* a read error to report once drained (AVERROR) */
    int failures;          /* consecutive decode failures */
    int have_first;
    double first_raw, last_raw; /* raw pts (s) of this pass's first, latest frame */
    double loop_offset;    /* added to pts: the length of the passes played */
    double last_pts;       /* the last pts handed out: they never go back */
    int64_t last_frame_ns; /* when the last frame was handed out */
    int64_t pass_start_index;
    int64_t start_ns;      /* real-time schedule: when pts 0 is due; 0 unset */
    int hw_decided;        /* the CPU/GPU choice was made (at the first read) */
    int rewound;           /* looping: sought back, the new pass's frames not seen yet */
    int pkt_pending;       /* a->pkt was refused for now (EAGAIN): send it again */
    int have_started;      /* a frame came out: a later failure may reconnect */
    int reconnect_tries;   /* failed tries since the last good connection */
    int gpu;               /* the decoder runs on the GPU */
    int64_t decode_ns;     /* decoder time spent since the last frame out */
    AVFrame *down;         /* a GPU frame copied to host memory */
    AVFrame *lent;         /* opts.borrow: the frame the last picture points into,
                              held until the next read */
} avs_source;

#ifdef __SANITIZE_THREAD__
/* ThreadSanitizer builds only. libavcodec's frame threads hand buffers to
 * the reader through libavutil's reference counts, atomics in a library
 * TSan did not instrument, so it cannot see the hand-over and reports every
 * av_buffer_unref of such a buffer as a race; for the same reason it
 * reports libavcodec destroying its own worker threads' mutexes on close
 * (seen once in three runs: the mutex of a worker it had just joined).
 * Visible by name, though the library is built hidden: TSan's runtime
 * looks it up in the program. */
__attribute__((visibility("default"))) const char *__tsan_default_suppressions(void);
__attribute__((visibility("default"))) const char *__tsan_default_suppressions(void) {
    return "race:av_buffer_unref\nrace:libavcodec.so\n";
}
#endif

static int avs_interrupt_cb(void *opaque) {
    avs_source *a = opaque;
    if (ps_source_is_interrupted(&a->base)) return 1;
    if (a->deadline_ns && ps_now_ns() > a->deadline_ns) {
        a->timed_out = 1;
        return 1;
    }
    return 0;
}

static void avs_set_deadline(avs_source *a, double seconds) {
    a->timed_out = 0;
    a->deadline_ns = seconds > 0 ? ps_now_ns() + (int64_t)(seconds * 1e9) : 0;
}

/* Fills err from an FFmpeg error code, or from the deadline that caused it;
 * `doing` says which deadline ("opening"). Returns the ps_status set. */
static ps_status avs_fail(avs_source *a, int averr, const char *doing, ps_err *err) {
    const char *uri = a->base.uri;
    if (a->timed_out)
        return ps_err_set(err, PS_ERR_IO, "%s: timed out after %.1f s %s", uri,
                          a->open_timeout_s, doing);
    char why[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(averr, why, sizeof why);
    ps_status code = averr == AVERROR_INVALIDDATA ? PS_ERR_FORMAT
                     : averr == AVERROR(ENOMEM)   ? PS_ERR_NOMEM
                                                  : PS_ERR_IO;
    return ps_err_set(err, code, "%s: %s", uri, why);
}

static int avs_is_network(const char *uri) {
    return strstr(uri, "://") && strncmp(uri, "file:", 5) != 0;
}

/* ---- opening ----------------------------------------------------------- */

/* Builds the avformat options from opts.av_options; RTSP gets TCP
 * transport unless told otherwise (UDP loses packets under load). Returns
 * PS_OK, or PS_ERR_ARG naming the uri. */
static ps_status avs_make_options(avs_source *a, AVDictionary **dict, ps_err *err) {
    const char *text = a->base.opts.av_options;
    if (text && *text && av_dict_parse_string(dict, text, "=", ",", 0) < 0)
        return ps_err_set(err, PS_ERR_ARG, "%s: bad av_options \"%s\" (want key=value,...)",
                          a->base.uri, text);
    if (strncmp(a->base.uri, "rtsp", 4) == 0)
        av_dict_set(dict, "rtsp_transport", "tcp", AV_DICT_DONT_OVERWRITE);
    return PS_OK;
}

/* Notes the options in dict that the container did not take (options given
 * for every source, like rtsp_transport, mean nothing to a file: a note,
 * not a failure). */
static void avs_note_unused(avs_source *a, const AVDictionary *dict) {
    const AVDictionaryEntry *e = NULL;
    size_t at = 0;
    while ((e = av_dict_get(dict, "", e, AV_DICT_IGNORE_SUFFIX)) && at < sizeof a->base.note) {
        int n = snprintf(a->base.note + at, sizeof a->base.note - at, "%s%s",
                         at ? ", " : "FFmpeg options this source did not use: ", e->key);
        at += n > 0 ? (size_t)n : 0;
    }
}

/* Opens the container and reads enough to know its streams. Returns PS_OK
 * or an error naming the uri (missing, not a video, refused, timed out). */
static ps_status avs_open_input(avs_source *a, ps_err *err) {
    AVDictionary *dict = NULL;
    ps_status st = avs_make_options(a, &dict, err);
    a->fmt = avformat_alloc_context();
    if (st == PS_OK && !a->fmt)
        st = ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", a->base.uri);
    if (st != PS_OK) {
        av_dict_free(&dict);
        return st;
    }
    a->fmt->interrupt_callback = (AVIOInterruptCB){avs_interrupt_cb, a};
    avs_set_deadline(a, a->open_timeout_s);
    int r = avformat_open_input(&a->fmt, a->base.uri, NULL, &dict);
    if (r >= 0) avs_note_unused(a, dict);
    if (r < 0)
        st = avs_fail(a, r, "opening", err);
    else if ((r = avformat_find_stream_info(a->fmt, NULL)) < 0)
        st = avs_fail(a, r, "reading stream info", err);
    av_dict_free(&dict);
    return st;
}

/* How a decoder is opened: on the CPU with a thread per core, on the GPU,
 * or on the CPU with one thread, only to check that it opens (at open
 * time, before the first read decides: hundreds of streams opening in
 * parallel would otherwise start a thread per core each, for nothing). */
typedef enum { AVS_DEC_CPU = 0, AVS_DEC_GPU, AVS_DEC_PROBE } avs_dec_mode;

/* Picks the best video stream and opens its decoder. Returns PS_OK or an
 * error naming the uri (no video stream, unsupported codec). */
static ps_status avs_open_decoder(avs_source *a, avs_dec_mode mode, ps_err *err) {
    int gpu = mode == AVS_DEC_GPU;
    const char *uri = a->base.uri;
    a->stream = av_find_best_stream(a->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (a->stream < 0) return ps_err_set(err, PS_ERR_FORMAT, "%s: no video stream", uri);
    AVStream *st = a->fmt->streams[a->stream];
    for (unsigned i = 0; i < a->fmt->nb_streams; i++)
        if ((int)i != a->stream) a->fmt->streams[i]->discard = AVDISCARD_ALL;
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "%s: unsupported video codec \"%s\"",
                          uri, avcodec_get_name(st->codecpar->codec_id));
    AVDictionary *opts = NULL;
    const AVCodec *own = gpu ? ps_av_hw_decoder(st->codecpar, &opts) : NULL;
    if (own) codec = own;
    avcodec_free_context(&a->dec);
    a->dec = avcodec_alloc_context3(codec);
    if (!a->dec) return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", uri);
    int r = avcodec_parameters_to_context(a->dec, st->codecpar);
    a->dec->pkt_timebase = st->time_base;
    a->dec->thread_count = mode == AVS_DEC_PROBE ? 1 : 0; /* 0: one per core */
    /* Frame threading holds back one frame per thread: fine for files,
     * latency for live streams, which get slice threading only. */
    a->dec->thread_type = a->base.live ? FF_THREAD_SLICE : FF_THREAD_FRAME | FF_THREAD_SLICE;
    if (gpu && r >= 0) {
        char why[200];
        r = ps_av_hw_attach(a->dec, a->base.opts.gpu, why, sizeof why);
        if (r < 0) {
            av_dict_free(&opts);
            return ps_err_set(err, PS_ERR_UNSUPPORTED, "%s: %s", uri, why);
        }
        a->dec->thread_count = 1; /* NVDEC decodes; threads would only queue */
        if (own) a->dec->flags |= AV_CODEC_FLAG_LOW_DELAY; /* no display queue */
    }
    if (r >= 0) r = avcodec_open2(a->dec, codec, &opts);
    av_dict_free(&opts);
    if (r < 0)
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "%s: cannot open %s decoder: %s", uri,
                          codec->name, av_err2str(r));
    return PS_OK;
}

/* Device memory a GPU decoder of this stream takes, fitted to what 1080p
 * streams took on an H200 (bench/NOTES.md: 41.2 MB for H.264 with 7
 * surfaces, 59.0 MB for HEVC with 9): about 11 MB of the decoder's own,
 * ps_av_hw_surfaces decode surfaces of 1.0 (H.264) or 1.4 (HEVC) NV12
 * frames each, and three frames (the output surface, FFmpeg's output
 * pool); the hwaccel that other codecs use asks for (DPB + 7) decode and
 * output surfaces (at most 23 of each). */
static size_t avs_gpu_bytes(const AVCodecParameters *par) {
    double frame = (double)par->width * ((par->height + 15) / 16 * 16) * 1.5;
    int surfaces = ps_av_hw_surfaces(par);
    if (!surfaces) return (size_t)(frame * 2 * 23);
    double per = par->codec_id == AV_CODEC_ID_HEVC ? 1.4 : 1.0;
    return (size_t)(11.0 * 1048576 + frame * (per * surfaces + 3));
}

/* Records size and nominal rate for ps_source_info. */
static void avs_fill_info(avs_source *a) {
    AVStream *st = a->fmt->streams[a->stream];
    AVRational r = st->avg_frame_rate.num && st->avg_frame_rate.den ? st->avg_frame_rate
                                                                   : st->r_frame_rate;
    a->base.width = st->codecpar->width;
    a->base.height = st->codecpar->height;
    a->base.fps = r.num && r.den ? av_q2d(r) : 0;
    a->base.gpu_bytes = avs_gpu_bytes(st->codecpar);
}

/* ---- reading ----------------------------------------------------------- */

/* Counts an undecodable packet or frame. Returns AVS_GO_ON, or PS_READ_ERROR
 * with err set once too many came in a row. */
static int avs_count_failure(avs_source *a, int averr, ps_err *err) {
    atomic_fetch_add(&a->base.skipped, 1);
    if (++a->failures < AVS_MAX_FAILURES) return AVS_GO_ON;
    ps_err_set(err, PS_ERR_FORMAT, "%s: %d packets in a row failed to decode (last: %s)",
               a->base.uri, a->failures, av_err2str(averr));
    return PS_READ_ERROR;
}

/* Reads one packet of our stream and hands it to the decoder; at the end of
 * the input starts draining. Returns AVS_GO_ON, PS_READ_END (interrupted) or
 * PS_READ_ERROR (stalled, connection lost, too many bad packets). */
/* Looping: at the end of the file's packets, seek back to the start and
 * keep feeding the same decoder, without draining or flushing it: a flush
 * makes FFmpeg's H.264 decoder re-create its NVDEC decoder, which costs tens
 * of milliseconds and, for many streams at once, stalls them all. The frames
 * of the old pass still in the decoder come out first; avs_frame_pts tells
 * the new pass by its pts going back. Returns AVS_GO_ON, PS_READ_END (a pass
 * gave no frame: looping would spin), or PS_READ_ERROR (cannot seek). */
static int avs_rewind(avs_source *a, ps_err *err) {
    if (a->base.index == a->pass_start_index && !a->rewound) return PS_READ_END;
    int64_t start = a->fmt->streams[a->stream]->start_time;
    int r = av_seek_frame(a->fmt, a->stream, start == AV_NOPTS_VALUE ? 0 : start,
                          AVSEEK_FLAG_BACKWARD);
    if (r < 0) {
        ps_err_set(err, PS_ERR_IO, "%s: cannot loop: seeking to the start failed: %s",
                   a->base.uri, av_err2str(r));
        return PS_READ_ERROR;
    }
    a->rewound = 1;
    a->pass_start_index = a->base.index;
    return AVS_GO_ON;
}

/* Sends a->pkt to the decoder. A decoder that is full (EAGAIN: NVDEC with
 * frames not taken yet, frame threads) keeps the packet for the next try
 * rather than losing it, which would break every frame that refers to it. */
static int avs_send(avs_source *a, ps_err *err) {
    int r = avcodec_send_packet(a->dec, a->pkt);
    if (r == AVERROR(EAGAIN)) {
        a->pkt_pending = 1;
        return AVS_GO_ON;
    }
    a->pkt_pending = 0;
    av_packet_unref(a->pkt);
    return r < 0 ? avs_count_failure(a, r, err) : AVS_GO_ON;
}

static int avs_feed(avs_source *a, ps_err *err) {
    if (a->pkt_pending) return avs_send(a, err);
    avs_set_deadline(a, a->network ? a->stall_timeout_s : 0);
    int r = av_read_frame(a->fmt, a->pkt);
    a->deadline_ns = 0;
    if (r < 0) {
        if (ps_source_is_interrupted(&a->base)) return PS_READ_END;
        if (a->timed_out) {
            ps_err_set(err, PS_ERR_IO, "%s: no data for %.1f s (stalled)", a->base.uri,
                       a->stall_timeout_s);
            return PS_READ_ERROR;
        }
        if (r == AVERROR_EOF && a->base.opts.loop) return avs_rewind(a, err);
        if (r != AVERROR_EOF) a->pending_err = r; /* report after the last frames */
        a->draining = 1;
        avcodec_send_packet(a->dec, NULL);
        return AVS_GO_ON;
    }
    if (a->pkt->stream_index != a->stream) {
        av_packet_unref(a->pkt);
        return AVS_GO_ON;
    }
    return avs_send(a, err);
}

/* How long the file says it lasts, seconds (0: it does not say): by its
 * frame count where its header has one (a duration may be estimated from
 * the size of what is left of it), else its stated duration. */
static double avs_said_duration(const avs_source *a) {
    const AVStream *st = a->fmt->streams[a->stream];
    if (st->nb_frames > 0 && a->base.fps > 0) return (double)st->nb_frames / a->base.fps;
    if (st->duration > 0 && st->duration != AV_NOPTS_VALUE) return st->duration * av_q2d(st->time_base);
    return a->fmt->duration > 0 ? (double)a->fmt->duration / AV_TIME_BASE : 0;
}

/* A file whose frames stop well before the duration its container gives
 * (cut off, with its index at the front) is noted as truncated, with the
 * frames it should have had: a file that only lost packets in the middle
 * still reaches its end. */
static void avs_check_length(avs_source *a) {
    double said = avs_said_duration(a), fps = a->base.fps;
    if (a->network || said <= 0 || fps <= 0 || !a->have_first) return;
    double got = a->last_raw - a->first_raw + 1.0 / fps;
    if (got >= said * 0.97 - 2.0 / fps) return;
    const AVStream *st = a->fmt->streams[a->stream];
    a->base.expected = st->nb_frames > 0 ? st->nb_frames : (int64_t)(said * fps + 0.5);
    snprintf(a->base.note, sizeof a->base.note, "truncated: the file ends at %.2f s of the %.2f s "
             "it says it lasts (%lld of %lld frames)", got, said, (long long)a->base.index,
             (long long)a->base.expected);
}

/* The decoder gave its last frame (looping never drains it: avs_rewind).
 * Returns PS_READ_END (a short file noted: avs_check_length), or
 * PS_READ_ERROR when a read error came before the end. */
static int avs_at_end(avs_source *a, ps_err *err) {
    avs_check_length(a);
    if (a->pending_err) {
        ps_err_set(err, PS_ERR_IO, "%s: read failed after %lld frames: %s", a->base.uri,
                   (long long)a->base.index, av_err2str(a->pending_err));
        return PS_READ_ERROR;
    }
    return PS_READ_END;
}

/* The decoded frame's pts in seconds from the stream's start, continuing
 * across loops; frames without one get index / rate. */
static double avs_frame_pts(avs_source *a) {
    int64_t ts = a->frame->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE)
        return (double)a->base.index / (a->base.fps > 0 ? a->base.fps : AVS_FALLBACK_FPS);
    double raw = ts * av_q2d(a->fmt->streams[a->stream]->time_base);
    if (a->rewound && a->have_first && raw < a->last_raw) { /* a new pass */
        double step = a->base.fps > 0 ? 1.0 / a->base.fps : 1.0 / AVS_FALLBACK_FPS;
        a->loop_offset += a->last_raw - a->first_raw + step;
        a->have_first = 0;
        a->rewound = 0;
    }
    if (!a->have_first) {
        a->have_first = 1;
        a->first_raw = a->last_raw = raw;
    }
    if (raw > a->last_raw) a->last_raw = raw;
    double pts = raw - a->first_raw + a->loop_offset;
    if (pts < a->last_pts) pts = a->last_pts; /* a camera's clock jumping back */
    a->last_pts = pts;
    return pts;
}

/* Scales the decoded frame into f and stamps it; in real-time mode first
 * waits for its slot. Returns PS_READ_FRAME, PS_READ_END (interrupted while
 * waiting) or PS_READ_ERROR. */
/* A GPU frame the tap wants, copied down for it (the engine still gets it
 * on the GPU). A failed copy only costs the tap that frame. */
static void avs_tap_gpu(avs_source *a, AVFrame *fr) {
    if (av_hwframe_transfer_data(a->down, fr, 0) == 0)
        ps_source_tap_take(&a->base, (const uint8_t *const *)a->down->data, a->down->linesize,
                           a->down->width, a->down->height, a->down->format);
    av_frame_unref(a->down);
}

/* Hands a decoded frame on: a GPU frame stays on the GPU when the engine
 * takes raw pictures, else is copied down; host frames are scaled/copied. */

static ps_read_result avs_convert(avs_source *a, AVFrame *fr, ps_frame *f, ps_err *err) {
    if (fr->format == AV_PIX_FMT_CUDA) {
        if (a->base.opts.raw && ps_source_tap_wants(&a->base)) avs_tap_gpu(a, fr);
        if (a->base.opts.raw && ps_av_hw_hold(fr, f) == 0) return PS_READ_FRAME;
        int r = av_hwframe_transfer_data(a->down, fr, 0);
        if (r < 0) {
            ps_err_set(err, PS_ERR_BACKEND, "%s: copying a GPU frame down failed: %s",
                       a->base.uri, av_err2str(r));
            return PS_READ_ERROR;
        }
        fr = a->down;
    }
    ps_read_result res = ps_source_scale(&a->base, (const uint8_t *const *)fr->data, fr->linesize,
                                         fr->width, fr->height, fr->format, f, err);
    /* a borrowed picture keeps its buffers referenced until the next read,
     * so the decoder's threads cannot reuse them meanwhile */
    av_frame_unref(a->lent);
    if (a->base.opts.borrow && res == PS_READ_FRAME) av_frame_move_ref(a->lent, fr);
    av_frame_unref(a->down);
    return res;
}

static int avs_emit(avs_source *a, ps_frame *f, ps_err *err) {
    AVFrame *fr = a->frame;
    double pts = avs_frame_pts(a);
    int64_t captured = ps_now_ns();
    ps_read_result r = avs_convert(a, fr, f, err);
    av_frame_unref(fr);
    f->t.decode_ns = a->decode_ns;
    a->decode_ns = 0;
    if (r != PS_READ_FRAME) return r;
    if (a->base.opts.realtime && !a->network) {
        if (!a->start_ns) a->start_ns = captured - (int64_t)(pts * 1e9);
        captured = a->start_ns + (int64_t)(pts * 1e9);
        if (!ps_source_sleep_until(&a->base, captured)) return PS_READ_END;
    }
    a->failures = 0;
    a->have_started = 1;
    a->last_frame_ns = ps_now_ns();
    ps_source_stamp(&a->base, f, pts, captured);
    return PS_READ_FRAME;
}

/* Whether this source should decode on the GPU: asked for, or AUTO with an
 * engine that takes raw pictures and a codec NVDEC handles. */
static int avs_wants_gpu(const avs_source *a) {
    ps_decode_mode m = a->base.opts.decode;
    if (m == PS_DECODE_GPU) return 1;
    return m == PS_DECODE_AUTO && a->base.opts.raw && a->dec && ps_av_hw_supported(a->dec->codec);
}

/* At the first read (the engine's needs are known by then): re-opens the
 * decoder, on the GPU if it should decode there. AUTO falls back to the CPU
 * when the GPU cannot; GPU makes that an error. */
static int avs_decide(avs_source *a, ps_err *err) {
    a->hw_decided = 1;
    if (!avs_wants_gpu(a)) return avs_open_decoder(a, AVS_DEC_CPU, err) ? PS_READ_ERROR : AVS_GO_ON;
    ps_err why = {0};
    if (avs_open_decoder(a, AVS_DEC_GPU, &why) == PS_OK) {
        a->gpu = 1;
        return AVS_GO_ON;
    }
    if (a->base.opts.decode == PS_DECODE_GPU) {
        ps_err_set(err, why.code, "%s", why.msg);
        return PS_READ_ERROR;
    }
    return avs_open_decoder(a, AVS_DEC_CPU, err) == PS_OK ? AVS_GO_ON : PS_READ_ERROR;
}

/* http(s) serves files as often as live streams: there the end of the data
 * is the end of the stream (errors still reconnect). */
static int avs_is_file_over_http(const avs_source *a) {
    return !strncmp(a->base.uri, "http://", 7) || !strncmp(a->base.uri, "https://", 8);
}

/* A network source that ended or broke after it had started reconnects
 * when opts.reconnect allows (cameras and their links come back). */
static int avs_may_reconnect(const avs_source *a) {
    int max = a->base.opts.reconnect;
    return a->network && a->have_started && !ps_source_is_interrupted(&a->base) &&
           (max < 0 || a->reconnect_tries < max);
}

/* Closes the broken connection and opens it again, waiting 0.5 s, 1 s,
 * 2 s ... (at most 10 s) between tries; frame indices and pts go on from
 * where they were. Returns AVS_GO_ON once connected, PS_READ_END when
 * interrupted, PS_READ_ERROR (err from the last try) when the tries allowed
 * are used up. */
/* Back after an outage that began at since: the frames the camera would
 * have sent meanwhile are counted, and the frame numbers and pts skip over
 * them, so a gap in the results shows the gap in the video. */
static void avs_outage_over(avs_source *a, int64_t since) {
    int64_t ns = ps_now_ns() - since;
    double step = a->base.fps > 0 ? 1.0 / a->base.fps : 1.0 / AVS_FALLBACK_FPS;
    int64_t missed = (int64_t)(ns / 1e9 / step);
    atomic_fetch_add(&a->base.outage_ns, ns);
    atomic_fetch_add(&a->base.outage_frames, missed);
    atomic_store(&a->base.down_since, 0);
    a->base.index += missed;
    if (a->have_first) a->loop_offset += a->last_raw - a->first_raw + step;
    a->loop_offset += missed * step;
}

static int avs_reconnect(avs_source *a, ps_err *err) {
    double wait = 0.5;
    /* down since its last frame (or now, if it never gave one) */
    atomic_store(&a->base.down_since, a->last_frame_ns ? a->last_frame_ns : ps_now_ns());
    while (avs_may_reconnect(a)) {
        a->reconnect_tries++;
        if (!ps_source_sleep_until(&a->base, ps_now_ns() + (int64_t)(wait * 1e9))) return PS_READ_END;
        wait = wait * 2 > 10 ? 10 : wait * 2;
        avcodec_free_context(&a->dec);
        avformat_close_input(&a->fmt);
        ps_err why = {0};
        if (avs_open_input(a, &why) != PS_OK || avs_open_decoder(a, a->gpu ? AVS_DEC_GPU : AVS_DEC_CPU, &why) != PS_OK) {
            ps_err_set(err, why.code, "%s (after %d reconnection tries)", why.msg,
                       a->reconnect_tries);
            continue;
        }
        avs_outage_over(a, atomic_load(&a->base.down_since));
        a->have_first = a->draining = a->pending_err = a->failures = a->pkt_pending = 0;
        av_packet_unref(a->pkt);
        a->reconnect_tries = 0;
        atomic_fetch_add(&a->base.reconnects, 1);
        return AVS_GO_ON;
    }
    return ps_source_is_interrupted(&a->base) ? PS_READ_END : PS_READ_ERROR;
}

static ps_read_result avs_read(ps_source *s, ps_frame *f, ps_err *err) {
    avs_source *a = (avs_source *)s;
    ps_frame_release(f);
    if (!a->hw_decided) {
        int r = avs_decide(a, err);
        if (r != AVS_GO_ON) return (ps_read_result)r;
    }
    for (;;) {
        int64_t t0 = ps_now_ns();
        int r = avcodec_receive_frame(a->dec, a->frame);
        a->decode_ns += ps_now_ns() - t0;
        if (r == 0)
            r = avs_emit(a, f, err);
        else if (r == AVERROR_EOF)
            r = avs_at_end(a, err);
        else if (r != AVERROR(EAGAIN))
            r = avs_count_failure(a, r, err);
        else if (a->draining) /* cannot happen: a drained decoder says EOF */
            r = PS_READ_END;
        else {
            int64_t t1 = ps_now_ns();
            r = avs_feed(a, err);
            a->decode_ns += ps_now_ns() - t1;
        }
        if ((r == PS_READ_ERROR || (r == PS_READ_END && !avs_is_file_over_http(a))) &&
            avs_may_reconnect(a))
            r = avs_reconnect(a, err);
        if (r != AVS_GO_ON) return (ps_read_result)r;
    }
}

static void avs_close(ps_source *s) {
    avs_source *a = (avs_source *)s;
    avcodec_free_context(&a->dec);
    avformat_close_input(&a->fmt);
    av_packet_free(&a->pkt);
    av_frame_free(&a->frame);
    av_frame_free(&a->down);
    av_frame_free(&a->lent);
}

static int avs_gpu(const ps_source *s) {
    const avs_source *a = (const avs_source *)s;
    return a->hw_decided ? a->gpu : avs_wants_gpu(a);
}

static const ps_source_ops avs_ops = {avs_read, avs_close, avs_gpu};

void ps_av_global_init(void) {
    ps_av_init();
}

ps_source *ps_av_open(const char *uri, const ps_source_opts *opts, ps_err *err) {
    ps_av_global_init();
    avs_source *a = ps_source_new(sizeof *a, &avs_ops, uri, opts, err);
    if (!a) return NULL;
    ps_source *s = &a->base;
    a->network = avs_is_network(uri);
    s->live = a->network || s->opts.realtime;
    a->open_timeout_s = s->opts.open_timeout_s > 0 ? s->opts.open_timeout_s
                                                   : AVS_DEFAULT_TIMEOUT_S;
    a->stall_timeout_s = s->opts.stall_timeout_s > 0 ? s->opts.stall_timeout_s
                                                     : AVS_DEFAULT_TIMEOUT_S;
    a->pkt = av_packet_alloc();
    a->frame = av_frame_alloc();
    a->down = av_frame_alloc();
    a->lent = av_frame_alloc();
    ps_status st = PS_OK;
    if (!a->pkt || !a->frame || !a->down || !a->lent) st = ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", uri);
    if (st == PS_OK) st = avs_open_input(a, err);
    if (st == PS_OK) st = avs_open_decoder(a, AVS_DEC_PROBE, err);
    a->deadline_ns = 0;
    if (st != PS_OK) {
        ps_source_close(s);
        return NULL;
    }
    avs_fill_info(a);
    return s;
}
