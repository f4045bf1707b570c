/* posestream bench: a load test of many streams through one engine, with a
 * table of the figures that matter and PASS/FAIL per success criterion. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/stream_opts.h"

typedef struct {
    cli_stream_job job;
    int synthetic, num_streams, verbose, fps;
    char resolution[32];
    char **videos;
    int n_videos;
    double max_latency_ms, max_vram_gb;
    const char *json;
} bench_opts;

static void bench_usage(FILE *f) {
    fprintf(f,
            "usage: posestream bench [--synthetic | --videos FILE...] [options]\n"
            "\n"
            "Runs N streams through one engine for a while and reports engine latency,\n"
            "end-to-end latency, memory, throughput and drops, then checks the success\n"
            "criteria (exit status 1 if any fails). Videos are played in real time and\n"
            "looped, like cameras; synthetic streams generate frames at a size and rate.\n"
            "\n"
            "options:\n"
            "  --synthetic           synthetic streams (the default)\n"
            "  --videos FILE...      stream these files (the streams cycle through them)\n"
            "  --num-streams N       streams (default 4)\n"
            "  --batch-size B        frames per batch across streams (default 8)\n"
            "  --duration S          seconds to run (default 10)\n"
            "  --resolution WxH      synthetic frame size (default 1920x1080)\n"
            "  --fps F               synthetic frame rate (default 30)\n"
            "  --max-latency-ms MS   criterion: p99 end-to-end latency (default 100)\n"
            "  --max-vram-gb GB      criterion: peak GPU memory (default 11)\n"
            "  --json FILE           every figure, machine-readable\n"
            "  --verbose             the per-stream report too\n"
            "%s"
            "  -h, --help            this text\n",
            cli_job_options_help);
}

static const struct option bench_longs[] = {
    {"synthetic", no_argument, 0, 0},     {"videos", no_argument, 0, 0},
    {"num-streams", required_argument, 0, 0}, {"batch-size", required_argument, 0, 0},
    {"duration", required_argument, 0, 0}, {"resolution", required_argument, 0, 0},
    {"fps", required_argument, 0, 0},     {"max-latency-ms", required_argument, 0, 0},
    {"max-vram-gb", required_argument, 0, 0}, {"json", required_argument, 0, 0},
    {"verbose", no_argument, 0, 0},       {"help", no_argument, 0, 'h'},
    CLI_JOB_LONG_OPTIONS,
    {0, 0, 0, 0}};

static int positive(const char *name, const char *arg, double *out) {
    char *end;
    *out = strtod(arg, &end);
    if (end == arg || *end || !(*out > 0)) {
        char msg[200];
        snprintf(msg, sizeof msg, "--%s '%s': expected a number > 0", name, arg);
        return cli_fail(msg);
    }
    return -1;
}

/* Returns -1 to go on, else the exit status. */
static int bench_option(bench_opts *b, const char *name, const char *arg) {
    double v;
    int rc = -1;
    if (!strcmp(name, "synthetic")) b->synthetic = 1;
    else if (!strcmp(name, "videos")) b->synthetic = 0, b->n_videos = -1; /* files follow */
    else if (!strcmp(name, "verbose")) b->verbose = 1;
    else if (!strcmp(name, "json")) b->json = arg;
    else if (!strcmp(name, "resolution")) snprintf(b->resolution, sizeof b->resolution, "%s", arg);
    else if (!strcmp(name, "duration")) rc = positive(name, arg, &b->job.duration_s);
    else if (!strcmp(name, "max-latency-ms")) rc = positive(name, arg, &b->max_latency_ms);
    else if (!strcmp(name, "max-vram-gb")) {
        rc = positive(name, arg, &b->max_vram_gb);
        b->job.max_vram_gb = b->max_vram_gb;
    }
    else if (!strcmp(name, "num-streams") || !strcmp(name, "fps")) {
        if ((rc = positive(name, arg, &v)) < 0) *(name[0] == 'n' ? &b->num_streams : &b->fps) = (int)v;
    } else if (!strcmp(name, "batch-size")) {
        rc = cli_job_option(&b->job, "batch-max", arg) < 0 ? 1 : -1;
    } else if (cli_job_option(&b->job, name, arg) < 0) {
        rc = 1;
    }
    return rc;
}

static int parse_bench(int argc, char **argv, bench_opts *b) {
    int c, idx;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", bench_longs, &idx)) != -1) {
        int r = -1;
        if (c == 'h') {
            bench_usage(stdout);
            return 0;
        }
        if (c != 0) {
            bench_usage(stderr);
            return 2;
        }
        if ((r = bench_option(b, bench_longs[idx].name, optarg)) >= 0) return r;
    }
    if (b->n_videos == -1) {
        b->videos = argv + optind;
        b->n_videos = argc - optind;
        if (b->n_videos == 0) return cli_fail("--videos: give at least one FILE");
    } else if (optind < argc) {
        return cli_fail("unexpected arguments (files go after --videos)");
    }
    return -1;
}

/* The N stream sources: synthetic URIs, or the videos in turn. */
static int make_sources(bench_opts *b, char ***uris_out) {
    char **uris = calloc((size_t)b->num_streams, sizeof *uris);
    if (!uris) return cli_fail("out of memory");
    for (int k = 0; k < b->num_streams; k++) {
        if (b->synthetic) {
            uris[k] = malloc(64);
            if (uris[k]) snprintf(uris[k], 64, "synthetic:%s@%d", b->resolution, b->fps);
        } else {
            uris[k] = strdup(b->videos[k % b->n_videos]);
        }
        if (!uris[k]) return cli_fail("out of memory");
    }
    *uris_out = uris;
    b->job.uris = uris;
    b->job.n_uris = b->num_streams;
    b->job.src.realtime = 1;
    b->job.src.loop = 1;
    return 0;
}

static int criterion(FILE *f, const char *what, double value, double limit, const char *unit) {
    int ok = value <= limit;
    fprintf(f, "  %-34s %10.1f %-3s (limit %.1f)  %s\n", what, value, unit, limit, ok ? "PASS" : "FAIL");
    return ok;
}

/* The table and the criteria; returns 1 when every criterion passes. */
static int print_table(const bench_opts *b, const cli_stream_outcome *o) {
    const ps_pipeline_stats *st = &o->stats;
    printf("posestream bench: %d streams of %s, backend %s (%s), input %dx%d, batches up to %d, "
           "%.1f s\n",
           b->num_streams, b->synthetic ? b->job.uris[0] : "video", o->backend, o->device,
           o->input_w, o->input_h, o->batch_max, (double)(st->now_ns - st->start_ns) / 1e9);
    printf("  %-34s %10d\n", "streams", st->n_streams);
    printf("  %-34s %10.1f frames/s\n", "throughput", ps_report_fps(st));
    printf("  %-34s %10.2f %%\n", "frame drops", ps_report_drop_pct(st));
    printf("  %-34s %10.2f / %.2f ms\n", "engine latency per batch avg / p99",
           ps_hist_mean(&st->engine) / 1e3, ps_hist_quantile(&st->engine, 0.99) / 1e3);
    printf("  %-34s %10.2f / %.2f ms\n", "end-to-end latency p50 / p99",
           ps_hist_quantile(&st->latency, 0.5) / 1e3, ps_hist_quantile(&st->latency, 0.99) / 1e3);
    int on_gpu = 0;
    size_t vram_streams = 0;
    for (int k = 0; k < st->n_streams; k++) {
        on_gpu += st->streams[k].gpu_decode;
        vram_streams += st->streams[k].vram_estimate;
    }
    if (st->decode.count)
        printf("  %-34s %10.2f / %.2f ms (%d of %d streams on the GPU)\n",
               "decode per frame avg / p99", ps_hist_mean(&st->decode) / 1e3,
               ps_hist_quantile(&st->decode, 0.99) / 1e3, on_gpu, st->n_streams);
    if (on_gpu)
        printf("  %-34s %10.1f MB (decoder surfaces + frames held, estimate)\n",
               "VRAM per GPU-decoded stream", vram_streams / 1048576.0 / on_gpu);
    if (o->gpu_util >= 0 || o->decoder_util >= 0)
        printf("  %-34s %10.0f / %.0f %%\n", "GPU / NVDEC utilisation (mean)", o->gpu_util,
               o->decoder_util);
    printf("  %-34s %10.0f %% of one core\n", "CPU use", o->cpu_pct);
    char vram[64] = "n/a (CPU backend)";
    if (o->extra.vram_mb >= 0) snprintf(vram, sizeof vram, "%.0f MB", o->extra.vram_mb);
    printf("  %-34s %10.0f MB RSS, VRAM %s\n", "peak memory", o->extra.peak_rss_mb, vram);
    printf("criteria:\n");
    int ok = criterion(stdout, "p99 end-to-end latency", ps_hist_quantile(&st->latency, 0.99) / 1e3,
                       b->max_latency_ms, "ms");
    if (o->extra.vram_mb >= 0)
        ok &= criterion(stdout, "peak VRAM", o->extra.vram_mb / 1024, b->max_vram_gb, "GB");
    else
        printf("  %-34s %10s     (limit %.1f GB)  not applicable (CPU backend)\n", "peak VRAM", "-",
               b->max_vram_gb);
    int failed = 0;
    for (int k = 0; k < st->n_streams; k++) failed += st->streams[k].state == PS_STREAM_FAILED;
    if (failed || st->engine_error[0]) {
        printf("  %-34s %10d               FAIL\n", "failed streams", failed);
        ok = 0;
    }
    return ok;
}

static int write_json(const bench_opts *b, const cli_stream_outcome *o, int pass) {
    FILE *f = fopen(b->json, "w");
    if (!f) {
        char msg[4200];
        snprintf(msg, sizeof msg, "%s: cannot write", b->json);
        return cli_fail(msg);
    }
    fprintf(f, "{\"config\":{\"num_streams\":%d,\"synthetic\":%s,\"resolution\":\"%s\",\"fps\":%d,"
               "\"batch_size\":%d,\"duration_s\":%.3f,\"input_w\":%d,\"input_h\":%d,"
               "\"backend\":\"%s\",\"device\":\"%s\",\"max_latency_ms\":%.3f,"
               "\"max_vram_gb\":%.3f},\"pass\":%s,\"report\":",
            b->num_streams, b->synthetic ? "true" : "false", b->resolution, b->fps, o->batch_max,
            b->job.duration_s, o->input_w, o->input_h, o->backend, o->device, b->max_latency_ms,
            b->max_vram_gb, pass ? "true" : "false");
    ps_report_json(f, &o->stats, &o->extra);
    fputs("}\n", f);
    return fclose(f) ? cli_fail("--json: write failed") : 0;
}

int cmd_bench(int argc, char **argv) {
    bench_opts b = {.synthetic = 1, .num_streams = 4, .fps = 30, .max_latency_ms = 100,
                    .max_vram_gb = 11};
    snprintf(b.resolution, sizeof b.resolution, "1920x1080");
    cli_job_defaults(&b.job);
    b.job.duration_s = 10;
    b.job.status = 0;
    int rc = parse_bench(argc, argv, &b);
    if (rc >= 0) return rc;
    char **uris = NULL;
    if ((rc = make_sources(&b, &uris))) return rc;
    cli_stream_outcome out;
    rc = cli_run_streams(&b.job, &out);
    if (!rc) {
        int pass = print_table(&b, &out);
        if (b.verbose) ps_report_summary(stdout, &out.stats, &out.extra);
        if (b.json) rc = write_json(&b, &out, pass);
        if (!pass) rc = 1;
        cli_stream_outcome_free(&out);
    }
    for (int k = 0; k < b.num_streams; k++) free(uris[k]);
    free(uris);
    return rc;
}
