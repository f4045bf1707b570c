/* libFuzzer target: the video source path on untrusted bytes (demux and
 * decode through FFmpeg with posestream's options and checks,
 * src/source/av_source.c): the bytes go to a file, which is opened as a
 * source and read for up to 16 frames. Anything may come in; nothing may
 * crash, leak or read out of bounds, every failure must come with a
 * message, and every frame must be as big as it says. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source/source.h"

static char path[64];

static void remove_file(void) {
    unlink(path);
}

/* The frame's pixels, touched at both ends: its size must be real. */
static void touch(const ps_frame *f) {
    if (f->sw < 1 || f->sh < 1 || f->sw > 64 || f->sh > 64 || !f->rgb) abort();
    volatile uint8_t sum = f->rgb[0];
    sum += f->rgb[(size_t)f->sw * f->sh * 3 - 1];
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/ps_fuzz_video_%ld", (long)getpid());
        atexit(remove_file);
    }
    FILE *fp = fopen(path, "wb");
    if (!fp) abort();
    if (size && fwrite(data, 1, size, fp) != size) abort();
    fclose(fp);
    ps_source_opts so = {.fit_w = 64, .fit_h = 64, .decode = PS_DECODE_CPU,
                         .open_timeout_s = 2};
    ps_err err = {0};
    ps_source *s = ps_source_open(path, &so, &err);
    if (!s) {
        if (!err.msg[0]) abort();
        return 0;
    }
    ps_frame f = {0};
    for (int i = 0; i < 16; i++) {
        ps_read_result r = ps_source_read(s, &f, &err);
        if (r == PS_READ_FRAME) touch(&f);
        else if (r == PS_READ_END) break;
        else if (!err.msg[0]) abort();
        else if (r == PS_READ_ERROR) break;
    }
    ps_frame_release(&f);
    free(f.rgb);
    ps_source_close(s);
    return 0;
}
