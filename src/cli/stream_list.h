/* The streams of a command line: a streams file (--streams) and sources
 * given as arguments (each may end in "#priority=1,max_latency_ms=150,..."),
 * turned into the uri, name and settings arrays of a cli_stream_job. */
#ifndef PS_CLI_STREAM_LIST_H
#define PS_CLI_STREAM_LIST_H

#include "cli/streams.h"

typedef struct {
    ps_stream_params *specs;
    char **uris, **names; /* into specs */
    int n;
} cli_stream_list;

/* Reads file (NULL: none), then the n_args args. Returns 0, or 1 after
 * printing an error naming the file, entry or argument (list left empty). */
int cli_stream_list_make(const char *file, char **args, int n_args, cli_stream_list *out);

/* Points the job at the list (which must outlive the job's run). */
void cli_stream_list_use(cli_stream_list *l, cli_stream_job *job);

void cli_stream_list_free(cli_stream_list *l);

#endif
