/* libFuzzer target: the TF.js graph-model reader (src/model/tfjs_*.c) on
 * untrusted model.json bytes. The input is split at its first NUL byte: the
 * JSON before it, the weight shard after it (written beside it as
 * movenet-multipose.bin, which a manifest may name). Nothing may crash or
 * leak; a failure must come with a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/net.h"

static char dir[] = "/tmp/ps_fuzz_model_XXXXXX";
static char json_path[256], bin_path[256];

static void write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (!mkdtemp(dir)) abort();
    snprintf(json_path, sizeof json_path, "%s/movenet-multipose.json", dir);
    snprintf(bin_path, sizeof bin_path, "%s/movenet-multipose.bin", dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t json_size = nul ? (size_t)(nul - data) : size;
    write_file(json_path, data, json_size);
    write_file(bin_path, nul ? nul + 1 : data, nul ? size - json_size - 1 : 0);
    ps_net net;
    ps_err err = {0};
    if (ps_net_load_tfjs(json_path, &net, &err) == PS_OK) {
        ps_shape *shapes = malloc(sizeof *shapes * (size_t)net.n_layers);
        if (shapes) ps_net_shapes(&net, 64, 96, shapes, &err);
        free(shapes);
        ps_net_free(&net);
    } else if (!err.msg[0]) {
        abort();
    }
    return 0;
}
