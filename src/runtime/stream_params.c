/* The public stream parsers (posestream.h) over the pipeline's streams
 * files and quick form (pipeline/stream_spec.h): a spec's strings move into
 * the public entry, which then owns them. */
#include <stdlib.h>
#include <string.h>

#include "pipeline/stream_spec.h"
#include "util/file.h"
#include "util/status.h"

#define STREAMS_FILE_MAX (16 << 20)

static void take_spec(ps_stream_spec *s, ps_stream_params *p) {
    *p = ps_stream_default_params();
    p->uri = s->uri;
    p->name = s->name;
    p->options = s->av_options;
    p->priority = s->settings.priority;
    p->max_latency_ms = s->settings.max_latency_ms;
    p->max_fps = s->settings.max_fps;
    p->gpu = s->gpu_plus1 - 1;
    memset(s, 0, sizeof *s);
}

/* One spec as a list of one, which then owns its strings. */
static ps_status own_one(ps_stream_spec *spec, ps_stream_params **out, ps_err *err) {
    ps_stream_params *one = calloc(1, sizeof *one);
    if (!one) {
        ps_stream_spec_clear(spec);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    take_spec(spec, one);
    *out = one;
    return PS_OK;
}

ps_status ps_stream_params_parse(const char *text, size_t len, const char *what,
                                 ps_stream_params **out, int32_t *n, ps_err *err) {
    *out = NULL;
    *n = 0;
    ps_stream_spec *specs;
    int count;
    ps_status st = ps_stream_specs_parse(text, len, what ? what : "streams", &specs, &count, err);
    if (st) return st;
    ps_stream_params *list = calloc((size_t)count, sizeof *list);
    if (!list) {
        ps_stream_specs_free(specs, count);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < count; k++) take_spec(&specs[k], &list[k]);
    free(specs);
    *out = list;
    *n = count;
    return PS_OK;
}

ps_status ps_stream_params_parse_one(const char *text, size_t len, const char *what,
                                     ps_stream_params **out, ps_err *err) {
    *out = NULL;
    ps_stream_spec spec;
    ps_status st = ps_stream_spec_parse_one(text, len, what ? what : "stream", &spec, err);
    if (st) return st;
    return own_one(&spec, out, err);
}

ps_status ps_stream_params_load(const char *path, ps_stream_params **out, int32_t *n,
                                ps_err *err) {
    *out = NULL;
    *n = 0;
    char *text = NULL;
    size_t size = 0;
    ps_status st = ps_file_read(path, STREAMS_FILE_MAX, &text, &size, err);
    if (!st) st = ps_stream_params_parse(text, size, path, out, n, err);
    free(text);
    return st;
}

ps_status ps_stream_params_from_arg(const char *arg, ps_stream_params **out, ps_err *err) {
    *out = NULL;
    ps_stream_spec spec;
    ps_status st = ps_stream_spec_from_arg(arg, &spec, err);
    if (st) return st;
    return own_one(&spec, out, err);
}

void ps_stream_params_free(ps_stream_params *list, int32_t n) {
    for (int32_t k = 0; list && k < n; k++) {
        free((char *)list[k].uri);
        free((char *)list[k].name);
        free((char *)list[k].options);
    }
    free(list);
}
