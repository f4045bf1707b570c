/* JSON-lines results (see results.h). */
#include "sink/results.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink/json.h"
#include "util/file.h"
#include "util/status.h"

#define PS_RESULTS_MAX_FILES 4096

/* One output file: its descriptor and how much of it is whole lines. */
typedef struct {
    int fd;
    off_t whole;   /* bytes of whole lines written so far */
    int seekable;  /* a regular file: a broken line can be cut off */
} out_file;

struct ps_results {
    char target[4096];
    int is_dir;
    out_file one;     /* stdout or the single file */
    out_file *files;  /* folder mode: per stream id (fd -1 until opened) */
    int n_files;
    FILE *line;       /* the line being built (a memory stream) */
    char *line_buf;
    size_t line_len;
    atomic_int failed;
    char error[PS_ERR_LEN]; /* set before failed */
};

static out_file out_file_of(int fd) {
    struct stat st;
    out_file o = {fd, 0, fstat(fd, &st) == 0 && S_ISREG(st.st_mode)};
    return o;
}

/* Checks that a file can be made in folder dir (as root permissions do not
 * say: a read-only mount, /proc). Returns 0, or errno. */
static int probe_folder(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/.posestream-probe-%ld", dir, (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0) return errno;
    close(fd);
    unlink(path);
    return 0;
}

/* Opens the target (see results.h); 0 or errno, *what saying the step. */
static int open_target(ps_results *r, const char *target, const char **what) {
    size_t len = strlen(target);
    if (!strcmp(target, "-")) {
        r->one = out_file_of(STDOUT_FILENO);
        return 0;
    }
    if (ps_file_is_dir(target) || (len && target[len - 1] == '/')) {
        *what = "cannot create folder";
        if (mkdir(target, 0777) != 0 && errno != EEXIST) return errno;
        r->is_dir = 1;
        *what = "cannot write in folder";
        return probe_folder(target);
    }
    *what = "cannot write";
    int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) return errno;
    r->one = out_file_of(fd);
    return 0;
}

ps_results *ps_results_open(const char *target, ps_err *err) {
    ps_results *r = calloc(1, sizeof *r);
    if (r) r->line = open_memstream(&r->line_buf, &r->line_len);
    if (!r || !r->line) {
        free(r);
        ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(r->target, sizeof r->target, "%s", target);
    r->one.fd = -1;
    const char *what = "";
    int e = open_target(r, target, &what);
    if (e) {
        ps_err_set(err, PS_ERR_IO, "%s: %s: %s", target, what, strerror(e));
        ps_results_close(r, NULL);
        return NULL;
    }
    return r;
}

/* Records the first failure: path, what and errno e; writes stop. */
static void fail(ps_results *r, const char *path, const char *what, int e) {
    if (atomic_load(&r->failed)) return;
    snprintf(r->error, sizeof r->error, "%.380s: %s: %s", path, what, strerror(e));
    atomic_store(&r->failed, 1);
}

/* The file for stream id, opened on first use (folder mode); NULL after a
 * failure (recorded). */
static out_file *stream_file(ps_results *r, int id) {
    if (!r->is_dir) return &r->one;
    if (id < 0 || id >= PS_RESULTS_MAX_FILES) return NULL;
    if (id >= r->n_files) {
        out_file *grown = realloc(r->files, sizeof *grown * (size_t)(id + 1));
        if (!grown) return fail(r, r->target, "out of memory", ENOMEM), NULL;
        for (int k = r->n_files; k <= id; k++) grown[k] = (out_file){-1, 0, 0};
        r->files = grown;
        r->n_files = id + 1;
    }
    if (r->files[id].fd < 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/stream%d.jsonl", r->target, id);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0) return fail(r, path, "cannot write", errno), NULL;
        r->files[id] = out_file_of(fd);
    }
    return &r->files[id];
}

/* Writes the whole line to o; on failure cuts a regular file back to its
 * last whole line. Returns 0 or errno. */
static int write_line(out_file *o, const char *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(o->fd, buf + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC;
            if (o->seekable && done && ftruncate(o->fd, o->whole) != 0) e = errno;
            return e;
        }
        done += (size_t)n;
    }
    o->whole += (off_t)len;
    return 0;
}

void ps_results_write(ps_results *r, const ps_result *res) {
    if (atomic_load(&r->failed)) return;
    int stream = res->stream;
    out_file *out = stream_file(r, stream);
    if (!out) return;
    ps_json w;
    rewind(r->line);
    ps_json_init(&w, r->line);
    ps_json_result(&w, res);
    fputc('\n', r->line);
    if (fflush(r->line) != 0) return fail(r, r->target, "building a line", ENOMEM);
    int e = write_line(out, r->line_buf, r->line_len);
    if (e) {
        char path[4200];
        if (r->is_dir) snprintf(path, sizeof path, "%s/stream%d.jsonl", r->target, stream);
        else snprintf(path, sizeof path, "%s", !strcmp(r->target, "-") ? "stdout" : r->target);
        fail(r, path, "writing results failed", e);
    }
}

int ps_results_failed(ps_results *r, ps_err *err) {
    if (!r || !atomic_load(&r->failed)) return 0;
    if (err) ps_err_set(err, PS_ERR_IO, "%s", r->error);
    return 1;
}

ps_status ps_results_close(ps_results *r, ps_err *err) {
    if (!r) return PS_OK;
    if (r->one.fd > STDOUT_FILENO && close(r->one.fd) != 0) fail(r, r->target, "closing", errno);
    for (int k = 0; k < r->n_files; k++)
        if (r->files[k].fd >= 0 && close(r->files[k].fd) != 0)
            fail(r, r->target, "closing", errno);
    ps_status st = ps_results_failed(r, err) ? PS_ERR_IO : PS_OK;
    fclose(r->line);
    free(r->line_buf);
    free(r->files);
    free(r);
    return st;
}
