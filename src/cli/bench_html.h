/* bench --html: the run as a self-contained page of plots (bench_html.c). */
#ifndef PS_CLI_BENCH_HTML_H
#define PS_CLI_BENCH_HTML_H

#include "cli/streams.h"

/* Writes the report of o (run with job.series) and the criteria printed
 * to path. Returns 0, or -1 with errno set. */
int bench_html_write(const char *path, const cli_stream_outcome *o);

#endif
