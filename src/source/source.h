/* Sources: where frames come from. One source is one stream: a video file or
 * network stream read by FFmpeg, a synthetic generator, or still images. A
 * source is used by one reader thread at a time. */
#ifndef PS_SOURCE_SOURCE_H
#define PS_SOURCE_SOURCE_H

#include <stdint.h>

#include "source/frame.h"

typedef struct ps_source ps_source;

/* ps_decode_mode (posestream.h) says where FFmpeg sources decode. */

/* Full-size copies of frames as decoded, for drawing on (annotated video,
 * snapshots, previews). wants() is asked for each frame first (cheap: a GPU
 * frame is copied down only when it says yes), then take() gets the
 * picture: FFmpeg planes of pixel format av_format (an enum AVPixelFormat),
 * valid during the call. Both run on the reader thread; fps is the source's
 * nominal rate (0 unknown). */
typedef struct {
    int (*wants)(void *ctx, int64_t index);
    void (*take)(void *ctx, int64_t index, double fps, const uint8_t *const planes[4],
                 const int strides[4], int w, int h, int av_format);
    void *ctx;
} ps_source_tap;

typedef struct {
    int fit_w, fit_h; /* frames are scaled (aspect kept) to fit this box: the
                         network input size */
    int loop;         /* files: start again at the end */
    int realtime;     /* files: pace at their own frame rate, like a camera */
    const char *av_options; /* FFmpeg sources: "key=value,key=value" passed
                               to avformat_open_input, e.g. "rtsp_flags=listen"
                               or "rtsp_transport=udp"; NULL for none. An
                               option no layer knows is an error. Read
                               only during ps_source_open. */
    double open_timeout_s;  /* FFmpeg sources: give up opening after this
                               long; 0 means 10 s */
    double stall_timeout_s; /* network sources: give up when no packet came
                               for this long; 0 means 10 s */
    int raw;          /* deliver full-size pictures as decoded (YUV420P or
                         NV12 planes copied as they are, other formats as
                         RGB24) for an engine that letterboxes itself (the
                         GPU); else scaled to fit as RGB24 */
    int borrow;       /* with raw: YUV420P and NV12 pictures point into the
                         source's own buffers instead of a copy, valid only
                         until the next read (for a consumer that takes the
                         pixels at once, as the GPU's prepare-on-arrival
                         does: 3 MB less to copy per 1080p frame) */
    ps_decode_mode decode; /* FFmpeg sources: where to decode (see below) */
    int reconnect;    /* network sources that ended (http(s): only broke)
                         after starting: how many times in a row to try
                         connecting again (waiting 0.5 s, 1 s, 2 s ... up
                         to 10 s between tries); -1 for ever, 0 (default)
                         never */
    ps_source_tap tap; /* wants NULL (default): no copies */
    int gpu;          /* decoding on the GPU: which one (CUDA's device number) */
} ps_source_opts;

typedef enum {
    PS_READ_FRAME = 0, /* a frame was produced */
    PS_READ_END,       /* the stream ended normally */
    PS_READ_ERROR,     /* the stream failed; err says why */
    PS_READ_BAD        /* this frame could not be read (a bad image in a folder);
                          err says why; the stream goes on */
} ps_read_result;

/* Opens uri: "synthetic:WxH@FPS" (e.g. synthetic:1920x1080@30), an image
 * file or a folder of images (played as a sequence), a video file, or a
 * network URL (rtsp://, http(s)://, udp://, rtp://, tcp://). Returns NULL
 * with err naming uri and the reason. Opening reads the header, so width,
 * height and rate are known afterwards. opts may be NULL; a fit side of 0
 * means 256. Network sources do not reconnect yet: a lost connection ends
 * the stream with PS_READ_ERROR. */
ps_source *ps_source_open(const char *uri, const ps_source_opts *opts, ps_err *err);

/* Produces the next frame into f: scales the decoded picture into f->rgb
 * (growing it if needed) at f->sw x f->sh, the largest size with the frame's
 * aspect ratio that fits opts.fit_w x fit_h (ps_letterbox_fit's sw, sh), and
 * sets f->width, height, pts, index and t.captured / t.decoded. In real-time
 * mode it sleeps until the frame's slot in the schedule (t.captured is that
 * slot). Blocks for live sources. */
ps_read_result ps_source_read(ps_source *s, ps_frame *f, ps_err *err);

/* Makes a blocked ps_source_read return soon (PS_READ_END); callable from
 * another thread. */
void ps_source_interrupt(ps_source *s);

/* Live sources (network, synthetic, files in real-time mode) never wait for
 * the consumer: their frames may be dropped. */
int ps_source_is_live(const ps_source *s);

/* Frame size and nominal rate (0 when unknown) after open. */
void ps_source_info(const ps_source *s, int *width, int *height, double *fps);

/* Changes the size frames are scaled to fit (as opts.fit_w, fit_h; 0 means
 * 256), e.g. once the network's input size is known. Call it from the
 * reader thread or before that thread starts; later frames use it. */
void ps_source_set_fit(ps_source *s, int fit_w, int fit_h);

/* Changes opts.raw the same way (for an engine that letterboxes itself). */
void ps_source_set_raw(ps_source *s, int raw);

/* Changes opts.borrow the same way. */
void ps_source_set_borrow(ps_source *s, int borrow);

/* Packets skipped so far because they failed to decode (corrupt data). */
int64_t ps_source_skipped(const ps_source *s);

/* Device memory this source will hold while it runs, estimated from its
 * frame size when it decodes on the GPU (the decoder's surfaces, plus
 * frames_in_flight frames held beyond it); 0 when it decodes on the CPU or
 * the size is unknown. Valid after ps_source_set_raw. Admission uses it for
 * a stream until measured figures replace it (pipeline/admit.h). */
size_t ps_source_vram_estimate(const ps_source *s, int frames_in_flight);

/* Host memory this source and frames_held frames of it will hold while it
 * runs, estimated from its frame size: a CPU decoder's pictures (reference
 * frames and threads), the frames as delivered (fitted RGB, or full-size
 * raw), and a few MB for demuxing and scaling. Valid after
 * ps_source_set_fit and ps_source_set_raw; admission uses it until
 * measured figures replace it. */
size_t ps_source_host_estimate(const ps_source *s, int frames_held);

/* A warning about the source from its opening, e.g. FFmpeg options it did
 * not use; "" when none. */
const char *ps_source_note(const ps_source *s);

/* A network source's outages so far (its reconnections): *seconds down
 * and *frames it would have delivered meanwhile at its nominal rate, the
 * current outage included; returns 1 while it is down. Any thread. */
int ps_source_outage(const ps_source *s, double *seconds, int64_t *frames);

/* After the end: the frames a file said it had when it ended well short of
 * its stated duration (truncated; the note says so), else 0. */
int64_t ps_source_expected_frames(const ps_source *s);

/* Whether the source decodes on the GPU (after its first frame). */
int ps_source_gpu_decoding(const ps_source *s);

/* Sets up GPU decoding on GPU gpu (CUDA's device number) for the process:
 * FFmpeg's CUDA device context on that GPU's primary context, which the
 * CUDA engine on it then shares. Call it before that GPU's CUDA engine is
 * created: FFmpeg refuses a primary context that the CUDA runtime already
 * started with other flags. Returns PS_OK, or PS_ERR_UNSUPPORTED with why
 * when there is no such usable GPU (then sources decode on the CPU, or fail
 * with --decode gpu). Safe to call more than once. */
ps_status ps_source_gpu_prepare(int gpu, ps_err *err);

/* Lets go of what a frame holds beyond its own buffer (a decoded GPU
 * surface, an engine's input buffer): call when the engine is done with the
 * frame, or as soon as its picture has been letterboxed elsewhere. */
void ps_frame_release(ps_frame *f);

/* Reconnections a network source made so far; callable from any thread. */
int64_t ps_source_reconnects(const ps_source *s);

void ps_source_close(ps_source *s);

#endif
