/* Reading the TF.js reference data (see golden_util.h). */
#include "golden_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "testutil.h"

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void copy_str(char *dst, size_t cap, const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(dst, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

int golden_cases(const char *dir, golden_case *cases) {
    char path[4096];
    size_t size;
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    char *text = tu_read_file(path, &size);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root) {
        fprintf(stderr, "%s: missing or not JSON\n", path);
        exit(1);
    }
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cases")) {
        if (n == GOLDEN_MAX_CASES) break;
        golden_case *g = &cases[n++];
        const cJSON *lb = cJSON_GetObjectItemCaseSensitive(c, "letterbox");
        copy_str(g->name, sizeof g->name, c, "name");
        copy_str(g->image, sizeof g->image, c, "image");
        g->width = (int)num(c, "width");
        g->height = (int)num(c, "height");
        g->has_heads = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "heads"));
        g->sx = (float)num(lb, "sx");
        g->sy = (float)num(lb, "sy");
        g->pad_x = (float)num(lb, "pad_x");
        g->pad_y = (float)num(lb, "pad_y");
    }
    cJSON_Delete(root);
    return n;
}

void *golden_read(const char *dir, const char *name, const char *what, size_t bytes) {
    char path[4096];
    size_t size = 0;
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, what);
    void *data = tu_read_file(path, &size);
    if (!data || size != bytes) {
        fprintf(stderr, "%s: missing or not %zu bytes\n", path, bytes);
        exit(1);
    }
    return data;
}

ps_model *golden_model(void) {
    char dir[4096];
    ps_model_cache_dir(dir, sizeof dir);
    ps_err err;
    ps_model *m = ps_model_load(dir, &err);
    if (!m) TU_SKIP("model not available (%s); run tools/fetch-model.sh", err.msg);
    return m;
}
