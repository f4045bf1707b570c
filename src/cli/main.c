/* posestream: the command-line entry point, dispatching sub-commands. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fputs("usage: posestream COMMAND [options]\n"
          "\n"
          "Real-time human pose detection (MoveNet MultiPose, 17 COCO keypoints).\n"
          "\n"
          "commands:\n"
          "  run [SOURCE...]     poses in many video streams at once, one JSON line per\n"
          "                      frame (no SOURCE: four real-time streams of a sample clip)\n"
          "  bench               load test: many streams, latency, drops, PASS/FAIL\n"
          "  serve [SOURCE...]   a service: HTTP API to add and remove streams, live\n"
          "                      results, Prometheus metrics\n"
          "  detect [IMAGE...]   poses in JPEG/PNG photographs, one JSON line per image\n"
          "                      (no IMAGE: the built-in sample photographs)\n"
          "  help                this text; 'posestream COMMAND --help' for a command\n"
          "\n"
          "The model is read from --model, $POSESTREAM_MODEL_DIR or ~/.cache/posestream;\n"
          "tools/fetch-model.sh downloads it there (tools/fetch-data.sh the sample clip).\n",
          f);
}

int cli_parse_size(const char *arg, int *w, int *h) {
    char tail;
    int n = sscanf(arg, "%dx%d%c", w, h, &tail);
    if (n != 2 && sscanf(arg, "%d%c", w, &tail) == 1) *h = *w, n = 2;
    if (n == 2 && *w >= 32 && *h >= 32 && *w <= 4096 && *h <= 4096) return 0;
    fprintf(stderr, "posestream: error: --input-size '%s': expected N or WxH, sides 32 to 4096 "
                    "(multiples of 32)\n", arg);
    return 1;
}

int cli_parse_number(const char *name, const char *arg, double lo, double hi, int at_least_lo,
                     double *out) {
    char *end;
    double v = strtod(arg, &end);
    int ok = end != arg && !*end && isfinite(v) && (at_least_lo ? v >= lo : v > lo) && v <= hi;
    if (ok) {
        *out = v;
        return 0;
    }
    if (at_least_lo)
        fprintf(stderr, "posestream: error: --%s '%s': expected a number from %g to %g\n", name,
                arg, lo, hi);
    else
        fprintf(stderr, "posestream: error: --%s '%s': expected a number above %g and at most %g\n",
                name, arg, lo, hi);
    return 1;
}

int cli_parse_backend(const char *arg, ps_backend *out) {
    if (!strcmp(arg, "auto")) *out = PS_BACKEND_AUTO;
    else if (!strcmp(arg, "cuda")) *out = PS_BACKEND_CUDA;
    else if (!strcmp(arg, "cpu")) *out = PS_BACKEND_CPU;
    else {
        fprintf(stderr, "posestream: error: --backend '%s': expected auto, cuda or cpu\n", arg);
        return 1;
    }
    return 0;
}

int cli_parse_log_level(const char *arg) {
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int l = PS_LOG_ERROR; l <= PS_LOG_DEBUG; l++)
        if (!strcmp(arg, names[l])) {
            ps_log_set_level((ps_log_level)l);
            return 0;
        }
    fprintf(stderr, "posestream: error: --log-level '%s': expected error, warn, info or debug\n",
            arg);
    return 1;
}

int cli_fail(const char *msg) {
    fprintf(stderr, "posestream: error: %s\n", msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "detect")) return cmd_detect(argc - 1, argv + 1);
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "posestream: error: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
