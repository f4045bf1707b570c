/* Human and machine reports of a pipeline run: the live status lines, the
 * summary table, and every figure as JSON. */
#ifndef PS_SINK_REPORT_H
#define PS_SINK_REPORT_H

#include <stdio.h>

#include "pipeline/pipeline.h"

/* Process-wide figures the pipeline does not know. */
typedef struct {
    double peak_rss_mb;
    double engine_mb;     /* memory the engine holds */
    double prepared_mb;   /* of it, device buffers of frames prepared on arrival */
    double vram_mb;       /* peak device memory; < 0 when not on a GPU */
} ps_report_extra;

/* Peak resident memory of this process in MB. */
double ps_report_peak_rss_mb(void);

/* Draws one status line per stream (fps over the last interval, latency,
 * drops), redrawing the previous block in place when `redraw` is set.
 * prev may be NULL (then fps is over the whole run). */
void ps_report_status(FILE *f, const ps_pipeline_stats *now, const ps_pipeline_stats *prev,
                      int redraw);

/* The end-of-run table: per stream and overall. */
void ps_report_summary(FILE *f, const ps_pipeline_stats *st, const ps_report_extra *x);

/* Every figure as one JSON object. */
void ps_report_json(FILE *f, const ps_pipeline_stats *st, const ps_report_extra *x);

/* Overall frames/s processed since the start. */
double ps_report_fps(const ps_pipeline_stats *st);

/* Dropped frames as a percentage of produced, over all streams. */
double ps_report_drop_pct(const ps_pipeline_stats *st);

#endif
