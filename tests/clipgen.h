/* Test helper: writes small video clips with libavcodec's own encoders
 * (MPEG-4 Part 2 or MJPEG, in whatever container the path's extension
 * names, e.g. .avi) whose frames carry their index in a way that survives
 * lossy coding and scaling, reads the index back from an RGB frame, and
 * pushes a clip to a network muxer (e.g. RTSP ANNOUNCE/RECORD) in real time. */
#ifndef PS_TESTS_CLIPGEN_H
#define PS_TESTS_CLIPGEN_H

#include <stdatomic.h>
#include <stdint.h>

#include "posestream.h"

#define CLIPGEN_BITS 12 /* indices 0..4095 */

typedef struct {
    const char *codec; /* "mpeg4" (default) or "mjpeg" */
    int w, h;          /* even sides */
    int fps;
    int n_frames;
    int switch_at;     /* mjpeg only: from this frame on (when > 0) ... */
    int w2, h2;        /* ... frames are w2 x h2 (a mid-stream size change) */
} clipgen_spec;

/* Writes spec's clip to path. Returns PS_OK, or an error naming path. */
ps_status clipgen_write_spec(const char *path, const clipgen_spec *spec, ps_err *err);

/* The common case: n_frames of w x h MPEG-4 at fps. */
ps_status clipgen_write(const char *path, int w, int h, int fps, int n_frames,
                        ps_err *err);

/* The index carried by a packed RGB frame of any size made from a clipgen
 * clip (scaled or not), or -1 when a bit is unreadable. */
int clipgen_read_index(const uint8_t *rgb, int w, int h);

typedef struct {
    const char *clip;         /* a file to copy packets from */
    const char *url;          /* where to, e.g. rtsp://127.0.0.1:PORT/live */
    const char *format;       /* muxer, e.g. "rtsp" */
    const char *options;      /* muxer options "k=v,...", or NULL */
    double connect_timeout_s; /* retry connecting this long (the peer may
                                 not listen yet) */
    atomic_int *hold;         /* when set: after the last packet, wait while
                                 *hold is non-zero before closing */
    int sent;                 /* out: packets sent */
} clipgen_push_spec;

/* A port on 127.0.0.1 that nothing listens on right now; 0 on failure. */
int clipgen_free_port(void);

/* Whether this FFmpeg can push to format (e.g. "rtsp": some builds have no
 * RTSP muxer); tests that need it skip, saying so, when it cannot. */
int clipgen_can_push(const char *format);

/* Sends every packet of p->clip to p->url, paced by pts like a camera, then
 * closes (RTSP: TEARDOWN). Returns PS_OK or an error naming the url. */
ps_status clipgen_push(clipgen_push_spec *p, ps_err *err);

/* clipgen_push on a thread of its own: spec in, status and error out. */
typedef struct {
    clipgen_push_spec spec;
    ps_status st;
    ps_err err;
} clipgen_pusher;

/* pthread entry point: arg is a clipgen_pusher. */
void *clipgen_push_thread(void *arg);

#endif
