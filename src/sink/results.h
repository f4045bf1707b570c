/* Per-frame results as JSON lines, to stdout, one file, or one file per
 * stream in a folder:
 * {"stream":ID,"name":NAME,"frame":N,"pts":S,"latency_ms":L,"width":W,
 *  "height":H,"people":[...]} (people as in `detect`).
 * Each line is built in memory and written whole; a write that fails part
 * way through a regular file is cut back to the last whole line, so a file
 * never ends in a broken line. The first failure (its path and errno text)
 * is kept and every write after it is skipped: the caller polls
 * ps_results_failed and decides whether the run goes on. */
#ifndef PS_SINK_RESULTS_H
#define PS_SINK_RESULTS_H

#include "posestream.h"

typedef struct ps_results ps_results;

/* target: "-" for stdout, an existing folder (or a path ending in '/', which
 * is created) for stream<ID>.jsonl files, else a file. A folder is checked
 * by creating and removing a file in it. Returns NULL with err naming the
 * target and the reason (errno text) when it cannot be written. */
ps_results *ps_results_open(const char *target, ps_err *err);

/* Writes one frame's line. Called from one thread. */
void ps_results_write(ps_results *r, const ps_result *result);

/* Whether a write has failed (from any thread); then err names the file
 * and the reason, and nothing more is written. */
int ps_results_failed(ps_results *r, ps_err *err);

/* Flushes and closes; returns non-OK naming the file and the reason if any
 * write failed. */
ps_status ps_results_close(ps_results *r, ps_err *err);

#endif
