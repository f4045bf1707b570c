/* posestream run: the main job, many streams through one engine. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/stream_list.h"
#include "cli/stream_opts.h"

#define RUN_DEFAULT_STREAMS 4
#define RUN_DEFAULT_CLIP "vtest.avi"
#define RUN_DEFAULT_LATENCY_MS 100 /* the built-in input's deadline */

static void run_usage(FILE *f) {
    fprintf(f,
            "usage: posestream run [options] [SOURCE...]\n"
            "\n"
            "Detects poses in every frame of every SOURCE at once, batching frames across\n"
            "streams, and writes one JSON line per frame:\n"
            "  {\"stream\":ID,\"name\":NAME,\"frame\":N,\"pts\":SECONDS,\"latency_ms\":L,\n"
            "   \"width\":W,\"height\":H,\"people\":[...as in detect...]}\n"
            "A live status line per stream is shown on a terminal; a summary table at the\n"
            "end (stderr). Ctrl-C (or SIGTERM) stops at once: the batch in the engine\n"
            "finishes, buffered frames are counted cancelled, the summary is printed; a\n"
            "second one exits at once, still printing the summary.\n"
            "\n"
            "SOURCE: a video file; a network stream (rtsp://, http(s)://, udp://, rtp://,\n"
            "tcp://); synthetic:WxH@FPS (generated frames, e.g. synthetic:1920x1080@30);\n"
            "an image, or a folder of images. Settings may follow a '#':\n"
            "  rtsp://cam/live#priority=1,max_latency_ms=150,max_fps=10,name=door,gpu=1\n"
            "(under overload higher priorities are served first; a frame that cannot be\n"
            "done within max_latency_ms is counted late instead of run; max_fps takes\n"
            "at most that rate, the rest counted skipped; gpu pins it to that GPU,\n"
            "see --gpus). With no SOURCE and no\n"
            "--streams: %d streams of the sample clip %s (from the cache, see\n"
            "tools/fetch-data.sh), played in real time, with a deadline of %d ms.\n"
            "\n"
            "options:\n"
            "  -o, --output T        results to T: '-' for stdout, a folder (one\n"
            "                        stream<ID>.jsonl per stream; a path ending in '/' is\n"
            "                        created) or a file. Default: stdout unless it is a\n"
            "                        terminal, then none (summary only)\n"
            "  --realtime            play files at their own frame rate, like cameras\n"
            "                        (their frames may then be dropped, and are counted)\n"
            "  --loop                replay files when they end\n"
            "  --duration S          stop after S seconds\n"
            "  --no-status           no live status lines\n"
            "  --accept-truncated    a file that ends well before its stated length is\n"
            "                        noted in the summary but does not make the exit\n"
            "                        status 1\n"
            "  --on-output-error A   stop (default) or continue when writing results\n"
            "                        fails (full disk, closed pipe): the error is said at\n"
            "                        once, with its reason; the exit status is 1 either way\n"
            "  --max-latency-ms MS   the deadline (max_latency_ms) of every live stream\n"
            "                        without one of its own (default: none)\n"
            "  --streams FILE        streams from a JSON array of {\"uri\", \"name\",\n"
            "                        \"priority\", \"max_latency_ms\", \"max_fps\", \"options\":\n"
            "                        {FFmpeg option: value}} (before any SOURCE)\n"
            "%s"
            "  -h, --help            this text\n"
            "\n"
            "Files are read offline by default: every frame is processed, as fast as the\n"
            "engine goes. Network and synthetic sources are live. Exit status 1 when a\n"
            "stream failed or was refused (the others still run to their end), a file\n"
            "was truncated, writing results failed, or when a\n"
            "batch failed in the engine (its frames are counted as failed and the engine\n"
            "recovers; if it cannot, the run stops and the summary says why).\n",
            RUN_DEFAULT_STREAMS, RUN_DEFAULT_CLIP, RUN_DEFAULT_LATENCY_MS, cli_job_options_help);
}

static const struct option run_longs[] = {
    {"output", required_argument, 0, 'o'},
    {"realtime", no_argument, 0, 0},
    {"loop", no_argument, 0, 0},
    {"duration", required_argument, 0, 0},
    {"no-status", no_argument, 0, 0},
    {"streams", required_argument, 0, 0},
    {"help", no_argument, 0, 'h'},
    {"batch-max", required_argument, 0, 0},
    {"max-vram-gb", required_argument, 0, 0},
    {"max-latency-ms", required_argument, 0, 0},
    {"on-output-error", required_argument, 0, 0},
    {"accept-truncated", no_argument, 0, 0},
    CLI_JOB_LONG_OPTIONS,
    {0, 0, 0, 0}};

/* Returns -1 to go on, else the exit status. */
static const char *streams_file;
static int accept_truncated; /* --accept-truncated */

static int run_option(cli_stream_job *job, const char *name, const char *arg) {
    if (!strcmp(name, "realtime")) job->src.realtime = 1;
    else if (!strcmp(name, "streams")) streams_file = arg;
    else if (!strcmp(name, "accept-truncated")) accept_truncated = 1;
    else if (!strcmp(name, "loop")) job->src.loop = 1;
    else if (!strcmp(name, "no-status")) job->status = 0;
    else if (!strcmp(name, "duration")) {
        if (cli_parse_number(name, arg, 0, 1e7, 0, &job->duration_s)) return 1;
    } else if (!strcmp(name, "on-output-error")) {
        if (strcmp(arg, "stop") && strcmp(arg, "continue"))
            return cli_fail("--on-output-error: expected stop or continue");
        job->output_errors_continue = !strcmp(arg, "continue");
    } else if (!strcmp(name, "max-latency-ms")) {
        if (cli_parse_number(name, arg, 0, 1e7, 0, &job->rt.max_latency_ms)) return 1;
    } else {
        int r = cli_job_option(job, name, arg);
        if (r < 0) return 1;
    }
    return -1;
}

static int parse_run(int argc, char **argv, cli_stream_job *job, const char **output) {
    int c, idx;
    job->argc = argc, job->argv = argv;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", run_longs, &idx)) != -1) {
        int r = -1;
        if (c == 'o') *output = optarg;
        else if (c == 'h') {
            run_usage(stdout);
            return 0;
        } else if (c == 0) r = run_option(job, run_longs[idx].name, optarg);
        else {
            run_usage(stderr);
            return 2;
        }
        if (r >= 0) return r;
    }
    return -1;
}

/* The built-in input: RUN_DEFAULT_STREAMS real-time streams of the sample
 * clip from the cache, with a deadline (unless --max-latency-ms gave one):
 * a live view wants fresh frames, and on a machine whose speed varies
 * (a shared 2-core VM slows 2-3x for seconds) frames that could only come
 * out stale are counted late instead of run. */
static int default_sources(cli_stream_job *job, char **uris, char **names, char *clip,
                           size_t cap) {
    char dir[4096];
    ps_model_cache_dir(dir, sizeof dir);
    snprintf(clip, cap, "%s/%s", dir, RUN_DEFAULT_CLIP);
    if (access(clip, R_OK) != 0) {
        char msg[4400];
        snprintf(msg, sizeof msg, "%s: sample clip not found (run tools/fetch-data.sh) ", clip);
        return cli_fail(msg);
    }
    for (int k = 0; k < RUN_DEFAULT_STREAMS; k++) {
        uris[k] = clip;
        snprintf(names[k], 32, "camera%d", k);
    }
    job->uris = uris;
    job->names = names;
    job->n_uris = RUN_DEFAULT_STREAMS;
    job->src.realtime = 1;
    if (job->rt.max_latency_ms == 0) job->rt.max_latency_ms = RUN_DEFAULT_LATENCY_MS;
    return 0;
}

int cmd_run(int argc, char **argv) {
    cli_stream_job job;
    cli_job_defaults(&job);
    const char *output = NULL;
    streams_file = NULL;
    accept_truncated = 0;
    int rc = parse_run(argc, argv, &job, &output);
    if (rc >= 0) return rc;
    char clip[4200], name_buf[RUN_DEFAULT_STREAMS][32];
    char *uris[RUN_DEFAULT_STREAMS], *names[RUN_DEFAULT_STREAMS];
    for (int k = 0; k < RUN_DEFAULT_STREAMS; k++) names[k] = name_buf[k];
    cli_stream_list list = {0};
    if (optind < argc || streams_file) {
        if (cli_stream_list_make(streams_file, argv + optind, argc - optind, &list)) return 1;
        cli_stream_list_use(&list, &job);
    } else if ((rc = default_sources(&job, uris, names, clip, sizeof clip))) {
        return rc;
    }
    job.rt.output = output ? output : (isatty(STDOUT_FILENO) ? NULL : "-");
    job.status = job.status && isatty(STDERR_FILENO);
    cli_stream_outcome out;
    rc = cli_run_streams(&job, &out);
    if (rc) {
        cli_stream_list_free(&list);
        return rc;
    }
    fprintf(stderr, "input %dx%d, batches up to %d%s\n", out.stats.input_w, out.stats.input_h,
            out.stats.batch_max,
            out.stop_signal == SIGTERM ? ", stopped by SIGTERM (buffered frames cancelled)"
            : out.stop_signal ? ", stopped by SIGINT (buffered frames cancelled)" : "");
    ps_stats_print_summary(stderr, &out.stats);
    if (out.output_failed) {
        rc = 1;
        if (out.output_error[0]) fprintf(stderr, "posestream: error: %s\n", out.output_error);
    }
    for (int k = 0; k < out.stats.n_streams; k++) {
        const ps_stream_stats *s = &out.stats.streams[k];
        if (s->state == PS_STREAM_FAILED || s->state == PS_STREAM_REFUSED) rc = 1;
        if (s->expected && !accept_truncated) rc = 1;
        if (s->down) rc = 1; /* a camera still down when the run ended */
    }
    if (out.stats.engine_failures || out.stats.engine_fatal) rc = 1;
    cli_stream_outcome_free(&out);
    cli_stream_list_free(&list);
    return rc;
}
