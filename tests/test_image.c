/* Tests for still-image decoding: JPEG and PNG files of every common layout,
 * written at run time into a fresh temporary directory with libjpeg/libpng,
 * decoded back and compared; then broken and hostile files, each of which
 * must give the right status and a message naming the file and the reason. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "source/image.h"
#include "testutil.h"

#define W 64
#define H 48

static char dir[1024];
static char paths[64][sizeof dir + 512];
static int n_paths;

/* Returns the full path of name in the test directory; each call gets its
 * own buffer so that several paths can be held at once. */
static const char *path_of(const char *name) {
    if (n_paths == 64) TU_SKIP("too many test paths");
    snprintf(paths[n_paths], sizeof paths[n_paths], "%s/%s", dir, name);
    return paths[n_paths++];
}

/* Removes the test directory and everything written into it. */
static void remove_dir(void) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(path_of(e->d_name));
    if (d) closedir(d);
    if (rmdir(dir) != 0) printf("warning: could not remove %s\n", dir);
}

static const char *write_file(const char *name, const void *data, size_t n) {
    const char *p = path_of(name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, n, f) != n) TU_SKIP("cannot write %s", p);
    fclose(f);
    return p;
}

/* A smooth colour pattern (so a JPEG of it stays close) with known values. */
static uint8_t pattern(int x, int y, int c) {
    int v[3] = {x * 255 / (W - 1), y * 255 / (H - 1), (x + y) * 255 / (W + H - 2)};
    return (uint8_t)v[c];
}

static uint8_t *pattern_rgb(void) {
    uint8_t *p = malloc(W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) p[(y * W + x) * 3 + c] = pattern(x, y, c);
    return p;
}

/* ---- writing test files ------------------------------------------------ */

typedef struct {
    int color_type, bit_depth, interlace;
    const png_color *palette;
    int n_palette;
    const uint8_t *trns;
    int n_trns;
} png_layout;

/* Writes rows of png_get_rowbytes-sized data in the given layout. */
static const char *write_png(const char *name, const png_layout *l, const uint8_t *data,
                             int w, int h) {
    const char *p = path_of(name);
    FILE *f = fopen(p, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!f || !png || !info) TU_SKIP("cannot write %s", p);
    if (setjmp(png_jmpbuf(png))) TU_SKIP("libpng failed writing %s", p);
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, l->bit_depth, l->color_type, l->interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (l->palette) png_set_PLTE(png, info, l->palette, l->n_palette);
    if (l->trns) png_set_tRNS(png, info, l->trns, l->n_trns, NULL);
    png_write_info(png, info);
    size_t rb = png_get_rowbytes(png, info);
    png_bytep *rows = malloc(sizeof *rows * h);
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)data + rb * y;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(rows);
    return p;
}

/* Encodes w x h pixels of `comps` components in `space` to JPEG in memory. */
static unsigned char *encode_jpeg(const uint8_t *px, int w, int h, int comps,
                                  J_COLOR_SPACE space, unsigned long *size) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &out, size);
    ci.image_width = w;
    ci.image_height = h;
    ci.input_components = comps;
    ci.in_color_space = space;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 100, TRUE);
    for (int i = 0; i < ci.num_components; i++) /* 4:4:4, no chroma blur */
        ci.comp_info[i].h_samp_factor = ci.comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)px + (size_t)ci.next_scanline * w * comps;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return out;
}

/* ---- checking decoded files -------------------------------------------- */

/* Reads path and compares it with want (W x H RGB) within tol. */
static void check_decode(const char *label, const char *path, const uint8_t *want, float tol) {
    ps_rgb_image img;
    ps_err err = {0};
    ps_status st = ps_rgb_read(path, &img, &err);
    if (st != PS_OK) printf("%s: unexpected error: %s\n", label, err.msg);
    TU_CHECK(st == PS_OK);
    TU_CHECK(img.width == W && img.height == H);
    if (st != PS_OK || img.width != W || img.height != H) return;
    float *a = malloc(sizeof *a * W * H * 3), *b = malloc(sizeof *b * W * H * 3);
    for (int i = 0; i < W * H * 3; i++) {
        a[i] = img.rgb[i];
        b[i] = want[i];
    }
    tu_close(label, a, b, W * H * 3, tol);
    free(a);
    free(b);
    ps_rgb_free(&img);
    TU_CHECK(img.rgb == NULL);
}

static void test_png_rgb(const uint8_t *rgb) {
    png_layout l = {PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, 0, 0, 0, 0};
    check_decode("png rgb8", write_png("rgb.png", &l, rgb, W, H), rgb, 0);
    l.interlace = PNG_INTERLACE_ADAM7;
    check_decode("png rgb8 interlaced", write_png("adam7.png", &l, rgb, W, H), rgb, 0);
    /* Told apart by content, not by name. */
    l.interlace = PNG_INTERLACE_NONE;
    check_decode("png named .jpg", write_png("really_png.jpg", &l, rgb, W, H), rgb, 0);
}

static void test_png_gray(void) {
    uint8_t *g = malloc(W * H), *want = malloc(W * H * 3);
    for (int i = 0; i < W * H; i++) {
        g[i] = (uint8_t)(i * 7);
        want[i * 3] = want[i * 3 + 1] = want[i * 3 + 2] = g[i];
    }
    png_layout l = {PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, 0, 0, 0, 0};
    check_decode("png gray8", write_png("gray.png", &l, g, W, H), want, 0);
    /* Gray + alpha: the alpha byte is dropped. */
    uint8_t *ga = malloc(W * H * 2);
    for (int i = 0; i < W * H; i++) {
        ga[i * 2] = g[i];
        ga[i * 2 + 1] = (uint8_t)(255 - i);
    }
    l.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
    check_decode("png gray+alpha", write_png("gray_alpha.png", &l, ga, W, H), want, 0);
    /* 1-bit gray: 0 and 1 expand to 0 and 255. */
    uint8_t *bits = calloc(W / 8 * H, 1);
    for (int i = 0; i < W * H; i++) {
        int on = (i / W + i % W) % 3 == 0;
        if (on) bits[i / 8] |= (uint8_t)(0x80 >> (i % 8));
        want[i * 3] = want[i * 3 + 1] = want[i * 3 + 2] = on ? 255 : 0;
    }
    l = (png_layout){PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE, 0, 0, 0, 0};
    check_decode("png gray1", write_png("gray1.png", &l, bits, W, H), want, 0);
    free(g);
    free(ga);
    free(bits);
    free(want);
}

static void test_png_palette(void) {
    static const png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    static const uint8_t trns[4] = {255, 0, 128, 255}; /* alpha is dropped */
    uint8_t *idx = malloc(W * H), *want = malloc(W * H * 3);
    for (int i = 0; i < W * H; i++) {
        idx[i] = (uint8_t)((i / 5) % 4);
        memcpy(want + i * 3, (uint8_t[3]){pal[idx[i]].red, pal[idx[i]].green, pal[idx[i]].blue}, 3);
    }
    png_layout l = {PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, pal, 4, trns, 4};
    check_decode("png palette+tRNS", write_png("palette.png", &l, idx, W, H), want, 0);
    free(idx);
    free(want);
}

static void test_png_16_and_alpha(const uint8_t *rgb) {
    uint8_t *p16 = malloc(W * H * 6), *rgba = malloc(W * H * 4);
    for (int i = 0; i < W * H * 3; i++) {
        p16[i * 2] = p16[i * 2 + 1] = rgb[i]; /* v * 257 scales back to v */
    }
    for (int i = 0; i < W * H; i++) {
        memcpy(rgba + i * 4, rgb + i * 3, 3);
        rgba[i * 4 + 3] = (uint8_t)(i % 256);
    }
    png_layout l = {PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_NONE, 0, 0, 0, 0};
    check_decode("png rgb16", write_png("rgb16.png", &l, p16, W, H), rgb, 0);
    l = (png_layout){PNG_COLOR_TYPE_RGB_ALPHA, 8, PNG_INTERLACE_NONE, 0, 0, 0, 0};
    check_decode("png rgba8", write_png("rgba.png", &l, rgba, W, H), rgb, 0);
    free(p16);
    free(rgba);
}

static void test_jpeg(const uint8_t *rgb) {
    unsigned long n;
    unsigned char *j = encode_jpeg(rgb, W, H, 3, JCS_RGB, &n);
    check_decode("jpeg rgb q100 4:4:4", write_file("rgb.jpg", j, n), rgb, 8);
    free(j);
    uint8_t *g = malloc(W * H), *want = malloc(W * H * 3);
    for (int i = 0; i < W * H; i++) {
        g[i] = rgb[i * 3];
        want[i * 3] = want[i * 3 + 1] = want[i * 3 + 2] = g[i];
    }
    j = encode_jpeg(g, W, H, 1, JCS_GRAYSCALE, &n);
    check_decode("jpeg gray", write_file("gray.jpg", j, n), want, 8);
    free(j);
    /* CMYK as Photoshop writes it (inverted, Adobe marker): with no black
     * ink the stored bytes are the RGB values themselves plus 255. */
    uint8_t *cmyk = malloc(W * H * 4);
    for (int i = 0; i < W * H; i++) {
        memcpy(cmyk + i * 4, rgb + i * 3, 3);
        cmyk[i * 4 + 3] = 255;
    }
    j = encode_jpeg(cmyk, W, H, 4, JCS_CMYK, &n);
    check_decode("jpeg cmyk (adobe)", write_file("cmyk.jpg", j, n), rgb, 8);
    free(j);
    free(cmyk);
    free(g);
    free(want);
}

/* ---- broken and hostile files ------------------------------------------ */

/* Reading path must fail with code and a message naming path and `word`. */
static void expect_error(const char *label, const char *path, ps_status code, const char *word) {
    ps_rgb_image img = {(uint8_t *)1, 5, 5}; /* must come back zeroed */
    ps_err err = {0};
    ps_status st = ps_rgb_read(path, &img, &err);
    printf("%-22s -> status %d: %s\n", label, (int)st, err.msg);
    TU_CHECK(st == code);
    TU_CHECK(err.code == code);
    TU_CHECK(strstr(err.msg, path) != NULL);
    TU_CHECK(strstr(err.msg, word) != NULL);
    TU_CHECK(img.rgb == NULL && img.width == 0 && img.height == 0);
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Returns the offset of the first SOF0 marker's height field, or 0. */
static size_t find_sof_dims(const uint8_t *j, size_t n) {
    for (size_t i = 2; i + 9 < n; i++)
        if (j[i] == 0xFF && j[i + 1] == 0xC0) return i + 5;
    return 0;
}

static void test_bad_png(void) {
    size_t n;
    uint8_t *png = tu_read_file(path_of("rgb.png"), &n);
    TU_CHECK(png != NULL && n > 64);
    if (!png) return;
    expect_error("truncated png", write_file("trunc.png", png, n / 2), PS_ERR_IO, "truncated");
    /* All pixel data there but the 12-byte IEND chunk cut off. */
    expect_error("png without IEND", write_file("no_iend.png", png, n - 12), PS_ERR_IO,
                 "truncated");
    /* IHDR: width at 16, height at 20, CRC of type + data at 29. */
    uint8_t *big = malloc(n);
    memcpy(big, png, n);
    put_be32(big + 16, 100000);
    put_be32(big + 20, 100000);
    put_be32(big + 29, crc32_of(big + 12, 17));
    expect_error("png 100000x100000", write_file("huge.png", big, n), PS_ERR_FORMAT, "absurd");
    /* A flipped bit in the pixel data fails its chunk's CRC. */
    memcpy(big, png, n);
    big[n / 2] ^= 0x10;
    expect_error("corrupt png", write_file("corrupt.png", big, n), PS_ERR_FORMAT, "corrupt");
    free(big);
    free(png);
}

static void test_bad_jpeg(const uint8_t *rgb) {
    unsigned long n;
    unsigned char *j = encode_jpeg(rgb, W, H, 3, JCS_RGB, &n);
    expect_error("truncated jpeg", write_file("trunc.jpg", j, n / 2), PS_ERR_IO, "truncated");
    expect_error("jpeg magic only", write_file("magic.jpg", j, 3), PS_ERR_IO, "truncated");
    size_t at = find_sof_dims(j, n);
    TU_CHECK(at != 0);
    j[at] = j[at + 2] = 65000 >> 8;
    j[at + 1] = j[at + 3] = 65000 & 0xFF;
    expect_error("jpeg 65000x65000", write_file("huge.jpg", j, n), PS_ERR_FORMAT, "absurd");
    free(j);
    /* A valid header followed by scan data that is not Huffman-coded. */
    j = encode_jpeg(rgb, W, H, 3, JCS_RGB, &n);
    for (size_t i = n / 2; i < n - 2; i++) j[i] = 0xFF;
    expect_error("corrupt jpeg", write_file("corrupt.jpg", j, n), PS_ERR_FORMAT, "corrupt");
    free(j);
}

static void test_bad_files(void) {
    expect_error("missing file", path_of("missing.png"), PS_ERR_IO, "cannot open");
    expect_error("empty file", write_file("empty.jpg", "", 0), PS_ERR_IO, "empty");
    const char text[] = "hello, this is not an image\n";
    expect_error("text file", write_file("notes.png", text, sizeof text - 1), PS_ERR_FORMAT,
                 "not an image");
    expect_error("directory", dir, PS_ERR_IO, "not a regular file");
}

/* ps_rgb_decode works on memory and names the buffer as told. */
static void test_decode_memory(const uint8_t *rgb) {
    unsigned long n;
    unsigned char *j = encode_jpeg(rgb, W, H, 3, JCS_RGB, &n);
    ps_rgb_image img;
    ps_err err = {0};
    TU_CHECK(ps_rgb_decode(j, n, "frame-7", &img, &err) == PS_OK);
    TU_CHECK(img.width == W && img.height == H && img.rgb != NULL);
    ps_rgb_free(&img);
    TU_CHECK(ps_rgb_decode(j, n / 3, "frame-7", &img, &err) == PS_ERR_IO);
    printf("memory truncated       -> %s\n", err.msg);
    TU_CHECK(strstr(err.msg, "frame-7") != NULL);
    free(j);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ps_test_image_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) TU_SKIP("cannot create a temporary directory in %s", dir);
    uint8_t *rgb = pattern_rgb();
    test_png_rgb(rgb);
    test_png_gray();
    test_png_palette();
    test_png_16_and_alpha(rgb);
    test_jpeg(rgb);
    test_bad_files();
    test_bad_png();
    test_bad_jpeg(rgb);
    test_decode_memory(rgb);
    free(rgb);
    remove_dir();
    return tu_finish("test_image");
}
