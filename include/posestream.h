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
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version; ps_version() gives the one it was built as. What
 * is stable: see "The library" in README.md (0.x: the ABI may change with
 * each minor version, which is why the SONAME carries it). */
#define PS_VERSION_MAJOR 0
#define PS_VERSION_MINOR 4
#define PS_VERSION_PATCH 0

/* Marks the library's exported functions: everything else is built hidden
 * (-fvisibility=hidden), so only ps_ names are ever visible. */
#if defined(__GNUC__)
#define PS_API __attribute__((visibility("default")))
#else
#define PS_API
#endif

#define PS_NUM_KEYPOINTS 17
/* People per image: what the arrays of the API hold (PS_MAX_PEOPLE) and how
 * many the decoder takes by default (PS_DEFAULT_PEOPLE, the graph's own
 * TopK, so results equal TensorFlow.js's; see ps_engine_opts.max_people). */
#define PS_MAX_PEOPLE 32
#define PS_DEFAULT_PEOPLE 6
#define PS_ERR_LEN 512
#define PS_MAX_GPUS 16 /* GPUs one runtime drives at most */

typedef enum {
    PS_OK = 0,
    PS_ERR_ARG,         /* a caller's argument or option is invalid */
    PS_ERR_IO,          /* a file is missing, unreadable or truncated */
    PS_ERR_FORMAT,      /* a file's contents are malformed */
    PS_ERR_UNSUPPORTED, /* valid input this build cannot handle */
    PS_ERR_CHECKSUM,    /* a download or cache entry failed verification */
    PS_ERR_NOMEM,
    PS_ERR_BACKEND,     /* the compute library failed */
    PS_ERR_REFUSED      /* the memory-aware manager refused it (the message
                           gives the figures) */
} ps_status;

typedef struct {
    ps_status code;
    char msg[PS_ERR_LEN];
} ps_err;

/* "0.4.0": the version of the library actually loaded. */
PS_API const char *ps_version(void);

/* 1 when the library was built with its CUDA backend (it may still find no
 * GPU at run time), else 0. */
PS_API int ps_has_cuda(void);

/* The GPUs the CUDA backend can see (CUDA_VISIBLE_DEVICES applies); 0
 * without a driver, a GPU or the CUDA backend. Starts no GPU context. */
PS_API int32_t ps_gpu_count(void);

/* ---- Logging (in the style of llama_log_set) ----
 * Everything the library and FFmpeg under it have to say goes through one
 * callback. The default writes "posestream: warning: ..." lines to stderr
 * for PS_LOG_WARN and PS_LOG_ERROR. FFmpeg's own messages come prefixed
 * "ffmpeg: " one level lower than FFmpeg gives them (its errors as
 * PS_LOG_INFO): what they mean for a stream the library says itself (the
 * stream's error, its bad packets). Probing for a GPU on a machine without
 * one ("Cannot load libcuda.so.1") says so only at PS_LOG_DEBUG. Once a
 * video source has been opened, FFmpeg's log callback is the library's (a
 * host that wants FFmpeg's messages itself calls av_log_set_callback after). */
typedef enum { PS_LOG_ERROR = 0, PS_LOG_WARN, PS_LOG_INFO, PS_LOG_DEBUG } ps_log_level;

/* Called from any of the library's threads, one call at a time; msg has no
 * trailing newline. */
typedef void (*ps_log_fn)(ps_log_level level, const char *msg, void *user);

/* Sets the callback (NULL: the default) and its user pointer. */
PS_API void ps_log_set(ps_log_fn fn, void *user);

/* Messages above this level are not formatted or passed on (default
 * PS_LOG_WARN). */
PS_API void ps_log_set_level(ps_log_level max);

/* COCO keypoint names in model order ("nose", "left_eye", ...). */
PS_API extern const char *const ps_keypoint_names[PS_NUM_KEYPOINTS];

typedef struct {
    float x, y;  /* pixels of the original image (or normalised, see below) */
    float score;
} ps_keypoint;

typedef struct {
    float score;
    float x0, y0, x1, y1; /* box */
    ps_keypoint kp[PS_NUM_KEYPOINTS];
    int32_t id;           /* the person's track in its stream: 1, 2, 3... (0: not
                             tracked, e.g. a still image) */
} ps_person;

typedef struct ps_model ps_model;
typedef struct ps_engine ps_engine;

/* Loads a TF.js graph model: path is the model.json file or a directory
 * holding movenet-multipose.json. Returns NULL and fills err on failure. */
PS_API ps_model *ps_model_load(const char *path, ps_err *err);
PS_API void ps_model_free(ps_model *model);

/* Finds and loads the model: path (a folder or the .json file), else
 * $POSESTREAM_MODEL_DIR, else ~/.cache/posestream; with verify, the files
 * must be the pinned MoveNet MultiPose release (sha256). Returns NULL and
 * fills err, with a hint on how to fetch it, when it is missing, altered or
 * malformed. */
PS_API ps_model *ps_model_find(const char *path, int32_t verify, ps_err *err);

/* The folder the model and sample data are cached in (see ps_model_find);
 * fills out (cap bytes). */
PS_API void ps_model_cache_dir(char *out, size_t cap);

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
    int32_t max_people;       /* centre peaks decoded per image, 1 to
                                 PS_MAX_PEOPLE; 0 means PS_DEFAULT_PEOPLE (6,
                                 as TensorFlow.js). The network's heads cover
                                 the whole image, so more finds more people
                                 in a crowd; the decoder's time grows with it */
    int32_t gpu;              /* CUDA backend: the device, by its number among
                                 those visible (CUDA_VISIBLE_DEVICES); 0 (default)
                                 the first */
} ps_engine_opts;

/* Builds an engine for one input size and batches up to max_batch, and runs
 * it once so that its first real batch is not slowed by set-up. The model
 * must outlive the engine. Returns NULL and fills err on failure. */
PS_API ps_engine *ps_engine_create(const ps_model *model, const ps_engine_opts *opts,
                            ps_err *err);
PS_API void ps_engine_free(ps_engine *engine);

/* "cpu" or "cuda": the backend the engine runs on. */
PS_API const char *ps_engine_backend(const ps_engine *engine);

/* Why AUTO fell back to the CPU (e.g. "no CUDA device"), or "". */
PS_API const char *ps_engine_note(const ps_engine *engine);

/* An 8-bit RGB image in host memory, rows `stride` bytes apart. */
typedef struct {
    const uint8_t *rgb;
    int32_t width, height, stride;
} ps_image;

/* Detects people in n images (n <= max_batch): each image is letterboxed to
 * the engine's input, run through the network and decoded. people[i] receives
 * up to max_people (ps_engine_opts) people of image i, in pixels of that
 * image, sorted by score, those under min_score left out, id 0; counts[i]
 * their number. */
PS_API ps_status ps_engine_detect(ps_engine *engine, const ps_image *images, int32_t n,
                           float min_score, ps_person (*people)[PS_MAX_PEOPLE],
                           int32_t *counts, ps_err *err);

/* Reads a JPEG or PNG file (told apart by content) into img, its pixels
 * allocated (free with ps_image_free). Returns non-OK naming path and the
 * reason (missing, not an image, truncated, absurd size) and leaves img
 * zeroed. */
PS_API ps_status ps_image_read(const char *path, ps_image *img, ps_err *err);
PS_API void ps_image_free(ps_image *img);

/* ---- A small JSON writer ----
 * Everything the library writes as JSON (results lines, reports) goes
 * through it; it is public so that a program adding its own fields writes
 * them the same way. It places the commas; its output is always valid JSON
 * in valid UTF-8 and does not depend on the C locale. Write errors are the
 * FILE's (check ferror or fflush). Nesting is unlimited; unbalanced calls
 * give unbalanced output. */
typedef struct {
    FILE *f;
    int depth;     /* open objects and arrays */
    int first;     /* nothing written yet in the innermost one */
    int after_key; /* a key was written: the value follows without a comma */
} ps_json;

PS_API void ps_json_init(ps_json *w, FILE *f);
PS_API void ps_json_object(ps_json *w);      /* { */
PS_API void ps_json_object_end(ps_json *w);  /* } */
PS_API void ps_json_array(ps_json *w);       /* [ */
PS_API void ps_json_array_end(ps_json *w);   /* ] */

/* An object key, escaped as ps_json_string does. */
PS_API void ps_json_key(ps_json *w, const char *key);

/* A string literal, NULL as null. Escapes '"', '\\', every byte below 0x20
 * (\b \f \n \r \t, the others as \u00XX) and 0x7f; valid UTF-8 is passed
 * through, each byte of an invalid sequence written as \ufffd. */
PS_API void ps_json_string(ps_json *w, const char *s);

/* v with `decimals` (0..9, clamped) digits after a '.' (whatever the
 * locale), rounded as printf's %f rounds; |v| >= 1e17 as %.17g; NaN and
 * infinities as null. */
PS_API void ps_json_number(ps_json *w, double v, int decimals);

PS_API void ps_json_int(ps_json *w, int64_t v);
PS_API void ps_json_uint(ps_json *w, uint64_t v);
PS_API void ps_json_bool(ps_json *w, int v); /* any nonzero v is true */
PS_API void ps_json_null(ps_json *w);

/* A key and its value. */
PS_API void ps_json_key_string(ps_json *w, const char *key, const char *s);
PS_API void ps_json_key_number(ps_json *w, const char *key, double v, int decimals);
PS_API void ps_json_key_int(ps_json *w, const char *key, int64_t v);
PS_API void ps_json_key_uint(ps_json *w, const char *key, uint64_t v);
PS_API void ps_json_key_bool(ps_json *w, const char *key, int v);

/* ---- JSON of results ----
 * The functions below write one JSON object into buf (cap bytes, always
 * terminated when cap > 0) and return its length, like snprintf: a return
 * >= cap means it was cut short. Strings are escaped, numbers written
 * without regard to the C locale, non-finite numbers as null. */

/* {"image":NAME,"width":W,"height":H,"people":[{"score":S,"box":[x0,y0,x1,
 * y1],"keypoints":[{"name":..,"x":..,"y":..,"score":..} x17]}, ...]} */
PS_API size_t ps_detection_to_json(const char *image, int32_t width, int32_t height,
                                   const ps_person *people, int32_t n, char *buf, size_t cap);

/* ---- The multi-stream runtime ----
 * One object owns the model, the engine, the pipeline (a reader thread per
 * stream, batches formed across streams, one engine thread) and where the
 * results go. Set up: ps_runtime_create, ps_runtime_add_stream (any number,
 * before or after the start), ps_runtime_start; then poll ps_runtime_wait
 * and ps_runtime_stats, add and remove streams from any thread, and end
 * with ps_runtime_stop (let what was read finish) or ps_runtime_cancel
 * (now), ps_runtime_close and ps_runtime_free. Every frame a stream
 * delivers is processed or counted with the reason it was not: produced =
 * processed + dropped + late + skipped + cancelled + failed (+ in flight).
 * Threads: add_stream, remove_stream, stop, cancel, wait, stats,
 * output_failed and utilization may be called from any thread at any time
 * between create and close; create, start, close and free from one. */

typedef struct ps_runtime ps_runtime;

/* Where video is decoded. GPU: NVDEC, frames kept on the GPU (an error for
 * a stream the GPU cannot decode, or without the CUDA engine). AUTO: the
 * GPU when the engine is CUDA and the codec allows, else the CPU. */
typedef enum { PS_DECODE_AUTO = 0, PS_DECODE_CPU, PS_DECODE_GPU } ps_decode_mode;

/* One processed frame, handed to ps_runtime_params.on_result. Valid only
 * during the call. Times are CLOCK_MONOTONIC nanoseconds. */
typedef struct {
    int32_t stream;       /* the stream's id */
    const char *name;     /* the stream's name */
    int64_t frame;        /* 0, 1, 2... per stream, in decode order */
    double pts;           /* presentation time, seconds */
    int64_t captured_ns;  /* arrival (or its slot, for a file played in real time) */
    int64_t output_ns;    /* keypoints out */
    int32_t width, height; /* the frame's own size: people are in its pixels */
    int32_t n_people;
    const ps_person *people; /* [n_people], by score */
} ps_result;

/* Called on the engine thread, in order per stream: keep it short (a slow
 * callback holds up every stream). */
typedef void (*ps_result_fn)(const ps_result *result, void *user);

/* {"stream":ID,"name":NAME,"frame":N,"pts":S,"latency_ms":L,"width":W,
 * "height":H,"people":[...as in ps_detection_to_json...]}: the line `run`
 * writes. */
PS_API size_t ps_result_to_json(const ps_result *result, char *buf, size_t cap);

/* ---- Tracking and smoothing (per stream) ----
 * Who is who: each person of a video frame gets the id of its track, by
 * similarity to the tracks of the frames before (object keypoint similarity
 * with COCO's per-keypoint sigmas, or IoU of boxes), matched greedily in
 * score order; a track not matched for max_age_ms (by the frames' own
 * times, so an offline run and a real-time one give the same ids) ends.
 * Ids start at 1 in every stream and are never shared between streams. A
 * One Euro filter per track smooths the keypoints (on the coordinates
 * normalised to the frame, where TensorFlow.js's constants apply). */
typedef enum { PS_TRACK_KEYPOINTS = 0, PS_TRACK_BOXES } ps_track_kind;

typedef struct {
    int32_t enabled;          /* 1 (default): ids on video streams */
    ps_track_kind kind;       /* boxes (default, as TensorFlow.js's MoveNet: on
                                 bench/NOTES.md's measure far fewer broken
                                 tracks than keypoints) or keypoints */
    int32_t max_tracks;       /* at most this many kept (0, default: three times
                                 the engine's max_people, 18 at 6 as TF.js) */
    double max_age_ms;        /* a track unmatched this long ends (1000) */
    double min_similarity;    /* to match (0.15 boxes; 0.2 is TF.js's for keypoints) */
    double keypoint_threshold; /* keypoints counted only above this score (0.3) */
    int32_t min_keypoints;    /* fewer in common: no similarity (4) */
    int32_t reset_on_jump;    /* a stream whose time steps back (a file that
                                 loops, a camera that reconnects) or jumps
                                 beyond max_age_ms starts afresh, ids from 1 (1) */
    int32_t smooth;           /* 1 (default): One Euro filter per track */
    double min_cutoff;        /* Hz (2.5) */
    double beta;              /* per normalised unit per second (300) */
    double d_cutoff;          /* Hz (2.5) */
} ps_track_params;

/* The defaults above (those of TensorFlow.js's MoveNet tracker). */
PS_API ps_track_params ps_track_default_params(void);

/* ---- Drawing: annotated video, snapshots, previews (per stream) ----
 * Each person's skeleton (COCO's limbs, coloured by body part, left warm
 * and right cool), keypoints, box and a "#id .score" label, drawn on the
 * stream's own frames at their own size (frames decoded on the GPU are
 * copied down only for the streams drawn on). Frames that were not
 * processed are drawn with the last poses before them. */
typedef struct {
    const char *video_dir;     /* an existing folder: stream<ID>.mp4 per stream,
                                  H.264 (MPEG-4 Part 2 where FFmpeg has no
                                  libx264), every frame of the source at its
                                  rate; NULL (default): none */
    const char *snapshot_dir;  /* an existing folder: stream<ID>-<FRAME>.jpg
                                  every snapshot_every_s of video; NULL: none */
    double snapshot_every_s;
    int32_t height;            /* of the video and snapshots (0: the source's) */
    int32_t previews;          /* 1: streams can be watched (ps_runtime_preview_open) */
    float min_score;           /* keypoints drawn above this score (0: 0.3) */
} ps_annotate_params;

/* One watcher of a stream's preview: JPEG pictures at its own rate. */
typedef struct ps_preview ps_preview;

/* ---- Results to an MQTT broker ----
 * One message per processed frame on <prefix>/<stream name>/poses (the
 * results line's JSON), a retained <prefix>/<stream name>/state when a
 * stream starts running, goes down and reconnects, ends, fails or is
 * removed, and <prefix>/status "online", with "offline" as the last will.
 * In topics, '/', '+' and '#' of a stream's name become '_'. The engine
 * never waits for the broker: while it is slow or away the oldest messages
 * go, counted per stream (ps_stream_stats.mqtt_dropped). */
typedef struct {
    const char *url;          /* mqtt://[user[:password]@]host[:port]/prefix
                                 (mqtts:// for TLS, port 8883); NULL: none */
    const char *ca_file;      /* mqtts: the CA certificates to trust (NULL:
                                 the system's) */
    int32_t qos;              /* of the poses messages: 0 (default) or 1 */
    int32_t queue;            /* messages held for the broker (0: 4096) */
    int32_t required;         /* 1: ps_runtime_start fails when the broker
                                 cannot be reached or refuses the login; 0:
                                 the run goes on without it, said once */
} ps_mqtt_params;

typedef struct {
    const char *model;        /* see ps_model_find; NULL: the cache */
    int32_t verify_model;     /* check the pinned checksums (default 1) */
    ps_engine_opts engine;    /* input 0x0 (default): chosen from the streams
                                 open at the start, at most 256 on a side;
                                 its max_batch is batch_max below */
    float min_score;          /* people under this score are left out (0.2) */
    int32_t batch_max;        /* frames per batch (default 8) */
    int32_t batch_timeout_ms; /* while the engine is busy, a partial batch goes
                                 this long after its first frame (default 50) */
    int32_t ring_size;        /* frames buffered per stream (default 4); a live
                                 stream drops its oldest when it is full */
    int32_t keep_running;     /* run until stopped even when every stream has
                                 ended (streams may be added later); 0
                                 (default): finish when they all have */
    ps_decode_mode decode;    /* for every video stream (default AUTO) */
    double max_vram_gb;       /* device memory budget for admission (11; 0: the
                                 device's free memory only) */
    double max_host_gb;       /* host memory budget (0, default: the machine's
                                 available memory only) */
    double max_latency_ms;    /* deadline of live streams without their own
                                 (0, default: none) */
    int32_t open_wait_ms;     /* how long the start waits for streams to open
                                 before choosing the input size (1000; a source
                                 that never answers joins when it opens) */
    const char *output;       /* results as JSON lines: "-" stdout, a folder
                                 (stream<ID>.jsonl each; a path ending in '/'
                                 is created) or a file; NULL (default): none */
    ps_result_fn on_result;   /* NULL, or called for every processed frame */
    void *user;               /* for on_result */
    ps_track_params track;    /* ids and smoothing (see above) */
    ps_annotate_params annotate; /* drawing (see above; default: none) */
    ps_mqtt_params mqtt;      /* results to a broker (see above; default: none) */
    const char *gpus;         /* the GPUs to run on, one engine and its decoders
                                 each: "all" (NULL, default: every GPU visible,
                                 see CUDA_VISIBLE_DEVICES) or numbers, "0,2".
                                 Each new stream goes to the least loaded (its
                                 engine's time and its decoders' use, measured)
                                 with room in its memory budget (max_vram_gb is
                                 per GPU), unless pinned (ps_stream_params.gpu).
                                 Ignored on the CPU */
    int32_t failover;         /* 1: the streams of a GPU whose engine cannot go
                                 on are added again on the others (a file from
                                 its start), keeping their ids; 0 (default):
                                 they end FAILED with the reason. Either way
                                 the other GPUs' streams go on */
} ps_runtime_params;

PS_API ps_runtime_params ps_runtime_default_params(void);

/* A stream as ps_runtime_add_stream takes it. */
typedef struct {
    const char *uri;          /* a video file; rtsp://, http(s)://, udp://,
                                 rtp://, tcp://; synthetic:WxH@FPS; an image
                                 or a folder of images */
    const char *name;         /* NULL: from the uri */
    int32_t priority;         /* under overload higher is served first (0) */
    double max_latency_ms;    /* a live frame that cannot be done within this of
                                 its capture is counted late instead of run (0:
                                 the runtime's max_latency_ms) */
    double max_fps;           /* at most this rate, the rest counted skipped (0: all) */
    const char *options;      /* FFmpeg options "key=value,key=value", or NULL */
    int32_t realtime;         /* a file played at its own rate, like a camera */
    int32_t loop;             /* a file started again at its end */
    int32_t reconnect;        /* a network stream that ended or broke: tries in
                                 a row, 0.5 s, 1 s, 2 s... up to 10 s apart
                                 (-1, default: for ever; 0: never) */
    double open_timeout_s;    /* give up opening after this (0: 10 s) */
    double stall_timeout_s;   /* a network stream silent this long has ended (0: 10 s) */
    int32_t gpu;              /* -1 (default): the runtime places it; n: pinned to
                                 GPU n (never moved, even with failover; ignored
                                 on the CPU) */
} ps_stream_params;

PS_API ps_stream_params ps_stream_default_params(void);

/* Parses a streams file's text (len bytes): a JSON array of {"uri", "name",
 * "priority", "max_latency_ms", "max_fps", "gpu", "options": {FFmpeg
 * option: value}}; errors name `what` (the file), the entry and the field. Fills
 * *out (free with ps_stream_params_free) and *n, or returns non-OK leaving
 * *out NULL. */
PS_API ps_status ps_stream_params_parse(const char *text, size_t len, const char *what,
                                        ps_stream_params **out, int32_t *n, ps_err *err);

/* One entry of that array on its own, e.g. an API request's body: fills
 * *out (free with ps_stream_params_free(*out, 1)) or returns non-OK naming
 * `what` and the field, leaving *out NULL. */
PS_API ps_status ps_stream_params_parse_one(const char *text, size_t len, const char *what,
                                            ps_stream_params **out, ps_err *err);

/* ps_stream_params_parse of the file at path (at most 16 MiB). */
PS_API ps_status ps_stream_params_load(const char *path, ps_stream_params **out, int32_t *n,
                                       ps_err *err);

/* One source as written on a command line: settings may follow a '#',
 * "rtsp://cam/live#priority=1,max_latency_ms=150,max_fps=10,name=door,gpu=1".
 * Fills *out (one entry; free with ps_stream_params_free(*out, 1)), or
 * returns PS_ERR_ARG naming the bad key or value, leaving *out NULL. */
PS_API ps_status ps_stream_params_from_arg(const char *arg, ps_stream_params **out, ps_err *err);

/* Frees what the parsers above allocated (the strings and the array). */
PS_API void ps_stream_params_free(ps_stream_params *list, int32_t n);

/* Loads and checks the model, opens the output and makes an empty runtime.
 * Returns NULL and fills err (naming the model, the output or the option)
 * when any of them fails. */
PS_API ps_runtime *ps_runtime_create(const ps_runtime_params *params, ps_err *err);

/* Adds a stream, before or after the start, from any thread: its reader
 * opens the source at once (streams open in parallel) and, once running,
 * is admitted against the memory budgets and joins the next batches. A
 * source that cannot be opened or does not fit ends FAILED or REFUSED with
 * its reason in its figures; one bad stream never stops the others. *id
 * (when not NULL) gets its id: 0, 1, 2..., never reused. Returns non-OK,
 * adding nothing, for bad arguments or a runtime that has finished, and
 * PS_ERR_REFUSED, saying why with the figures, when the running streams'
 * measured memory already shows one more would not fit (a stream the
 * figures cannot judge yet is admitted or refused once it has opened). */
PS_API ps_status ps_runtime_add_stream(ps_runtime *rt, const ps_stream_params *stream,
                                       int32_t *id, ps_err *err);

/* Changes a running stream's priority, deadline (max_latency_ms, 0: the
 * runtime's) and rate cap (max_fps, 0: every frame), from any thread; the
 * scheduler and the reader use them from their next frame. Returns
 * PS_ERR_ARG, changing nothing, for an unknown id, one that has ended, or
 * a value out of range. */
PS_API ps_status ps_runtime_set_stream(ps_runtime *rt, int32_t id, int32_t priority,
                                       double max_latency_ms, double max_fps, ps_err *err);

/* Takes stream id out, from any thread: its source closes, its buffered
 * frames are counted cancelled, those in a batch still come out, then all
 * it held is freed; its figures stay (state REMOVED). Returns PS_ERR_ARG,
 * changing nothing, for an unknown id or one already ended. */
PS_API ps_status ps_runtime_remove_stream(ps_runtime *rt, int32_t id, ps_err *err);

/* Waits (up to open_wait_ms) for the streams to open, chooses the input
 * size, sets up GPU decoding, builds the engine and starts. Returns non-OK
 * with the reason (no GPU for PS_DECODE_GPU, the engine failed); the
 * runtime can then only be closed. */
PS_API ps_status ps_runtime_start(ps_runtime *rt, ps_err *err);

/* Asks every source to stop; frames already read are still processed. */
PS_API void ps_runtime_stop(ps_runtime *rt);

/* Stops now: buffered frames, and any delivered from now on, are counted
 * cancelled; only the batches in the engine finish. Any thread (not a
 * signal handler). */
PS_API void ps_runtime_cancel(ps_runtime *rt);

/* Waits up to timeout_ms (negative: for ever) for every stream to end and
 * the last result to be out; returns 1 when finished. */
PS_API int32_t ps_runtime_wait(ps_runtime *rt, int32_t timeout_ms);

/* Whether writing the results has failed (a full disk, a closed pipe); then
 * err names the file and the reason and nothing more is written. The caller
 * decides whether the run goes on. */
PS_API int32_t ps_runtime_output_failed(ps_runtime *rt, ps_err *err);

/* The GPUs' and their video decoders' use now, percent (the mean over the
 * run's GPUs; -1: not known). */
PS_API void ps_runtime_utilization(ps_runtime *rt, int32_t *gpu, int32_t *decoder);

/* Ends the run: cancels what is left (after ps_runtime_wait returned 1
 * nothing is), joins every thread, frees the streams' resources and
 * closes the output. Returns non-OK naming the file and the reason if any
 * result could not be written. ps_runtime_stats still works after it. */
PS_API ps_status ps_runtime_close(ps_runtime *rt, ps_err *err);

/* Closes (if not yet) and frees. NULL is fine. */
PS_API void ps_runtime_free(ps_runtime *rt);

/* ---- Figures, as plain numbers ---- */

typedef enum {
    PS_STREAM_OPENING = 0, /* its reader is opening the source */
    PS_STREAM_OPENED,  /* opened; not started, or waiting for device memory */
    PS_STREAM_RUNNING,
    PS_STREAM_ENDED,   /* its source ended normally (or was stopped) */
    PS_STREAM_FAILED,  /* error says why */
    PS_STREAM_REFUSED, /* not started: it would not fit in device or host memory
                          (error says why, with the figures) */
    PS_STREAM_REMOVED  /* taken out while it ran */
} ps_stream_state;

/* "opening", "opened", "running", "ended", "failed", "refused", "removed". */
PS_API const char *ps_stream_state_name(ps_stream_state state);

/* A distribution in milliseconds (from a histogram of 1/64 resolution;
 * max is exact); all 0 when count is 0. */
typedef struct {
    uint64_t count;
    double mean_ms, p50_ms, p95_ms, p99_ms, max_ms;
} ps_latency;

typedef struct {
    int32_t id;
    char name[128];
    char uri[512];
    int32_t priority;
    double max_latency_ms, max_fps; /* as in effect (the runtime's deadline included) */
    ps_stream_state state;
    char error[PS_ERR_LEN];   /* why it FAILED or was REFUSED */
    char note[256];           /* a warning about its source ("" none) */
    int32_t live;             /* frames may be dropped: it does not wait */
    int32_t stride;           /* 1; k > 1: under overload it gives way to higher
                                 priorities and keeps every k-th frame */
    int32_t width, height;
    double fps;               /* the source's nominal rate (0 unknown) */
    uint64_t produced, processed, dropped, late, skipped, cancelled, failed;
    int64_t expected;         /* a truncated file: the frames it said it had */
    int64_t first_ns, last_ns; /* first capture, last output */
    int64_t running_ns;       /* admitted and reading since */
    ps_latency latency;       /* capture to keypoints out */
    int32_t gpu_decode;       /* decodes on the GPU */
    uint64_t bad_packets;     /* corrupt packets the decoder skipped */
    uint64_t reconnects;
    double outage_s;          /* time its network source was down */
    uint64_t lost_outage;     /* frames it would have sent meanwhile (not produced) */
    int32_t down;             /* down now, or when it ended */
    double vram_mb, host_mb;  /* memory admission counts it for */
    int32_t vram_measured, host_measured; /* those were measured, not estimated */
    uint64_t mqtt_dropped;    /* its results not published (broker slow, away or
                                 refusing; 0 without MQTT) */
    int32_t gpu;              /* the GPU it runs (or last ran) on; -1 on the CPU */
    int32_t moves;            /* times failover moved it to another GPU (its
                                 counts cover every GPU it ran on) */
} ps_stream_stats;

/* The figures summed over the streams of one priority (latency over their
 * frames together). */
typedef struct {
    int32_t priority, streams;
    uint64_t produced, processed, dropped, late, skipped, cancelled, failed;
    ps_latency latency;
} ps_priority_stats;

/* One GPU's figures, with several (ps_stats.gpus). */
typedef struct {
    int32_t gpu;              /* its number */
    char device[64];          /* e.g. "NVIDIA H200" */
    int32_t failed;           /* its engine could not go on: its streams ended or
                                 moved (error says why) */
    char error[PS_ERR_LEN];
    int32_t streams;          /* streams on it now */
    uint64_t streams_total;   /* streams it ever took */
    uint64_t processed, batches, engine_failures;
    ps_latency latency;       /* its frames, capture to keypoints out */
    ps_latency engine;        /* its engine time per batch */
    double busy;              /* engine time per second of the run */
    double vram_mb, vram_peak_mb, vram_total_mb; /* this process's there; the GPU's */
    int32_t util_gpu, util_decoder; /* percent busy now (-1: unknown) */
} ps_gpu_stats;

#define PS_MAX_PRIORITIES 16 /* ps_stats keeps the highest this many */
#define PS_BATCH_SIZES 256   /* batch sizes counted one by one up to this */

typedef struct {
    int32_t n_streams;
    ps_stream_stats *streams; /* [n_streams], by id */
    ps_latency latency;       /* every stream's frames */
    ps_latency engine;        /* engine time per batch */
    ps_latency queue;         /* capture to batched */
    ps_latency decode;        /* decoder time per frame */
    uint64_t batches;
    double mean_batch;        /* frames per batch */
    uint64_t batch_sizes[PS_BATCH_SIZES + 1]; /* [k]: batches of k frames
                                 ([PS_BATCH_SIZES]: that many or more) */
    int64_t start_ns, now_ns;
    int32_t finished;         /* every stream ended, failed or was removed */
    uint64_t engine_failures; /* batches that failed */
    int32_t engine_fatal;     /* the engine (every GPU's) could not recover: the
                                 run stopped */
    char engine_error[PS_ERR_LEN]; /* with several GPUs the first failed one's,
                                 naming it */
    char backend[16];         /* "cpu" or "cuda" ("" before the start) */
    char device[256];         /* e.g. "NVIDIA H200" */
    int32_t input_w, input_h, batch_max;
    double engine_mb;         /* memory the engine holds */
    double prepared_mb;       /* of it, frames prepared on arrival (GPU) */
    double vram_peak_mb;      /* peak device memory (< 0: not on a GPU) */
    double vram_base_mb;      /* device memory before streams decoded */
    double peak_rss_mb;       /* the process's peak resident memory */
    int32_t n_priorities;     /* the priorities present, highest first */
    ps_priority_stats priorities[PS_MAX_PRIORITIES];
    int32_t n_gpus;           /* GPUs the run drives (0 on the CPU) */
    ps_gpu_stats gpus[PS_MAX_GPUS];
    struct {
        int32_t on;           /* results go to a broker */
        char url[512];        /* its URL, the password masked */
        uint64_t published, dropped, outages;
    } mqtt;
} ps_stats;

/* Copies the figures now into st (st->streams allocated: free with
 * ps_stats_free). Returns PS_ERR_NOMEM leaving st empty. */
PS_API ps_status ps_runtime_stats(ps_runtime *rt, ps_stats *st, ps_err *err);
PS_API void ps_stats_free(ps_stats *st);

/* One stream's figures (and the run's start into *start_ns when not NULL),
 * without copying every stream's: what an API answering for one stream
 * wants. Returns PS_ERR_ARG for an unknown id. */
PS_API ps_status ps_runtime_stream_stats(ps_runtime *rt, int32_t id, ps_stream_stats *out,
                                         int64_t *start_ns, ps_err *err);

/* Frames/s processed since the start, over all streams. */
PS_API double ps_stats_fps(const ps_stats *st);

/* Dropped frames, percent of produced, over all streams. */
PS_API double ps_stats_drop_pct(const ps_stats *st);

/* The end-of-run table (per stream and overall), as `run` prints it. */
PS_API void ps_stats_print_summary(FILE *f, const ps_stats *st);

/* One status line per stream (fps over the interval since prev, NULL: since
 * the start), redrawing the previous block in place when redraw is set. */
PS_API void ps_stats_print_status(FILE *f, const ps_stats *st, const ps_stats *prev,
                                  int32_t redraw);

/* One stream's figures as a JSON object (as in the report's "streams");
 * start_ns: the run's start, for its first frame's time. */
PS_API void ps_stream_json(ps_json *w, const ps_stream_stats *s, int64_t start_ns);

/* Every figure as one JSON object (the value of the writer's next key, or
 * the whole document). */
PS_API void ps_stats_json(ps_json *w, const ps_stats *st);

/* Every figure in Prometheus' text format (version 0.0.4) into f:
 * posestream_frames_total{stream,name,outcome} (processed, dropped, late,
 * skipped, cancelled, failed), posestream_latency_seconds{stream,name}
 * (histogram, 1 ms to 2 s), posestream_queue_wait_seconds,
 * posestream_engine_batch_seconds, posestream_batch_frames (histograms),
 * posestream_streams{state}, posestream_reconnects_total,
 * posestream_outage_seconds_total, posestream_outage_frames_total,
 * posestream_corrupt_packets_total, posestream_stream_up,
 * posestream_engine_failures_total, posestream_gpu_memory_bytes,
 * posestream_gpu_memory_peak_bytes, posestream_gpu_utilization_ratio,
 * posestream_decoder_utilization_ratio (on a GPU),
 * process_resident_memory_bytes, posestream_build_info. Any thread.
 * Returns PS_ERR_IO when f failed. */
PS_API ps_status ps_runtime_write_metrics(ps_runtime *rt, FILE *f, ps_err *err);

/* Stream id's end-to-end latencies as a distribution (id -1: every
 * stream's): counts[i] = frames whose latency was at most bounds_ms[i]
 * (bounds ascending), within the histogram's 1/64 resolution. Any thread;
 * also after the close. Returns PS_ERR_ARG for an unknown id. */
PS_API ps_status ps_runtime_latency_counts(ps_runtime *rt, int32_t id, const double *bounds_ms,
                                           int32_t n, uint64_t *counts, ps_err *err);

/* ---- Previews (with ps_runtime_params.annotate.previews) ----
 * A watcher of stream id: JPEG pictures of its drawn frames, at most fps a
 * second, height pixels high (0: the stream's own; never larger). Frames are
 * copied and encoded only while someone watches, at the rate asked. Any
 * thread. Returns NULL with err naming the stream when it is unknown, has
 * ended, or previews are off. */
PS_API ps_preview *ps_runtime_preview_open(ps_runtime *rt, int32_t stream, double fps,
                                           int32_t height, ps_err *err);

/* Waits up to timeout_ms for the watcher's next picture and copies it into
 * *jpeg (grown with realloc; *cap its size). Returns its bytes, 0 when none
 * came in time, -1 when the stream has ended. */
PS_API int64_t ps_preview_next(ps_preview *p, uint8_t **jpeg, size_t *cap, int32_t timeout_ms);

/* Ends the watch; safe after the runtime is freed. */
PS_API void ps_preview_close(ps_preview *p);

/* ---- What this machine's decoders sustain ---- */

typedef struct {
    int32_t streams;          /* streams that decoded */
    int32_t on_gpu;           /* of them, on the GPU (NVDEC) */
    double fps_total;         /* frames/s of all together */
    double fps_min, fps_max;  /* of one stream */
    double fps_nominal;       /* the first stream's own rate */
    double seconds;           /* counted over this long */
    double first_max_s;       /* the slowest stream's first frame after the start */
    char error[PS_ERR_LEN];   /* the first failed stream's error ("" none) */
} ps_decode_ceiling;

/* Decodes n uris at once, one thread each, files looped, frames let go at
 * once (no engine), for warm_s and then seconds, counting the frames of
 * the second span. Returns non-OK when nothing could be decoded. */
PS_API ps_status ps_decode_measure(const char *const *uris, int32_t n, ps_decode_mode decode,
                                   double warm_s, double seconds, ps_decode_ceiling *out,
                                   ps_err *err);

#ifdef __cplusplus
}
#endif
#endif
