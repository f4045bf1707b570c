/* Reading the TF.js reference data in tests/data/golden (see
 * tools/README.md) and finding the model, for the golden tests. */
#ifndef PS_GOLDEN_UTIL_H
#define PS_GOLDEN_UTIL_H

#include <cjson/cJSON.h>

#include "posestream.h"

#define GOLDEN_MAX_CASES 8

typedef struct {
    char name[64];
    char image[64];  /* "" for a case without a photograph */
    int width, height, has_heads;
    float sx, sy, pad_x, pad_y;
} golden_case;

/* Reads manifest.json from dir; returns the number of cases, exits on error. */
int golden_cases(const char *dir, golden_case *cases);

/* Reads dir/<name>.<what> into a new buffer of exactly bytes bytes; exits if
 * missing or of another size. */
void *golden_read(const char *dir, const char *name, const char *what, size_t bytes);

/* The model folder: $POSESTREAM_MODEL_DIR or ~/.cache/posestream. Exits 77
 * (skip) when the model is not there. */
ps_model *golden_model(void);

#endif
