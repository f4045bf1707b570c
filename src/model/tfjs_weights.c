/* TF.js weights: the manifest lists named tensors in the order their bytes
 * appear in the concatenated shard files; float weights may be stored as
 * float16 ("quantization": {"dtype": "float16"}). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/tfjs.h"
#include "util/file.h"
#include "util/half.h"
#include "util/status.h"

#define PS_SHARD_MAX (1u << 30)
#define PS_MAX_ELEMS (1u << 28)

typedef struct {
    char *data; /* all shards of all groups, concatenated */
    size_t size;
} ps_blob;

/* Joins the folder of json_path with a shard name; refuses names that leave
 * the folder. */
static ps_status shard_path(const char *json_path, const char *name, char *out,
                            size_t cap, ps_err *err) {
    if (name[0] == '/' || strstr(name, ".."))
        return ps_err_set(err, PS_ERR_FORMAT, "%s: shard path '%s' leaves the model folder",
                          json_path, name);
    const char *slash = strrchr(json_path, '/');
    int dir_len = slash ? (int)(slash - json_path + 1) : 0;
    if ((size_t)snprintf(out, cap, "%.*s%s", dir_len, json_path, name) >= cap)
        return ps_err_set(err, PS_ERR_ARG, "%s: shard path too long", json_path);
    return PS_OK;
}

static ps_status blob_append(ps_blob *b, const char *path, ps_err *err) {
    char *data;
    size_t size;
    ps_status st = ps_file_read(path, PS_SHARD_MAX, &data, &size, err);
    if (st) return st;
    char *grown = realloc(b->data, b->size + size + 1);
    if (!grown) {
        free(data);
        return ps_err_set(err, PS_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(grown + b->size, data, size);
    free(data);
    b->data = grown;
    b->size += size;
    return PS_OK;
}

/* Parses one manifest entry's name, shape and dtype into c; sets *bytes to its
 * stored size and *half when stored as float16. */
static ps_status parse_entry(const cJSON *w, const char *json_path, ps_const *c,
                             size_t *bytes, int *half, ps_err *err) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(w, "name");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(w, "shape");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(w, "dtype");
    if (!cJSON_IsString(name) || !cJSON_IsArray(shape) || !cJSON_IsString(dtype))
        return ps_err_set(err, PS_ERR_FORMAT,
                          "%s: weights manifest entry without name, shape or dtype", json_path);
    c->name = strdup(name->valuestring);
    if (!c->name) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    c->ndims = cJSON_GetArraySize(shape);
    if (c->ndims > PS_TFJS_MAX_DIMS)
        return ps_err_set(err, PS_ERR_FORMAT, "%s: weight '%s' has %d dimensions",
                          json_path, c->name, c->ndims);
    size_t count = 1;
    for (int d = 0; d < c->ndims; d++) {
        const cJSON *dim = cJSON_GetArrayItem(shape, d);
        if (!cJSON_IsNumber(dim) || dim->valuedouble < 0 || dim->valuedouble > PS_MAX_ELEMS)
            return ps_err_set(err, PS_ERR_FORMAT, "%s: weight '%s' has a bad shape",
                              json_path, c->name);
        c->dims[d] = dim->valueint;
        count *= (size_t)c->dims[d];
        if (count > PS_MAX_ELEMS)
            return ps_err_set(err, PS_ERR_FORMAT, "%s: weight '%s' is too large",
                              json_path, c->name);
    }
    c->count = count;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(w, "quantization");
    const cJSON *qd = q ? cJSON_GetObjectItemCaseSensitive(q, "dtype") : NULL;
    *half = 0;
    if (!strcmp(dtype->valuestring, "float32")) {
        c->dtype = PS_DT_FLOAT;
        if (qd && cJSON_IsString(qd) && !strcmp(qd->valuestring, "float16"))
            *half = 1;
        else if (q)
            return ps_err_set(err, PS_ERR_UNSUPPORTED,
                              "%s: weight '%s': quantization other than float16 is not supported",
                              json_path, c->name);
    } else if (!strcmp(dtype->valuestring, "int32") && !q) {
        c->dtype = PS_DT_INT32;
    } else {
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "%s: weight '%s': dtype '%s' is not supported",
                          json_path, c->name, dtype->valuestring);
    }
    *bytes = count * (*half ? 2 : 4);
    return PS_OK;
}

static void convert(ps_const *c, const unsigned char *src, int half) {
    for (size_t k = 0; k < c->count; k++) {
        if (c->dtype == PS_DT_INT32) {
            memcpy(&c->i[k], src + 4 * k, 4);
        } else if (half) {
            uint16_t h;
            memcpy(&h, src + 2 * k, 2);
            c->f[k] = ps_half_to_float(h);
        } else {
            memcpy(&c->f[k], src + 4 * k, 4);
        }
    }
}

/* Reads every shard named by the manifest's groups into one blob. */
static ps_status read_shards(const cJSON *manifest, const char *json_path,
                             ps_blob *blob, int *n_entries, ps_err *err) {
    *n_entries = 0;
    const cJSON *group;
    cJSON_ArrayForEach(group, manifest) {
        const cJSON *paths = cJSON_GetObjectItemCaseSensitive(group, "paths");
        const cJSON *weights = cJSON_GetObjectItemCaseSensitive(group, "weights");
        if (!cJSON_IsArray(paths) || !cJSON_IsArray(weights))
            return ps_err_set(err, PS_ERR_FORMAT,
                              "%s: weightsManifest group without paths or weights", json_path);
        *n_entries += cJSON_GetArraySize(weights);
        const cJSON *p;
        cJSON_ArrayForEach(p, paths) {
            char path[4096];
            if (!cJSON_IsString(p))
                return ps_err_set(err, PS_ERR_FORMAT, "%s: shard path is not a string", json_path);
            ps_status st = shard_path(json_path, p->valuestring, path, sizeof path, err);
            if (!st) st = blob_append(blob, path, err);
            if (st) return st;
        }
    }
    return PS_OK;
}

/* Parses every entry and converts its bytes; checks the shards hold exactly
 * the bytes the manifest lists. */
static ps_status parse_all(const cJSON *manifest, const char *json_path,
                           const ps_blob *blob, ps_consts *out, ps_err *err) {
    size_t offset = 0, nf = 0, ni = 0;
    int k = 0;
    const cJSON *group, *w;
    unsigned char *halfs = calloc((size_t)out->n, 1);
    size_t *offs = calloc((size_t)out->n, sizeof *offs);
    ps_status st = (halfs && offs) ? PS_OK : ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    cJSON_ArrayForEach(group, manifest) {
        cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(group, "weights")) {
            if (st) break;
            size_t bytes = 0;
            int half = 0;
            ps_const *c = &out->items[k];
            st = parse_entry(w, json_path, c, &bytes, &half, err);
            if (st) break;
            halfs[k] = (unsigned char)half;
            offs[k++] = offset;
            offset += bytes;
            if (c->dtype == PS_DT_FLOAT) nf += c->count; else ni += c->count;
        }
    }
    if (!st && offset != blob->size)
        st = ps_err_set(err, offset > blob->size ? PS_ERR_IO : PS_ERR_FORMAT,
                        "%s: weight shards hold %zu bytes but the manifest lists %zu (%s)",
                        json_path, blob->size, offset,
                        offset > blob->size ? "truncated .bin" : "extra bytes");
    if (!st) {
        out->fdata = malloc((nf ? nf : 1) * sizeof(float));
        out->idata = malloc((ni ? ni : 1) * sizeof(int32_t));
        if (!out->fdata || !out->idata) st = ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    for (int j = 0, fi = 0, ii = 0; !st && j < out->n; j++) {
        ps_const *c = &out->items[j];
        if (c->dtype == PS_DT_FLOAT) { c->f = out->fdata + fi; fi += (int)c->count; }
        else { c->i = out->idata + ii; ii += (int)c->count; }
        convert(c, (const unsigned char *)blob->data + offs[j], halfs[j]);
    }
    free(halfs);
    free(offs);
    return st;
}

ps_status ps_tfjs_read_weights(const cJSON *manifest, const char *json_path,
                               ps_consts *out, ps_err *err) {
    memset(out, 0, sizeof *out);
    if (!cJSON_IsArray(manifest))
        return ps_err_set(err, PS_ERR_FORMAT, "%s: no weightsManifest array", json_path);
    ps_blob blob = {0};
    ps_status st = read_shards(manifest, json_path, &blob, &out->n, err);
    if (!st) {
        out->items = calloc(out->n ? (size_t)out->n : 1, sizeof *out->items);
        if (!out->items) st = ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    if (!st) st = parse_all(manifest, json_path, &blob, out, err);
    free(blob.data);
    if (st) ps_consts_free(out);
    return st;
}

const ps_const *ps_consts_find(const ps_consts *c, const char *name) {
    for (int k = 0; k < c->n; k++)
        if (c->items[k].name && !strcmp(c->items[k].name, name)) return &c->items[k];
    return NULL;
}

void ps_consts_free(ps_consts *c) {
    /* n may already count entries whose items were never allocated (a shard
     * failed to read) */
    for (int k = 0; c->items && k < c->n; k++) free(c->items[k].name);
    free(c->items);
    free(c->fdata);
    free(c->idata);
    memset(c, 0, sizeof *c);
}
