/* The loaded model behind the public ps_model handle. */
#ifndef PS_MODEL_MODEL_H
#define PS_MODEL_MODEL_H

#include <stddef.h>

#include "model/net.h"

#define PS_MODEL_JSON "movenet-multipose.json"
#define PS_MODEL_BIN "movenet-multipose.bin"

/* ps_model_cache_dir (posestream.h): $POSESTREAM_MODEL_DIR, else
 * ~/.cache/posestream. */

struct ps_model {
    ps_net net;
    char json_path[4096];
};

#endif
