/* NVDEC: video decoded on the GPU (frames staying in GPU memory as NV12)
 * against the same video decoded on the CPU, through the CUDA engine; and
 * bad streams decoded on the GPU (truncated, corrupt, a mid-stream size
 * change) next to a good one in one pipeline. Needs a GPU and the model;
 * the people comparison needs a clip with people: argument 1 or
 * $POSESTREAM_TEST_CLIP (e.g. ../shared/device/clips/people_1080p_h264.mp4),
 * else that part is skipped. Last, removing running GPU-decoded streams
 * gives their device memory back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clipgen.h"
#include "pipeline/detector.h"
#include "engine/engine.h"
#include "golden_util.h"
#include "pipeline/pipeline.h"
#include "source/source.h"
#include "testutil.h"

#define FRAMES 60

static ps_engine *gpu_engine(const ps_model *m) {
    ps_err err;
    ps_engine_opts o = {.backend = PS_BACKEND_CUDA, .max_batch = 8};
    ps_engine *e = ps_engine_create(m, &o, &err);
    if (!e) TU_SKIP("no CUDA backend: %s", err.msg);
    return e;
}

/* Reads a frame of clip decoded where mode says, raw (full size). */
static ps_source *open_clip(const char *clip, ps_decode_mode mode) {
    ps_err err;
    ps_source_opts so = {.raw = 1, .decode = mode};
    ps_source *s = ps_source_open(clip, &so, &err);
    if (!s) fprintf(stderr, "%s\n", err.msg);
    return s;
}

/* People above 0.2 of two detections agree: same count; keypoints above
 * 0.3 within 0.01 of the frame's size (the CUDA engine's tolerance). */
static void compare(const ps_person *a, int na, const ps_person *b, int nb, int w, int h,
                    float *worst, int *count_mismatch) {
    if (na != nb) {
        (*count_mismatch)++;
        return;
    }
    for (int i = 0; i < na; i++)
        for (int k = 0; k < PS_NUM_KEYPOINTS; k++) {
            if (b[i].kp[k].score <= 0.3f) continue;
            float d = fmaxf(fabsf(a[i].kp[k].x - b[i].kp[k].x) / w, fabsf(a[i].kp[k].y - b[i].kp[k].y) / h);
            *worst = fmaxf(*worst, d);
        }
}

static void test_gpu_vs_cpu_decode(const ps_model *m, const char *clip) {
    ps_engine *e = gpu_engine(m);
    ps_source *gpu = open_clip(clip, PS_DECODE_GPU), *cpu = open_clip(clip, PS_DECODE_CPU);
    TU_CHECK(gpu && cpu);
    if (!gpu || !cpu) return;
    ps_frame fg = {0}, fc = {0};
    ps_err err;
    float worst = 0, worst_up = 0;
    int mismatch = 0, mismatch_up = 0, frames = 0, people = 0;
    for (int i = 0; i < FRAMES; i++) {
        if (ps_source_read(gpu, &fg, &err) != PS_READ_FRAME) break;
        if (ps_source_read(cpu, &fc, &err) != PS_READ_FRAME) break;
        TU_CHECK(fg.pic.on_device && fg.pic.fmt == PS_PIX_NV12 && !fc.pic.on_device);
        ps_person pg[1][PS_MAX_PEOPLE], pc[1][PS_MAX_PEOPLE];
        int32_t ng, nc;
        TU_CHECK(ps_engine_detect_pictures(e, &fg.pic, 1, 0.2f, pg, &ng, &err) == PS_OK);
        TU_CHECK(ps_engine_detect_pictures(e, &fc.pic, 1, 0.2f, pc, &nc, &err) == PS_OK);
        compare(pg[0], ng, pc[0], nc, fg.width, fg.height, &worst, &mismatch);
        /* the CPU-decoded frame prepared on arrival (uploaded by this
         * thread) against the same frame through the batch path */
        ps_picture in;
        void *slot;
        ps_person pu[1][PS_MAX_PEOPLE];
        int32_t nu;
        TU_CHECK(ps_engine_prepare_picture(e, &fc.pic, &in, &slot, &err) == PS_OK);
        TU_CHECK(ps_engine_detect_pictures(e, &in, 1, 0.2f, pu, &nu, &err) == PS_OK);
        ps_engine_unprepare(e, slot);
        compare(pu[0], nu, pc[0], nc, fc.width, fc.height, &worst_up, &mismatch_up);
        frames++;
        people += nc;
    }
    printf("%s: %d frames, %d people (CPU decode); GPU decode: %d frames with another count, "
           "keypoints max diff %.4f; host frames prepared on arrival: %d, %.4f\n", clip, frames,
           people, mismatch, worst, mismatch_up, worst_up);
    TU_CHECK(frames == FRAMES && people > 0);
    TU_CHECK(mismatch <= frames / 20 && worst <= 0.02f);
    TU_CHECK(mismatch_up <= frames / 20 && worst_up <= 0.02f);
    ps_frame_release(&fg);
    free(fg.rgb);
    free(fc.rgb);
    ps_source_close(gpu);
    ps_source_close(cpu);
    ps_engine_free(e);
}


/* Copies file src to dst; returns its size. */
static long copy_file(const char *src, const char *dst) {
    size_t n = 0;
    char *data = tu_read_file(src, &n);
    FILE *f = fopen(dst, "wb");
    TU_CHECK(data && f && fwrite(data, 1, n, f) == n);
    if (f) fclose(f);
    free(data);
    return (long)n;
}

/* Frames in a clip, counted by decoding it on the CPU. */
static int count_frames(const char *clip) {
    ps_source *s = open_clip(clip, PS_DECODE_CPU);
    ps_frame f = {0};
    ps_err err;
    int n = 0;
    while (s && ps_source_read(s, &f, &err) == PS_READ_FRAME) n++;
    ps_source_close(s);
    free(f.rgb);
    return n;
}

/* Three GPU-decoded streams with trouble (the clip truncated, the clip with
 * damaged bytes, an MJPEG clip that changes size half-way) and the clip
 * itself, in one pipeline: the good one is processed whole whatever the
 * others do. */
static void test_bad_streams_on_gpu(const ps_model *m, const char *dir, const char *clip) {
    char cut[4200], sized[4200], corrupt[4200];
    const char *good = clip;
    ps_err err;
    snprintf(cut, sizeof cut, "%s/cut.mp4", dir);
    snprintf(sized, sizeof sized, "%s/sized.avi", dir);
    snprintf(corrupt, sizeof corrupt, "%s/corrupt.mp4", dir);
    int frames = count_frames(clip);
    long size = copy_file(clip, cut);
    copy_file(clip, corrupt);
    clipgen_spec spec = {.codec = "mjpeg", .w = 320, .h = 240, .fps = 25, .n_frames = 30,
                         .switch_at = 15, .w2 = 480, .h2 = 480};
    TU_CHECK(clipgen_write_spec(sized, &spec, &err) == PS_OK);
    TU_CHECK(truncate(cut, size * 3 / 10) == 0);
    FILE *f = fopen(corrupt, "r+b");
    for (long off = size / 3; off < size / 3 + 4000; off += 97) {
        fseek(f, off, SEEK_SET);
        fputc(0x5a, f);
    }
    fclose(f);
    ps_engine *e = gpu_engine(m);
    ps_detector det;
    TU_CHECK(ps_engine_detector(e, 0.2f, &det, &err) == PS_OK);
    ps_pipeline_opts po = {.batch_max = 8, .batch_timeout_ms = 20, .ring_size = 4};
    ps_pipeline *p = ps_pipeline_create(&po, &err);
    ps_source_opts so = {.decode = PS_DECODE_GPU};
    const char *uris[4] = {good, cut, sized, corrupt};
    for (int k = 0; k < 4; k++) TU_CHECK(ps_pipeline_add(p, uris[k], NULL, &so, &err) == PS_OK);
    TU_CHECK(ps_pipeline_start(p, &det, &err) == PS_OK);
    TU_CHECK(ps_pipeline_wait(p, 60000));
    ps_pipeline_stats st;
    TU_CHECK(ps_pipeline_stats_get(p, &st, &err) == PS_OK);
    for (int k = 0; k < 4; k++)
        printf("gpu stream %-44.44s %s gpu %d processed %llu, corrupt packets skipped %llu %s\n",
               uris[k], st.streams[k].state == PS_STREAM_FAILED ? "FAILED" : "ended",
               st.streams[k].gpu_decode, (unsigned long long)st.streams[k].processed,
               (unsigned long long)st.streams[k].bad_packets, st.streams[k].error);
    TU_CHECK(st.streams[0].state == PS_STREAM_ENDED && st.streams[0].processed == (uint64_t)frames);
    TU_CHECK(st.streams[0].gpu_decode);
    TU_CHECK(st.streams[1].processed > 0 && st.streams[1].processed < (uint64_t)frames);
    /* the size change is followed (NVDEC re-creates its decoder, which may
     * cost a few frames); the corrupt clip decodes what it can, then ends */
    TU_CHECK(st.streams[2].state == PS_STREAM_ENDED && st.streams[2].processed > 20);
    TU_CHECK(st.streams[3].state != PS_STREAM_RUNNING && st.streams[3].processed >= 10);
    printf("good clip: %d frames\n", frames);
    ps_pipeline_stats_free(&st);
    ps_pipeline_free(p);
    ps_engine_detector_free(&det);
    ps_engine_free(e);
}

/* The process's device memory now (NVML or the device-wide figure). */
static double vram_mb(const ps_engine *e) {
    size_t now, peak;
    ps_engine_vram(e, &now, &peak);
    return (double)now / 1048576.0;
}

/* Waits up to 20 s for every stream of p to have delivered at least n
 * frames; returns 1 when they all have. */
static int wait_produced(ps_pipeline *p, int n_streams, uint64_t n) {
    for (int t = 0; t < 200; t++) {
        ps_pipeline_stats st;
        ps_err err;
        if (ps_pipeline_stats_get(p, &st, &err)) return 0;
        int all = st.n_streams == n_streams;
        for (int k = 0; k < st.n_streams; k++) all &= st.streams[k].produced >= n;
        ps_pipeline_stats_free(&st);
        if (all) return 1;
        usleep(100000);
    }
    return 0;
}

/* Removing GPU-decoded streams gives their device memory back, measured:
 * 8 looping streams run, the process's VRAM is read, all 8 are removed
 * while the pipeline keeps running, and within 10 s the VRAM must fall by
 * at least half of what admission measured they took (decoders and their
 * surfaces; the engine's buffers stay). Every stream's columns add up. */
static void test_remove_frees_vram(const ps_model *m, const char *clip) {
    enum { N = 8 };
    ps_engine *e = gpu_engine(m);
    ps_detector det;
    ps_err err;
    TU_CHECK(ps_engine_detector(e, 0.2f, &det, &err) == PS_OK);
    ps_pipeline_opts po = {.batch_max = 8, .batch_timeout_ms = 10, .ring_size = 4,
                           .keep_running = 1};
    ps_pipeline *p = ps_pipeline_create(&po, &err);
    TU_CHECK(ps_pipeline_start(p, &det, &err) == PS_OK);
    double before = vram_mb(e);
    ps_source_opts so = {.decode = PS_DECODE_GPU, .loop = 1, .realtime = 1};
    for (int k = 0; k < N; k++) TU_CHECK(ps_pipeline_add(p, clip, NULL, &so, &err) == PS_OK);
    TU_CHECK(wait_produced(p, N, 30));
    double running = vram_mb(e), after = running;
    for (int k = 0; k < N; k++) TU_CHECK(ps_pipeline_remove(p, k, &err) == PS_OK);
    for (int t = 0; t < 100 && after > before + (running - before) / 2; t++) {
        usleep(100000);
        after = vram_mb(e);
    }
    printf("VRAM: %.0f MB before the streams, %.0f MB with %d GPU-decoded streams "
           "(%.1f MB each), %.0f MB after removing them (%.0f MB given back)\n",
           before, running, N, (running - before) / N, after, running - after);
    TU_CHECK(running - before > N * 10.0); /* the decoders took memory at all */
    TU_CHECK(running - after >= (running - before) / 2);
    ps_pipeline_stats st;
    TU_CHECK(ps_pipeline_stats_get(p, &st, &err) == PS_OK);
    for (int k = 0; k < st.n_streams; k++) {
        const ps_stream_figures *s = &st.streams[k];
        TU_CHECK(s->state == PS_STREAM_REMOVED && s->gpu_decode);
        TU_CHECK(s->produced == s->processed + s->dropped + s->late + s->skipped + s->cancelled +
                                    s->failed);
    }
    ps_pipeline_stats_free(&st);
    ps_pipeline_free(p);
    ps_engine_detector_free(&det);
    ps_engine_free(e);
}

int main(int argc, char **argv) {
    const char *clip = argc > 1 ? argv[1] : getenv("POSESTREAM_TEST_CLIP");
    ps_err err;
    if (ps_source_gpu_prepare(0, &err)) TU_SKIP("%s", err.msg);
    ps_model *m = golden_model();
    char dir[] = "/tmp/ps_nvdec_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    if (clip && *clip) {
        test_bad_streams_on_gpu(m, dir, clip);
        test_gpu_vs_cpu_decode(m, clip);
        test_remove_frees_vram(m, clip);
    } else {
        printf("no clip given: NVDEC tests skipped\n");
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    ps_model_free(m);
    return tu_finish("test_nvdec");
}
