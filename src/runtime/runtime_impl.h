/* The runtime behind the public ps_runtime (posestream.h): what it owns,
 * shared by its set-up (runtime.c) and its figures (runtime_stats.c). */
#ifndef PS_RUNTIME_RUNTIME_IMPL_H
#define PS_RUNTIME_RUNTIME_IMPL_H

#include <pthread.h>

#include "pipeline/pipeline.h"
#include "sink/results.h"
#include "track/tracker.h"

struct ps_runtime {
    ps_runtime_params params;  /* model and output point into the copies below */
    char model_path[4096];
    char output[4096];
    ps_model *model;
    ps_engine *engine;
    ps_detector det;
    int have_det;
    ps_pipeline *pipe;
    ps_results *results;
    int started;               /* ps_runtime_start succeeded */
    int closed;                /* ps_runtime_close ran: final holds the figures */
    int input_w, input_h, batch_max;
    ps_pipeline_stats final;
    ps_tracker **trackers;     /* [n_trackers] by stream id, made on a stream's first
                                  frame (engine thread), freed when it is done */
    int n_trackers;
    pthread_mutex_t track_mu;  /* trackers, between those two */
    double final_engine_mb;    /* the engine's memory as the run ended, before */
    double final_prepared_mb;  /* the streams' buffers went back */
};

/* The engine's memory and, of it, the frames prepared on arrival, MB. */
void ps_runtime_engine_mb(const ps_runtime *rt, double *engine_mb, double *prepared_mb);

/* The public figures of the internal ones, with the runtime's own (engine,
 * memory). Returns PS_ERR_NOMEM leaving out empty. */
ps_status ps_runtime_convert(const ps_runtime *rt, const ps_pipeline_stats *in, ps_stats *out,
                             ps_err *err);

#endif
