/* Encoding drawn frames with FFmpeg: annotated video (H.264 in MP4 through
 * libx264, which browsers play; MPEG-4 Part 2 where this FFmpeg has no
 * libx264) and JPEG pictures (snapshots, MJPEG previews). */
#ifndef PS_SINK_ENCODE_H
#define PS_SINK_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "sink/draw.h"

typedef struct ps_video_out ps_video_out;

/* Opens path for a w x h video at fps frames per second (both even sizes;
 * fps 0 means 25). Returns NULL with err naming path and the reason. The
 * first open without libx264 logs a one-line notice. */
ps_video_out *ps_video_out_open(const char *path, int w, int h, double fps, ps_err *err);

/* Encodes img (of the opened size) as frame number `frame` (its time is
 * frame / fps). Returns non-OK naming the file and the reason. */
ps_status ps_video_out_write(ps_video_out *v, const ps_yuv *img, int64_t frame, ps_err *err);

/* Flushes the encoder, writes the file's index and closes it; frees v.
 * Returns non-OK naming the file when that fails (v is freed anyway). */
ps_status ps_video_out_close(ps_video_out *v, ps_err *err);

/* The encoder in use ("libx264" or "mpeg4"). */
const char *ps_video_out_codec(const ps_video_out *v);

typedef struct ps_jpeg ps_jpeg;

ps_jpeg *ps_jpeg_new(void);
void ps_jpeg_free(ps_jpeg *j);

/* Encodes img scaled to height out_h (0: its own; the width follows the
 * aspect) as a JPEG into *buf (grown with realloc, *cap its size); returns
 * the JPEG's bytes, or 0 with err set. */
size_t ps_jpeg_encode(ps_jpeg *j, const ps_yuv *img, int out_h, uint8_t **buf, size_t *cap,
                      ps_err *err);

#endif
