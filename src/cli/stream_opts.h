/* Options shared by `run` and `bench`: parsing into a cli_stream_job. */
#ifndef PS_CLI_STREAM_OPTS_H
#define PS_CLI_STREAM_OPTS_H

#include <getopt.h>

#include "cli/streams.h"

/* Defaults: batch 8, timeout 50 ms, ring 4, min score 0.2, verify on. */
void cli_job_defaults(cli_stream_job *job);

/* Handles one option shared by run and bench (long name `name`, argument
 * `arg`; --snapshot-every takes its folder from job->argv at optind).
 * Returns 1 if handled, 0 if not one of them, -1 after printing an error for
 * a bad value. */
int cli_job_option(cli_stream_job *job, const char *name, const char *arg);

/* getopt_long entries (flag 0, val 0) of the options cli_job_option takes
 * that run and bench both offer; each command adds its own. */
#define CLI_JOB_LONG_OPTIONS                                                            \
    {"model", required_argument, 0, 0}, {"no-verify", no_argument, 0, 0},              \
        {"backend", required_argument, 0, 0}, {"threads", required_argument, 0, 0},    \
        {"input-size", required_argument, 0, 0}, {"min-score", required_argument, 0, 0}, \
        {"batch-timeout-ms", required_argument, 0, 0}, {"ring", required_argument, 0, 0}, \
        {"av-opt", required_argument, 0, 0}, {"decode", required_argument, 0, 0},      \
        {"reconnect", required_argument, 0, 0}, {"max-host-gb", required_argument, 0, 0}, \
        {"log-level", required_argument, 0, 0}, {"no-track", no_argument, 0, 0},           \
        {"no-smooth", no_argument, 0, 0}, {"track-by", required_argument, 0, 0},            \
        {"track-max-age-ms", required_argument, 0, 0},                                   \
        {"smooth-min-cutoff", required_argument, 0, 0},                                  \
        {"smooth-beta", required_argument, 0, 0}, {"max-people", required_argument, 0, 0}, \
        {"annotate", required_argument, 0, 0}, {"annotate-height", required_argument, 0, 0}, \
        {"snapshot-every", required_argument, 0, 0}, {"mqtt", required_argument, 0, 0},    \
        {"mqtt-ca", required_argument, 0, 0}, {"mqtt-qos", required_argument, 0, 0},       \
        {"mqtt-required", no_argument, 0, 0}, {"mqtt-queue", required_argument, 0, 0},  \
        {"gpus", required_argument, 0, 0}, {"failover", no_argument, 0, 0}

/* The help text of those options. */
extern const char cli_job_options_help[];

#endif
