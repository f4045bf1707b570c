/* ps_model: a TF.js MoveNet MultiPose model loaded from a folder or a
 * model.json path. */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/file.h"
#include "util/status.h"

const char *const ps_keypoint_names[PS_NUM_KEYPOINTS] = {
    "nose",          "left_eye",       "right_eye",  "left_ear",   "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist",   "left_hip",       "right_hip",  "left_knee",  "right_knee",
    "left_ankle",    "right_ankle",
};

void ps_model_cache_dir(char *out, size_t cap) {
    const char *env = getenv("POSESTREAM_MODEL_DIR");
    const char *home = getenv("HOME");
    if (env && *env) snprintf(out, cap, "%s", env);
    else snprintf(out, cap, "%s/.cache/posestream", home ? home : ".");
}

ps_model *ps_model_load(const char *path, ps_err *err) {
    ps_model *m = calloc(1, sizeof *m);
    if (!m) {
        ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    int n = ps_file_is_dir(path)
                ? snprintf(m->json_path, sizeof m->json_path, "%s/%s", path, PS_MODEL_JSON)
                : snprintf(m->json_path, sizeof m->json_path, "%s", path);
    if (n < 0 || (size_t)n >= sizeof m->json_path) {
        ps_err_set(err, PS_ERR_ARG, "model path too long");
        free(m);
        return NULL;
    }
    if (ps_net_load_tfjs(m->json_path, &m->net, err)) {
        free(m);
        return NULL;
    }
    return m;
}

void ps_model_free(ps_model *model) {
    if (!model) return;
    ps_net_free(&model->net);
    free(model);
}
