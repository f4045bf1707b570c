/* Per-frame results as JSON lines, to stdout, one file, or one file per
 * stream in a folder:
 * {"stream":ID,"name":NAME,"frame":N,"pts":S,"latency_ms":L,"width":W,
 *  "height":H,"people":[...]} (people as in `detect`). */
#ifndef PS_SINK_RESULTS_H
#define PS_SINK_RESULTS_H

#include "source/frame.h"

typedef struct ps_results ps_results;

/* target: "-" for stdout, an existing folder (or a path ending in '/', which
 * is created) for stream<ID>.jsonl files, else a file. Returns NULL with err
 * naming the target on failure. */
ps_results *ps_results_open(const char *target, ps_err *err);

/* Writes one frame's line; a ps_result_fn. Write errors are remembered and
 * reported by ps_results_close. Called from one thread. */
void ps_results_write(void *results, int stream, const char *name, const ps_frame *f);

/* Flushes and closes; returns non-OK naming the file if any write failed. */
ps_status ps_results_close(ps_results *r, ps_err *err);

#endif
