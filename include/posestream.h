/* posestream: public C API.
 *
 * Real-time human pose detection (MoveNet MultiPose, 17 COCO keypoints per
 * person) on many streams at once. Every fallible call returns a ps_status and
 * fills a ps_err with a one-line message naming the thing and the reason; the
 * library never exits or aborts on bad input. */
#ifndef POSESTREAM_H
#define POSESTREAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PS_NUM_KEYPOINTS 17
#define PS_MAX_PEOPLE 6
#define PS_ERR_LEN 512

typedef enum {
    PS_OK = 0,
    PS_ERR_ARG,         /* a caller's argument or option is invalid */
    PS_ERR_IO,          /* a file is missing, unreadable or truncated */
    PS_ERR_FORMAT,      /* a file's contents are malformed */
    PS_ERR_UNSUPPORTED, /* valid input this build cannot handle */
    PS_ERR_CHECKSUM,    /* a download or cache entry failed verification */
    PS_ERR_NOMEM,
    PS_ERR_BACKEND      /* the compute library failed */
} ps_status;

typedef struct {
    ps_status code;
    char msg[PS_ERR_LEN];
} ps_err;

/* COCO keypoint names in model order ("nose", "left_eye", ...). */
extern const char *const ps_keypoint_names[PS_NUM_KEYPOINTS];

typedef struct {
    float x, y;  /* pixels of the original image (or normalised, see below) */
    float score;
} ps_keypoint;

typedef struct {
    float score;
    float x0, y0, x1, y1; /* box */
    ps_keypoint kp[PS_NUM_KEYPOINTS];
} ps_person;

typedef struct ps_model ps_model;
typedef struct ps_engine ps_engine;

/* Loads a TF.js graph model: path is the model.json file or a directory
 * holding movenet-multipose.json. Returns NULL and fills err on failure. */
ps_model *ps_model_load(const char *path, ps_err *err);
void ps_model_free(ps_model *model);

typedef enum {
    PS_BACKEND_AUTO = 0, /* the GPU when one is usable, else the CPU */
    PS_BACKEND_CPU,
    PS_BACKEND_CUDA
} ps_backend;

typedef struct {
    ps_backend backend;
    int32_t input_h, input_w; /* multiples of 32; 0 means 256 */
    int32_t max_batch;        /* 0 means 8 */
    int32_t threads;          /* CPU threads; 0 means all cores */
    int32_t cpu_chunk;        /* CPU: images per network call, a batch is
                                 run in chunks of this size; 0 means 1, the
                                 fastest per image on CPUs (bench/NOTES.md) */
    int32_t cpu_one_per_core; /* CPU: 0 (default) runs the images of a batch of
                                 at least `threads` side by side, each on one
                                 thread (more frames per second: bench/NOTES.md);
                                 -1: every image on all threads in turn */
} ps_engine_opts;

/* Builds an engine for one input size and batches up to max_batch, and runs
 * it once so that its first real batch is not slowed by set-up. The model
 * must outlive the engine. Returns NULL and fills err on failure. */
ps_engine *ps_engine_create(const ps_model *model, const ps_engine_opts *opts,
                            ps_err *err);
void ps_engine_free(ps_engine *engine);

/* "cpu" or "cuda": the backend the engine runs on. */
const char *ps_engine_backend(const ps_engine *engine);

/* Why AUTO fell back to the CPU (e.g. "no CUDA device"), or "". */
const char *ps_engine_note(const ps_engine *engine);

/* An 8-bit RGB image in host memory, rows `stride` bytes apart. */
typedef struct {
    const uint8_t *rgb;
    int32_t width, height, stride;
} ps_image;

/* Detects people in n images (n <= max_batch): each image is letterboxed to
 * the engine's input, run through the network and decoded. people[i] receives
 * up to PS_MAX_PEOPLE people of image i, in pixels of that image, sorted by
 * score, those under min_score left out; counts[i] their number. */
ps_status ps_engine_detect(ps_engine *engine, const ps_image *images, int32_t n,
                           float min_score, ps_person (*people)[PS_MAX_PEOPLE],
                           int32_t *counts, ps_err *err);

#ifdef __cplusplus
}
#endif
#endif
