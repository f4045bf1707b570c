/* Several GPUs (src/pipeline/fleet.c) with fake ones: each a fake engine
 * whose memory and decoder load are given. Streams alternate between two
 * idle GPUs and each runs only on its own; pins are honoured and a pin to
 * a GPU the run lacks is refused naming the GPUs; a GPU whose engine cannot
 * go on ends only its own streams, FAILED with the reason, while the
 * other's finish; with failover they move to the other GPU, keep their ids
 * and their counts add up over both (a pinned one stays and fails); once
 * measured, a busy GPU's decoders send new streams to the idle one. Every
 * stream's frames add up: produced = processed + dropped + late + skipped +
 * cancelled + failed. Needs no model or GPU; runs under ThreadSanitizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clipgen.h"
#include "pipeline/fleet.h"
#include "testutil.h"
#include "util/clock.h"
#include "util/status.h"

#define FRAMES 40

/* A fake GPU: sleeps 2 ms per batch; fails every batch from batch
 * fail_from on (then cannot recover) when fail_from > 0. */
typedef struct {
    int frames, batches, fail_from, failed;
    int decoder_util;  /* percent its fake NVDEC reports */
    size_t used;       /* device bytes its fake NVML reports */
} fake_gpu;

static ps_status fake_detect(void *ctx, ps_frame **frames, int n, ps_err *err) {
    fake_gpu *g = ctx;
    if (g->fail_from && g->batches + 1 >= g->fail_from) {
        g->failed++;
        return ps_err_set(err, PS_ERR_BACKEND, "fake GPU: an illegal memory access");
    }
    int64_t t0 = ps_now_ns();
    usleep(2000);
    for (int i = 0; i < n; i++) {
        frames[i]->t.infer_start = t0;
        frames[i]->t.infer_end = ps_now_ns();
        frames[i]->n_people = 0;
    }
    g->batches++;
    g->frames += n;
    return PS_OK;
}

static ps_status fake_recover(void *ctx, int n, ps_err *err) {
    (void)ctx, (void)n;
    return ps_err_set(err, PS_ERR_BACKEND, "fake GPU: the device cannot go on");
}

static size_t fake_memory(void *ctx) {
    (void)ctx;
    return 0;
}

static void fake_vram(void *ctx, size_t *now, size_t *peak) {
    *now = *peak = ((fake_gpu *)ctx)->used;
}

static size_t fake_free(void *ctx) {
    (void)ctx;
    return (size_t)100 << 30;
}

static void fake_util(void *ctx, int *gpu, int *decoder) {
    *gpu = -1;
    *decoder = ((fake_gpu *)ctx)->decoder_util;
}

static ps_detector fake_detector(fake_gpu *g) {
    return (ps_detector){.ctx = g, .max_batch = 4, .input_w = 64, .input_h = 64,
                         .detect = fake_detect, .memory = fake_memory, .vram = fake_vram,
                         .recover = fake_recover, .vram_free = fake_free,
                         .utilization = fake_util};
}

/* A fleet of GPUs 0 and 1 over offline files (keep_running as given). */
static ps_fleet *new_fleet(int failover, int keep_running) {
    ps_err err;
    ps_fleet_opts o = {.pipe = {.batch_max = 4, .batch_timeout_ms = 20, .ring_size = 4,
                                .keep_running = keep_running},
                       .n_lanes = 2, .gpu = {0, 1}, .failover = failover};
    ps_fleet *f = ps_fleet_create(&o, &err);
    TU_CHECK(f != NULL);
    return f;
}

static void add(ps_fleet *f, const char *clip, int gpu, int expect_id) {
    ps_err err;
    int id = -1;
    TU_CHECK(ps_fleet_add_stream(f, clip, NULL, gpu, NULL, &id, &err) == PS_OK);
    TU_CHECK(id == expect_id);
}

/* Runs f to its end and copies its figures. */
static void finish(ps_fleet *f, ps_detector *dets, ps_fleet_stats *st) {
    ps_err err;
    TU_CHECK(ps_fleet_start(f, dets, &err) == PS_OK);
    TU_CHECK(ps_fleet_wait(f, 60000) == 1);
    TU_CHECK(ps_fleet_stats_get(f, st, &err) == PS_OK);
}

/* Every frame of every stream accounted for; returns the frames processed. */
static uint64_t check_counts(const ps_fleet_stats *st) {
    uint64_t processed = 0;
    for (int k = 0; k < st->all.n_streams; k++) {
        const ps_stream_figures *s = &st->all.streams[k];
        uint64_t out = s->processed + s->dropped + s->late + s->skipped + s->cancelled + s->failed;
        printf("  stream %d on GPU %d (moved %d): %s, produced %llu = processed %llu + failed "
               "%llu + cancelled %llu + other %llu%s%s\n", s->id, s->gpu, s->moves,
               ps_stream_state_name(s->state), (unsigned long long)s->produced,
               (unsigned long long)s->processed, (unsigned long long)s->failed,
               (unsigned long long)s->cancelled,
               (unsigned long long)(s->dropped + s->late + s->skipped), s->error[0] ? "; " : "",
               s->error);
        TU_CHECK(s->produced == out);
        processed += s->processed;
    }
    return processed;
}

static void test_spread_and_pins(const char *clip) {
    ps_fleet *f = new_fleet(0, 0);
    for (int k = 0; k < 4; k++) add(f, clip, -1, k);
    add(f, clip, 1, 4); /* pinned */
    add(f, clip, 1, 5);
    ps_err err;
    TU_CHECK(ps_fleet_add_stream(f, clip, NULL, 7, NULL, NULL, &err) == PS_ERR_ARG);
    printf("pin to a missing GPU: %s\n", err.msg);
    TU_CHECK(strstr(err.msg, "gpu 7") && strstr(err.msg, "(0, 1)"));
    fake_gpu g[2] = {{0}, {0}};
    ps_detector dets[2] = {fake_detector(&g[0]), fake_detector(&g[1])};
    ps_fleet_stats st;
    finish(f, dets, &st);
    printf("spread: GPU 0 ran %d frames, GPU 1 %d\n", g[0].frames, g[1].frames);
    uint64_t on[2] = {0, 0};
    for (int k = 0; k < 6; k++) {
        const ps_stream_figures *s = &st.all.streams[k];
        TU_CHECK(s->state == PS_STREAM_ENDED && s->processed == FRAMES);
        TU_CHECK(s->gpu == (k < 4 ? k % 2 : 1));
        on[s->gpu] += s->processed;
    }
    TU_CHECK(check_counts(&st) == 6 * FRAMES);
    TU_CHECK(on[0] == (uint64_t)g[0].frames && on[1] == (uint64_t)g[1].frames);
    TU_CHECK(st.lanes[0].st.latency.count == on[0] && st.lanes[1].st.latency.count == on[1]);
    TU_CHECK(st.all.latency.count == 6 * FRAMES && st.all.finished && !st.all.engine_fatal);
    ps_fleet_stats_free(&st);
    ps_fleet_free(f);
}

/* GPU 0 fails at its third batch; failover as given; stream 4 is pinned to
 * GPU 0. */
static void test_failed_gpu(const char *clip, int failover) {
    printf("GPU 0 fails, failover %s:\n", failover ? "on" : "off");
    ps_fleet *f = new_fleet(failover, 0);
    for (int k = 0; k < 4; k++) add(f, clip, -1, k);
    add(f, clip, 0, 4);
    fake_gpu g[2] = {{.fail_from = 3}, {0}};
    ps_detector dets[2] = {fake_detector(&g[0]), fake_detector(&g[1])};
    ps_fleet_stats st;
    finish(f, dets, &st);
    check_counts(&st);
    printf("  lanes: GPU 0 fatal %d (%s), GPU 1 fatal %d; run: %s\n", st.lanes[0].fatal,
           st.lanes[0].st.engine_error, st.lanes[1].fatal, st.all.engine_error);
    TU_CHECK(st.lanes[0].fatal && !st.lanes[1].fatal && !st.all.engine_fatal);
    TU_CHECK(strstr(st.all.engine_error, "GPU 0: ") && strstr(st.all.engine_error, "cannot go on"));
    for (int k = 0; k < 5; k++) {
        const ps_stream_figures *s = &st.all.streams[k];
        int was0 = k % 2 == 0 || k == 4, moved = failover && was0 && k != 4;
        if (!was0 || moved) {
            TU_CHECK(s->state == PS_STREAM_ENDED && s->processed >= FRAMES && s->gpu == 1);
            TU_CHECK(s->moves == moved);
        } else {
            TU_CHECK(s->state == PS_STREAM_FAILED && s->gpu == 0 && s->moves == 0);
            TU_CHECK(strstr(s->error, "the engine could not go on") != NULL);
        }
    }
    ps_fleet_stats_free(&st);
    ps_fleet_free(f);
}

/* Once sampled, GPU 0's busy decoders (90%) send new streams to GPU 1
 * (10%), whatever the count. */
static void test_measured_load(const char *clip) {
    ps_fleet *f = new_fleet(0, 1);
    add(f, clip, -1, 0);
    fake_gpu g[2] = {{.decoder_util = 90}, {.decoder_util = 10}};
    ps_detector dets[2] = {fake_detector(&g[0]), fake_detector(&g[1])};
    ps_err err;
    TU_CHECK(ps_fleet_start(f, dets, &err) == PS_OK);
    /* the file has ended (its stream adds no load of its own) and the
     * fleet has sampled the loads (once a second) */
    int64_t t0 = ps_now_ns();
    ps_stream_figures *one = malloc(sizeof *one);
    for (int k = 0; k < 600; k++) {
        TU_CHECK(ps_fleet_stream_get(f, 0, one, NULL, &err) == PS_OK);
        if (one->state == PS_STREAM_ENDED && ps_now_ns() - t0 > 1500000000) break;
        usleep(50000);
    }
    free(one);
    for (int k = 1; k <= 4; k++) add(f, clip, -1, k);
    ps_fleet_stop(f);
    TU_CHECK(ps_fleet_wait(f, 60000) == 1);
    ps_fleet_stats st;
    TU_CHECK(ps_fleet_stats_get(f, &st, &err) == PS_OK);
    int on1 = 0;
    for (int k = 1; k <= 4; k++) on1 += st.all.streams[k].gpu == 1;
    printf("measured: decoders 90%% / 10%%: %d of 4 new streams to GPU 1\n", on1);
    TU_CHECK(st.all.streams[0].gpu == 0 && on1 == 4);
    check_counts(&st);
    ps_fleet_stats_free(&st);
    ps_fleet_free(f);
}

int main(void) {
    char dir[] = "/tmp/ps_fleet_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char clip[200];
    snprintf(clip, sizeof clip, "%s/clip.avi", dir);
    ps_err err;
    TU_CHECK(clipgen_write(clip, 160, 120, 25, FRAMES, &err) == PS_OK);
    test_spread_and_pins(clip);
    test_failed_gpu(clip, 0);
    test_failed_gpu(clip, 1);
    test_measured_load(clip);
    unlink(clip);
    rmdir(dir);
    return tu_finish("fleet");
}
