/* The multi-stream pipeline with a fake engine (a detector that sleeps a known
 * time and records what it got): offline streams lose nothing and keep order,
 * live streams under overload drop their oldest frames and count every drop,
 * batches mix streams without starving any, latency accounting matches the
 * engine's sleep, a bad stream fails alone, a failing engine loses only the
 * frames of its failed batches (counted) and recovers or stops the run with
 * its cause, frames that cannot be prepared are counted; priorities,
 * deadlines and strides under overload, streams added and removed while it
 * runs, and admission against a host-memory budget. Needs no
 * model; runs under ThreadSanitizer in CI. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clipgen.h"
#include "pipeline/pipeline.h"
#include "testutil.h"
#include "util/clock.h"
#include "util/status.h"

#define MAX_STREAMS 8
#define MAX_SEEN 4096

/* A detector that sleeps sleep_ms per batch and records every frame. */
typedef struct {
    int sleep_ms;
    int batches, mixed_batches; /* batches with frames of more than one stream */
    int max_batch_seen;
    int64_t seen[MAX_STREAMS][MAX_SEEN]; /* frame index per stream, in order */
    int n_seen[MAX_STREAMS];
    int content_ok; /* the picture's encoded index matched f->index */
    int check_content;
    int fail_every;     /* > 0: every fail_every-th batch fails */
    int recover_fails;  /* recover says the engine cannot go on */
    int recoveries, failed_batches;
    int prepare_fail_every; /* > 0: every prepare_fail_every-th frame cannot be prepared */
    int slow_every, slow_ms; /* > 0: every slow_every-th batch sleeps slow_ms instead */
    int prepared;
} fake;

static ps_status fake_detect(void *ctx, ps_frame **frames, int n, ps_err *err) {
    fake *d = ctx;
    if (d->fail_every && (d->batches + d->failed_batches + 1) % d->fail_every == 0) {
        d->failed_batches++;
        return ps_err_set(err, PS_ERR_BACKEND, "fake engine: batch %d failed",
                          d->batches + d->failed_batches);
    }
    int64_t t0 = ps_now_ns();
    int slow = d->slow_every && (d->batches + 1) % d->slow_every == 0;
    if (d->sleep_ms) usleep((useconds_t)(slow ? d->slow_ms : d->sleep_ms) * 1000);
    int64_t t1 = ps_now_ns();
    int first = frames[0]->stream, mixed = 0;
    for (int i = 0; i < n; i++) {
        ps_frame *f = frames[i];
        f->t.infer_start = t0;
        f->t.infer_end = t1;
        f->n_people = 0;
        if (f->stream != first) mixed = 1;
        if (f->stream < MAX_STREAMS && d->n_seen[f->stream] < MAX_SEEN)
            d->seen[f->stream][d->n_seen[f->stream]++] = f->index;
        if (d->check_content && clipgen_read_index(f->rgb, f->sw, f->sh) != f->index) d->content_ok = 0;
    }
    d->batches++;
    d->mixed_batches += mixed;
    if (n > d->max_batch_seen) d->max_batch_seen = n;
    return PS_OK;
}

static ps_status fake_recover(void *ctx, int n, ps_err *err) {
    fake *d = ctx;
    (void)n;
    d->recoveries++;
    return d->recover_fails ? ps_err_set(err, PS_ERR_BACKEND, "fake engine: device lost") : PS_OK;
}

/* Called on the reader threads: one counter per call under the pipeline's
 * hand-off is enough for the test (each stream's reader calls it in turn). */
static ps_status fake_prepare(void *ctx, ps_frame *f, ps_err *err) {
    fake *d = ctx;
    (void)f;
    int k = __atomic_add_fetch(&d->prepared, 1, __ATOMIC_RELAXED);
    if (k % d->prepare_fail_every == 0)
        return ps_err_set(err, PS_ERR_NOMEM, "fake engine: no room for frame %d", k);
    return PS_OK;
}

static size_t fake_memory(void *ctx) {
    (void)ctx;
    return 0;
}

static ps_detector fake_detector(fake *d, int max_batch) {
    memset(d, 0, sizeof *d);
    d->content_ok = 1;
    return (ps_detector){.ctx = d, .max_batch = max_batch, .input_w = 64, .input_h = 64,
                         .detect = fake_detect, .memory = fake_memory, .recover = fake_recover};
}

/* A pipeline of batches up to batch (50 ms timeout) and rings of ring
 * frames; keep_running and max_host as in ps_pipeline_opts. */
static ps_pipeline *new_pipeline(int batch, int ring, int keep_running, size_t max_host) {
    ps_err err;
    ps_pipeline_opts po = {.batch_max = batch, .batch_timeout_ms = 50, .ring_size = ring,
                           .keep_running = keep_running, .max_host = max_host};
    ps_pipeline *p = ps_pipeline_create(&po, &err);
    TU_CHECK(p != NULL);
    return p;
}

/* Waits for p to finish (stopped, or its streams ended), copies its
 * figures into st and frees it. */
static void finish_pipeline(ps_pipeline *p, ps_pipeline_stats *st) {
    ps_err err;
    TU_CHECK(ps_pipeline_wait(p, 60000) == 1);
    TU_CHECK(ps_pipeline_stats_get(p, st, &err) == PS_OK);
    ps_pipeline_free(p);
}

/* Runs uris through a pipeline to the end (or for run_ms when > 0). */
static void run_pipeline(ps_detector *det, const char **uris, int n, int batch, int ring,
                         const ps_source_opts *so, int run_ms, ps_pipeline_stats *st) {
    ps_err err;
    ps_pipeline *p = new_pipeline(batch, ring, 0, 0);
    for (int k = 0; k < n; k++) TU_CHECK(ps_pipeline_add(p, uris[k], NULL, so, &err) == PS_OK);
    TU_CHECK(ps_pipeline_start(p, det, &err) == PS_OK);
    if (run_ms > 0) {
        usleep((useconds_t)run_ms * 1000);
        ps_pipeline_stop(p);
    }
    finish_pipeline(p, st);
}

/* Writes three clips of 40, 25 and 33 frames into dir. */
static const int clip_frames[3] = {40, 25, 33};

static void three_clips(const char *dir, char paths[3][4200], const char *uris[3]) {
    for (int k = 0; k < 3; k++) {
        ps_err err;
        snprintf(paths[k], sizeof paths[k], "%s/clip%d.avi", dir, k);
        TU_CHECK(clipgen_write(paths[k], 160, 120, 25, clip_frames[k], &err) == PS_OK);
        uris[k] = paths[k];
    }
}

/* Every frame is accounted for: produced = processed + dropped + late +
 * skipped + cancelled + failed. */
static void check_accounting(const char *what, const ps_pipeline_stats *st) {
    for (int k = 0; k < st->n_streams; k++) {
        const ps_stream_figures *s = &st->streams[k];
        printf("%s, stream %d (priority %d): produced %llu = processed %llu + dropped %llu + late "
               "%llu + skipped %llu + cancelled %llu + failed %llu\n",
               what, k, s->settings.priority, (unsigned long long)s->produced,
               (unsigned long long)s->processed, (unsigned long long)s->dropped,
               (unsigned long long)s->late, (unsigned long long)s->skipped,
               (unsigned long long)s->cancelled, (unsigned long long)s->failed);
        TU_CHECK(s->produced ==
                 s->processed + s->dropped + s->late + s->skipped + s->cancelled + s->failed);
    }
}

/* The three clips through det offline (batches of 4, rings of 2), with
 * the accounting checked; st gets the figures. */
static void run_clips(const char *dir, ps_detector *det, const char *what,
                      ps_pipeline_stats *st) {
    char paths[3][4200];
    const char *uris[3];
    three_clips(dir, paths, uris);
    ps_source_opts so = {0};
    run_pipeline(det, uris, 3, 4, 2, &so, 0, st);
    check_accounting(what, st);
}

static void test_offline_loses_nothing(const char *dir) {
    const int *frames = clip_frames;
    char paths[3][4200];
    const char *uris[3];
    three_clips(dir, paths, uris);
    fake d;
    ps_detector det = fake_detector(&d, 4);
    d.check_content = 1;
    d.sleep_ms = 2;
    ps_source_opts so = {0};
    ps_pipeline_stats st;
    run_pipeline(&det, uris, 3, 4, 2, &so, 0, &st);
    for (int k = 0; k < 3; k++) {
        const ps_stream_figures *s = &st.streams[k];
        printf("offline stream %d: produced %llu processed %llu dropped %llu (file has %d)\n", k,
               (unsigned long long)s->produced, (unsigned long long)s->processed,
               (unsigned long long)s->dropped, frames[k]);
        TU_CHECK(s->state == PS_STREAM_ENDED && !s->live);
        TU_CHECK(s->produced == (uint64_t)frames[k] && s->processed == (uint64_t)frames[k]);
        TU_CHECK(s->dropped == 0);
        TU_CHECK(d.n_seen[k] == frames[k]);
        for (int i = 0; i < d.n_seen[k]; i++) TU_CHECK(d.seen[k][i] == i);
    }
    TU_CHECK(d.content_ok);
    ps_pipeline_stats_free(&st);
}

static void test_live_overload_drops_oldest(void) {
    const char *uris[2] = {"synthetic:160x120@200", "synthetic:160x120@200"};
    fake d;
    ps_detector det = fake_detector(&d, 2);
    /* at most 10 frames/s for 400 produced: while the first batch runs 40
     * frames of each stream arrive at a ring of 4; then even the largest
     * stride (1 in 30, 13 frames/s in all) asks more than the engine does */
    d.sleep_ms = 200;
    ps_source_opts so = {0};
    ps_pipeline_stats st;
    run_pipeline(&det, uris, 2, 2, 4, &so, 1000, &st);
    for (int k = 0; k < 2; k++) {
        const ps_stream_figures *s = &st.streams[k];
        printf("live stream %d: produced %llu processed %llu dropped %llu skipped %llu "
               "(stride %d)\n", k, (unsigned long long)s->produced,
               (unsigned long long)s->processed, (unsigned long long)s->dropped,
               (unsigned long long)s->skipped, s->stride);
        TU_CHECK(s->live);
        TU_CHECK(s->dropped > 0);
        TU_CHECK(s->processed + s->dropped + s->skipped == s->produced);
        /* newest wins: what is processed still comes in order, with gaps */
        int gaps = 0;
        for (int i = 1; i < d.n_seen[k]; i++) {
            TU_CHECK(d.seen[k][i] > d.seen[k][i - 1]);
            gaps += d.seen[k][i] > d.seen[k][i - 1] + 1;
        }
        TU_CHECK(gaps > 0);
    }
    ps_pipeline_stats_free(&st);
}

static void test_batches_mix_streams(void) {
    const char *uris[4] = {"synthetic:160x120@100", "synthetic:160x120@100",
                           "synthetic:160x120@100", "synthetic:160x120@100"};
    fake d;
    ps_detector det = fake_detector(&d, 8);
    d.sleep_ms = 15;
    ps_source_opts so = {0};
    ps_pipeline_stats st;
    run_pipeline(&det, uris, 4, 8, 4, &so, 1000, &st);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int k = 0; k < 4; k++) {
        uint64_t n = st.streams[k].processed;
        lo = n < lo ? n : lo;
        hi = n > hi ? n : hi;
    }
    printf("mix: %d batches, %d with several streams, largest %d; per stream %llu..%llu\n",
           d.batches, d.mixed_batches, d.max_batch_seen, (unsigned long long)lo,
           (unsigned long long)hi);
    TU_CHECK(d.mixed_batches > d.batches / 2);
    TU_CHECK(d.max_batch_seen > 1);
    TU_CHECK(lo > 0 && hi <= lo * 3 / 2 + 2); /* no stream starves */
    ps_pipeline_stats_free(&st);
}

static void test_latency_accounting(void) {
    const char *uris[1] = {"synthetic:160x120@10"};
    fake d;
    ps_detector det = fake_detector(&d, 1);
    d.sleep_ms = 40;
    ps_source_opts so = {0};
    ps_pipeline_stats st;
    run_pipeline(&det, uris, 1, 1, 4, &so, 1200, &st);
    const ps_hist *h = &st.streams[0].latency;
    double p50 = ps_hist_quantile(h, 0.5) / 1e3, lo = (double)h->min_us / 1e3;
    printf("latency with a 40 ms engine at 10 fps: min %.1f p50 %.1f max %.1f ms over %llu frames\n",
           lo, p50, (double)h->max_us / 1e3, (unsigned long long)h->count);
    TU_CHECK(h->count >= 8);
    TU_CHECK(lo >= 40.0);        /* never less than the engine's own time */
    TU_CHECK(p50 < 40.0 + 25.0); /* an idle engine takes a frame at once */
    TU_CHECK(st.streams[0].dropped == 0);
    TU_CHECK(ps_hist_quantile(&st.engine, 0.5) / 1e3 >= 39.0);
    ps_pipeline_stats_free(&st);
}

static void test_bad_stream_fails_alone(const char *dir) {
    char good[4200], text[4200], missing[4200];
    ps_err err;
    snprintf(good, sizeof good, "%s/good.avi", dir);
    snprintf(text, sizeof text, "%s/text.mp4", dir);
    snprintf(missing, sizeof missing, "%s/missing.mp4", dir);
    TU_CHECK(clipgen_write(good, 160, 120, 25, 30, &err) == PS_OK);
    FILE *f = fopen(text, "w");
    fputs("this is not a video\n", f);
    fclose(f);
    const char *uris[4] = {good, missing, text, "rtsp://127.0.0.1:1/none"};
    fake d;
    ps_detector det = fake_detector(&d, 4);
    ps_source_opts so = {0};
    ps_pipeline_stats st;
    run_pipeline(&det, uris, 4, 4, 4, &so, 0, &st);
    TU_CHECK(st.streams[0].state == PS_STREAM_ENDED && st.streams[0].processed == 30);
    for (int k = 1; k < 4; k++) {
        printf("bad stream %d: %s\n", k, st.streams[k].error);
        TU_CHECK(st.streams[k].state == PS_STREAM_FAILED);
        TU_CHECK(strstr(st.streams[k].error, uris[k]) != NULL);
    }
    TU_CHECK(strstr(st.streams[1].error, "No such file") != NULL);
    TU_CHECK(strstr(st.streams[3].error, "refused") != NULL);
    ps_pipeline_stats_free(&st);
}

/* A batch that fails loses its frames (counted as failed), the engine
 * recovers and the run goes on to the end of every file. */
static void test_engine_failure_recovers(const char *dir) {
    fake d;
    ps_detector det = fake_detector(&d, 4);
    d.fail_every = 5;
    ps_pipeline_stats st;
    run_clips(dir, &det, "engine failing every 5th batch", &st);
    uint64_t failed = 0, produced = 0;
    for (int k = 0; k < 3; k++) {
        TU_CHECK(st.streams[k].state == PS_STREAM_ENDED);
        failed += st.streams[k].failed;
        produced += st.streams[k].produced;
    }
    printf("failed batches %d (pipeline counted %llu), recoveries %d, frames failed %llu of %llu; "
           "last error: %s\n", d.failed_batches, (unsigned long long)st.engine_failures,
           d.recoveries, (unsigned long long)failed, (unsigned long long)produced,
           st.engine_error);
    TU_CHECK(produced == 98 && failed > 0);
    TU_CHECK(d.failed_batches > 0 && st.engine_failures == (uint64_t)d.failed_batches);
    TU_CHECK(d.recoveries == d.failed_batches && !st.engine_fatal);
    TU_CHECK(strstr(st.engine_error, "fake engine: batch") != NULL);
    ps_pipeline_stats_free(&st);
}

/* An engine that cannot recover stops the run with the cause; what was
 * read but not run counts as failed. */
static void test_engine_failure_fatal(const char *dir) {
    fake d;
    ps_detector det = fake_detector(&d, 4);
    d.fail_every = 3;
    d.recover_fails = 1;
    ps_pipeline_stats st;
    run_clips(dir, &det, "engine that cannot recover", &st);
    printf("fatal: %s (batches run %d)\n", st.engine_error, d.batches);
    TU_CHECK(st.engine_fatal && st.engine_failures == 1 && d.recoveries == 1);
    TU_CHECK(strstr(st.engine_error, "device lost") != NULL);
    TU_CHECK(d.batches == 2); /* nothing reached the engine after the failure */
    ps_pipeline_stats_free(&st);
}

/* Frames the engine cannot take as they arrive count as failed, and the
 * stream goes on. */
static void test_prepare_failures(const char *dir) {
    fake d;
    ps_detector det = fake_detector(&d, 4);
    d.prepare_fail_every = 7;
    det.prepare = fake_prepare;
    ps_pipeline_stats st;
    run_clips(dir, &det, "every 7th frame failing preparation", &st);
    uint64_t failed = 0;
    for (int k = 0; k < 3; k++) {
        TU_CHECK(st.streams[k].state == PS_STREAM_ENDED);
        failed += st.streams[k].failed;
    }
    TU_CHECK(failed == 98 / 7 && st.engine_failures == 0);
    ps_pipeline_stats_free(&st);
}

/* Adds stream uri with settings to a running pipeline; returns its id. */
static int add_live(ps_pipeline *p, const char *uri, int priority, double max_latency_ms,
                    double max_fps, const ps_source_opts *so) {
    ps_err err;
    ps_stream_settings set = {.priority = priority, .max_latency_ms = max_latency_ms,
                              .max_fps = max_fps};
    int id = -1;
    TU_CHECK(ps_pipeline_add_stream(p, uri, &set, so, &id, &err) == PS_OK);
    return id;
}

/* Runs the streams added by `add` (called with the pipeline) for run_ms. */
static void run_streams(ps_detector *det, int batch, int ring, int keep_running,
                        void (*add)(ps_pipeline *, void *), void *ctx, int run_ms,
                        ps_pipeline_stats *st) {
    ps_err err;
    ps_pipeline *p = new_pipeline(batch, ring, keep_running, 0);
    add(p, ctx);
    TU_CHECK(ps_pipeline_start(p, det, &err) == PS_OK);
    usleep((useconds_t)run_ms * 1000);
    ps_pipeline_stop(p);
    finish_pipeline(p, st);
}

/* Waits (up to 60 s: sanitizer builds are slow) until stream id has ended;
 * returns 1 when it has. Not a timing check: the bound only ends a hung
 * test. */
static int wait_ended(ps_pipeline *p, int id) {
    for (int i = 0; i < 6000; i++) {
        ps_pipeline_stats st;
        ps_err err;
        if (ps_pipeline_stats_get(p, &st, &err)) return 0;
        int ended = id < st.n_streams && st.streams[id].state == PS_STREAM_ENDED;
        ps_pipeline_stats_free(&st);
        if (ended) return 1;
        usleep(10000);
    }
    return 0;
}

static void add_priority_mix(ps_pipeline *p, void *ctx) {
    (void)ctx;
    ps_source_opts so = {0};
    add_live(p, "synthetic:160x120@40", 1, 0, 0, &so);
    for (int k = 0; k < 3; k++) add_live(p, "synthetic:160x120@100", 0, 0, 0, &so);
}

/* Overload (340 frames/s asked of an engine doing 100): the stream of
 * higher priority keeps every frame, the others give way by a stride (the
 * frames left out counted skipped), all three alike. */
static void test_priorities_under_overload(void) {
    fake d;
    ps_detector det = fake_detector(&d, 2);
    d.sleep_ms = 20;
    ps_pipeline_stats st;
    run_streams(&det, 2, 4, 0, add_priority_mix, NULL, 1500, &st);
    check_accounting("priorities under overload", &st);
    const ps_stream_figures *hi = &st.streams[0];
    TU_CHECK(hi->settings.priority == 1 && hi->processed > 0);
    TU_CHECK(hi->dropped == 0 && hi->late == 0 && hi->skipped == 0 && hi->stride == 1);
    for (int k = 1; k < 4; k++) {
        printf("low priority stream %d: stride %d\n", k, st.streams[k].stride);
        TU_CHECK(st.streams[k].skipped > 0 && st.streams[k].stride > 1);
        TU_CHECK(st.streams[k].stride == st.streams[1].stride);
    }
    ps_pipeline_stats_free(&st);
}

static void add_two_cameras(ps_pipeline *p, void *ctx) {
    (void)ctx;
    ps_source_opts so = {0};
    add_live(p, "synthetic:160x120@30", 0, 0, 0, &so);
    add_live(p, "synthetic:160x120@30", 0, 0, 0, &so);
}

/* A host-memory budget the process is already over: every stream is
 * refused, saying it is host memory, the figures and the option. */
static void test_host_memory_refusal(void) {
    fake d;
    ps_detector det = fake_detector(&d, 2);
    ps_err err;
    ps_pipeline *p = new_pipeline(2, 4, 0, 1 << 20);
    add_two_cameras(p, NULL);
    TU_CHECK(ps_pipeline_start(p, &det, &err) == PS_OK);
    ps_pipeline_stats st;
    finish_pipeline(p, &st);
    for (int k = 0; k < 2; k++) {
        printf("host memory: stream %d %s\n", k, st.streams[k].error);
        TU_CHECK(st.streams[k].state == PS_STREAM_REFUSED && st.streams[k].produced == 0);
        TU_CHECK(strstr(st.streams[k].error, "host memory") &&
                 strstr(st.streams[k].error, "1 MB limit (--max-host-gb)"));
    }
    ps_pipeline_stats_free(&st);
    /* with room, the same streams run, each with its estimate recorded */
    run_streams(&det, 2, 4, 0, add_two_cameras, NULL, 300, &st);
    for (int k = 0; k < 2; k++)
        TU_CHECK(st.streams[k].state == PS_STREAM_ENDED && st.streams[k].host_estimate > 0);
    ps_pipeline_stats_free(&st);
}

static void add_deadline_stream(ps_pipeline *p, void *ctx) {
    (void)ctx;
    ps_source_opts so = {0};
    add_live(p, "synthetic:160x120@50", 0, 40, 0, &so);
}

/* 50 frames/s with a 40 ms deadline into an engine doing a frame in 10 ms,
 * but every 4th in 60 ms: the stream gives way by a stride (the engine
 * does about 44 frames/s), and a frame that waits behind a slow batch
 * until it can no longer be done in time is counted late instead of run
 * late, so what is processed stays fresh (within the deadline plus one
 * slow batch). */
static void test_deadlines_count_late(void) {
    fake d;
    ps_detector det = fake_detector(&d, 1);
    d.sleep_ms = 10;
    d.slow_every = 4;
    d.slow_ms = 60;
    ps_pipeline_stats st;
    run_streams(&det, 1, 4, 0, add_deadline_stream, NULL, 2000, &st);
    check_accounting("40 ms deadline, 10 ms engine (every 4th 60 ms) at 50 frames/s", &st);
    const ps_stream_figures *s = &st.streams[0];
    double p99 = ps_hist_quantile(&s->latency, 0.99) / 1e3;
    printf("deadline: p99 %.1f ms, max %.1f ms over %llu frames, %llu late, %llu skipped "
           "(stride %d)\n", p99, (double)s->latency.max_us / 1e3, (unsigned long long)s->processed,
           (unsigned long long)s->late, (unsigned long long)s->skipped, s->stride);
    TU_CHECK(s->late > 0 && s->processed > 0 && s->skipped > 0);
    TU_CHECK(p99 < 40.0 + 60.0 + 15.0); /* deadline + a slow batch, with room for a slow host */
    ps_pipeline_stats_free(&st);
}

/* max_fps keeps frames by their own time: 12.5 of a 25 fps file is every
 * other frame, the rest counted skipped. */
static void test_max_fps_skips(const char *dir) {
    char paths[3][4200];
    const char *uris[3];
    three_clips(dir, paths, uris);
    fake d;
    ps_detector det = fake_detector(&d, 4);
    ps_err err;
    ps_pipeline *p = new_pipeline(4, 2, 0, 0);
    ps_source_opts so = {0};
    ps_stream_settings set = {.max_fps = 12.5};
    TU_CHECK(ps_pipeline_add_stream(p, uris[0], &set, &so, NULL, &err) == PS_OK);
    TU_CHECK(ps_pipeline_start(p, &det, &err) == PS_OK);
    ps_pipeline_stats st;
    finish_pipeline(p, &st);
    check_accounting("max_fps 12.5 of 25", &st);
    TU_CHECK(st.streams[0].processed == 20 && st.streams[0].skipped == 20);
    for (int i = 0; i < d.n_seen[0]; i++) TU_CHECK(d.seen[0][i] == 2 * i);
    ps_pipeline_stats_free(&st);
}

typedef struct {
    const char *clip;
    int ids[4];
} add_remove_ctx;

static void add_two_live(ps_pipeline *p, void *vctx) {
    add_remove_ctx *c = vctx;
    ps_source_opts so = {0};
    c->ids[0] = add_live(p, "synthetic:160x120@50", 0, 0, 0, &so);
    c->ids[1] = add_live(p, "synthetic:160x120@50", 0, 0, 0, &so);
}

/* Streams come and go while the pipeline runs, from another thread: ids
 * stay, the removed stream's buffered frames are cancelled, an added file
 * loses nothing, and every other stream keeps every frame. */
static void test_add_remove_while_running(const char *dir) {
    char paths[3][4200];
    const char *uris[3];
    three_clips(dir, paths, uris);
    fake d;
    ps_detector det = fake_detector(&d, 4);
    d.sleep_ms = 2;
    ps_err err;
    ps_pipeline *p = new_pipeline(4, 4, 0, 0);
    add_remove_ctx c = {0};
    add_two_live(p, &c);
    TU_CHECK(ps_pipeline_start(p, &det, &err) == PS_OK);
    usleep(300000);
    ps_source_opts so = {0};
    c.ids[2] = add_live(p, "synthetic:160x120@50", 0, 0, 0, &so);
    c.ids[3] = add_live(p, uris[0], 0, 0, 0, &so); /* offline, 40 frames */
    usleep(300000);
    TU_CHECK(ps_pipeline_remove(p, c.ids[1], &err) == PS_OK);
    TU_CHECK(ps_pipeline_remove(p, c.ids[1], &err) == PS_ERR_ARG);
    printf("removing twice: %s\n", err.msg);
    TU_CHECK(ps_pipeline_remove(p, 99, &err) == PS_ERR_ARG);
    TU_CHECK(wait_ended(p, c.ids[3]));
    ps_pipeline_stop(p);
    ps_pipeline_stats st;
    finish_pipeline(p, &st);
    check_accounting("added and removed while running", &st);
    for (int k = 0; k < 4; k++) TU_CHECK(c.ids[k] == k && st.streams[k].id == k);
    TU_CHECK(st.streams[1].state == PS_STREAM_REMOVED && st.streams[1].processed > 0);
    TU_CHECK(st.streams[3].state == PS_STREAM_ENDED && st.streams[3].processed == 40);
    for (int k = 0; k < 4; k++)
        if (k != 1) TU_CHECK(st.streams[k].dropped == 0 && st.streams[k].processed > 0);
    ps_pipeline_stats_free(&st);
}

static void add_first_clip(ps_pipeline *p, void *vctx) {
    ps_source_opts so = {0};
    add_live(p, ((add_remove_ctx *)vctx)->clip, 0, 0, 0, &so);
}

/* keep_running: the pipeline outlives its streams, takes a new one after
 * they all ended, and finishes only when stopped. */
static void test_keep_running(const char *dir) {
    char paths[3][4200];
    const char *uris[3];
    three_clips(dir, paths, uris);
    fake d;
    ps_detector det = fake_detector(&d, 4);
    ps_err err;
    ps_pipeline *p = new_pipeline(4, 2, 1, 0);
    add_remove_ctx c = {.clip = uris[1]};
    add_first_clip(p, &c);
    TU_CHECK(ps_pipeline_start(p, &det, &err) == PS_OK);
    TU_CHECK(wait_ended(p, 0));
    TU_CHECK(ps_pipeline_wait(p, 300) == 0); /* its stream has ended; the pipeline stays */
    add_first_clip(p, &c);
    TU_CHECK(wait_ended(p, 1));
    ps_pipeline_stop(p);
    ps_pipeline_stats st;
    finish_pipeline(p, &st);
    check_accounting("keep running", &st);
    TU_CHECK(st.n_streams == 2 && st.streams[0].processed == 25 && st.streams[1].processed == 25);
    ps_pipeline_stats_free(&st);
}

/* A stream over RTSP on 127.0.0.1: FFmpeg's RTSP muxer pushes a clip
 * (ANNOUNCE/RECORD, TCP) to a source listening through FFmpeg's RTSP demuxer
 * (rtsp_flags=listen), and the pipeline processes the frames in order. */
static void test_rtsp_stream(const char *dir) {
    char clip[4200], url[64];
    ps_err err;
    snprintf(clip, sizeof clip, "%s/rtsp.avi", dir);
    TU_CHECK(clipgen_write(clip, 320, 240, 25, 30, &err) == PS_OK);
    snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/live", clipgen_free_port());
    clipgen_pusher push = {.spec = {.clip = clip, .url = url, .format = "rtsp",
                            .options = "rtsp_transport=tcp", .connect_timeout_s = 10}};
    pthread_t t;
    TU_CHECK(pthread_create(&t, NULL, clipgen_push_thread, &push) == 0);
    fake d;
    ps_detector det = fake_detector(&d, 4);
    d.check_content = 1;
    ps_source_opts so = {.av_options = "rtsp_flags=listen", .open_timeout_s = 10};
    const char *uris[1] = {url};
    ps_pipeline_stats st;
    run_pipeline(&det, uris, 1, 4, 4, &so, 0, &st); /* opening waits for the pusher */
    pthread_join(t, NULL);
    const ps_stream_figures *s = &st.streams[0];
    printf("rtsp %s: pushed %d, produced %llu, processed %llu, dropped %llu, %s %s\n", url,
           push.spec.sent, (unsigned long long)s->produced, (unsigned long long)s->processed,
           (unsigned long long)s->dropped, s->state == PS_STREAM_ENDED ? "ended" : "not ended",
           s->error);
    TU_CHECK(push.st == PS_OK && push.spec.sent == 30);
    TU_CHECK(s->live && s->state == PS_STREAM_ENDED);
    TU_CHECK(s->processed + s->dropped == s->produced && s->processed >= 27);
    TU_CHECK(d.content_ok);
    for (int i = 1; i < d.n_seen[0]; i++) TU_CHECK(d.seen[0][i] > d.seen[0][i - 1]);
    ps_pipeline_stats_free(&st);
}

int main(void) {
    char dir[] = "/tmp/ps_pipeline_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    test_offline_loses_nothing(dir);
    test_live_overload_drops_oldest();
    test_batches_mix_streams();
    test_latency_accounting();
    test_bad_stream_fails_alone(dir);
    test_engine_failure_recovers(dir);
    test_engine_failure_fatal(dir);
    test_prepare_failures(dir);
    test_priorities_under_overload();
    test_deadlines_count_late();
    test_host_memory_refusal();
    test_max_fps_skips(dir);
    test_add_remove_while_running(dir);
    test_keep_running(dir);
    if (clipgen_can_push("rtsp")) test_rtsp_stream(dir);
    else printf("SKIP: the RTSP stream: this FFmpeg has no rtsp muxer to push with\n");
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return tu_finish("test_pipeline");
}
