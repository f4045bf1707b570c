/* What drawing costs per frame, by step: drawing six people, encoding the
 * frame into the annotated video (libx264 veryfast, or MPEG-4 without it),
 * and encoding a JPEG (snapshots, previews) at 360 lines; at 768x576
 * (vtest.avi) and 1920x1080, on one thread (the annotator's). Median of
 * rounds, microseconds per frame.
 *
 *   bench_annotate [--frames 120] [--rounds 5]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink/draw.h"
#include "sink/encode.h"
#include "util/clock.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A frame like a camera's: smooth shading, a textured band that moves (so
 * the encoder has work), and six people. */
static void make_frame(ps_yuv *img, int t) {
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            int v = x / 8 + y / 6;
            if (y > img->height / 3 && y < img->height / 2) v += ((x + 3 * t) / 5 % 7) * 9;
            img->y[(size_t)y * img->y_stride + x] = (uint8_t)(40 + v % 180);
        }
    memset(img->u, 110, (size_t)img->u_stride * img->height / 2);
    memset(img->v, 140, (size_t)img->v_stride * img->height / 2);
}

static void make_people(ps_person *p, int w, int h, int t) {
    for (int i = 0; i < 6; i++) {
        float cx = (float)w * (0.1f + 0.15f * (float)i) + (float)(t % 20), cy = (float)h * 0.5f;
        float s = (float)h * 0.3f;
        p[i] = (ps_person){.score = 0.8f, .x0 = cx - s / 3, .y0 = cy - s, .x1 = cx + s / 3,
                           .y1 = cy + s, .id = i + 1};
        for (int k = 0; k < PS_NUM_KEYPOINTS; k++)
            p[i].kp[k] = (ps_keypoint){cx + (float)(k % 2 ? -1 : 1) * s / 5,
                                       cy - s + (float)k * s / 9, 0.9f};
    }
}

/* Median us per frame of draw, video and JPEG over frames at w x h. */
static void run(int w, int h, int frames, int rounds) {
    double t_draw[16], t_video[16], t_jpeg[16];
    size_t luma = (size_t)w * h;
    uint8_t *buf = malloc(luma * 3 / 2), *jpeg = NULL;
    size_t cap = 0;
    ps_yuv img = {buf, buf + luma, buf + luma + luma / 4, w, w / 2, w / 2, w, h};
    ps_person people[6];
    ps_err err;
    const char *codec = "?";
    for (int r = 0; r < rounds; r++) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/bench_annotate_%d.mp4", (int)getpid());
        ps_video_out *v = ps_video_out_open(path, w, h, 30, &err);
        ps_jpeg *j = ps_jpeg_new();
        if (!v || !j) {
            fprintf(stderr, "bench_annotate: %s\n", v ? "out of memory" : err.msg);
            exit(1);
        }
        codec = ps_video_out_codec(v);
        int64_t d = 0, e = 0, g = 0;
        for (int t = 0; t < frames; t++) {
            make_frame(&img, t);
            make_people(people, w, h, t);
            int64_t t0 = ps_now_ns();
            ps_draw_people(&img, people, 6, w, h, 0.3f);
            int64_t t1 = ps_now_ns();
            ps_video_out_write(v, &img, t, &err);
            int64_t t2 = ps_now_ns();
            ps_jpeg_encode(j, &img, 360, &jpeg, &cap, &err);
            d += t1 - t0, e += t2 - t1, g += ps_now_ns() - t2;
        }
        int64_t t3 = ps_now_ns();
        ps_video_out_close(v, &err); /* the encoder's delayed frames count too */
        e += ps_now_ns() - t3;
        ps_jpeg_free(j);
        unlink(path);
        t_draw[r] = (double)d / 1e3 / frames;
        t_video[r] = (double)e / 1e3 / frames;
        t_jpeg[r] = (double)g / 1e3 / frames;
    }
    qsort(t_draw, (size_t)rounds, sizeof(double), cmp_double);
    qsort(t_video, (size_t)rounds, sizeof(double), cmp_double);
    qsort(t_jpeg, (size_t)rounds, sizeof(double), cmp_double);
    printf("%5dx%-5d %-8s %10.0f %12.0f %14.0f\n", w, h, codec, t_draw[rounds / 2],
           t_video[rounds / 2], t_jpeg[rounds / 2]);
    free(buf);
    free(jpeg);
}

int main(int argc, char **argv) {
    int frames = 120, rounds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--frames")) frames = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
    }
    if (frames < 1) frames = 120;
    if (rounds < 1 || rounds > 16) rounds = 5;
    printf("%-11s %-8s %10s %12s %14s   (us per frame, median of %d rounds of %d)\n", "size",
           "codec", "draw 6", "video", "JPEG 360p", rounds, frames);
    run(768, 576, frames, rounds);
    run(1920, 1080, frames, rounds);
    return 0;
}
