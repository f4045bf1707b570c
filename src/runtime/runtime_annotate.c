/* The runtime's annotators (posestream.h, "Drawing"): one per stream while
 * the runtime draws (annotated video, snapshots or previews), made before
 * the stream is added so that its source carries the tap from the start,
 * given the stream's results after tracking, finished when the stream is
 * done, and released at the close, which waits for their files. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/runtime_impl.h"
#include "sink/annotate.h"
#include "util/log.h"
#include "util/memory.h"
#include "util/status.h"

int ps_rt_annot_enabled(const ps_runtime *rt) {
    const ps_annotate_params *p = &rt->params.annotate;
    return p->video_dir || p->snapshot_dir || p->previews;
}

static ps_status check_dir(const char *what, const char *dir, ps_err *err) {
    struct stat st;
    if (!dir) return PS_OK;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return ps_err_set(err, PS_ERR_IO, "%s %s: not a folder", what, dir);
    if (access(dir, W_OK | X_OK))
        return ps_err_set(err, PS_ERR_IO, "%s %s: cannot be written", what, dir);
    return PS_OK;
}

ps_status ps_rt_annot_check(const ps_annotate_params *p, ps_err *err) {
    ps_status st = check_dir("annotated video folder", p->video_dir, err);
    if (!st) st = check_dir("snapshot folder", p->snapshot_dir, err);
    if (!st && p->snapshot_dir && !(p->snapshot_every_s > 0 && p->snapshot_every_s <= 1e6))
        st = ps_err_set(err, PS_ERR_ARG, "snapshot every %g s: expected more than 0",
                        p->snapshot_every_s);
    if (!st && (p->height < 0 || p->height > 8192 || p->height % 2))
        st = ps_err_set(err, PS_ERR_ARG, "annotate height %d: expected an even number to 8192",
                        p->height);
    return st;
}

ps_status ps_rt_annot_prepare(ps_runtime *rt, ps_annotator **out, ps_source_opts *so,
                              ps_err *err) {
    *out = NULL;
    if (!ps_rt_annot_enabled(rt)) return PS_OK;
    if (!(*out = ps_annotator_create(&rt->params.annotate, err))) return err->code;
    so->tap = ps_annotator_tap(*out);
    return PS_OK;
}

/* Lets go of the annotators of streams that are over and whose files are
 * closed, so a long-running serve with streams coming and going keeps only
 * its live ones. */
static void reap(ps_runtime *rt) {
    pthread_mutex_lock(&rt->annot_mu);
    for (int k = 0; k < rt->n_annots; k++)
        if (rt->annots[k] && ps_annotator_idle(rt->annots[k])) {
            ps_annotator_release(rt->annots[k]); /* its worker has exited: no wait */
            rt->annots[k] = NULL;
        }
    pthread_mutex_unlock(&rt->annot_mu);
}

/* Keeps a for stream id and starts it; a failed add (id < 0) drops it. */
void ps_rt_annot_added(ps_runtime *rt, ps_annotator *a, int id) {
    if (!a) return;
    ps_err err;
    reap(rt);
    pthread_mutex_lock(&rt->annot_mu);
    if (id >= rt->n_annots) {
        ps_annotator **grown = ps_grow_zeroed(rt->annots, &rt->n_annots, id + 16, sizeof *grown);
        if (grown) rt->annots = grown;
    }
    int kept = id >= 0 && id < rt->n_annots;
    if (kept) rt->annots[id] = a;
    pthread_mutex_unlock(&rt->annot_mu);
    if (!kept) {
        ps_annotator_finish(a);
        ps_annotator_release(a);
    } else if (ps_annotator_start(a, id, &err)) {
        ps_log(PS_LOG_WARN, "%s", err.msg);
    }
}

void ps_rt_annot_result(ps_runtime *rt, int stream, int64_t index, const ps_person *people,
                        int n) {
    pthread_mutex_lock(&rt->annot_mu);
    ps_annotator *a = stream >= 0 && stream < rt->n_annots ? rt->annots[stream] : NULL;
    if (a) ps_annotator_result(a, index, people, n);
    pthread_mutex_unlock(&rt->annot_mu);
}

/* Stream k is done: its annotator finishes on its own thread. */
void ps_rt_annot_done(ps_runtime *rt, int k) {
    pthread_mutex_lock(&rt->annot_mu);
    if (k >= 0 && k < rt->n_annots && rt->annots[k]) ps_annotator_finish(rt->annots[k]);
    pthread_mutex_unlock(&rt->annot_mu);
}

/* At the close, after the pipeline (no tap or result comes any more):
 * waits for every annotator's files. */
void ps_rt_annot_close(ps_runtime *rt) {
    for (int k = 0; k < rt->n_annots; k++) {
        if (!rt->annots[k]) continue;
        ps_annotator_finish(rt->annots[k]);
        ps_annotator_release(rt->annots[k]);
    }
    free(rt->annots);
    rt->annots = NULL;
    rt->n_annots = 0;
}

ps_preview *ps_runtime_preview_open(ps_runtime *rt, int32_t stream, double fps, int32_t height,
                                    ps_err *err) {
    if (!rt || !rt->params.annotate.previews)
        return ps_err_set(err, PS_ERR_ARG, "previews are off"), NULL;
    if (!(fps > 0 && fps <= 60) || height < 0 || height > 4320)
        return ps_err_set(err, PS_ERR_ARG, "preview: fps %g (0 to 60) or height %d (0 to 4320)",
                          fps, height), NULL;
    pthread_mutex_lock(&rt->annot_mu);
    ps_annotator *a = stream >= 0 && stream < rt->n_annots ? rt->annots[stream] : NULL;
    ps_preview *w = a ? ps_annotator_watch(a, fps, height, err) : NULL;
    pthread_mutex_unlock(&rt->annot_mu);
    if (!a) ps_err_set(err, PS_ERR_ARG, "stream %d: no such stream", stream);
    return w;
}
