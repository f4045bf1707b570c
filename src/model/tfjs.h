/* Internals of the TF.js graph-model reader: the weights manifest and shards. */
#ifndef PS_MODEL_TFJS_H
#define PS_MODEL_TFJS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "posestream.h"

#define PS_TFJS_MAX_DIMS 6

typedef enum { PS_DT_FLOAT, PS_DT_INT32 } ps_dtype;

/* One named constant from the manifest, converted to float32 or int32. */
typedef struct {
    char *name;
    ps_dtype dtype;
    int ndims;
    int dims[PS_TFJS_MAX_DIMS];
    size_t count;
    float *f;   /* PS_DT_FLOAT: into the float block */
    int32_t *i; /* PS_DT_INT32: into the int block */
} ps_const;

typedef struct {
    ps_const *items;
    int n;
    float *fdata;   /* every float constant, in manifest order */
    int32_t *idata; /* every int32 constant */
} ps_consts;

/* Reads every weight group of manifest (the JSON weightsManifest array) from
 * its shard files, found beside json_path. Float16-quantized and float32
 * weights become float32. Returns non-OK naming the shard or weight and the
 * reason (missing, truncated, too long, unsupported dtype) and leaves out
 * empty. */
ps_status ps_tfjs_read_weights(const cJSON *manifest, const char *json_path,
                               ps_consts *out, ps_err *err);

/* The constant called name, or NULL. */
const ps_const *ps_consts_find(const ps_consts *c, const char *name);

void ps_consts_free(ps_consts *c);

#endif
