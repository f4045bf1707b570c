/* Inside the fleet (see fleet.h): what its set-up and streams (fleet.c)
 * and its figures (fleet_stats.c) share. Private to src/pipeline/. */
#ifndef PS_PIPELINE_FLEET_IMPL_H
#define PS_PIPELINE_FLEET_IMPL_H

#include <pthread.h>

#include "pipeline/fleet.h"

/* A stream, by fleet id: where it runs now and what it needs to be added
 * again elsewhere. */
typedef struct {
    int lane, local;          /* its lane and its id there */
    int pin;                  /* the lane it is pinned to, or -1 */
    char *uri;
    char name[128];
    ps_stream_settings set;   /* name points into name[] */
    ps_source_opts so;        /* av_options points into av_options */
    char *av_options;
    ps_stream_figures *past;  /* NULL, or its figures summed over the lanes it left */
    int moves;
    int removed;              /* ps_fleet_remove was called */
    int done;                 /* done for good (on_stream_done was called) */
    char note[PS_ERR_LEN];    /* why it could not be moved ("" none) */
} fleet_stream;

typedef struct {
    struct ps_fleet *f;       /* its fleet (the pipeline's callbacks get the lane) */
    int index;
    int gpu;                  /* its GPU number */
    ps_pipeline *pipe;
    ps_detector *det;         /* after the start */
    int *ids;                 /* [cap_ids] local id -> fleet id, -1 unknown (map_mu) */
    int cap_ids;
    int next_local;           /* the id its pipeline gives the next stream (fleet mu) */
    double load;              /* sampled busy share (fleet mu) */
    double sampled_us;        /* engine time at the last sample */
    int64_t sampled_ns;
} fleet_lane;

typedef struct {
    int lane, local;
} fleet_event;

struct ps_fleet {
    ps_fleet_opts o;
    ps_mem_ledger host;       /* every lane's host memory */
    fleet_lane lanes[PS_MAX_GPUS];
    pthread_mutex_t mu;       /* streams, lanes' samples, the flags below */
    fleet_stream **streams;
    int n_streams;
    int started, stopping, stopped;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t map_mu;   /* the lanes' id maps (taken last) */
    pthread_mutex_t ev_mu;    /* events, quit (taken last) */
    pthread_cond_t ev_cv;
    fleet_event *events;
    int n_events, cap_events;
    int quit;
};

/* Lane k's fleet id of local id `local` (-1 unknown). */
int ps_fleet_id_of(ps_fleet *f, int lane, int local);

/* Adds s's counts and latencies from `from` into `into` (a stream's figures
 * over two lanes). */
void ps_fleet_fold(ps_stream_figures *into, const ps_stream_figures *from);

#endif
