/* Inside the pipeline: the structures its three kinds of thread share
 * (readers: pipeline_reader.c; scheduler and engine: pipeline_engine.c;
 * set-up, figures and tear-down: pipeline.c) and the frame hand-offs they
 * all use. One mutex, p->mu, guards every ring, free list and figure.
 * Private to src/pipeline/. */
#ifndef PS_PIPELINE_PIPELINE_IMPL_H
#define PS_PIPELINE_PIPELINE_IMPL_H

#include <pthread.h>

#include "pipeline/admit.h"
#include "pipeline/batch_time.h"
#include "pipeline/pipeline.h"

/* A stream's reservations are released once it has delivered this many
 * frames: by then its decoder, its output surfaces and its frames exist. */
#define PS_ADMIT_SETTLE_FRAMES 15

/* Preparation failing this many frames in a row ends the stream. */
#define PS_PREPARE_MAX_FAILURES 30

/* The engine failing this many batches in a row ends the run. */
#define PS_ENGINE_MAX_FAILURES 3

/* The largest stride a low priority is given under overload: it keeps at
 * least one frame in this many. */
#define PS_STRIDE_MAX 30

typedef struct stream {
    ps_stream_figures st;
    struct ps_pipeline *p;
    int id;
    ps_source *src;
    ps_source_opts src_opts;
    char *av_options;  /* src_opts' own copy (the caller's may go) */
    pthread_t reader;
    int reader_started;
    ps_frame **ring;   /* [ring_size], oldest at ring_head */
    int ring_head, ring_count;
    ps_frame **free_frames;
    int n_free;
    ps_frame *frames;  /* the pool */
    int n_frames;
    size_t reserve[PS_MEM_KINDS]; /* bytes admission holds for it until settled */
    int counted[PS_MEM_KINDS];    /* counted in p->mem[kind].active */
    int prepare_failures; /* in a row */
    int removing;      /* ps_pipeline_remove was called */
    int reader_done;   /* its reader has finished (the source is closed) */
    uint64_t served;   /* p->serve_seq when a frame of it was last batched */
    double kept_pts;   /* max_fps: pts of the last frame kept (reader only) */
    int kept_any;
    int stride_phase;  /* frames since the last kept by the stride (reader only) */
    uint64_t planned_lost; /* its frames dropped or late when strides were planned */
} stream;

struct ps_pipeline {
    ps_pipeline_opts o;
    ps_detector *detector;
    pthread_mutex_t mu;
    pthread_cond_t sched_cv;  /* scheduler: frames pushed, engine took a batch, stop */
    pthread_cond_t space_cv;  /* readers: ring room or a free frame */
    pthread_cond_t engine_cv; /* engine: a pending batch, or no more */
    pthread_cond_t done_cv;   /* waiters: the engine thread finished */
    pthread_cond_t state_cv;  /* readers opened a source; the start; the stop */
    stream **streams;
    int n_streams;
    int stop, started;   /* started: 1 readers let go, 2 every thread running */
    int cancel;          /* ps_pipeline_cancel: frames read from now on are cancelled */
    pthread_t sched_thread, engine_thread;
    int sched_started, engine_started;
    ps_frame **forming; /* batch being collected */
    int n_forming;
    int forming_limit;  /* its size limit, set when its first frame came */
    int64_t forming_t0;
    ps_frame **pending; /* batch handed to the engine thread */
    stream **owners;    /* the engine thread's: the streams of a batch handed out */
    int n_pending;
    int engine_busy, sched_done, engine_done;
    uint64_t serve_seq;   /* frames batched so far: the scheduler's turn order */
    int64_t engine_since; /* when the engine took its latest batch */
    int engine_n;         /* its size */
    ps_batch_time batch_time; /* the engine's time per batch size */
    double margin;        /* deadlines' margin on it (pipeline_engine.c) */
    int64_t planned_ns;   /* when the strides were last planned */
    int limit, limit_streams; /* batch_limit, as of limit_batches batches run
                                 and that many streams */
    uint64_t limit_batches;
    ps_hist engine, queue, latency, decode;
    uint64_t batches, batch_sizes[PS_BATCH_HIST + 1];
    int64_t start_ns;
    uint64_t engine_failures;
    int engine_fatal, failures_in_row;
    char engine_error[PS_ERR_LEN];
    ps_mem_ledger own_mem[PS_MEM_KINDS];
    ps_mem_ledger *mem[PS_MEM_KINDS]; /* device memory (GPU-decoding streams): its
                          own; host (all streams): its own or the opts' shared one */
};

/* Copies the figures s's source keeps itself (corrupt packets, reconnects)
 * into st (p->mu held; the source still open). */
void ps_pipe_source_figures(const stream *s, ps_stream_figures *st);

/* Frames (callers hold p->mu). give_back returns a frame to its stream's
 * pool, letting go of what it holds on the GPU at once. */
void ps_pipe_give_back(stream *s, ps_frame *f);
ps_frame *ps_pipe_ring_pop(stream *s);
int ps_pipe_stream_done(const stream *s);

/* Frees the frame pool of a stream whose reader has finished once every
 * frame is back (p->mu held); its figures stay. Call it only where no
 * pointer into the pool is held. */
void ps_pipe_free_pool_if_idle(stream *s);

/* Releases what admission holds for s (p->mu held): its reservations, and
 * its place among the active streams once it ends. */
void ps_pipe_settle(stream *s);
void ps_pipe_leave(stream *s);

/* Shares the engine's capacity (by the time of a batch of `batch`, the
 * size deadlines allow) out by priority, setting the live streams'
 * strides (p->mu held; at most twice a second). pipeline_stride.c. */
void ps_pipe_plan_strides(ps_pipeline *p, int64_t now, int batch);

void *ps_pipe_reader_main(void *arg);

/* Before a stream is added to a running pipeline (p->mu not held): PS_OK,
 * or PS_ERR_REFUSED naming uri and the figures when the measured average
 * of the settled streams no longer fits in host memory or, with streams
 * decoding on the GPU, device memory. */
ps_status ps_pipe_admit_precheck(ps_pipeline *p, const char *uri, ps_err *err);
void *ps_pipe_sched_main(void *arg);
void *ps_pipe_engine_main(void *arg);

#endif
