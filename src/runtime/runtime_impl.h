/* The runtime behind the public ps_runtime (posestream.h): what it owns,
 * shared by its set-up (runtime.c) and its figures (runtime_stats.c). */
#ifndef PS_RUNTIME_RUNTIME_IMPL_H
#define PS_RUNTIME_RUNTIME_IMPL_H

#include <pthread.h>

#include "pipeline/fleet.h"
#include "sink/results.h"
#include "track/tracker.h"

struct ps_runtime {
    ps_runtime_params params;  /* model and output point into the copies below */
    char model_path[4096];
    char output[4096];
    char gpus_text[256];
    ps_model *model;
    int n_gpus;                /* lanes: engines, one per GPU (1 on the CPU) */
    int on_cpu;                /* the engine will be the CPU's: pins do not apply */
    int gpus[PS_MAX_GPUS];     /* their GPU numbers */
    ps_engine *engines[PS_MAX_GPUS];
    ps_engine *engine;         /* engines[0]: the backend and device every lane shares */
    ps_detector dets[PS_MAX_GPUS];
    int n_dets;
    ps_fleet *fleet;
    ps_results *results;
    int started;               /* ps_runtime_start succeeded */
    int closed;                /* ps_runtime_close ran: final holds the figures */
    int input_w, input_h, batch_max;
    ps_fleet_stats final;
    ps_tracker **trackers;     /* [n_trackers] by stream id, made on a stream's first
                                  frame (engine thread), freed when it is done */
    int n_trackers;
    pthread_mutex_t track_mu;  /* trackers, between those two */
    struct ps_annotator **annots; /* [n_annots] by stream id (runtime_annotate.c) */
    int n_annots;
    pthread_mutex_t annot_mu;  /* annots */
    struct ps_mqtt *mqtt;      /* NULL: no broker (runtime_mqtt.c) */
    char (*mqtt_states)[16];   /* [n_mqtt_states] by stream id: the state last published */
    int n_mqtt_states;
    pthread_mutex_t mqtt_mu;   /* mqtt_states */
    double final_engine_mb;    /* the engines' memory as the run ended, before */
    double final_prepared_mb;  /* the streams' buffers went back */
};

/* Whether its engines run on GPUs (after the start; 0 before or on the CPU). */
int ps_rt_on_gpus(const ps_runtime *rt);

/* The runtime's GPUs from params.gpus (runtime_gpus.c): rt->n_gpus and
 * rt->gpus; one lane, GPU 0, on the CPU or with no GPU visible. Returns
 * PS_ERR_ARG naming the bad list. */
ps_status ps_rt_gpus_resolve(ps_runtime *rt, ps_err *err);

/* Annotators (runtime_annotate.c): whether the runtime draws; checking its
 * folders; one made for a stream about to be added (*out NULL when it does
 * not draw), kept once the stream has its id (id < 0: the add failed);
 * results, a stream done, and all of them at the close. */
int ps_rt_annot_enabled(const ps_runtime *rt);
ps_status ps_rt_annot_check(const ps_annotate_params *p, ps_err *err);
ps_status ps_rt_annot_prepare(ps_runtime *rt, struct ps_annotator **out, ps_source_opts *so,
                              ps_err *err);
void ps_rt_annot_added(ps_runtime *rt, struct ps_annotator *a, int id);
void ps_rt_annot_result(ps_runtime *rt, int stream, int64_t index, const ps_person *people,
                        int n);
void ps_rt_annot_done(ps_runtime *rt, int k);
void ps_rt_annot_close(ps_runtime *rt);

/* MQTT (runtime_mqtt.c): opened at create (an error when the build has
 * none), each result, the final states and the stop at the close, freed
 * with the runtime; its counts into the public figures. */
ps_status ps_rt_mqtt_open(ps_runtime *rt, ps_err *err);
void ps_rt_mqtt_result(ps_runtime *rt, const ps_result *r);
void ps_rt_mqtt_stop(ps_runtime *rt, const ps_pipeline_stats *final);
void ps_rt_mqtt_free(ps_runtime *rt);
void ps_rt_mqtt_figures(const ps_runtime *rt, ps_stats *st);
/* 0 without a broker; else 1 and the counts. */
int ps_rt_mqtt_totals(const ps_runtime *rt, uint64_t *published, uint64_t *dropped,
                      uint64_t *outages);
uint64_t ps_rt_mqtt_dropped(const ps_runtime *rt, int id);

/* The engine's memory and, of it, the frames prepared on arrival, MB. */
void ps_runtime_engine_mb(const ps_runtime *rt, double *engine_mb, double *prepared_mb);

/* The public figures of the internal ones, with the runtime's own (engine,
 * memory). Returns PS_ERR_NOMEM leaving out empty. */
ps_status ps_runtime_convert(const ps_runtime *rt, const ps_fleet_stats *in, ps_stats *out,
                             ps_err *err);

#endif
