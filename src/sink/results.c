/* JSON-lines results (see results.h). */
#include "sink/results.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sink/json.h"
#include "util/file.h"
#include "util/status.h"

#define PS_RESULTS_MAX_FILES 4096

struct ps_results {
    char target[4096];
    int is_dir;
    FILE *one;      /* stdout or the single file */
    FILE **files;   /* folder mode: per stream id */
    int n_files;
    int failed;
    char failed_path[4200];
};

ps_results *ps_results_open(const char *target, ps_err *err) {
    ps_results *r = calloc(1, sizeof *r);
    if (!r) {
        ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(r->target, sizeof r->target, "%s", target);
    size_t len = strlen(target);
    if (!strcmp(target, "-")) {
        r->one = stdout;
    } else if (ps_file_is_dir(target) || (len && target[len - 1] == '/')) {
        if (mkdir(target, 0777) != 0 && errno != EEXIST) {
            ps_err_set(err, PS_ERR_IO, "%s: cannot create folder: %s", target, strerror(errno));
            free(r);
            return NULL;
        }
        r->is_dir = 1;
    } else if (!(r->one = fopen(target, "w"))) {
        ps_err_set(err, PS_ERR_IO, "%s: cannot write: %s", target, strerror(errno));
        free(r);
        return NULL;
    }
    return r;
}

/* The file for stream id, opened on first use (folder mode). */
static FILE *stream_file(ps_results *r, int id) {
    if (!r->is_dir) return r->one;
    if (id < 0 || id >= PS_RESULTS_MAX_FILES) return NULL;
    if (id >= r->n_files) {
        FILE **grown = realloc(r->files, sizeof *grown * (size_t)(id + 1));
        if (!grown) return NULL;
        memset(grown + r->n_files, 0, sizeof *grown * (size_t)(id + 1 - r->n_files));
        r->files = grown;
        r->n_files = id + 1;
    }
    if (!r->files[id]) {
        char path[4200];
        snprintf(path, sizeof path, "%s/stream%d.jsonl", r->target, id);
        r->files[id] = fopen(path, "w");
        if (!r->files[id] && !r->failed) {
            r->failed = 1;
            snprintf(r->failed_path, sizeof r->failed_path, "%s", path);
        }
    }
    return r->files[id];
}

void ps_results_write(void *vr, int stream, const char *name, const ps_frame *f) {
    ps_results *r = vr;
    FILE *out = stream_file(r, stream);
    if (!out) return;
    double latency_ms = (double)(f->t.output - f->t.captured) / 1e6;
    fprintf(out, "{\"stream\":%d,\"name\":", stream);
    ps_json_string(out, name);
    fprintf(out, ",\"frame\":%lld,\"pts\":%.3f,\"latency_ms\":%.2f,\"width\":%d,\"height\":%d,"
                 "\"people\":",
            (long long)f->index, f->pts, latency_ms, f->width, f->height);
    ps_json_people(out, f->people, f->n_people);
    fputs("}\n", out);
    if (ferror(out) && !r->failed) {
        r->failed = 1;
        snprintf(r->failed_path, sizeof r->failed_path, "%s", r->target);
    }
}

ps_status ps_results_close(ps_results *r, ps_err *err) {
    if (!r) return PS_OK;
    int bad = r->failed;
    if (r->one && r->one != stdout) bad |= fclose(r->one) != 0;
    else if (r->one) bad |= fflush(stdout) != 0;
    for (int k = 0; k < r->n_files; k++)
        if (r->files[k]) bad |= fclose(r->files[k]) != 0;
    ps_status st = PS_OK;
    if (bad)
        st = ps_err_set(err, PS_ERR_IO, "%s: writing results failed",
                        r->failed_path[0] ? r->failed_path : r->target);
    free(r->files);
    free(r);
    return st;
}
