/* Streams added and removed while a job runs (see churn.h). */
#include "cli/churn.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/streams.h"

static int priority_of(const cli_stream_job *job, int k) {
    return job->specs ? job->specs[k].priority : 0;
}

int cli_churn_plan(cli_churn *c, const cli_stream_job *job) {
    if (c->add == 0 && c->remove == 0) return 0;
    int lowest = priority_of(job, 0);
    for (int k = 1; k < job->n_uris; k++)
        if (priority_of(job, k) < lowest) lowest = priority_of(job, k);
    c->lowest = malloc(sizeof *c->lowest * (size_t)job->n_uris);
    if (!c->lowest) return cli_fail("out of memory");
    for (int k = job->n_uris - 1; k >= 0; k--)
        if (priority_of(job, k) == lowest) c->lowest[c->n_lowest++] = k;
    if (c->n_lowest < c->remove) {
        char msg[160];
        snprintf(msg, sizeof msg, "--remove %d: only %d streams have the lowest priority (%d)",
                 c->remove, c->n_lowest, lowest);
        return cli_fail(msg);
    }
    return 0;
}

/* How many of n events spread over the span are due by elapsed_s: event i
 * at the middle of the i-th of n equal parts. */
static int due(const cli_churn *c, int n, double elapsed_s) {
    double span = c->to_s - c->from_s;
    if (n == 0 || elapsed_s < c->from_s) return 0;
    int k = (int)((elapsed_s - c->from_s) / span * n + 0.5);
    return k > n ? n : k;
}

int cli_churn_step(cli_churn *c, const cli_stream_job *job, ps_runtime *rt, double elapsed_s) {
    ps_err err;
    for (int want = due(c, c->add, elapsed_s); c->added < want; c->added++) {
        /* copies of the lowest-priority streams in turn, with their settings */
        char suffix[32];
        snprintf(suffix, sizeof suffix, "+added%d", c->added);
        if (cli_add_stream(job, rt, c->lowest[c->added % c->n_lowest], suffix)) return 1;
    }
    for (int want = due(c, c->remove, elapsed_s); c->removed < want; c->removed++)
        if (ps_runtime_remove_stream(rt, c->lowest[c->removed], &err)) {
            /* it may have ended by itself meanwhile: not an error of the run */
            fprintf(stderr, "posestream: --remove: %s\n", err.msg);
        }
    return 0;
}

void cli_churn_free(cli_churn *c) {
    free(c->lowest);
    c->lowest = NULL;
}
