/* The loaded model behind the public ps_model handle. */
#ifndef PS_MODEL_MODEL_H
#define PS_MODEL_MODEL_H

#include "model/net.h"

#define PS_MODEL_JSON "movenet-multipose.json"
#define PS_MODEL_BIN "movenet-multipose.bin"

struct ps_model {
    ps_net net;
    char json_path[4096];
};

#endif
