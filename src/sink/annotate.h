/* One stream's drawn frames: the source hands it full-size copies of the
 * frames it wants (through a ps_source_tap, on the reader thread), the
 * results come later (on the engine thread, in order), and a worker thread
 * of its own draws each frame's poses and encodes it: annotated video,
 * snapshots, and MJPEG previews for whoever watches. Frames that were not
 * processed (dropped, late, skipped) are drawn with the last poses before
 * them. A stream that draws nothing costs one call per frame. */
#ifndef PS_SINK_ANNOTATE_H
#define PS_SINK_ANNOTATE_H

#include "posestream.h"
#include "source/source.h"

typedef struct ps_annotator ps_annotator;

/* Makes an annotator for p (video and snapshot folders must exist); no
 * thread yet. Returns NULL with err set when out of memory. */
ps_annotator *ps_annotator_create(const ps_annotate_params *p, ps_err *err);

/* The tap to put in the stream's ps_source_opts. */
ps_source_tap ps_annotator_tap(ps_annotator *a);

/* The stream's id (for file names) is now known: files are written from
 * here on. Returns non-OK when the worker thread cannot start. */
ps_status ps_annotator_start(ps_annotator *a, int stream, ps_err *err);

/* Frame `index` was processed: its people, in pixels of the source frame. */
void ps_annotator_result(ps_annotator *a, int64_t index, const ps_person *people, int n);

/* The stream is over: what is queued is still drawn and the video closed,
 * by the worker, without waiting here. */
void ps_annotator_finish(ps_annotator *a);

/* Finished and its files closed: releasing it now does not wait. */
int ps_annotator_idle(ps_annotator *a);

/* Drops the caller's reference (the creator's, or a watcher's through
 * ps_preview_close); the last one joins the worker and frees. */
void ps_annotator_release(ps_annotator *a);

/* A watcher of the stream's preview (the public ps_preview). */
ps_preview *ps_annotator_watch(ps_annotator *a, double fps, int height, ps_err *err);

#endif
