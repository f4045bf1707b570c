/* Still-image source: one JPEG/PNG file gives one frame; a folder gives its
 * *.jpg, *.jpeg and *.png files (case-insensitive) in byte order of their
 * names, one frame each, at a nominal 1 frame per second (pts = index).
 * Offline: read as fast as the consumer takes them. opts.loop starts the
 * list again; opts.realtime is ignored. A bad image ends the stream with an
 * error naming the file. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "source/image.h"
#include "source/source_impl.h"
#include "util/clock.h"
#include "util/status.h"

typedef struct {
    ps_source base;
    char **paths;
    size_t n_paths, next;
    ps_rgb_image first; /* decoded at open for the size; used by the first read */
} still_source;

/* Whether name ends in an image extension. */
static int still_wanted(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
                   strcasecmp(dot, ".png") == 0);
}

static int still_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends dir/name (just name when dir is NULL) to g's list. Returns 0 when
 * out of memory. */
static int still_add(still_source *g, const char *dir, const char *name) {
    char **grown = realloc(g->paths, (g->n_paths + 1) * sizeof *grown);
    if (!grown) return 0;
    g->paths = grown;
    size_t len = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    char *path = malloc(len);
    if (!path) return 0;
    snprintf(path, len, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    g->paths[g->n_paths++] = path;
    return 1;
}

/* Lists dir's images, sorted. Returns PS_OK, or an error naming dir
 * (unreadable, no images, out of memory). */
static ps_status still_list(still_source *g, const char *dir, ps_err *err) {
    DIR *d = opendir(dir);
    if (!d) return ps_err_set(err, PS_ERR_IO, "%s: cannot read folder", dir);
    struct dirent *e;
    int ok = 1;
    while (ok && (e = readdir(d)))
        if (e->d_name[0] != '.' && still_wanted(e->d_name)) ok = still_add(g, dir, e->d_name);
    closedir(d);
    if (!ok) return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", dir);
    if (!g->n_paths)
        return ps_err_set(err, PS_ERR_IO, "%s: no .jpg, .jpeg or .png files in folder", dir);
    qsort(g->paths, g->n_paths, sizeof *g->paths, still_cmp);
    return PS_OK;
}

/* Decodes the next image of the list into img (the one read at open first).
 * Returns PS_OK, or an error naming the file. */
static ps_status still_next_image(still_source *g, ps_rgb_image *img, ps_err *err) {
    if (g->first.rgb) {
        *img = g->first;
        memset(&g->first, 0, sizeof g->first);
        g->next++;
        return PS_OK;
    }
    return ps_rgb_read(g->paths[g->next++], img, err);
}

static ps_read_result still_read(ps_source *s, ps_frame *f, ps_err *err) {
    still_source *g = (still_source *)s;
    if (g->next == g->n_paths) {
        if (!s->opts.loop) return PS_READ_END;
        g->next = 0;
    }
    ps_rgb_image img;
    if (still_next_image(g, &img, err) != PS_OK) {
        s->index++; /* its number stays taken: the next image keeps its own */
        return PS_READ_BAD;
    }
    int64_t captured = ps_now_ns();
    const uint8_t *planes[4] = {img.rgb, NULL, NULL, NULL};
    int strides[4] = {img.width * 3, 0, 0, 0};
    ps_read_result r = ps_source_scale(s, planes, strides, img.width, img.height,
                                       AV_PIX_FMT_RGB24, f, err);
    ps_rgb_free(&img);
    if (r != PS_READ_FRAME) return r;
    ps_source_stamp(s, f, (double)s->index, captured);
    f->still = 1;
    return r;
}

static void still_close(ps_source *s) {
    still_source *g = (still_source *)s;
    for (size_t i = 0; i < g->n_paths; i++) free(g->paths[i]);
    free(g->paths);
    ps_rgb_free(&g->first);
}

static const ps_source_ops still_ops = {still_read, still_close, NULL};

/* Fills g's list and decodes the first image for the stream's size. Returns
 * PS_OK or an error naming the folder or the file. */
static ps_status still_setup(still_source *g, const char *uri, int is_dir, ps_err *err) {
    ps_status st;
    if (is_dir)
        st = still_list(g, uri, err);
    else if (!still_add(g, NULL, uri))
        st = ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", uri);
    else
        st = PS_OK;
    if (st != PS_OK) return st;
    st = ps_rgb_read(g->paths[0], &g->first, err);
    if (st != PS_OK) return st;
    g->base.width = g->first.width;
    g->base.height = g->first.height;
    g->base.fps = is_dir ? 1.0 : 0.0;
    return PS_OK;
}

ps_source *ps_still_open(const char *uri, const ps_source_opts *opts,
                         int is_dir, ps_err *err) {
    still_source *g = ps_source_new(sizeof *g, &still_ops, uri, opts, err);
    if (!g) return NULL;
    if (still_setup(g, uri, is_dir, err) != PS_OK) {
        ps_source_close(&g->base);
        return NULL;
    }
    return &g->base;
}
