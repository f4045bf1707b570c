/* libFuzzer target: streams files (src/pipeline/stream_spec.c) and the quick
 * "#key=value" form from untrusted text. Nothing may crash or leak, a
 * failure must come with a message, and what parses must be usable. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/stream_spec.h"

static void check_arg(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return;
    memcpy(text, data, size);
    text[size] = 0;
    ps_stream_spec s;
    ps_err err = {0};
    if (ps_stream_spec_from_arg(text, &s, &err) == PS_OK) {
        if (!s.uri || !s.uri[0]) abort();
        ps_stream_spec_clear(&s);
    } else if (!err.msg[0]) {
        abort();
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ps_stream_spec *specs;
    int n;
    ps_err err = {0};
    if (ps_stream_specs_parse((const char *)data, size, "fuzz", &specs, &n, &err) == PS_OK) {
        for (int k = 0; k < n; k++)
            if (!specs[k].uri || specs[k].settings.max_fps < 0) abort();
        ps_stream_specs_free(specs, n);
    } else if (!err.msg[0]) {
        abort();
    }
    check_arg(data, size);
    return 0;
}
