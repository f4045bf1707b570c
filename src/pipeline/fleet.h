/* Several GPUs in one process: one pipeline ("lane") per GPU, each with its
 * own engine, each stream decoded and run on the GPU it was placed on
 * (place.h: the least loaded by measured time and memory, or the one it is
 * pinned to). Stream ids are the fleet's own (0, 1, 2..., never reused),
 * whatever lane a stream runs on; the lanes share one host-memory ledger.
 * A lane whose engine cannot go on ends only its own streams (FAILED with
 * the engine's reason); with failover they are added again on the other
 * lanes (a file from its start, a camera from now), keeping their ids, and
 * their figures add up over every lane they ran on.
 *
 * With one lane it behaves as a plain pipeline. The lanes always run until
 * stopped; the fleet's own thread ends them once every stream is done
 * (unless keep_running), re-places streams and samples each lane's load
 * once a second. Lock order: the fleet's, then a pipeline's; the maps of
 * ids and the queue of ended streams have their own, taken last. */
#ifndef PS_PIPELINE_FLEET_H
#define PS_PIPELINE_FLEET_H

#include "pipeline/pipeline.h"

typedef struct ps_fleet ps_fleet;

typedef struct {
    ps_pipeline_opts pipe;     /* every lane's options: on_result gets fleet ids
                                  (any lane's engine thread), on_stream_done
                                  (result_ctx, fleet id) once a stream is done
                                  for good, from the fleet's thread with no
                                  lock held; host_ledger is the fleet's own */
    int n_lanes;               /* 1 to PS_MAX_GPUS */
    int gpu[PS_MAX_GPUS];      /* each lane's GPU number (CUDA's), for the
                                  sources, the pins and the messages */
    int failover;              /* re-place the streams of a lane that failed */
} ps_fleet_opts;

ps_fleet *ps_fleet_create(const ps_fleet_opts *opts, ps_err *err);

/* As ps_pipeline_add_stream, with the lane chosen by place.h: gpu >= 0 pins
 * it to that GPU number (which must be one of the fleet's), -1 lets the
 * fleet choose. The source options' gpu is set to the lane's. Returns
 * PS_ERR_REFUSED naming each GPU's reason when none can take it. */
ps_status ps_fleet_add_stream(ps_fleet *f, const char *uri, const ps_stream_settings *set,
                              int gpu, const ps_source_opts *src_opts, int *id, ps_err *err);

/* As ps_pipeline_update and ps_pipeline_remove, by fleet id. */
ps_status ps_fleet_update(ps_fleet *f, int id, const ps_stream_settings *set, ps_err *err);
ps_status ps_fleet_remove(ps_fleet *f, int id, ps_err *err);

/* As ps_pipeline_wait_opened and ps_pipeline_suggest_input, over every lane. */
int ps_fleet_wait_opened(ps_fleet *f, int timeout_ms);
void ps_fleet_suggest_input(ps_fleet *f, int *input_w, int *input_h);

/* Starts every lane with its detector (dets[n_lanes], which must outlive
 * the fleet) and the fleet's thread. Non-OK (nothing runs) naming the lane
 * that could not start, or with no stream and no keep_running. */
ps_status ps_fleet_start(ps_fleet *f, ps_detector *dets, ps_err *err);

/* As ps_pipeline_stop, ps_pipeline_cancel and ps_pipeline_wait, for every lane. */
void ps_fleet_stop(ps_fleet *f);
void ps_fleet_cancel(ps_fleet *f);
int ps_fleet_wait(ps_fleet *f, int timeout_ms);

/* One lane's own figures. */
typedef struct {
    int gpu;                 /* its GPU number */
    ps_pipeline_stats st;    /* its pipeline's figures (streams: none copied;
                                n_streams the streams it ever took) */
    int streams;             /* streams on it now (not done) */
    int fatal;               /* its engine could not go on */
    size_t vram_now, vram_peak, vram_total; /* bytes (0: unknown or not started) */
    int util_gpu, util_decoder; /* percent now (-1: unknown) */
    double busy;             /* engine time per second of the run so far */
} ps_lane_stats;

typedef struct {
    ps_pipeline_stats all;   /* streams by fleet id (their figures summed over
                                the lanes they ran on), histograms and counts
                                over every lane; engine_fatal: every lane's
                                engine failed; engine_error: the first failed
                                lane's, naming its GPU */
    int n_lanes;
    ps_lane_stats *lanes;    /* [n_lanes] */
} ps_fleet_stats;

/* Copies every figure now (free with ps_fleet_stats_free); PS_ERR_NOMEM
 * leaving st empty. */
ps_status ps_fleet_stats_get(ps_fleet *f, ps_fleet_stats *st, ps_err *err);
void ps_fleet_stats_free(ps_fleet_stats *st);

/* One stream's figures, as ps_pipeline_stream_get. */
ps_status ps_fleet_stream_get(ps_fleet *f, int id, ps_stream_figures *out, int64_t *start_ns,
                              ps_err *err);

/* Stops, joins every thread and frees every lane. */
void ps_fleet_free(ps_fleet *f);

#endif
