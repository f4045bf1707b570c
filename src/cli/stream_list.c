/* The streams of a command line (see stream_list.h). */
#include "cli/stream_list.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void cli_stream_list_free(cli_stream_list *l) {
    ps_stream_params_free(l->specs, l->n);
    free(l->uris);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static int read_file(const char *file, ps_stream_params **specs, int32_t *n) {
    ps_err err;
    return ps_stream_params_load(file, specs, n, &err) ? cli_fail(err.msg) : 0;
}

int cli_stream_list_make(const char *file, char **args, int n_args, cli_stream_list *out) {
    memset(out, 0, sizeof *out);
    ps_stream_params *from_file = NULL;
    int32_t n_file = 0;
    if (file && read_file(file, &from_file, &n_file)) return 1;
    int n = n_file + n_args;
    out->specs = calloc(n ? (size_t)n : 1, sizeof *out->specs);
    out->uris = calloc(n ? (size_t)n : 1, sizeof *out->uris);
    out->names = calloc(n ? (size_t)n : 1, sizeof *out->names);
    if (!out->specs || !out->uris || !out->names) {
        ps_stream_params_free(from_file, n_file);
        cli_stream_list_free(out);
        return cli_fail("out of memory");
    }
    if (n_file) memcpy(out->specs, from_file, sizeof *from_file * (size_t)n_file);
    free(from_file); /* its strings now belong to out->specs */
    out->n = n_file;
    for (int k = 0; k < n_args; k++, out->n++) {
        ps_err err;
        ps_stream_params *one;
        if (ps_stream_params_from_arg(args[k], &one, &err)) {
            cli_stream_list_free(out);
            return cli_fail(err.msg);
        }
        out->specs[out->n] = *one;
        free(one); /* its strings too */
    }
    for (int k = 0; k < out->n; k++) {
        out->uris[k] = (char *)out->specs[k].uri;
        out->names[k] = (char *)out->specs[k].name;
    }
    return 0;
}

void cli_stream_list_use(cli_stream_list *l, cli_stream_job *job) {
    job->uris = l->uris;
    job->names = l->names;
    job->specs = l->specs;
    job->n_uris = l->n;
}
