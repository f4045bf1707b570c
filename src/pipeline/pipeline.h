/* The multi-stream pipeline: one reader thread per stream pushing frames into
 * a bounded ring, one scheduler thread forming batches across streams
 * (round-robin), one engine thread running them and handing each frame's
 * result to a sink callback. Every frame is timestamped at each stage and
 * every drop is counted. */
#ifndef PS_PIPELINE_PIPELINE_H
#define PS_PIPELINE_PIPELINE_H

#include <stdint.h>

#include "pipeline/detector.h"
#include "source/source.h"
#include "util/hist.h"

typedef struct ps_pipeline ps_pipeline;

/* Called on the engine thread for every processed frame, in order per
 * stream; f->t.output is set just before. */
typedef void (*ps_result_fn)(void *ctx, int stream, const char *name, const ps_frame *f);

typedef struct {
    int batch_max;        /* frames per batch (capped at the detector's) */
    int batch_timeout_ms; /* while the engine is busy, dispatch a partial
                             batch this long after its first frame */
    int ring_size;        /* frames buffered per stream */
    ps_result_fn on_result;
    void *result_ctx;
    size_t max_vram;      /* bytes; a stream whose GPU decoding would push the
                             process over it is refused at start (0: none) */
} ps_pipeline_opts;

typedef enum {
    PS_STREAM_OPENED, /* opened, not started */
    PS_STREAM_RUNNING,
    PS_STREAM_ENDED,  /* its source ended normally (or was stopped) */
    PS_STREAM_FAILED  /* error says why */
} ps_stream_state;

typedef struct {
    char name[128];
    char uri[512];
    ps_stream_state state;
    char error[PS_ERR_LEN];
    int live;
    int width, height;
    double fps;
    uint64_t produced;  /* frames the source delivered */
    uint64_t dropped;   /* of those, dropped by a full ring (live) */
    uint64_t processed; /* of those, through the engine */
    int64_t first_ns, last_ns; /* first capture, last output */
    ps_hist latency;           /* end to end: output - captured, us */
    int gpu_decode;            /* decodes on the GPU (NVDEC) */
    uint64_t skipped;          /* corrupt packets the decoder skipped */
    uint64_t reconnects;       /* network reconnections */
    size_t vram_estimate;      /* device bytes its decoding holds (estimate) */
} ps_stream_stats;

typedef struct {
    int n_streams;
    ps_stream_stats *streams; /* [n_streams], owned by the caller's copy */
    ps_hist latency;          /* all streams */
    ps_hist engine;           /* engine time per batch, us */
    ps_hist queue;            /* captured -> batched, us */
    ps_hist decode;           /* decoder time per frame, us */
    uint64_t batches;
    uint64_t batch_sizes[65]; /* [k]: batches of k frames (64+ in [64]) */
    int64_t start_ns, now_ns;
    int finished;             /* every stream ended or failed */
    char engine_error[PS_ERR_LEN];
} ps_pipeline_stats;

ps_pipeline *ps_pipeline_create(const ps_pipeline_opts *opts, ps_err *err);

/* Opens a source and adds it as the next stream (ids 0, 1, 2...). A source
 * that cannot be opened is still added, as FAILED with its error, and this
 * returns PS_OK: one bad stream never stops the others. Returns non-OK only
 * for bad arguments or when out of memory. */
ps_status ps_pipeline_add(ps_pipeline *p, const char *uri, const char *name,
                          const ps_source_opts *src_opts, ps_err *err);

/* Input size the streams suggest: the smallest box, multiples of 32 and at
 * most 256 on its longer side, that holds every opened stream's frame scaled
 * to 256 on its longer side (768x576 -> 256x192); 256x256 if none is known. */
void ps_pipeline_suggest_input(const ps_pipeline *p, int *input_w, int *input_h);

/* Starts every thread, with frames scaled to fit the detector's input. The
 * detector must outlive the pipeline. */
ps_status ps_pipeline_start(ps_pipeline *p, ps_detector *detector, ps_err *err);

/* Asks every source to stop; frames already read are still processed.
 * Callable from any thread (not from a signal handler). */
void ps_pipeline_stop(ps_pipeline *p);

/* Waits up to timeout_ms (negative: forever) for all streams to end and the
 * last frame to be written; returns 1 when finished. */
int ps_pipeline_wait(ps_pipeline *p, int timeout_ms);

/* Copies the current figures into st (st->streams is allocated; free with
 * ps_pipeline_stats_free). */
ps_status ps_pipeline_stats_get(ps_pipeline *p, ps_pipeline_stats *st, ps_err *err);
void ps_pipeline_stats_free(ps_pipeline_stats *st);

/* Stops, joins every thread and frees everything. */
void ps_pipeline_free(ps_pipeline *p);

#endif
