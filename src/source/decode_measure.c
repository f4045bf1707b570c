/* The decoders' ceiling (ps_decode_measure in posestream.h): the streams
 * read through the sources as fast as they decode (files looped, frames let
 * go at once), no engine, so a run's stream count can be put next to what
 * this machine's decoders sustain. */

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source/source.h"
#include "util/clock.h"
#include "util/status.h"

typedef struct {
    const char *uri;
    ps_source_opts so;
    int64_t t0, t1;       /* the counted span */
    atomic_int stop;
    ps_source *src;
    pthread_t thread;
    int started;
    long long frames;     /* decoded within [t0, t1) */
    int64_t first_ns;     /* its first frame */
    int gpu;
    ps_err err;
} ceiling_job;

static void *ceiling_main(void *arg) {
    ceiling_job *j = arg;
    j->src = ps_source_open(j->uri, &j->so, &j->err);
    if (!j->src) return NULL;
    ps_frame f;
    memset(&f, 0, sizeof f);
    while (!atomic_load(&j->stop)) {
        if (ps_source_read(j->src, &f, &j->err) != PS_READ_FRAME) break;
        int64_t now = ps_now_ns();
        if (!j->first_ns) j->first_ns = now;
        j->frames += now >= j->t0 && now < j->t1;
        ps_frame_release(&f); /* the surface goes back at once, as in a run */
    }
    j->gpu = ps_source_gpu_decoding(j->src);
    free(f.rgb);
    return NULL;
}

static void ceiling_sum(const ceiling_job *jobs, int n, int64_t start, double seconds,
                        ps_decode_ceiling *out) {
    memset(out, 0, sizeof *out);
    out->seconds = seconds;
    for (int k = 0; k < n; k++) {
        const ceiling_job *j = &jobs[k];
        if (!j->src) {
            if (!out->error[0]) snprintf(out->error, sizeof out->error, "%s", j->err.msg);
            continue;
        }
        double fps = (double)j->frames / seconds;
        if (!out->streams || fps < out->fps_min) out->fps_min = fps;
        if (fps > out->fps_max) out->fps_max = fps;
        if (!out->streams) ps_source_info(j->src, NULL, NULL, &out->fps_nominal);
        out->fps_total += fps;
        double first = j->first_ns ? (double)(j->first_ns - start) / 1e9 : -1;
        if (first < 0 || first > out->first_max_s) out->first_max_s = first < 0 ? 1e9 : first;
        out->streams++;
        out->on_gpu += j->gpu;
    }
}

ps_status ps_decode_measure(const char *const *uris, int32_t n, ps_decode_mode decode,
                            double warm_s, double seconds, ps_decode_ceiling *out, ps_err *err) {
    memset(out, 0, sizeof *out);
    if (n < 1 || !(warm_s >= 0) || !(seconds > 0))
        return ps_err_set(err, PS_ERR_ARG, "decode measure: needs streams and seconds > 0");
    ps_err gpu_err;
    if (decode != PS_DECODE_CPU) ps_source_gpu_prepare(0, &gpu_err); /* no GPU: the CPU decodes */
    ceiling_job *jobs = calloc((size_t)n, sizeof *jobs);
    if (!jobs) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    int64_t start = ps_now_ns();
    for (int k = 0; k < n; k++) {
        jobs[k] = (ceiling_job){.uri = uris[k], .so = {.decode = decode}};
        jobs[k].so.loop = 1;
        jobs[k].so.raw = 1; /* GPU frames stay on the GPU */
        jobs[k].t0 = start + (int64_t)(warm_s * 1e9);
        jobs[k].t1 = jobs[k].t0 + (int64_t)(seconds * 1e9);
        jobs[k].started = pthread_create(&jobs[k].thread, NULL, ceiling_main, &jobs[k]) == 0;
    }
    ps_sleep_until_ns(start + (int64_t)((warm_s + seconds) * 1e9));
    /* files only: a read never waits long, so the flag is enough */
    for (int k = 0; k < n; k++) atomic_store(&jobs[k].stop, 1);
    for (int k = 0; k < n; k++)
        if (jobs[k].started) pthread_join(jobs[k].thread, NULL);
    ceiling_sum(jobs, n, start, seconds, out);
    for (int k = 0; k < n; k++) ps_source_close(jobs[k].src);
    free(jobs);
    if (!out->streams)
        return ps_err_set(err, PS_ERR_IO, "%s", out->error[0] ? out->error : "no stream could be decoded");
    return PS_OK;
}
