/* The annotator's threads (src/sink/annotate.c) without a model: a reader
 * thread hands it frames through its tap while an engine thread gives
 * results for every other frame only, and a watcher reads the preview.
 * Every frame must reach the video (those without a result drawn with the
 * last poses), the preview must give JPEG pictures, and the close must wait
 * for the file. Label `pipeline`: runs under ThreadSanitizer too. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/pixfmt.h>

#include "sink/annotate.h"
#include "testutil.h"

#define FRAMES 60
#define W 96
#define H 64

typedef struct {
    ps_annotator *a;
    ps_source_tap tap;
} feed;

/* The reader: a grey frame with a moving bright square, at 30 fps. */
static void *reader(void *arg) {
    feed *fd = arg;
    static uint8_t y[W * H], u[W * H / 4], v[W * H / 4];
    memset(u, 128, sizeof u);
    memset(v, 128, sizeof v);
    for (int i = 0; i < FRAMES; i++) {
        memset(y, 90, sizeof y);
        for (int r = 10; r < 30; r++) memset(y + r * W + i % 60, 230, 12);
        const uint8_t *planes[4] = {y, u, v, NULL};
        const int strides[4] = {W, W / 2, W / 2, 0};
        if (fd->tap.wants(fd->tap.ctx, i))
            fd->tap.take(fd->tap.ctx, i, 30, planes, strides, W, H, AV_PIX_FMT_YUV420P);
        usleep(5000); /* 300 ms in all: about 9 preview pictures at 30 a second */
    }
    return NULL;
}

/* The engine: results for the even frames only, a little behind. */
static void *engine(void *arg) {
    feed *fd = arg;
    for (int i = 0; i < FRAMES; i += 2) {
        usleep(10000);
        ps_person p = {.score = 0.9f, .x0 = 10, .y0 = 8, .x1 = 40 + (float)i / 4, .y1 = 50,
                       .id = 3};
        for (int k = 0; k < PS_NUM_KEYPOINTS; k++)
            p.kp[k] = (ps_keypoint){20 + (float)k, 10 + 2 * (float)k, 0.8f};
        ps_annotator_result(fd->a, i, &p, 1);
    }
    return NULL;
}

/* Frames of the written video: its packets, demuxed only (every packet of
 * these codecs is one frame; not decoding keeps FFmpeg's decoder threads,
 * which ThreadSanitizer cannot see into, out of the test). */
static int count_frames(const char *path) {
    AVFormatContext *fmt = NULL;
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0) return -1;
    AVPacket *pkt = av_packet_alloc();
    int n = 0;
    while (pkt && av_read_frame(fmt, pkt) >= 0) {
        n += pkt->stream_index == 0;
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    return n;
}

int main(void) {
    char dir[] = "/tmp/test_annotator.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    ps_err err;
    ps_annotate_params p = {.video_dir = dir, .previews = 1};
    feed fd = {ps_annotator_create(&p, &err), {0}};
    TU_CHECK(fd.a != NULL);
    fd.tap = ps_annotator_tap(fd.a);
    TU_CHECK(ps_annotator_start(fd.a, 7, &err) == PS_OK);
    ps_preview *w = ps_annotator_watch(fd.a, 30, 32, &err);
    TU_CHECK(w != NULL);
    pthread_t rt, et;
    pthread_create(&rt, NULL, reader, &fd);
    pthread_create(&et, NULL, engine, &fd);
    uint8_t *jpeg = NULL;
    size_t cap = 0;
    int pictures = 0, jpegs = 0;
    for (int i = 0; i < 200 && pictures < 5; i++) {
        int64_t n = ps_preview_next(w, &jpeg, &cap, 100);
        pictures += n > 0;
        jpegs += n > 2 && jpeg[0] == 0xFF && jpeg[1] == 0xD8;
    }
    pthread_join(rt, NULL);
    pthread_join(et, NULL);
    ps_annotator_finish(fd.a);
    ps_annotator_release(fd.a); /* the creator's: the watcher still holds it */
    int64_t after = 0;
    for (int i = 0; i < 50 && after >= 0; i++) after = ps_preview_next(w, &jpeg, &cap, 100);
    ps_preview_close(w); /* the last reference: joins the worker, closes the video */
    free(jpeg);
    char path[256];
    snprintf(path, sizeof path, "%s/stream7.mp4", dir);
    int frames = count_frames(path);
    printf("preview: %d pictures, %d of them JPEG; after the end: %lld\n", pictures, jpegs,
           (long long)after);
    printf("video: %d frames of %d (results for %d)\n", frames, FRAMES, FRAMES / 2);
    TU_CHECK(pictures == 5 && jpegs == 5 && after == -1);
    TU_CHECK(frames == FRAMES);
    unlink(path);
    rmdir(dir);
    return tu_finish("test_annotator");
}
