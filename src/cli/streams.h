/* The multi-stream job behind `run` and `bench`: a ps_runtime from the
 * options, live status lines, Ctrl-C, and what the commands print after. */
#ifndef PS_CLI_STREAMS_H
#define PS_CLI_STREAMS_H

#include <signal.h>

#include "posestream.h"

typedef struct cli_stream_job {
    ps_runtime_params rt; /* the runtime's (output, max_latency_ms included) */
    ps_stream_params src; /* what every stream shares: realtime, loop,
                             reconnect, the FFmpeg options of --av-opt */
    char **uris;
    char **names;         /* NULL, or an entry NULL: names from the uris */
    int n_uris;
    const ps_stream_params *specs; /* NULL, or [n_uris]: each stream's settings
                                      and FFmpeg options (after src's) */
    double duration_s;    /* stop after this long; 0: when the sources end */
    int status;           /* draw live status lines on stderr */
    double snapshot_s;    /* > 0: copy the figures this long after the start */
    struct cli_churn *churn; /* NULL, or streams to add and remove while it runs */
    int output_errors_continue; /* a failing output: go on without it (else stop) */
    int series;           /* record the figures over time and each stream's
                             latency distribution (bench --html) */
    int argc;             /* the command line, for the one option with two */
    char **argv;          /* values (--snapshot-every S DIR) */
} cli_stream_job;

/* The figures of one second of the run (job->series). */
typedef struct {
    double t_s;           /* since the start */
    double fps;           /* frames processed per second over the second before */
    double gpu, decoder;  /* percent busy (-1 unknown) */
} cli_sample;

#define CLI_LATENCY_BOUNDS 36 /* 0.5 ms to 12 s, eight a decade */

typedef struct {
    ps_stats stats;       /* at the end */
    int stop_signal;      /* stopped by this signal (SIGINT, SIGTERM), 0 none */
    int churn_failed;     /* stopped: a stream could not be added (printed) */
    int output_failed;    /* writing results failed (said when it happened) */
    char output_error[PS_ERR_LEN]; /* the failure, for the end */
    double gpu_util, decoder_util; /* mean percent busy over the run; -1 unknown */
    double cpu_pct;       /* process CPU time over wall time, percent of one core */
    ps_stats snapshot;    /* at job->snapshot_s (n_streams 0: not taken) */
    int64_t stop_ns;      /* when the duration ended it (0: the sources ended) */
    cli_sample *samples;  /* job->series: one per second */
    int n_samples;
    double bounds_ms[CLI_LATENCY_BOUNDS];
    uint64_t *latency_counts; /* job->series: [stats.n_streams][CLI_LATENCY_BOUNDS],
                                 cumulative (ps_runtime_latency_counts) */
} cli_stream_outcome;

/* Runs the job to its end. Returns 0, or 1 after printing an error when the
 * job could not run at all (model, engine, output); failed streams do not
 * count as errors here: they are in outcome->stats. Free the outcome with
 * cli_stream_outcome_free. */
int cli_run_streams(const cli_stream_job *job, cli_stream_outcome *outcome);
void cli_stream_outcome_free(cli_stream_outcome *outcome);

/* Adds the job's stream k to rt with its name (+ suffix, when not NULL),
 * settings and FFmpeg options (the job's first, then its own, which win).
 * Returns 0, or 1 after printing the error. */
int cli_add_stream(const cli_stream_job *job, ps_runtime *rt, int k, const char *suffix);

/* SIGINT and SIGTERM counted from cli_signals_catch on (SIGPIPE ignored:
 * a reader that goes away is a write error) until cli_signals_restore;
 * cli_signals_received returns how many came and *last the last one. */
typedef struct {
    struct sigaction old_int, old_term, old_pipe;
} cli_signals;

void cli_signals_catch(cli_signals *s);
void cli_signals_restore(const cli_signals *s);
int cli_signals_received(int *last);

/* CLOCK_MONOTONIC now, ns: the clock of the runtime's figures. */
int64_t cli_now_ns(void);

#endif
