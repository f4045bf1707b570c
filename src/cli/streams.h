/* The multi-stream job behind `run` and `bench`: model, engine, pipeline,
 * results, live status, Ctrl-C. */
#ifndef PS_CLI_STREAMS_H
#define PS_CLI_STREAMS_H

#include "pipeline/pipeline.h"
#include "pipeline/stream_spec.h"
#include "sink/report.h"

typedef struct cli_stream_job {
    const char *model;
    int verify;
    ps_engine_opts eng;   /* input_w/h 0: chosen from the streams */
    float min_score;
    int batch_max, batch_timeout_ms, ring_size;
    char **uris;
    char **names;         /* NULL, or an entry NULL: names from the uris */
    int n_uris;
    const ps_stream_spec *specs; /* NULL, or [n_uris]: each stream's settings
                                    and FFmpeg options (after src's) */
    ps_source_opts src;
    const char *output;   /* results target (see results.h), NULL for none */
    double duration_s;    /* stop after this long; 0: when the sources end */
    int status;           /* draw live status lines on stderr */
    double max_vram_gb;   /* refuse GPU-decoded streams beyond this */
    double default_latency_ms; /* max_latency_ms of streams without their own (0: none) */
    double max_host_gb;   /* refuse streams beyond this much host memory (0: none) */
    double snapshot_s;    /* > 0: copy the figures this long after the start */
    struct cli_churn *churn; /* NULL, or streams to add and remove while it runs */
    int output_errors_continue; /* a failing output: go on without it (else stop) */
} cli_stream_job;

typedef struct {
    ps_pipeline_stats stats;
    ps_report_extra extra;
    int input_w, input_h, batch_max;
    int stop_signal;      /* stopped by this signal (SIGINT, SIGTERM), 0 none */
    int churn_failed;     /* stopped: a stream could not be added (printed) */
    int output_failed;    /* writing results failed (said when it happened) */
    char output_error[PS_ERR_LEN]; /* the failure, for the end */
    char backend[16];     /* "cpu" or "cuda" */
    char device[256];     /* e.g. "NVIDIA H100 80GB HBM3" or "CPU" */
    double gpu_util, decoder_util; /* mean percent busy over the run; -1 unknown */
    double cpu_pct;       /* process CPU time over wall time, percent of one core */
    ps_pipeline_stats snapshot; /* at job->snapshot_s (n_streams 0: not taken) */
    int64_t stop_ns;      /* when the duration ended it (0: the sources ended) */
} cli_stream_outcome;

/* Runs the job to its end. Returns 0, or 1 after printing an error when the
 * job could not run at all (model, engine, output); failed streams do not
 * count as errors here: they are in outcome->stats. Free the outcome with
 * cli_stream_outcome_free. */
int cli_run_streams(const cli_stream_job *job, cli_stream_outcome *outcome);
void cli_stream_outcome_free(cli_stream_outcome *outcome);

/* Adds the job's stream k to pipe with its name (+ suffix, when not NULL),
 * settings and FFmpeg options (the job's first, then its own, which win).
 * Returns 0, or 1 after printing the error. */
int cli_add_stream(const cli_stream_job *job, ps_pipeline *pipe, int k, const char *suffix);

#endif
