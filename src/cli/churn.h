/* Streams added and removed while a job runs (bench --add/--remove): the
 * live pipeline's load test. Additions and removals are spread evenly over
 * the middle of the run, after the start-up window and before the last
 * fifth, so that every change is measured under load. */
#ifndef PS_CLI_CHURN_H
#define PS_CLI_CHURN_H

#include "posestream.h"

struct cli_stream_job;

typedef struct cli_churn {
    int add, remove;      /* how many in all (0: none) */
    double from_s, to_s;  /* the span they are spread over, from the start */
    int added, removed;   /* done so far */
    int *lowest;          /* the job's streams of the lowest priority, the last
                             first: removed in this order, copied when adding */
    int n_lowest;
} cli_churn;

/* Finds the job's streams of the lowest priority (the last first): those
 * removed, and those copied as added streams. Returns 0, or 1 after printing
 * an error (fewer such streams than --remove asks, or out of memory). */
int cli_churn_plan(cli_churn *c, const struct cli_stream_job *job);

/* Adds and removes what is due by elapsed_s. Returns 0, or 1 after printing
 * an error when a stream could not be added or removed. */
int cli_churn_step(cli_churn *c, const struct cli_stream_job *job, ps_runtime *rt,
                   double elapsed_s);

void cli_churn_free(cli_churn *c);

#endif
