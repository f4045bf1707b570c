/* Streams as a user writes them down: a streams file (a JSON array of
 * {"uri", "name", "priority", "max_latency_ms", "max_fps", "options":
 * {FFmpeg option: value}}) or, for quick use, settings after a '#' at the
 * end of a source: "rtsp://cam/live#priority=1,max_latency_ms=150". Both
 * become ps_stream_spec, what ps_pipeline_add_stream takes. */
#ifndef PS_PIPELINE_STREAM_SPEC_H
#define PS_PIPELINE_STREAM_SPEC_H

#include "pipeline/pipeline.h"

typedef struct {
    char *uri;
    char *name;            /* NULL: from the uri */
    ps_stream_settings settings; /* settings.name is name */
    char *av_options;      /* "key=value,key=value" for FFmpeg, or NULL */
    int gpu_plus1;         /* "gpu": the GPU it is pinned to, plus one (0: none) */
} ps_stream_spec;

/* Parses a streams file's text (len bytes, need not end in NUL); what the
 * error names is `what` (the file's path), the entry and the field.
 * Returns PS_OK with *specs (free with ps_stream_specs_free) and *n, or
 * PS_ERR_FORMAT / PS_ERR_ARG / PS_ERR_NOMEM leaving *specs NULL. */
ps_status ps_stream_specs_parse(const char *text, size_t len, const char *what,
                                ps_stream_spec **specs, int *n, ps_err *err);

/* One entry of that array on its own (an API request's body). Returns
 * PS_OK (free spec with ps_stream_spec_clear) or non-OK naming `what` and
 * the field, spec cleared. */
ps_status ps_stream_spec_parse_one(const char *text, size_t len, const char *what,
                                   ps_stream_spec *spec, ps_err *err);

/* One source as given on a command line: the part before a trailing
 * "#key=value,..." of known keys (priority, max_latency_ms, max_fps, name)
 * is the uri; without one the whole text is. Returns PS_OK (free spec with
 * ps_stream_spec_clear) or PS_ERR_ARG naming the bad key or value. */
ps_status ps_stream_spec_from_arg(const char *arg, ps_stream_spec *spec, ps_err *err);

/* A stream's default name: the last part of uri's path ("rtsp://cam/live"
 * -> "live", "/data/a.mp4" -> "a.mp4"), else the whole uri. */
void ps_stream_name_of(const char *uri, char *out, size_t cap);

void ps_stream_spec_clear(ps_stream_spec *spec);
void ps_stream_specs_free(ps_stream_spec *specs, int n);

#endif
