/* The multi-stream pipeline: one reader thread per stream (it opens its
 * source, waits for the start, is admitted against the device-memory
 * budget, then pushes frames into a bounded ring), one scheduler thread
 * forming batches across streams (round-robin), one engine thread running
 * them and handing each frame's result to a sink callback. Every frame is
 * timestamped at each stage and every frame that is not processed is
 * counted with its reason (dropped by a full ring, failed in the engine).
 * A failed batch does not end the run: its frames count as failed and the
 * engine recovers, unless it cannot (then the run stops, engine_fatal). */
#ifndef PS_PIPELINE_PIPELINE_H
#define PS_PIPELINE_PIPELINE_H

#include <stdint.h>

#include "pipeline/admit.h"
#include "pipeline/detector.h"
#include "source/source.h"
#include "util/hist.h"

typedef struct ps_pipeline ps_pipeline;

#define PS_BATCH_HIST PS_BATCH_SIZES

/* Called on the engine thread for every processed frame, in order per
 * stream; f->t.output is set just before. */
typedef void (*ps_frame_fn)(void *ctx, int stream, const char *name, const ps_frame *f);

typedef struct {
    int batch_max;        /* frames per batch (capped at the detector's) */
    int batch_timeout_ms; /* while the engine is busy, dispatch a partial
                             batch this long after its first frame */
    int ring_size;        /* frames buffered per stream */
    ps_frame_fn on_result;
    void *result_ctx;
    size_t max_vram;      /* bytes: the process's device-memory budget, against
                             which GPU-decoding streams are admitted (0: only
                             the device's free memory counts) */
    int keep_running;     /* run until stopped, even when every stream has
                             ended (streams may be added later); 0: finish
                             when they all have */
    size_t max_host;      /* bytes: the process's host-memory budget, against
                             which every stream is admitted (0: only the
                             machine's available memory counts) */
    void (*on_stream_done)(void *ctx, int stream); /* NULL, or (result_ctx)
                             once a stream has ended and its last frame is
                             out: no on_result for it follows. Any pipeline
                             thread, with the pipeline's lock held: keep it
                             short and call nothing of the pipeline. */
    ps_mem_ledger *host_ledger; /* NULL, or the host-memory ledger it shares with
                             other pipelines of the process (admit.h); it must
                             outlive the pipeline */
} ps_pipeline_opts;

/* A stream's own settings (ps_pipeline_add_stream). */
typedef struct {
    const char *name;      /* NULL: the uri */
    int priority;          /* under overload higher priorities are served first */
    double max_latency_ms; /* a frame of a live stream that cannot be done within
                              this of its capture (by the engine's measured time
                              per batch) is not run but counted late (0: no
                              deadline; offline streams keep every frame) */
    double max_fps;        /* process at most this rate, by the frames' own times;
                              the others are counted skipped (0: every frame) */
} ps_stream_settings;

/* PS_ERR_ARG naming the field unless set's numbers are in range (NULL is
 * fine: the defaults). */
ps_status ps_stream_settings_check(const ps_stream_settings *set, ps_err *err);

/* A stream's state is a ps_stream_state (posestream.h). */

typedef struct {
    int id;             /* stable, never reused in the pipeline */
    char name[128];
    char uri[512];
    ps_stream_settings settings; /* name points into name[] */
    ps_stream_state state;
    char error[PS_ERR_LEN];
    char note[256];     /* a warning about its source ("" none), e.g. FFmpeg
                           options it did not use, a bad image, a short file */
    int64_t expected;   /* a truncated file: the frames it said it had (else 0) */
    int live;
    int stride;         /* 1: every frame is taken; k > 1: under overload this live
                           stream gives way to higher priorities and keeps every
                           k-th frame (the others are counted skipped) */
    int width, height;
    double fps;
    uint64_t produced;  /* frames the source delivered */
    uint64_t dropped;   /* of those, dropped by a full ring (live) */
    uint64_t late;      /* not run: past their deadline before they could start */
    uint64_t skipped;   /* not run: over the stream's max_fps, or left out by its
                           stride (below) */
    uint64_t cancelled; /* not run: still buffered when the stream was removed */
    uint64_t failed;    /* lost to a failed batch or preparation */
    uint64_t processed; /* through the engine: produced = processed + dropped +
                           late + skipped + cancelled + failed (+ in flight) */
    int64_t first_ns, last_ns; /* first capture, last output */
    int64_t running_ns;        /* when it was admitted and began to read */
    ps_hist latency;           /* end to end: output - captured, us */
    int gpu_decode;            /* decodes on the GPU (NVDEC) */
    uint64_t bad_packets;      /* corrupt packets the decoder skipped (not frames) */
    uint64_t reconnects;       /* network reconnections */
    double outage_s;           /* time its network source was down (reconnecting) */
    uint64_t lost_outage;      /* frames it would have delivered meanwhile at its
                                  nominal rate: never arrived, so not in `produced` */
    int down;                  /* down (reconnecting, or given up) now, or when it ended */
    size_t vram_estimate;      /* device bytes admission expected it to take */
    int vram_measured;         /* that figure was the measured average */
    size_t host_estimate;      /* host bytes admission expected it to take */
    int host_measured;         /* that figure was the measured average */
    int gpu;                   /* with several GPUs (fleet.h): the GPU number it
                                  runs, or last ran, on */
    int moves;                 /* times it was re-placed on another GPU */
    int engine_lost;           /* FAILED because the engine could not go on, not
                                  by its own fault */
} ps_stream_figures;

typedef struct {
    int n_streams;
    ps_stream_figures *streams; /* [n_streams], owned by the caller's copy */
    ps_hist latency;          /* all streams */
    ps_hist engine;           /* engine time per batch, us */
    ps_hist queue;            /* captured -> batched, us */
    ps_hist decode;           /* decoder time per frame, us */
    uint64_t batches;
    uint64_t batch_sizes[PS_BATCH_HIST + 1]; /* [k]: batches of k frames (PS_BATCH_HIST
                                                or more in the last) */
    int64_t start_ns, now_ns;
    int finished;             /* every stream ended or failed */
    uint64_t engine_failures; /* batches that failed */
    int engine_fatal;         /* the engine could not recover: the run stopped */
    char engine_error[PS_ERR_LEN]; /* the last failure's reason */
    size_t vram_base;         /* process device memory before streams decoded */
    size_t host_base;         /* process resident memory at the start */
} ps_pipeline_stats;

ps_pipeline *ps_pipeline_create(const ps_pipeline_opts *opts, ps_err *err);

/* Adds uri as the next stream (ids 0, 1, 2..., *id gets it when id is not
 * NULL) with settings set (NULL: defaults), before or while the pipeline
 * runs, from any thread, and starts its reader, which opens the source at
 * once (streams open in parallel) and, once the pipeline runs, is admitted
 * and joins the next batches. A source that cannot be opened ends as FAILED
 * with its error: one bad stream never stops the others. Returns non-OK
 * (nothing added) for bad arguments, a pipeline that has finished, when
 * out of memory, or PS_ERR_REFUSED (saying why with the figures) when the
 * settled streams' measured average shows one more would not fit. */
ps_status ps_pipeline_add_stream(ps_pipeline *p, const char *uri, const ps_stream_settings *set,
                                 const ps_source_opts *src_opts, int *id, ps_err *err);

/* ps_pipeline_add_stream with a name and default settings. */
ps_status ps_pipeline_add(ps_pipeline *p, const char *uri, const char *name,
                          const ps_source_opts *src_opts, ps_err *err);

/* Changes stream id's priority, max_latency_ms and max_fps to set's (its
 * name stays), from any thread; they apply from the next frame. Returns
 * PS_ERR_ARG (nothing changed) for an unknown id, one already ended or
 * removed, or bad values. */
ps_status ps_pipeline_update(ps_pipeline *p, int id, const ps_stream_settings *set, ps_err *err);

/* Takes stream id out, from any thread: its reader stops and closes its
 * source, the frames it still buffers are counted as cancelled, those
 * already in a batch are finished and handed out, and once the last is back
 * its frames and device buffers are freed; its figures stay (state
 * REMOVED). Returns PS_ERR_ARG (nothing changed) for an unknown id or one
 * already ended or removed. */
ps_status ps_pipeline_remove(ps_pipeline *p, int id, ps_err *err);

/* Waits up to timeout_ms (negative: forever) for every stream added so far
 * to be opened (or to fail opening); returns 1 when all are. */
int ps_pipeline_wait_opened(ps_pipeline *p, int timeout_ms);

/* Input size the streams suggest: the smallest box, multiples of 32 and at
 * most 256 on its longer side, that holds every opened stream's frame scaled
 * to 256 on its longer side (768x576 -> 256x192); 256x256 if none is known.
 * Only the streams opened by now count: wait with ps_pipeline_wait_opened
 * first, as long as the caller can afford (a source that never answers must
 * not hold up the run). */
void ps_pipeline_suggest_input(ps_pipeline *p, int *input_w, int *input_h);

/* The same, 0 x 0 when no stream's size is known yet. */
void ps_pipeline_suggest_known(ps_pipeline *p, int *input_w, int *input_h);

/* Starts the scheduler and engine threads and lets the readers go (with
 * keep_running it may start with no stream yet), with
 * frames scaled to fit the detector's input; streams that decode on the GPU
 * are admitted first (admit.h: a refused stream ends REFUSED saying why).
 * Build the detector's engine before: its set-up must not overlap the
 * readers' GPU work. The detector must outlive the pipeline. */
ps_status ps_pipeline_start(ps_pipeline *p, ps_detector *detector, ps_err *err);

/* Asks every source to stop; frames already read are still processed.
 * Callable from any thread (not from a signal handler). */
void ps_pipeline_stop(ps_pipeline *p);

/* Stops now (a user's Ctrl-C): like ps_pipeline_stop, but the frames still
 * buffered, and any a reader delivers from now on, are counted cancelled
 * instead of run; only the batches already in the engine finish. Any
 * thread (not a signal handler). */
void ps_pipeline_cancel(ps_pipeline *p);

/* Waits up to timeout_ms (negative: forever) for all streams to end and the
 * last frame to be written; returns 1 when finished. */
int ps_pipeline_wait(ps_pipeline *p, int timeout_ms);

/* Copies the current figures into st (st->streams is allocated; free with
 * ps_pipeline_stats_free). */
ps_status ps_pipeline_stats_get(ps_pipeline *p, ps_pipeline_stats *st, ps_err *err);
void ps_pipeline_stats_free(ps_pipeline_stats *st);

/* One stream's figures into *out (and the pipeline's start into *start_ns
 * when not NULL): cheaper than ps_pipeline_stats_get with many streams.
 * PS_ERR_ARG for an unknown id. */
ps_status ps_pipeline_stream_get(ps_pipeline *p, int id, ps_stream_figures *out, int64_t *start_ns,
                                 ps_err *err);

/* What placing streams on several pipelines (fleet.h) looks at, cheaply:
 * the streams not done, those of them running with their memory settled,
 * the engine's time so far, device memory as admission holds it (used and
 * free_now are for the caller to measure), whether the engine failed. */
typedef struct {
    int streams, settled;
    double engine_us;    /* sum of the batches' engine time */
    ps_admit_in device;  /* base, reserved, active, limit */
    int fatal;           /* the engine could not go on */
} ps_pipeline_load;

void ps_pipeline_load_get(ps_pipeline *p, ps_pipeline_load *out);

/* 1 when every stream added has ended and handed back all its frames (also
 * with none). */
int ps_pipeline_idle(ps_pipeline *p);

/* Stops, joins every thread and frees everything. */
void ps_pipeline_free(ps_pipeline *p);

#endif
