/* Tests of the sources (src/source/): video files read offline, looped and
 * in real time, the synthetic generator, still images and folders, a size
 * change mid-stream, RTSP from a pushing muxer, and every error a source
 * should report in one clear line. Clips are written at test time by
 * clipgen; photographs come from the folder given as argv[1]
 * (tests/data/golden). Nothing reaches beyond 127.0.0.1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <png.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "clipgen.h"
#ifdef POSESTREAM_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif
#include "engine/preprocess.h"
#include "source/source.h"
#include "testutil.h"
#include "util/clock.h"

#define MAX_FRAMES 256

static char tmp_dir[] = "/tmp/ps_test_source.XXXXXX";
static const char *photo_dir;

/* Everything one pass of reading a source saw. */
typedef struct {
    int n;
    int64_t index[MAX_FRAMES];
    int code[MAX_FRAMES]; /* clipgen index read from the pixels */
    double pts[MAX_FRAMES];
    int64_t captured[MAX_FRAMES], returned[MAX_FRAMES];
    int width[MAX_FRAMES], sw[MAX_FRAMES], sh[MAX_FRAMES];
    ps_read_result last;
    ps_err err;
} reading;

static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tmp_dir, name);
    return p;
}

static double secs_since(int64_t t0) { return (ps_now_ns() - t0) / 1e9; }

/* Reads up to max frames (or until END/ERROR) into r. */
static void read_frames(ps_source *s, reading *r, int max) {
    ps_frame f = {0};
    memset(r, 0, sizeof *r);
    r->last = PS_READ_FRAME;
    while (r->n < max && (r->last = ps_source_read(s, &f, &r->err)) == PS_READ_FRAME) {
        int i = r->n++;
        r->returned[i] = ps_now_ns();
        r->index[i] = f.index;
        r->pts[i] = f.pts;
        r->captured[i] = f.t.captured;
        r->width[i] = f.width;
        r->sw[i] = f.sw;
        r->sh[i] = f.sh;
        r->code[i] = clipgen_read_index(f.rgb, f.sw, f.sh);
    }
    free(f.rgb);
}

static ps_source *open_or_report(const char *uri, const ps_source_opts *o) {
    ps_err err = {0};
    ps_source *s = ps_source_open(uri, o, &err);
    if (!s) fprintf(stderr, "open %s: %s\n", uri, err.msg);
    TU_CHECK(s != NULL);
    return s;
}

/* Writes a clip or fails the run: nothing else can be tested without it. */
static void make_clip(const char *path, const clipgen_spec *spec) {
    ps_err err = {0};
    if (clipgen_write_spec(path, spec, &err) != PS_OK) {
        fprintf(stderr, "clipgen: %s\n", err.msg);
        exit(1);
    }
}

/* ---- files ------------------------------------------------------------- */

/* A whole clip offline: n frames, in order, right pts, size and content. */
static void check_offline(int w, int h, int fit_w, int fit_h) {
    const int n = 20, fps = 25;
    clipgen_spec spec = {.w = w, .h = h, .fps = fps, .n_frames = n};
    const char *path = tmp_path("offline.avi");
    make_clip(path, &spec);
    ps_source_opts o = {.fit_w = fit_w, .fit_h = fit_h};
    ps_source *s = open_or_report(path, &o);
    if (!s) return;
    int iw, ih;
    double ifps;
    ps_source_info(s, &iw, &ih, &ifps);
    TU_CHECK(iw == w && ih == h && fabs(ifps - fps) < 1e-9);
    TU_CHECK(!ps_source_is_live(s));
    reading *r = calloc(1, sizeof *r);
    read_frames(s, r, MAX_FRAMES);
    ps_letterbox lb = ps_letterbox_fit(w, h, fit_w, fit_h);
    printf("  %dx%d into %dx%d: %d frames, scaled %dx%d (fit says %dx%d), end %d\n", w, h,
           fit_w, fit_h, r->n, r->sw[0], r->sh[0], lb.sw, lb.sh, r->last);
    TU_CHECK(r->n == n && r->last == PS_READ_END);
    for (int i = 0; i < r->n; i++) {
        TU_CHECK(r->index[i] == i && r->code[i] == i);
        TU_CHECK(fabs(r->pts[i] - (double)i / fps) < 1e-6);
        TU_CHECK(r->sw[i] == lb.sw && r->sh[i] == lb.sh && r->width[i] == w);
    }
    TU_CHECK(ps_source_skipped(s) == 0);
    free(r);
    ps_source_close(s);
}

static void test_offline(void) {
    check_offline(640, 480, 256, 192); /* 4:3 into 4:3: fills it */
    check_offline(640, 360, 256, 256); /* 16:9 into a square: 256x144 */
}

/* opts.loop: indices and pts keep counting, pixels repeat the clip. */
static void test_loop(void) {
    const int n = 10, fps = 20, want = 25;
    clipgen_spec spec = {.w = 320, .h = 240, .fps = fps, .n_frames = n};
    const char *path = tmp_path("loop.avi");
    make_clip(path, &spec);
    ps_source_opts o = {.fit_w = 256, .fit_h = 256, .loop = 1};
    ps_source *s = open_or_report(path, &o);
    if (!s) return;
    reading *r = calloc(1, sizeof *r);
    read_frames(s, r, want);
    printf("  %d frames over %.1f passes, last pts %.3f, then %d %s\n", r->n, (double)r->n / n,
           r->n ? r->pts[r->n - 1] : -1.0, r->last, r->last == PS_READ_ERROR ? r->err.msg : "");
    TU_CHECK(r->n == want);
    for (int i = 0; i < r->n; i++) {
        TU_CHECK(r->index[i] == i && r->code[i] == i % n);
        TU_CHECK(fabs(r->pts[i] - (double)i / fps) < 1e-6);
    }
    free(r);
    ps_source_close(s);
}

/* opts.realtime: 10 frames at 50 fps take 0.18 s (9 gaps) plus reading,
 * and each frame is stamped with its slot on the schedule. */
static void test_realtime(void) {
    const int n = 10, fps = 50;
    clipgen_spec spec = {.w = 320, .h = 240, .fps = fps, .n_frames = n};
    const char *path = tmp_path("realtime.avi");
    make_clip(path, &spec);
    ps_source_opts o = {.fit_w = 256, .fit_h = 256, .realtime = 1};
    ps_source *s = open_or_report(path, &o);
    if (!s) return;
    TU_CHECK(ps_source_is_live(s));
    reading *r = calloc(1, sizeof *r);
    int64_t t0 = ps_now_ns();
    read_frames(s, r, MAX_FRAMES);
    double took = (r->returned[r->n ? r->n - 1 : 0] - t0) / 1e9;
    double worst = 0;
    for (int i = 0; i < r->n; i++) {
        double off = (r->captured[i] - r->captured[0]) / 1e9 - (double)i / fps;
        worst = fmax(worst, fabs(off));
        TU_CHECK(r->returned[i] >= r->captured[i]);
    }
    printf("  %d frames in %.3f s, captured off schedule by at most %.2e s\n", r->n, took, worst);
    TU_CHECK(r->n == n && r->last == PS_READ_END);
    TU_CHECK(took >= 0.18 && took <= 0.3);
    TU_CHECK(worst < 1e-3);
    free(r);
    ps_source_close(s);
}

/* A clip whose frames change size half way: each is scaled to its own fit. */
static void test_size_change(void) {
    clipgen_spec spec = {.codec = "mjpeg", .w = 320, .h = 240, .fps = 25, .n_frames = 12,
                         .switch_at = 6, .w2 = 240, .h2 = 240};
    const char *path = tmp_path("resize.avi");
    make_clip(path, &spec);
    ps_source_opts o = {.fit_w = 256, .fit_h = 256};
    ps_source *s = open_or_report(path, &o);
    if (!s) return;
    reading *r = calloc(1, sizeof *r);
    read_frames(s, r, MAX_FRAMES);
    printf("  %d frames: %dx%d scaled to %dx%d, then %dx%d\n", r->n, r->width[0], 240,
           r->sw[0], r->sh[0], r->sw[r->n - 1], r->sh[r->n - 1]);
    TU_CHECK(r->n == 12 && r->last == PS_READ_END);
    for (int i = 0; i < r->n; i++) {
        int big = i < 6;
        TU_CHECK(r->code[i] == i);
        TU_CHECK(r->width[i] == (big ? 320 : 240));
        TU_CHECK(r->sw[i] == 256 && r->sh[i] == (big ? 192 : 256));
    }
    free(r);
    ps_source_close(s);
}

/* ---- synthetic --------------------------------------------------------- */

/* Rate, size and liveness; a late consumer gets the current slot, not a
 * burst of the missed ones. */
static void test_synthetic(void) {
    ps_source_opts o = {.fit_w = 256, .fit_h = 256};
    ps_source *s = open_or_report("synthetic:1920x1080@30", &o);
    if (!s) return;
    TU_CHECK(ps_source_is_live(s));
    reading *r = calloc(1, sizeof *r);
    int64_t t0 = ps_now_ns();
    int n = 0;
    ps_frame f = {0};
    uint8_t first_px[3 * 256];
    ps_err err;
    while (secs_since(t0) < 0.5 && ps_source_read(s, &f, &err) == PS_READ_FRAME) {
        if (n == 0) memcpy(first_px, f.rgb + (size_t)f.sw * 3 * 72, sizeof first_px);
        TU_CHECK(f.sw == 256 && f.sh == 144 && f.width == 1920 && f.index == n);
        r->returned[n++] = ps_now_ns();
    }
    double rate = (n - 1) / ((r->returned[n - 1] - r->returned[0]) / 1e9);
    int moved = memcmp(first_px, f.rgb + (size_t)f.sw * 3 * 72, sizeof first_px) != 0;
    printf("  %d frames in %.3f s: %.2f fps (want 30 +-10%%), picture moves: %d\n", n,
           secs_since(t0), rate, moved);
    TU_CHECK(rate > 27 && rate < 33);
    TU_CHECK(moved);
    ps_sleep_until_ns(ps_now_ns() + 200000000); /* six slots late */
    int64_t late = ps_now_ns();
    ps_source_read(s, &f, &err);
    int64_t a_index = f.index, a_cap = f.t.captured;
    ps_source_read(s, &f, &err);
    double wait = (ps_now_ns() - late) / 1e9;
    printf("  after 0.2 s away: indices %lld, %lld, slot gap %.3f s, two reads took %.3f s\n",
           (long long)a_index, (long long)f.index, (f.t.captured - a_cap) / 1e9, wait);
    TU_CHECK(a_index == n && f.index == n + 1);
    TU_CHECK(fabs((f.t.captured - a_cap) / 1e9 - 1.0 / 30) < 1e-3);
    TU_CHECK(wait > 0.015); /* the second read waited for its slot */
    TU_CHECK(late - a_cap < 34000000); /* the slot given was the current one */
    free(f.rgb);
    free(r);
    ps_source_close(s);
}

/* ps_source_set_fit after open: later frames fit the new box. */
static void test_set_fit(void) {
    ps_source *s = open_or_report("synthetic:64x48@1000", NULL);
    if (!s) return;
    ps_frame f = {0};
    ps_err err;
    TU_CHECK(ps_source_read(s, &f, &err) == PS_READ_FRAME && f.sw == 256 && f.sh == 192);
    ps_source_set_fit(s, 128, 128);
    TU_CHECK(ps_source_read(s, &f, &err) == PS_READ_FRAME && f.sw == 128 && f.sh == 96);
    printf("  default fit 256x256, then set to 128x128: %dx%d\n", f.sw, f.sh);
    free(f.rgb);
    ps_source_close(s);
}

typedef struct {
    ps_source *s;
    ps_read_result result;
    int64_t returned;
} blocked_read;

static void *read_once(void *arg) {
    blocked_read *b = arg;
    ps_frame f = {0};
    ps_err err;
    b->result = ps_source_read(b->s, &f, &err);
    b->returned = ps_now_ns();
    free(f.rgb);
    return NULL;
}

/* A reader waiting for a slow live source's next frame returns END soon
 * after ps_source_interrupt. */
static void test_interrupt_synthetic(void) {
    ps_source *s = open_or_report("synthetic:64x48@0.5", NULL);
    if (!s) return;
    blocked_read b = {.s = s};
    ps_frame f = {0};
    ps_err err;
    TU_CHECK(ps_source_read(s, &f, &err) == PS_READ_FRAME); /* slot 0: at once */
    pthread_t t;
    pthread_create(&t, NULL, read_once, &b); /* slot 1 is 2 s away */
    ps_sleep_until_ns(ps_now_ns() + 50000000);
    int64_t asked = ps_now_ns();
    ps_source_interrupt(s);
    pthread_join(t, NULL);
    double took = (b.returned - asked) / 1e9;
    printf("  blocked reader returned %d %.4f s after the interrupt\n", b.result, took);
    TU_CHECK(b.result == PS_READ_END && took < 0.1);
    free(f.rgb);
    ps_source_close(s);
}

/* ---- stills ------------------------------------------------------------ */

/* Copies src to dst; 0 when either fails. */
static int copy_file(const char *src, const char *dst) {
    size_t n;
    void *data = tu_read_file(src, &n);
    FILE *fp = data ? fopen(dst, "wb") : NULL;
    int ok = fp && fwrite(data, 1, n, fp) == n;
    if (fp) ok = fclose(fp) == 0 && ok;
    free(data);
    return ok;
}

static int write_text(const char *path, const char *text) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    fputs(text, fp);
    return fclose(fp) == 0;
}

/* A w x h PNG of one grey level, via libpng's simplified API. */
static int write_png(const char *path, int w, int h, uint8_t level) {
    uint8_t *px = malloc((size_t)w * h * 3);
    if (!px) return 0;
    memset(px, level, (size_t)w * h * 3);
    png_image img = {.version = PNG_IMAGE_VERSION, .width = (png_uint_32)w,
                     .height = (png_uint_32)h, .format = PNG_FORMAT_RGB};
    int ok = png_image_write_to_file(&img, path, 0, px, 0, NULL);
    free(px);
    return ok;
}

static void test_still_file(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/photo1.jpg", photo_dir);
    ps_source_opts o = {.fit_w = 256, .fit_h = 256};
    ps_source *s = open_or_report(path, &o);
    if (!s) return;
    int w, h;
    ps_source_info(s, &w, &h, NULL);
    TU_CHECK(!ps_source_is_live(s));
    reading *r = calloc(1, sizeof *r);
    read_frames(s, r, MAX_FRAMES);
    ps_letterbox lb = ps_letterbox_fit(w, h, 256, 256);
    printf("  %s: %dx%d, %d frame scaled %dx%d, then %d\n", path, w, h, r->n, r->sw[0],
           r->sh[0], r->last);
    TU_CHECK(w == 1920 && h == 1398);
    TU_CHECK(r->n == 1 && r->last == PS_READ_END && r->sw[0] == lb.sw && r->sh[0] == lb.sh);
    free(r);
    ps_source_close(s);
}

/* A folder plays its images in name order, skipping other files; a bad
 * image is a bad frame (PS_READ_BAD, naming it) and the images after it
 * still play. */
static void test_still_folder(void) {
    const char *dir = tmp_path("stills");
    char p1[512], p3[512];
    snprintf(p1, sizeof p1, "%s/photo1.jpg", photo_dir);
    snprintf(p3, sizeof p3, "%s/photo3.jpg", photo_dir);
    char a[600], b[600], c[600], d[600], txt[600];
    snprintf(a, sizeof a, "%s/a.jpg", dir);
    snprintf(b, sizeof b, "%s/b.PNG", dir);
    snprintf(c, sizeof c, "%s/c.jpeg", dir);
    snprintf(txt, sizeof txt, "%s/notes.txt", dir);
    snprintf(d, sizeof d, "%s/b2.jpg", dir);
    int ok = mkdir(dir, 0700) == 0 && copy_file(p1, a) && write_png(b, 64, 48, 200) &&
             copy_file(p3, c) && write_text(txt, "not an image\n");
    TU_CHECK(ok);
    if (!ok) return;
    reading *r = calloc(1, sizeof *r);
    ps_source *s = open_or_report(dir, NULL);
    if (s) {
        read_frames(s, r, MAX_FRAMES);
        printf("  folder: %d frames, widths %d %d %d, pts %.0f %.0f %.0f, end %d\n", r->n,
               r->width[0], r->width[1], r->width[2], r->pts[0], r->pts[1], r->pts[2], r->last);
        TU_CHECK(r->n == 3 && r->last == PS_READ_END);
        TU_CHECK(r->width[0] == 1920 && r->width[1] == 64 && r->width[2] == 1920);
        TU_CHECK(r->sw[1] == 256 && r->sh[1] == 192 && r->pts[2] == 2.0);
        ps_source_close(s);
    }
    TU_CHECK(write_text(d, "this is not a JPEG\n"));
    s = open_or_report(dir, NULL);
    if (s) {
        read_frames(s, r, MAX_FRAMES); /* a.jpg, b.PNG, then the bad b2.jpg */
        printf("  with a bad b2.jpg: %d frames, then %d: %s\n", r->n, r->last, r->err.msg);
        TU_CHECK(r->n == 2 && r->last == PS_READ_BAD && strstr(r->err.msg, "b2.jpg"));
        read_frames(s, r, MAX_FRAMES); /* and c.jpeg after it */
        TU_CHECK(r->n == 1 && r->last == PS_READ_END && r->width[0] == 1920);
        ps_source_close(s);
    }
    free(r);
}

/* ---- errors ------------------------------------------------------------ */

/* Opening uri must fail with a message holding `want`, within max_s. */
static void expect_open_error(const char *uri, const ps_source_opts *o, const char *want,
                              double max_s) {
    ps_err err = {0};
    int64_t t0 = ps_now_ns();
    ps_source *s = ps_source_open(uri, o, &err);
    double took = secs_since(t0);
    printf("  %-44.44s -> \"%s\" (%.3f s)\n", uri, err.msg, took);
    TU_CHECK(s == NULL);
    TU_CHECK(strstr(err.msg, want) != NULL);
    TU_CHECK(strstr(err.msg, uri) != NULL);
    TU_CHECK(took <= max_s);
    ps_source_close(s);
}

/* A WAV file: a valid container with no video in it. */
static int write_wav(const char *path) {
    /* 8 kHz mono 16-bit PCM, 400 samples of silence */
    uint8_t h[44 + 800] = "RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0"
                          "\x40\x1f\0\0\x80\x3e\0\0\x02\0\x10\0data";
    uint32_t data = 800, riff = 36 + data;
    memcpy(h + 4, &riff, 4);
    memcpy(h + 40, &data, 4);
    FILE *fp = fopen(path, "wb");
    int ok = fp && fwrite(h, 1, sizeof h, fp) == sizeof h;
    if (fp) ok = fclose(fp) == 0 && ok;
    return ok;
}

/* A socket that accepts connections (the kernel's backlog does) and never
 * answers: opening an rtsp:// URL there can only time out. */
static int silent_server(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_open_errors(void) {
    expect_open_error(tmp_path("missing.mp4"), NULL, "No such file or directory", 1);
    const char *text = tmp_path("notes.mp4");
    TU_CHECK(write_text(text, "this is a text file, not a video\n"));
    expect_open_error(text, NULL, "Invalid data found when processing input", 1);
    const char *wav = tmp_path("sound.wav");
    TU_CHECK(write_wav(wav));
    if (av_find_input_format("wav")) expect_open_error(wav, NULL, "no video stream", 1);
    else printf("  SKIP: audio-only file: this FFmpeg has no wav demuxer\n");
    expect_open_error("rtsp://127.0.0.1:1/x", NULL, "Connection refused", 1);
    /* an option the container does not take is a note, not a failure: the
     * same --av-opt goes to every source, and rtsp_transport means nothing
     * to a file */
    ps_err err;
    ps_source_opts unused = {.av_options = "rtsp_transport=tcp,no_such_option=1"};
    ps_source *s = ps_source_open(tmp_path("loop.avi"), &unused, &err);
    TU_CHECK(s != NULL);
    if (s) {
        printf("  unused options -> note \"%s\"\n", ps_source_note(s));
        TU_CHECK(strstr(ps_source_note(s), "rtsp_transport") &&
                 strstr(ps_source_note(s), "no_such_option"));
        ps_source_close(s);
    }
    expect_open_error("synthetic:1920x1080", NULL, "expected synthetic:WxH@FPS", 1);
    int port, fd = silent_server(&port);
    TU_CHECK(fd >= 0);
    if (fd < 0) return;
    char uri[64];
    snprintf(uri, sizeof uri, "rtsp://127.0.0.1:%d/x", port);
    ps_source_opts quick = {.open_timeout_s = 0.5};
    expect_open_error(uri, &quick, "timed out after 0.5 s opening", 1.5);
    close(fd);
}

/* A file cut at 30%: the frames before the cut come in order, then the
 * end (or an error), and the source says the file was truncated, with the
 * frames its header promised. */
static void test_truncated(void) {
    const char *whole = tmp_path("whole.avi"), *part = tmp_path("part.avi");
    clipgen_spec spec = {.w = 320, .h = 240, .fps = 25, .n_frames = 40};
    make_clip(whole, &spec);
    size_t n;
    uint8_t *data = tu_read_file(whole, &n);
    FILE *fp = data ? fopen(part, "wb") : NULL;
    TU_CHECK(fp && fwrite(data, 1, n * 3 / 10, fp) == n * 3 / 10);
    if (fp) fclose(fp);
    free(data);
    ps_source *s = open_or_report(part, NULL);
    if (!s) return;
    reading *r = calloc(1, sizeof *r);
    read_frames(s, r, MAX_FRAMES);
    /* The last frame may be cut short: the decoder conceals the missing
     * part, so its index is right but its pixels need not be. */
    int in_order = 1;
    for (int i = 0; i < r->n; i++)
        in_order &= r->index[i] == i && (r->code[i] == i || i == r->n - 1);
    printf("  %zu of %zu bytes: %d frames in order %d (last carries %d), then %d \"%s\", "
           "%lld skipped\n", n * 3 / 10, n, r->n, in_order, r->n ? r->code[r->n - 1] : -1,
           r->last, r->last == PS_READ_ERROR ? r->err.msg : "", (long long)ps_source_skipped(s));
    TU_CHECK(r->n >= 5 && r->n < 40 && in_order);
    TU_CHECK(r->last == PS_READ_END || r->last == PS_READ_ERROR);
    /* and it says so: the header's 40 frames against those it had */
    printf("  expected %lld frames: \"%s\"\n", (long long)ps_source_expected_frames(s),
           ps_source_note(s));
    TU_CHECK(ps_source_expected_frames(s) == 40 && strstr(ps_source_note(s), "truncated"));
    free(r);
    ps_source_close(s);
    /* the whole file is not */
    s = open_or_report(whole, NULL);
    if (!s) return;
    r = calloc(1, sizeof *r);
    read_frames(s, r, MAX_FRAMES);
    TU_CHECK(r->n == 40 && ps_source_expected_frames(s) == 0 && !ps_source_note(s)[0]);
    free(r);
    ps_source_close(s);
}

/* Zeroes the payload of MJPEG packets first..first+count-1 of the AVI file
 * path, loaded at data. Returns how many. */
static int zero_packets(const char *path, uint8_t *data, size_t size, int first, int count) {
    AVFormatContext *fc = NULL;
    AVPacket *pkt = av_packet_alloc();
    int done = 0;
    if (pkt && avformat_open_input(&fc, path, NULL, NULL) >= 0) {
        for (int i = 0; i < first + count && av_read_frame(fc, pkt) >= 0; i++) {
            size_t at = (size_t)pkt->pos, len = (size_t)pkt->size;
            if (at + 1 < size && !(data[at] == 0xFF && data[at + 1] == 0xD8))
                at += 8; /* pos was the chunk header's */
            if (i >= first && pkt->pos >= 0 && at + len <= size) {
                memset(data + at, 0, len);
                done++;
            }
            av_packet_unref(pkt);
        }
    }
    avformat_close_input(&fc);
    av_packet_free(&pkt);
    return done;
}

/* Random bytes over 40-45% of the file (chunk headers included). */
static void check_garbled(const char *clean) {
    const char *whole = clean, *bad = tmp_path("garbled.avi");
    size_t n;
    uint8_t *data = tu_read_file(whole, &n);
    unsigned long long seed = 7;
    for (size_t i = n * 40 / 100; data && i < n * 45 / 100; i++)
        data[i] = (uint8_t)tu_randf(&seed, 0, 256);
    FILE *fp = data ? fopen(bad, "wb") : NULL;
    TU_CHECK(fp && fwrite(data, 1, n, fp) == n);
    if (fp) fclose(fp);
    free(data);
    ps_source *s = open_or_report(bad, NULL);
    if (!s) return;
    reading *r = calloc(1, sizeof *r);
    read_frames(s, r, MAX_FRAMES);
    int good = 0, in_order = 1;
    for (int i = 0; i < r->n; i++) {
        in_order &= r->index[i] == i;
        good += r->code[i] >= 0 && (i == 0 || r->code[i] > r->code[i - 1]);
    }
    printf("  bytes 40-45%% garbled: %d frames (%d with a readable, rising index), "
           "%lld packets skipped, then %d\n", r->n, good, (long long)ps_source_skipped(s),
           r->last);
    TU_CHECK(in_order && r->last == PS_READ_END);
    TU_CHECK(r->n >= 30 && good >= 30 && r->code[r->n - 1] == 39);
    free(r);
    ps_source_close(s);
}

/* Damage in the middle of a clip: three frames whose data is zeroed are
 * skipped and counted; random garbage over 5% of the file costs a few
 * frames; the rest still come, in order. */
static void test_corrupt_middle(void) {
    const char *clean = tmp_path("clean.avi"), *zeroed = tmp_path("zeroed.avi");
    clipgen_spec spec = {.codec = "mjpeg", .w = 320, .h = 240, .fps = 25, .n_frames = 40};
    make_clip(clean, &spec);
    size_t n;
    uint8_t *data = tu_read_file(clean, &n);
    int zeroed_n = data ? zero_packets(clean, data, n, 10, 3) : 0;
    FILE *fp = data ? fopen(zeroed, "wb") : NULL;
    TU_CHECK(zeroed_n == 3 && fp && fwrite(data, 1, n, fp) == n);
    if (fp) fclose(fp);
    free(data);
    ps_source *s = open_or_report(zeroed, NULL);
    if (!s) return;
    reading *r = calloc(1, sizeof *r);
    read_frames(s, r, MAX_FRAMES);
    int in_order = 1;
    for (int i = 0; i < r->n; i++) in_order &= r->code[i] == (i < 10 ? i : i + 3);
    printf("  3 frames zeroed: %d frames, indices as expected %d, %lld packets skipped, "
           "then %d\n", r->n, in_order, (long long)ps_source_skipped(s), r->last);
    TU_CHECK(r->n == 37 && in_order && ps_source_skipped(s) == 3 && r->last == PS_READ_END);
    free(r);
    ps_source_close(s);
    check_garbled(clean);
}

/* ---- RTSP -------------------------------------------------------------- */

/* A reader thread: opens uri (blocking until a pusher comes, in listen
 * mode) and reads to the end. */
typedef struct {
    char uri[64];
    ps_source_opts opts;
    _Atomic(ps_source *) s;
    atomic_int frames;
    int opened, live;
    reading r;
} rtsp_reader;

static void *rtsp_read(void *arg) {
    rtsp_reader *rd = arg;
    ps_err err = {0};
    ps_source *s = ps_source_open(rd->uri, &rd->opts, &err);
    if (!s) {
        fprintf(stderr, "rtsp reader: %s\n", err.msg);
        return NULL;
    }
    rd->opened = 1;
    rd->live = ps_source_is_live(s);
    atomic_store(&rd->s, s);
    ps_frame f = {0};
    reading *r = &rd->r;
    while (r->n < MAX_FRAMES && (r->last = ps_source_read(s, &f, &r->err)) == PS_READ_FRAME) {
        r->index[r->n] = f.index;
        r->code[r->n++] = clipgen_read_index(f.rgb, f.sw, f.sh);
        atomic_fetch_add(&rd->frames, 1);
    }
    free(f.rgb);
    return NULL;
}

/* Starts a listening reader and a pusher of clip to it. hold: the pusher
 * keeps the connection open after its last packet until *hold drops. */
static void rtsp_start(rtsp_reader *rd, clipgen_pusher *p, const char *clip,
                       atomic_int *hold, double stall_s, int reconnect, pthread_t t[2]) {
    int port = clipgen_free_port();
    snprintf(rd->uri, sizeof rd->uri, "rtsp://127.0.0.1:%d/live", port);
    rd->opts = (ps_source_opts){.fit_w = 256, .fit_h = 256, .av_options = "rtsp_flags=listen",
                                .open_timeout_s = 10, .stall_timeout_s = stall_s,
                                .reconnect = reconnect};
    p->spec = (clipgen_push_spec){.clip = clip, .url = rd->uri, .format = "rtsp",
                                  .options = "rtsp_transport=tcp", .connect_timeout_s = 5,
                                  .hold = hold};
    pthread_create(&t[0], NULL, rtsp_read, rd);
    pthread_create(&t[1], NULL, clipgen_push_thread, p);
}

/* Frames from an RTSP pusher (ANNOUNCE/RECORD) reach a listening source:
 * most of them, in order, then END when the pusher tears down. */
static void test_rtsp(void) {
    const int n = 30;
    const char *clip = tmp_path("rtsp.avi");
    clipgen_spec spec = {.w = 320, .h = 240, .fps = 25, .n_frames = n};
    make_clip(clip, &spec);
    rtsp_reader *rd = calloc(1, sizeof *rd);
    clipgen_pusher p = {0};
    pthread_t t[2];
    rtsp_start(rd, &p, clip, NULL, 5, 0, t);
    pthread_join(t[1], NULL);
    pthread_join(t[0], NULL);
    reading *r = &rd->r;
    int in_order = 1, readable = 0;
    for (int i = 0; i < r->n; i++) {
        in_order &= r->index[i] == i && (i == 0 || r->code[i] > r->code[i - 1]);
        readable += r->code[i] >= 0;
    }
    printf("  %s: pushed %d, read %d (%d readable, in order %d), then %d %s%s\n", rd->uri,
           p.spec.sent, r->n, readable, in_order, r->last, p.st ? "push: " : "",
           p.st ? p.err.msg : "");
    TU_CHECK(p.st == PS_OK && p.spec.sent == n);
    TU_CHECK(rd->opened && rd->live);
    TU_CHECK(r->n >= n * 9 / 10 && in_order && readable == r->n);
    TU_CHECK(r->last == PS_READ_END);
    ps_source_close(rd->s);
    free(rd);
}

/* A pusher that goes quiet: the reader reports a stall, or, when
 * interrupted first, returns END at once. libavformat's MPEG-4 parser keeps
 * the newest frame until the next one starts, so while the pusher is quiet
 * the reader has n - 1 frames; the first stall timeout releases the last
 * one, the second ends the stream: the error comes 2 x stall_s after the
 * last frame was sent. */
static void check_rtsp_quiet(int interrupt) {
    const char *clip = tmp_path("quiet.avi");
    clipgen_spec spec = {.w = 320, .h = 240, .fps = 25, .n_frames = 8};
    make_clip(clip, &spec);
    rtsp_reader *rd = calloc(1, sizeof *rd);
    clipgen_pusher p = {0};
    atomic_int hold = 1;
    pthread_t t[2];
    rtsp_start(rd, &p, clip, &hold, interrupt ? 10 : 0.5, 0, t);
    int64_t t0 = ps_now_ns();
    while (atomic_load(&rd->frames) < 7 && secs_since(t0) < 5)
        ps_sleep_until_ns(ps_now_ns() + 5000000);
    int64_t quiet = ps_now_ns();
    if (interrupt) ps_source_interrupt(atomic_load(&rd->s));
    pthread_join(t[0], NULL);
    double took = secs_since(quiet);
    /* Closed before the pusher leaves, its TEARDOWN meets a closed socket
     * instead of waiting for an answer nobody reads. */
    ps_source_close(atomic_load(&rd->s));
    atomic_store(&hold, 0);
    pthread_join(t[1], NULL);
    printf("  %s: %d frames, then %d after %.3f s quiet: \"%s\"\n",
           interrupt ? "interrupted" : "stalled", rd->r.n, rd->r.last, took,
           rd->r.last == PS_READ_ERROR ? rd->r.err.msg : "");
    if (interrupt) {
        /* FFmpeg looks at the interrupt flag every 0.1 s while it polls */
        TU_CHECK(rd->r.n >= 7 && rd->r.last == PS_READ_END && took < 0.5);
    } else {
        TU_CHECK(rd->r.n == 8 && rd->r.last == PS_READ_ERROR);
        TU_CHECK(strstr(rd->r.err.msg, "stalled") && took > 0.9 && took < 2);
    }
    free(rd);
}

static void test_rtsp_stall(void) { check_rtsp_quiet(0); }
static void test_rtsp_interrupt(void) { check_rtsp_quiet(1); }

/* ---- driver ------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

#define RUN(test)                                                               \
    do {                                                                        \
        int before = tu_failures;                                               \
        int64_t t0 = ps_now_ns();                                               \
        printf("%s\n", #test);                                                  \
        test();                                                                 \
        printf("%-26s %s  %.3f s\n", #test, tu_failures > before ? "FAIL" : "ok", \
               secs_since(t0));                                                 \
    } while (0)

/* 0 and the device count, or -1 when CUDA cannot even count (no driver). */
static int cudaless_machine(int *count) {
#ifdef POSESTREAM_HAVE_CUDA
    return cudaGetDeviceCount(count) == cudaSuccess ? 0 : -1;
#else
    *count = 0;
    return -1;
#endif
}

/* A camera that goes away and comes back: the first clipgen_pusher tears down after
 * its clip, a second one connects to the same URL; a source allowed to
 * reconnect reads both clips as one stream (indices and pts going on), and
 * counts one reconnection. */
static void test_rtsp_reconnect(void) {
    const int n = 20;
    const char *clip = tmp_path("again.avi");
    clipgen_spec spec = {.w = 320, .h = 240, .fps = 25, .n_frames = n};
    make_clip(clip, &spec);
    rtsp_reader *rd = calloc(1, sizeof *rd);
    clipgen_pusher p = {0}, again = {0};
    pthread_t t[2], t2;
    rtsp_start(rd, &p, clip, NULL, 5, 3, t);
    pthread_join(t[1], NULL); /* the first camera is gone */
    again.spec = p.spec;
    again.spec.sent = 0;
    pthread_create(&t2, NULL, clipgen_push_thread, &again);
    pthread_join(t2, NULL);
    while (atomic_load(&rd->frames) < 2 * n - 3 && p.st == PS_OK && again.st == PS_OK &&
           rd->r.last == PS_READ_FRAME)
        usleep(20000);
    usleep(300000);
    ps_source *s = atomic_load(&rd->s);
    if (s) ps_source_interrupt(s);
    pthread_join(t[0], NULL);
    reading *r = &rd->r;
    /* in order, with one gap at the reconnection: the frames the camera
     * would have sent while it was down, counted in the outage; at the end
     * the second camera has gone too, so the stream is down again */
    int in_order = 1, gaps = 0;
    int64_t gap = 0;
    for (int i = 1; i < r->n; i++) {
        in_order &= r->index[i] > r->index[i - 1];
        if (r->index[i] != r->index[i - 1] + 1) gaps++, gap = r->index[i] - r->index[i - 1] - 1;
    }
    long long reconnects = s ? (long long)ps_source_reconnects(s) : -1;
    double down_s = 0;
    int64_t missed = 0;
    int down = s ? ps_source_outage(s, &down_s, &missed) : 1;
    printf("  %s: pushed %d + %d, read %d (in order %d), reconnections %lld, down %.2f s, "
           "%lld frames missed, a gap of %lld in the frame numbers\n", rd->uri, p.spec.sent,
           again.spec.sent, r->n, in_order, reconnects, down_s, (long long)missed,
           (long long)gap);
    TU_CHECK(p.st == PS_OK && again.st == PS_OK);
    TU_CHECK(r->n >= 2 * n * 9 / 10 && in_order && reconnects == 1);
    TU_CHECK(down && down_s > 0.3 && gaps == 1 && gap > 0 && missed >= gap);
    ps_source_close(s);
    free(rd);
}

/* Where video decodes, on a machine without a usable GPU: AUTO with an
 * engine that takes raw pictures falls back to the CPU and delivers host
 * pictures; GPU is a clear error for that stream. (With a GPU, test_nvdec.) */
static void test_decode_placement(void) {
    const char *path = tmp_path("decode.avi");
    clipgen_spec spec = {.w = 320, .h = 240, .fps = 25, .n_frames = 3};
    make_clip(path, &spec);
    int count = 0;
    if (cudaless_machine(&count) == 0 && count > 0) {
        printf("  a GPU is present: see test_nvdec\n");
        return;
    }
    ps_err err = {0};
    ps_source_opts so = {.raw = 1, .decode = PS_DECODE_AUTO};
    ps_source *s = ps_source_open(path, &so, &err);
    TU_CHECK(s != NULL);
    ps_frame f = {0};
    TU_CHECK(s && ps_source_read(s, &f, &err) == PS_READ_FRAME);
    TU_CHECK(!f.pic.on_device && f.pic.fmt == PS_PIX_YUV420P && f.pic.width == 320);
    TU_CHECK(s && !ps_source_gpu_decoding(s));
    ps_source_close(s);
    so.decode = PS_DECODE_GPU;
    s = ps_source_open(path, &so, &err);
    TU_CHECK(s != NULL);
    ps_read_result r = s ? ps_source_read(s, &f, &err) : PS_READ_FRAME;
    printf("  --decode gpu without a GPU: %s\n", err.msg);
    TU_CHECK(r == PS_READ_ERROR && strstr(err.msg, path) && strstr(err.msg, "NVDEC"));
    ps_source_close(s);
    free(f.rgb);
}

int main(int argc, char **argv) {
    photo_dir = argc > 1 ? argv[1] : "tests/data/golden";
    if (!mkdtemp(tmp_dir)) TU_SKIP("cannot make a temporary folder");
    RUN(test_offline);
    RUN(test_loop);
    RUN(test_realtime);
    RUN(test_size_change);
    RUN(test_synthetic);
    RUN(test_set_fit);
    RUN(test_interrupt_synthetic);
    RUN(test_still_file);
    RUN(test_still_folder);
    RUN(test_open_errors);
    RUN(test_truncated);
    RUN(test_corrupt_middle);
    if (clipgen_can_push("rtsp")) {
        RUN(test_rtsp);
        RUN(test_rtsp_stall);
        RUN(test_rtsp_interrupt);
        RUN(test_rtsp_reconnect);
    } else {
        printf("SKIP: the RTSP cases: this FFmpeg has no rtsp muxer to push with\n");
    }
    RUN(test_decode_placement);
    nftw(tmp_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return tu_finish("test_source");
}
