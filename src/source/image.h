/* Still images: JPEG and PNG files decoded to 8-bit RGB. */
#ifndef PS_SOURCE_IMAGE_H
#define PS_SOURCE_IMAGE_H

#include <stdint.h>

#include "posestream.h"

#define PS_IMAGE_MAX_SIDE 16384            /* larger claims are refused */
#define PS_IMAGE_MAX_PIXELS (100u * 1000u * 1000u)

typedef struct {
    uint8_t *rgb; /* width * height * 3 bytes, rows packed */
    int width, height;
} ps_rgb_image;

/* Reads path (JPEG or PNG, told apart by content, not by name) into img.
 * On failure returns non-OK with a message naming path and the reason
 * (missing, empty, not an image, truncated, absurd dimensions) and leaves
 * img zeroed. */
ps_status ps_rgb_read(const char *path, ps_rgb_image *img, ps_err *err);

/* Decodes an in-memory JPEG or PNG; name is used in error messages. */
ps_status ps_rgb_decode(const uint8_t *data, size_t size, const char *name,
                          ps_rgb_image *img, ps_err *err);

void ps_rgb_free(ps_rgb_image *img);

#endif
