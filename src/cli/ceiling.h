/* The decoders' ceiling for `bench --decode-only` / `--ceiling`: the same
 * streams read through the sources as fast as they decode (files looped,
 * frames let go at once), no network, so a run's stream count can be put
 * next to what this machine's decoders sustain. */
#ifndef PS_CLI_CEILING_H
#define PS_CLI_CEILING_H

#include "source/source.h"

typedef struct {
    int streams;          /* streams that decoded */
    int on_gpu;           /* of them, on the GPU (NVDEC) */
    double fps_total;     /* frames/s of all streams together */
    double fps_min, fps_max; /* of one stream */
    double fps_nominal;   /* the first stream's own rate, for "= N streams" */
    double seconds;       /* counted over this long */
    double first_max_s;   /* the slowest stream's first frame after the start */
    char error[512];      /* the first stream's error, if one failed */
} cli_ceiling;

/* Decodes n uris at once, one thread each (decode as in so: AUTO means the
 * GPU where the codec allows), for warm_s then seconds, counting the frames
 * of the second span. Returns 0, or 1 after printing an error when nothing
 * could be decoded. */
int cli_decode_ceiling(char **uris, int n, const ps_source_opts *so, double warm_s,
                       double seconds, cli_ceiling *out);

#endif
