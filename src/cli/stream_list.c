/* The streams of a command line (see stream_list.h). */
#include "cli/stream_list.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/file.h"

#define STREAMS_FILE_MAX (16 << 20)

void cli_stream_list_free(cli_stream_list *l) {
    ps_stream_specs_free(l->specs, l->n);
    free(l->uris);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static int read_file(const char *file, ps_stream_spec **specs, int *n) {
    ps_err err;
    char *text = NULL;
    size_t size = 0;
    ps_status st = ps_file_read(file, STREAMS_FILE_MAX, &text, &size, &err);
    if (!st) st = ps_stream_specs_parse(text, size, file, specs, n, &err);
    free(text);
    return st ? cli_fail(err.msg) : 0;
}

int cli_stream_list_make(const char *file, char **args, int n_args, cli_stream_list *out) {
    memset(out, 0, sizeof *out);
    ps_stream_spec *from_file = NULL;
    int n_file = 0;
    if (file && read_file(file, &from_file, &n_file)) return 1;
    int n = n_file + n_args;
    out->specs = calloc(n ? (size_t)n : 1, sizeof *out->specs);
    out->uris = calloc(n ? (size_t)n : 1, sizeof *out->uris);
    out->names = calloc(n ? (size_t)n : 1, sizeof *out->names);
    if (!out->specs || !out->uris || !out->names) {
        ps_stream_specs_free(from_file, n_file);
        cli_stream_list_free(out);
        return cli_fail("out of memory");
    }
    if (n_file) memcpy(out->specs, from_file, sizeof *from_file * (size_t)n_file);
    free(from_file); /* its strings now belong to out->specs */
    out->n = n_file;
    for (int k = 0; k < n_args; k++, out->n++) {
        ps_err err;
        if (ps_stream_spec_from_arg(args[k], &out->specs[out->n], &err)) {
            cli_stream_list_free(out);
            return cli_fail(err.msg);
        }
    }
    for (int k = 0; k < out->n; k++) {
        out->uris[k] = out->specs[k].uri;
        out->names[k] = out->specs[k].name;
    }
    return 0;
}

void cli_stream_list_use(cli_stream_list *l, cli_stream_job *job) {
    job->uris = l->uris;
    job->names = l->names;
    job->specs = l->specs;
    job->n_uris = l->n;
}
