/* libFuzzer target: JPEG/PNG decoding of untrusted bytes (src/source/image.c).
 * Anything may come in; nothing may crash, leak or read out of bounds, and a
 * failure must come with a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "source/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ps_rgb_image img;
    ps_err err = {0};
    if (ps_rgb_decode(data, size, "fuzz", &img, &err) == PS_OK) {
        /* touch the first and last pixel: the size must be real */
        volatile uint8_t sum = img.rgb[0];
        sum += img.rgb[(size_t)img.width * img.height * 3 - 1];
        (void)sum;
        ps_rgb_free(&img);
    } else if (!err.msg[0]) {
        abort(); /* an error without a message */
    }
    return 0;
}
