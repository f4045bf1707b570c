/* Still images: JPEG (libjpeg-turbo) and PNG (libpng) decoded to packed RGB8.
 *
 * Both libraries report errors by calling back into us; we longjmp out of
 * the callback into the decode function, record the library's message in a
 * ps_err and free everything on one cleanup path. Dimensions are checked as
 * soon as the header is read, before any pixel buffer is allocated. */
#include "source/image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "util/status.h"

/* ---- shared helpers ---------------------------------------------------- */

/* Refuses sizes that would need an absurd allocation; returns PS_OK or
 * PS_ERR_FORMAT. */
static ps_status check_dims(const char *name, const char *fmt, uint64_t w,
                            uint64_t h, ps_err *err) {
    if (w == 0 || h == 0 || w > PS_IMAGE_MAX_SIDE || h > PS_IMAGE_MAX_SIDE ||
        w * h > PS_IMAGE_MAX_PIXELS)
        return ps_err_set(err, PS_ERR_FORMAT,
                          "%s: %s header claims absurd dimensions %llux%llu "
                          "(limit %d per side, %u pixels)",
                          name, fmt, (unsigned long long)w,
                          (unsigned long long)h, PS_IMAGE_MAX_SIDE,
                          PS_IMAGE_MAX_PIXELS);
    return PS_OK;
}

/* Allocates img's pixels once its size is known and checked. */
static ps_status alloc_rgb(ps_rgb_image *img, int w, int h, const char *name,
                           ps_err *err) {
    img->rgb = malloc((size_t)w * (size_t)h * 3);
    if (!img->rgb)
        return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory for %dx%d image",
                          name, w, h);
    img->width = w;
    img->height = h;
    return PS_OK;
}

/* ---- JPEG -------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    ps_status code; /* PS_ERR_IO for truncation, else PS_ERR_FORMAT */
    char msg[JMSG_LENGTH_MAX + 32];
} jpeg_err_mgr;

typedef struct {
    struct jpeg_decompress_struct cinfo;
    jpeg_err_mgr jerr;
    uint8_t *row; /* one CMYK scanline, when converting */
} jpeg_ctx;

/* Records libjpeg's current message as an error (corrupt data unless the
 * code says otherwise) and jumps back to the decode function. It replaces error_exit, whose default prints to
 * stderr and calls exit(). */
static void jpeg_fail_corrupt(j_common_ptr cinfo) {
    jpeg_err_mgr *e = (jpeg_err_mgr *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    const char *what = "corrupt JPEG";
    cinfo->err->format_message(cinfo, text);
    e->code = PS_ERR_FORMAT;
    switch (cinfo->err->msg_code) {
    case JERR_OUT_OF_MEMORY:
        e->code = PS_ERR_NOMEM;
        what = "JPEG decoder";
        break;
    case JERR_BAD_PRECISION: /* 12-bit JPEG in an 8-bit libjpeg */
    case JERR_CONVERSION_NOTIMPL:
        e->code = PS_ERR_UNSUPPORTED;
        what = "unsupported JPEG";
        break;
    default:
        break;
    }
    snprintf(e->msg, sizeof e->msg, "%s: %s", what, text);
    longjmp(e->jump, 1);
}

/* Warnings that mean the pixels would be made up (gray fill after a
 * premature end, garbage after a bad code) become errors; harmless ones such
 * as extraneous bytes before a marker, common in camera files, are ignored. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return; /* trace messages */
    jpeg_err_mgr *e = (jpeg_err_mgr *)cinfo->err;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
        e->code = PS_ERR_IO;
        snprintf(e->msg, sizeof e->msg, "truncated JPEG (premature end of data)");
        longjmp(e->jump, 1);
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
        jpeg_fail_corrupt(cinfo);
        break;
    default:
        break;
    }
}

/* Adobe (Photoshop) CMYK JPEGs store inverted ink values, so C*K/255 is
 * already the red level; other CMYK files store ink directly. */
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, int w,
                        int inverted) {
    for (int x = 0; x < w; x++, cmyk += 4, rgb += 3) {
        int k = inverted ? cmyk[3] : 255 - cmyk[3];
        for (int c = 0; c < 3; c++) {
            int v = inverted ? cmyk[c] : 255 - cmyk[c];
            rgb[c] = (uint8_t)((v * k + 127) / 255);
        }
    }
}

/* Picks the output colour space: RGB from gray/YCbCr/RGB, CMYK from
 * CMYK/YCCK (libjpeg has no CMYK->RGB conversion, we do it ourselves). */
static ps_status jpeg_pick_output(jpeg_ctx *j, const char *name, ps_err *err) {
    struct jpeg_decompress_struct *ci = &j->cinfo;
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE: case JCS_YCbCr: case JCS_RGB:
        ci->out_color_space = JCS_RGB;
        return PS_OK;
    case JCS_CMYK: case JCS_YCCK:
        ci->out_color_space = JCS_CMYK;
        return PS_OK;
    default:
        return ps_err_set(err, PS_ERR_UNSUPPORTED,
                          "%s: JPEG colour space %d is not supported", name,
                          (int)ci->jpeg_color_space);
    }
}

/* Reads every scanline into img (already allocated). */
static void jpeg_read_rows(jpeg_ctx *j, ps_rgb_image *img) {
    struct jpeg_decompress_struct *ci = &j->cinfo;
    int cmyk = ci->out_color_space == JCS_CMYK;
    while (ci->output_scanline < ci->output_height) {
        uint8_t *dst = img->rgb + (size_t)ci->output_scanline * img->width * 3;
        JSAMPROW row = cmyk ? j->row : dst;
        jpeg_read_scanlines(ci, &row, 1);
        if (cmyk) cmyk_to_rgb(j->row, dst, img->width, ci->saw_Adobe_marker);
    }
}

/* The part that may longjmp: everything it allocates is reachable from j or
 * img so that the caller can free it whichever way we leave. */
static ps_status jpeg_decode_inner(jpeg_ctx *j, const uint8_t *data,
                                   size_t size, const char *name,
                                   ps_rgb_image *img, ps_err *err) {
    struct jpeg_decompress_struct *ci = &j->cinfo;
    if (setjmp(j->jerr.jump))
        return ps_err_set(err, j->jerr.code, "%s: %s", name, j->jerr.msg);
    jpeg_create_decompress(ci);
    jpeg_mem_src(ci, data, (unsigned long)size);
    jpeg_read_header(ci, TRUE);
    ps_status st = check_dims(name, "JPEG", ci->image_width, ci->image_height, err);
    if (st == PS_OK) st = jpeg_pick_output(j, name, err);
    if (st != PS_OK) return st;
    jpeg_start_decompress(ci);
    if (ci->out_color_space == JCS_CMYK) {
        j->row = malloc((size_t)ci->output_width * 4);
        if (!j->row) return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", name);
    }
    st = alloc_rgb(img, (int)ci->output_width, (int)ci->output_height, name, err);
    if (st != PS_OK) return st;
    jpeg_read_rows(j, img);
    jpeg_finish_decompress(ci);
    return PS_OK;
}

static ps_status jpeg_decode(const uint8_t *data, size_t size, const char *name,
                             ps_rgb_image *img, ps_err *err) {
    jpeg_ctx *j = calloc(1, sizeof *j);
    if (!j) return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", name);
    j->cinfo.err = jpeg_std_error(&j->jerr.pub);
    j->jerr.pub.error_exit = jpeg_fail_corrupt;
    j->jerr.pub.emit_message = jpeg_on_message;
    ps_status st = jpeg_decode_inner(j, data, size, name, img, err);
    jpeg_destroy_decompress(&j->cinfo);
    free(j->row);
    free(j);
    return st;
}

/* ---- PNG --------------------------------------------------------------- */

typedef struct {
    png_structp png;
    png_infop info;
    png_bytep *rows;
    const uint8_t *data;
    size_t size, pos;
    int truncated; /* the reader ran out of bytes */
    char msg[256];
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_ctx *p = png_get_error_ptr(png);
    snprintf(p->msg, sizeof p->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* Warnings (bad ancillary chunks, odd gamma) do not affect the pixels. */
static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void png_read_mem(png_structp png, png_bytep out, size_t n) {
    png_ctx *p = png_get_io_ptr(png);
    if (n > p->size - p->pos) {
        p->truncated = 1;
        png_error(png, "unexpected end of data");
    }
    memcpy(out, p->data + p->pos, n);
    p->pos += n;
}

/* Asks libpng for 8-bit RGB whatever the file holds: palette expanded, gray
 * replicated, 16-bit scaled, alpha (and tRNS) dropped. */
static void png_set_rgb8(png_structp png, png_infop info) {
    png_set_expand(png);
    png_set_scale_16(png);
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

static ps_status png_decode_inner(png_ctx *p, const char *name,
                                  ps_rgb_image *img, ps_err *err) {
    if (setjmp(png_jmpbuf(p->png))) {
        if (p->truncated)
            return ps_err_set(err, PS_ERR_IO, "%s: truncated PNG (%s)", name, p->msg);
        return ps_err_set(err, PS_ERR_FORMAT, "%s: corrupt PNG: %s", name, p->msg);
    }
    png_set_read_fn(p->png, p, png_read_mem);
    /* Lift libpng's own size limit (1000000 per side) so that our check
     * below is the one that refuses, with the same message as for JPEG. */
    png_set_user_limits(p->png, 0x7fffffff, 0x7fffffff);
    png_read_info(p->png, p->info);
    uint32_t w = png_get_image_width(p->png, p->info);
    uint32_t h = png_get_image_height(p->png, p->info);
    ps_status st = check_dims(name, "PNG", w, h, err);
    if (st != PS_OK) return st;
    png_set_rgb8(p->png, p->info);
    if (png_get_rowbytes(p->png, p->info) != (size_t)w * 3)
        return ps_err_set(err, PS_ERR_UNSUPPORTED,
                          "%s: PNG did not convert to 8-bit RGB", name);
    st = alloc_rgb(img, (int)w, (int)h, name, err);
    if (st != PS_OK) return st;
    p->rows = malloc(sizeof *p->rows * h);
    if (!p->rows) return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", name);
    for (uint32_t y = 0; y < h; y++) p->rows[y] = img->rgb + (size_t)y * w * 3;
    png_read_image(p->png, p->rows);
    /* Reading to IEND catches a file cut just after its last pixel data. */
    png_read_end(p->png, NULL);
    return PS_OK;
}

static ps_status png_decode(const uint8_t *data, size_t size, const char *name,
                            ps_rgb_image *img, ps_err *err) {
    png_ctx *p = calloc(1, sizeof *p);
    if (!p) return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", name);
    p->data = data;
    p->size = size;
    ps_status st = PS_ERR_NOMEM;
    p->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, p, png_on_error,
                                    png_on_warning);
    if (p->png) p->info = png_create_info_struct(p->png);
    if (p->info)
        st = png_decode_inner(p, name, img, err);
    else
        ps_err_set(err, st, "%s: out of memory", name);
    png_destroy_read_struct(p->png ? &p->png : NULL, p->info ? &p->info : NULL, NULL);
    free(p->rows);
    free(p);
    return st;
}

/* ---- public ------------------------------------------------------------ */

static const uint8_t jpeg_magic[3] = {0xFF, 0xD8, 0xFF};
static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

ps_status ps_rgb_decode(const uint8_t *data, size_t size, const char *name,
                          ps_rgb_image *img, ps_err *err) {
    ps_status st;
    memset(img, 0, sizeof *img);
    if (!name) name = "image";
    if (!data || size == 0)
        return ps_err_set(err, PS_ERR_IO, "%s: empty file", name);
    if (size >= sizeof jpeg_magic && !memcmp(data, jpeg_magic, sizeof jpeg_magic))
        st = jpeg_decode(data, size, name, img, err);
    else if (size >= sizeof png_magic && !memcmp(data, png_magic, sizeof png_magic))
        st = png_decode(data, size, name, img, err);
    else
        return ps_err_set(err, PS_ERR_FORMAT,
                          "%s: not an image (neither JPEG nor PNG signature)", name);
    if (st != PS_OK) ps_rgb_free(img);
    return st;
}

/* Reads the whole of path; returns PS_OK with *data malloc'ed, or an error
 * naming the path. */
static ps_status read_file(const char *path, uint8_t **data, size_t *size,
                           ps_err *err) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ps_err_set(err, PS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    ps_status st = PS_OK;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode))
        st = ps_err_set(err, PS_ERR_IO, "%s: not a regular file", path);
    else if (sb.st_size > 0 && !(*data = malloc((size_t)sb.st_size)))
        st = ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory reading file", path);
    else if (sb.st_size > 0 && fread(*data, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size)
        st = ps_err_set(err, PS_ERR_IO, "%s: read failed: %s", path, strerror(errno));
    fclose(f);
    if (st != PS_OK) {
        free(*data);
        *data = NULL;
        return st;
    }
    *size = (size_t)sb.st_size;
    return PS_OK;
}

ps_status ps_rgb_read(const char *path, ps_rgb_image *img, ps_err *err) {
    memset(img, 0, sizeof *img);
    uint8_t *data;
    size_t size;
    ps_status st = read_file(path, &data, &size, err);
    if (st != PS_OK) return st;
    st = ps_rgb_decode(data, size, path, img, err);
    free(data);
    return st;
}

void ps_rgb_free(ps_rgb_image *img) {
    if (!img) return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

ps_status ps_image_read(const char *path, ps_image *img, ps_err *err) {
    memset(img, 0, sizeof *img);
    ps_rgb_image rgb;
    ps_status st = ps_rgb_read(path, &rgb, err);
    if (st) return st;
    *img = (ps_image){.rgb = rgb.rgb, .width = rgb.width, .height = rgb.height,
                      .stride = rgb.width * 3};
    return PS_OK;
}

void ps_image_free(ps_image *img) {
    if (!img) return;
    free((uint8_t *)img->rgb);
    memset(img, 0, sizeof *img);
}
