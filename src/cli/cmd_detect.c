/* posestream detect: poses in still photographs, one JSON line per image. */
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static void detect_usage(FILE *f) {
    fputs("usage: posestream detect [options] [IMAGE...]\n"
          "\n"
          "Finds every person's 17 keypoints in JPEG/PNG images and prints one JSON\n"
          "object per image and line:\n"
          "  {\"image\":PATH,\"width\":W,\"height\":H,\"people\":[{\"score\":S,\n"
          "   \"box\":[x0,y0,x1,y1],\"keypoints\":[{\"name\":\"nose\",\"x\":X,\"y\":Y,\"score\":S},...]}]}\n"
          "Coordinates are pixels of the original image; people are sorted by score.\n"
          "With no IMAGE, runs on the built-in sample photographs.\n"
          "\n"
          "options:\n"
          "  --model PATH        model folder or .json file (default $POSESTREAM_MODEL_DIR,\n"
          "                      else ~/.cache/posestream)\n"
          "  --no-verify         skip the sha256 check of the model files\n"
          "  --input-size N|WxH  network input, multiples of 32 (default 256)\n"
          "  --min-score S       leave out people scored under S (default 0.2)\n"
          "  --max-people K      people found per image, 1 to 32 (default 6, as\n"
          "                      TensorFlow.js); more for crowds\n"
          "  --batch N           images per network batch (default 8)\n"
          "  --threads N         CPU threads (default: all cores)\n"
          "  --backend NAME      auto, cuda or cpu (default auto: the GPU when usable)\n"
          "  -h, --help          this text\n"
          "\n"
          "A bad image is reported on stderr and skipped; the exit status is then 1.\n",
          f);
}

typedef struct {
    const char *model;
    int verify;
    ps_engine_opts eng;
    float min_score;
} detect_opts;

/* Returns -1 to go on, else the exit status. */
static int parse_opts(int argc, char **argv, detect_opts *o) {
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'},     {"no-verify", no_argument, 0, 'V'},
        {"input-size", required_argument, 0, 's'}, {"min-score", required_argument, 0, 'c'},
        {"batch", required_argument, 0, 'b'},     {"threads", required_argument, 0, 't'},
        {"backend", required_argument, 0, 'B'},   {"max-people", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    int c, w, h;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'V': o->verify = 0; break;
        case 's':
            if (cli_parse_size(optarg, &w, &h)) return 1;
            o->eng.input_w = w;
            o->eng.input_h = h;
            break;
        case 'c': {
            double v;
            if (cli_parse_number("min-score", optarg, 0, 1, 1, &v)) return 1;
            o->min_score = (float)v;
            break;
        }
        case 'b':
            o->eng.max_batch = atoi(optarg);
            if (o->eng.max_batch < 1 || o->eng.max_batch > 1024)
                return cli_fail("--batch: expected a number from 1 to 1024");
            break;
        case 't':
            o->eng.threads = atoi(optarg);
            if (o->eng.threads < 1 || o->eng.threads > 1024)
                return cli_fail("--threads: expected a number from 1 to 1024");
            break;
        case 'B':
            if (cli_parse_backend(optarg, &o->eng.backend)) return 1;
            break;
        case 'P':
            o->eng.max_people = atoi(optarg);
            if (o->eng.max_people < 1 || o->eng.max_people > PS_MAX_PEOPLE)
                return cli_fail("--max-people: expected a number from 1 to 32");
            break;
        case 'h': detect_usage(stdout); return 0;
        default: detect_usage(stderr); return 2;
        }
    }
    return -1;
}

static void print_result(const char *path, const ps_image *img, const ps_person *people, int n) {
    char line[16384];
    size_t len = ps_detection_to_json(path, img->width, img->height, people, n, line, sizeof line);
    char *big = len >= sizeof line ? malloc(len + 1) : NULL;
    if (big) ps_detection_to_json(path, img->width, img->height, people, n, big, len + 1);
    printf("%s\n", big ? big : line);
    free(big);
}

/* One batch's images, names and results, sized for the largest batch. */
typedef struct {
    ps_image *imgs;
    char **names;
    ps_person (*people)[PS_MAX_PEOPLE];
    int32_t *counts;
} detect_batch;

/* Detects and prints the n decoded images of b; frees them. */
static int run_batch(ps_engine *e, const detect_opts *o, detect_batch *b, int n) {
    ps_err err;
    int rc = 0;
    if (ps_engine_detect(e, b->imgs, n, o->min_score, b->people, b->counts, &err))
        rc = cli_fail(err.msg);
    for (int i = 0; i < n; i++) {
        if (!rc) print_result(b->names[i], &b->imgs[i], b->people[i], b->counts[i]);
        ps_image_free(&b->imgs[i]);
    }
    fflush(stdout);
    return rc;
}

/* Decodes the images in batches and detects; a bad image is reported and
 * skipped. */
static int detect_paths(ps_engine *e, const detect_opts *o, detect_batch *b, char **paths,
                        int n_paths, int batch) {
    int n = 0, rc = 0;
    for (int i = 0; i < n_paths; i++) {
        ps_err err;
        if (ps_image_read(paths[i], &b->imgs[n], &err)) {
            rc = cli_fail(err.msg);
            continue;
        }
        b->names[n++] = paths[i];
        if (n == batch) {
            rc |= run_batch(e, o, b, n);
            n = 0;
        }
    }
    if (n) rc |= run_batch(e, o, b, n);
    return rc;
}

static int detect_all(ps_engine *e, const detect_opts *o, char **paths, int n_paths, int batch) {
    detect_batch b = {
        .imgs = calloc((size_t)batch, sizeof *b.imgs),
        .names = calloc((size_t)batch, sizeof *b.names),
        .people = calloc((size_t)batch, sizeof *b.people),
        .counts = calloc((size_t)batch, sizeof *b.counts),
    };
    int rc = (b.imgs && b.names && b.people && b.counts) ? detect_paths(e, o, &b, paths, n_paths, batch)
                                                                 : cli_fail("out of memory");
    free(b.imgs);
    free(b.names);
    free(b.people);
    free(b.counts);
    return rc;
}

/* The sample photographs: $POSESTREAM_DATA_DIR/samples, else share/posestream/
 * samples beside the binary (installed: <prefix>/bin/../share; built:
 * build/share, where the build copies them). Returns 1 after printing where
 * it looked when there are none. */
static int sample_images(glob_t *g) {
    char exe[4000], pattern[4200], where[3][4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    const char *env = getenv("POSESTREAM_DATA_DIR");
    snprintf(where[0], sizeof where[0], "%s", env && *env ? env : "");
    snprintf(where[1], sizeof where[1], "%s/../share/posestream", exe);
    snprintf(where[2], sizeof where[2], "%s/share/posestream", exe);
    for (int k = 0; k < 3; k++) {
        if (!where[k][0]) continue;
        snprintf(pattern, sizeof pattern, "%.4095s/samples/*.jpg", where[k]);
        if (glob(pattern, 0, NULL, g) == 0 && g->gl_pathc) return 0;
        globfree(g);
    }
    fprintf(stderr, "posestream: error: no IMAGE given and no sample photographs in "
                    "$POSESTREAM_DATA_DIR/samples, %s/samples or %s/samples\n", where[1], where[2]);
    return 1;
}

int cmd_detect(int argc, char **argv) {
    detect_opts o = {.verify = 1, .min_score = 0.2f, .eng = {.max_batch = 8}};
    int rc = parse_opts(argc, argv, &o);
    if (rc >= 0) return rc;
    glob_t g = {0};
    char **paths = argv + optind;
    int n_paths = argc - optind;
    if (n_paths == 0) {
        if (sample_images(&g)) return 1;
        paths = g.gl_pathv;
        n_paths = (int)g.gl_pathc;
    }
    ps_err err;
    ps_model *model = ps_model_find(o.model, o.verify, &err);
    ps_engine *e = model ? ps_engine_create(model, &o.eng, &err) : NULL;
    if (!e) {
        rc = cli_fail(err.msg);
    } else {
        if (ps_engine_note(e)[0]) fprintf(stderr, "posestream: warning: %s\n", ps_engine_note(e));
        rc = detect_all(e, &o, paths, n_paths, o.eng.max_batch);
    }
    ps_engine_free(e);
    ps_model_free(model);
    globfree(&g);
    return rc;
}
