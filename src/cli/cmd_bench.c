/* posestream bench: a load test of many streams through one engine, with a
 * table of the figures that matter and PASS/FAIL per success criterion;
 * and the decoders' ceiling for the same streams (--decode-only,
 * --ceiling). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench_groups.h"
#include "cli/bench_html.h"
#include "cli/churn.h"
#include "cli/cli.h"
#include "cli/stream_list.h"
#include "cli/stream_opts.h"

typedef struct {
    cli_stream_job job;
    int synthetic, num_streams, verbose, fps, decode_only, ceiling;
    char resolution[32];
    char **videos;
    int n_videos;
    double max_latency_ms, max_vram_gb, max_drop_pct, min_delivered_pct, warmup_s;
    const char *json;
    const char *html;
    const char *streams_file; /* --streams: the streams instead of N alike */
    ps_decode_ceiling ceil; /* measured when decode_only or ceiling */
    cli_churn churn;      /* --add, --remove */
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
            "  --streams FILE        the streams of a streams file instead (as in run:\n"
            "                        priority, max_latency_ms, max_fps, options), files\n"
            "                        among them played in real time and looped\n"
            "  --num-streams N       streams (default 4)\n"
            "  --batch-size B        frames per batch across streams (default 8; also\n"
            "                        --batch-max)\n"
            "  --duration S          seconds to run (default 10)\n"
            "  --resolution WxH      synthetic frame size (default 1920x1080)\n"
            "  --fps F               synthetic frame rate (default 30)\n"
            "  --warmup S            start-up window (default 2): every stream must have\n"
            "                        its first frame by then; delivery counts after it\n"
            "  --max-latency-ms MS   criterion: p99 end-to-end latency (default 100)\n"
            "  --max-drop-pct P      criterion: frames dropped, of those delivered\n"
            "                        (default 0.1)\n"
            "  --min-delivered-pct P criterion: after the start-up window every stream\n"
            "                        processes P%% of the frames its source delivered, and\n"
            "                        all together P%% of their nominal rate (default 99)\n"
            "  --max-vram-gb GB      criterion: peak GPU memory, and the budget streams\n"
            "                        are admitted against (default 11)\n"
            "  --add N               add N streams while it runs (copies of the lowest-\n"
            "                        priority streams in turn, with their settings), spread\n"
            "                        over the run after --warmup and before its last fifth\n"
            "  --remove N            remove N streams of the lowest priority (the last\n"
            "                        first) the same way; a criterion then is that the\n"
            "                        streams that stay lose no frame\n"
            "  --decode-only         only decode the streams (no network), as fast as\n"
            "                        the decoders go: this machine's ceiling\n"
            "  --ceiling             measure that ceiling first (8 s), then run, and put\n"
            "                        the stream count next to it\n"
            "  --json FILE           every figure, machine-readable\n"
            "  --html FILE           a report to look at: the criteria, throughput and\n"
            "                        GPU/decoder use over time, each stream's latency\n"
            "                        distribution (one page, inline SVG)\n"
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
    {"html", required_argument, 0, 0},
    {"verbose", no_argument, 0, 0},       {"help", no_argument, 0, 'h'},
    {"warmup", required_argument, 0, 0},  {"max-drop-pct", required_argument, 0, 0},
    {"min-delivered-pct", required_argument, 0, 0}, {"decode-only", no_argument, 0, 0},
    {"ceiling", no_argument, 0, 0},       {"batch-max", required_argument, 0, 0},
    {"streams", required_argument, 0, 0}, {"add", required_argument, 0, 0},
    {"remove", required_argument, 0, 0},
    CLI_JOB_LONG_OPTIONS,
    {0, 0, 0, 0}};

/* The largest value each numeric option takes: counts are bounded so that
 * a typo cannot eat the machine's memory (each stream holds a pool of
 * frames and a reader thread). */
static double option_max(const char *name) {
    static const struct { const char *name; double max; } limits[] = {
        {"num-streams", 4096}, {"add", 4096}, {"remove", 4096}, {"fps", 1000},
        {"max-drop-pct", 100}, {"min-delivered-pct", 100}, {"max-vram-gb", 10000}};
    for (size_t k = 0; k < sizeof limits / sizeof *limits; k++)
        if (!strcmp(name, limits[k].name)) return limits[k].max;
    return 1e7; /* seconds and milliseconds */
}

static int positive(const char *name, const char *arg, double *out) {
    return cli_parse_number(name, arg, 0, option_max(name), 0, out) ? 1 : -1;
}

/* Returns -1 to go on, else the exit status. */
static int bench_option(bench_opts *b, const char *name, const char *arg) {
    double v;
    int rc = -1;
    if (!strcmp(name, "synthetic")) b->synthetic = 1;
    else if (!strcmp(name, "videos")) b->synthetic = 0, b->n_videos = -1; /* files follow */
    else if (!strcmp(name, "verbose")) b->verbose = 1;
    else if (!strcmp(name, "decode-only")) b->decode_only = 1;
    else if (!strcmp(name, "streams")) b->streams_file = arg;
    else if (!strcmp(name, "ceiling")) b->ceiling = 1;
    else if (!strcmp(name, "warmup")) rc = positive(name, arg, &b->warmup_s);
    else if (!strcmp(name, "max-drop-pct")) rc = positive(name, arg, &b->max_drop_pct);
    else if (!strcmp(name, "min-delivered-pct")) rc = positive(name, arg, &b->min_delivered_pct);
    else if (!strcmp(name, "json")) b->json = arg;
    else if (!strcmp(name, "html")) b->html = arg, b->job.series = 1;
    else if (!strcmp(name, "resolution")) snprintf(b->resolution, sizeof b->resolution, "%s", arg);
    else if (!strcmp(name, "duration")) rc = positive(name, arg, &b->job.duration_s);
    else if (!strcmp(name, "max-latency-ms")) rc = positive(name, arg, &b->max_latency_ms);
    else if (!strcmp(name, "max-vram-gb")) {
        rc = positive(name, arg, &b->max_vram_gb);
        b->job.rt.max_vram_gb = b->max_vram_gb;
    }
    else if (!strcmp(name, "add") || !strcmp(name, "remove")) {
        if ((rc = positive(name, arg, &v)) < 0) *(name[0] == 'a' ? &b->churn.add : &b->churn.remove) = (int)v;
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
    b->job.argc = argc, b->job.argv = argv;
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

/* Delivery after the start-up window (see bench_usage). */
typedef struct {
    double worst_pct;     /* the stream that processed the least of its delivered frames */
    int worst;            /* its index, -1 none */
    double total_pct;     /* frames processed of all streams' nominal rate */
    double first_s;       /* the slowest stream's first frame after the start */
    int slowest;
} delivery;

static delivery measure_delivery(const cli_stream_outcome *o) {
    const ps_stats *end = &o->stats, *w = &o->snapshot;
    delivery d = {100.0, -1, 0, 0, -1};
    double window = (double)((o->stop_ns ? o->stop_ns : end->now_ns) - w->now_ns) / 1e9;
    double nominal = 0, done = 0;
    for (int k = 0; k < end->n_streams && k < w->n_streams; k++) {
        const ps_stream_stats *e = &end->streams[k], *s = &w->streams[k];
        if (e->state == PS_STREAM_REMOVED) continue; /* its window ended early */
        /* the frames delivered in the window and not lost (the rings are
         * drained at the end, so every one of them was processed) */
        double in = (double)(e->produced - s->produced);
        double lost = (double)(e->dropped - s->dropped + e->failed - s->failed + e->late - s->late +
                               e->skipped - s->skipped + e->cancelled - s->cancelled);
        double pct = in > 0 ? 100.0 * (in - lost) / in : 100.0; /* none in: first frame says */
        if (pct < d.worst_pct || d.worst < 0) d.worst_pct = pct, d.worst = k;
        nominal += e->fps * window;
        done += in - lost;
        /* a stream that never delivered counts as the whole run late; a
         * refused or failed one is counted by its own criterion */
        if (e->state == PS_STREAM_REFUSED || (e->state == PS_STREAM_FAILED && !e->first_ns))
            continue;
        double first = (double)((e->first_ns ? e->first_ns : end->now_ns) - end->start_ns) / 1e9;
        if (first > d.first_s || d.slowest < 0) d.first_s = first, d.slowest = k;
    }
    d.total_pct = nominal > 0 ? 100.0 * done / nominal : 0;
    return d;
}

/* Failed and refused streams, each named; returns how many. */
static int print_failed(const ps_stats *st) {
    int n = 0;
    for (int k = 0; k < st->n_streams; k++) {
        const ps_stream_stats *s = &st->streams[k];
        if (s->state != PS_STREAM_FAILED && s->state != PS_STREAM_REFUSED) continue;
        if (n++ < 10)
            printf("    stream %d (%s) %s: %s\n", s->id, s->name,
                   s->state == PS_STREAM_FAILED ? "FAILED" : "REFUSED", s->error);
    }
    if (n > 10) printf("    ... and %d more\n", n - 10);
    return n;
}

/* PASS/FAIL per criterion; returns 1 when every one passes. */
static int print_criteria(const bench_opts *b, const cli_stream_outcome *o) {
    const ps_stats *st = &o->stats;
    delivery d = measure_delivery(o);
    double p99 = st->latency.p99_ms, drops = ps_stats_drop_pct(st);
    printf("criteria:\n");
    int ok = bench_criterion("p99 end-to-end latency", p99, "ms", b->max_latency_ms, 0);
    ok &= bench_criterion("frames dropped", drops, "%", b->max_drop_pct, 0);
    char what[96];
    snprintf(what, sizeof what, "first frame of every stream (slowest)");
    ok &= bench_criterion(what, d.first_s, "s", b->warmup_s, 0);
    snprintf(what, sizeof what, "delivered after %.0f s, worst stream", b->warmup_s);
    ok &= bench_criterion(what, d.worst_pct, "%", b->min_delivered_pct, 1);
    ok &= bench_criterion("delivered after it, of nominal", d.total_pct, "%", b->min_delivered_pct, 1);
    char bound[32], value[32];
    snprintf(bound, sizeof bound, "max %.2f", b->max_vram_gb);
    if (st->vram_peak_mb >= 0)
        ok &= bench_criterion("peak VRAM", st->vram_peak_mb / 1024, "GB", b->max_vram_gb, 0);
    else
        bench_verdict_line("peak VRAM", "-", "", bound, "not applicable (CPU backend)");
    int fails = (int)st->engine_failures + st->engine_fatal;
    snprintf(value, sizeof value, "%llu", (unsigned long long)st->engine_failures);
    bench_verdict_line("engine failures", value, "batches", "max 0", fails ? "FAIL" : "PASS");
    if (fails) printf("    %s%s\n", st->engine_fatal ? "could not go on: " : "last: ", st->engine_error);
    int bad = 0;
    for (int k = 0; k < st->n_streams; k++)
        bad += st->streams[k].state == PS_STREAM_FAILED || st->streams[k].state == PS_STREAM_REFUSED;
    snprintf(value, sizeof value, "%d", bad);
    bench_verdict_line("failed or refused streams", value, "", "max 0", bad ? "FAIL" : "PASS");
    print_failed(st);
    ok &= bench_live_criteria(st, &o->snapshot, b->warmup_s, b->churn.add || b->churn.remove);
    return ok && !fails && !bad;
}

/* Device memory by owner: the engine, the frames prepared on arrival, and
 * the rest of the process (CUDA context and decoders), per GPU stream. */
static void print_vram(const cli_stream_outcome *o, int on_gpu) {
    const ps_stats *st = &o->stats;
    if (st->vram_peak_mb < 0) return;
    double engine = st->engine_mb - st->prepared_mb, base = st->vram_base_mb;
    double rest = st->vram_peak_mb - base - st->prepared_mb;
    printf("  %-34s %10.0f MB = %.0f before the streams (CUDA context, engine %.0f) + frame "
           "inputs %.0f + decoders %.0f\n", "peak VRAM by owner", st->vram_peak_mb, base, engine,
           st->prepared_mb, rest);
    if (on_gpu)
        printf("  %-34s %10.1f MB (decoder %.1f + frame inputs %.1f + engine share %.1f)\n",
               "VRAM per GPU-decoded stream", (st->vram_peak_mb - base + engine) / on_gpu,
               rest / on_gpu, st->prepared_mb / on_gpu, engine / on_gpu);
}

static void print_ceiling(const bench_opts *b, const ps_decode_ceiling *c) {
    printf("  %-34s %10.1f frames/s (%d streams, %d on the GPU, each %.1f to %.1f; %.1f s; "
           "slowest first frame %.2f s)\n", "decode-only ceiling", c->fps_total, c->streams,
           c->on_gpu, c->fps_min, c->fps_max, c->seconds, c->first_max_s);
    if (c->fps_nominal > 0)
        printf("  %-34s %10.1f streams at %.0f fps; this run asks %d = %.0f%% of it\n",
               "= the decoders' limit", c->fps_total / c->fps_nominal, c->fps_nominal,
               b->num_streams, 100.0 * b->num_streams * c->fps_nominal / c->fps_total);
}

/* The table and the criteria; returns 1 when every criterion passes. */
static int print_table(const bench_opts *b, const cli_stream_outcome *o) {
    const ps_stats *st = &o->stats;
    printf("posestream bench: %d streams of %s, backend %s (%s), input %dx%d, batches up to %d, "
           "%.1f s\n",
           b->num_streams, b->synthetic ? b->job.uris[0] : "video", st->backend, st->device,
           st->input_w, st->input_h, st->batch_max, (double)(st->now_ns - st->start_ns) / 1e9);
    printf("  %-34s %10d\n", "streams", st->n_streams);
    printf("  %-34s %10.1f frames/s\n", "throughput", ps_stats_fps(st));
    printf("  %-34s %10.2f %%\n", "frame drops", ps_stats_drop_pct(st));
    printf("  %-34s %10.2f / %.2f ms\n", "engine latency per batch avg / p99",
           st->engine.mean_ms, st->engine.p99_ms);
    printf("  %-34s %10.2f / %.2f ms\n", "end-to-end latency p50 / p99",
           st->latency.p50_ms, st->latency.p99_ms);
    int on_gpu = 0;
    for (int k = 0; k < st->n_streams; k++) on_gpu += st->streams[k].gpu_decode;
    if (st->decode.count)
        printf("  %-34s %10.2f / %.2f ms (%d of %d streams on the GPU)\n",
               "decode per frame avg / p99", st->decode.mean_ms, st->decode.p99_ms, on_gpu,
               st->n_streams);
    if (o->gpu_util >= 0 || o->decoder_util >= 0)
        printf("  %-34s %10.0f / %.0f %%\n", "GPU / NVDEC utilisation (mean)", o->gpu_util,
               o->decoder_util);
    printf("  %-34s %10.0f %% of one core (%.3f cores per stream)\n", "CPU use", o->cpu_pct,
           o->cpu_pct / 100.0 / (st->n_streams ? st->n_streams : 1));
    char vram[64] = "n/a (CPU backend)";
    if (st->vram_peak_mb >= 0) snprintf(vram, sizeof vram, "%.0f MB", st->vram_peak_mb);
    printf("  %-34s %10.0f MB RSS, VRAM %s\n", "peak memory", st->peak_rss_mb, vram);
    print_vram(o, on_gpu);
    bench_print_priorities(st);
    if (b->ceiling) print_ceiling(b, &b->ceil);
    return print_criteria(b, o);
}

static void json_ceiling(ps_json *w, const ps_decode_ceiling *c) {
    ps_json_key(w, "ceiling");
    ps_json_object(w);
    ps_json_key_int(w, "streams", c->streams);
    ps_json_key_int(w, "on_gpu", c->on_gpu);
    ps_json_key_number(w, "fps_total", c->fps_total, 3);
    ps_json_key_number(w, "fps_min", c->fps_min, 3);
    ps_json_key_number(w, "fps_max", c->fps_max, 3);
    ps_json_key_number(w, "fps_nominal", c->fps_nominal, 3);
    ps_json_key_number(w, "seconds", c->seconds, 3);
    ps_json_key_number(w, "first_max_s", c->first_max_s, 3);
    ps_json_object_end(w);
}

static void json_config(ps_json *w, const bench_opts *b, const ps_stats *st) {
    ps_json_key(w, "config");
    ps_json_object(w);
    ps_json_key_int(w, "num_streams", b->num_streams);
    ps_json_key_bool(w, "synthetic", b->synthetic);
    ps_json_key_string(w, "resolution", b->resolution);
    ps_json_key_int(w, "fps", b->fps);
    ps_json_key_int(w, "batch_size", st->batch_max);
    ps_json_key_number(w, "duration_s", b->job.duration_s, 3);
    ps_json_key_int(w, "input_w", st->input_w);
    ps_json_key_int(w, "input_h", st->input_h);
    ps_json_key_string(w, "backend", st->backend);
    ps_json_key_string(w, "device", st->device);
    ps_json_key_number(w, "max_latency_ms", b->max_latency_ms, 3);
    ps_json_key_number(w, "max_vram_gb", b->max_vram_gb, 3);
    ps_json_key_number(w, "max_drop_pct", b->max_drop_pct, 3);
    ps_json_key_number(w, "min_delivered_pct", b->min_delivered_pct, 3);
    ps_json_key_number(w, "warmup_s", b->warmup_s, 3);
    ps_json_object_end(w);
}

static void json_delivery(ps_json *w, const cli_stream_outcome *o) {
    delivery d = measure_delivery(o);
    ps_json_key(w, "delivery");
    ps_json_object(w);
    ps_json_key_number(w, "worst_stream_pct", d.worst_pct, 3);
    ps_json_key_number(w, "total_of_nominal_pct", d.total_pct, 3);
    ps_json_key_number(w, "slowest_first_frame_s", d.first_s, 3);
    ps_json_object_end(w);
}

static int html_failed(const char *path) {
    char msg[4300];
    snprintf(msg, sizeof msg, "--html %s: cannot write: %s", path, strerror(errno));
    return cli_fail(msg);
}

/* Opens --json's file; NULL after printing why. */
static FILE *open_json(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        char msg[4300];
        snprintf(msg, sizeof msg, "--json %s: cannot write: %s", path, strerror(errno));
        cli_fail(msg);
    }
    return f;
}

static int close_json(FILE *f) {
    int bad = ferror(f);
    return (fclose(f) || bad) ? cli_fail("--json: write failed") : 0;
}

static int write_json(const bench_opts *b, const cli_stream_outcome *o, int pass) {
    FILE *f = open_json(b->json);
    if (!f) return 1;
    ps_json w;
    ps_json_init(&w, f);
    ps_json_object(&w);
    json_config(&w, b, &o->stats);
    ps_json_key_bool(&w, "pass", pass);
    json_delivery(&w, o);
    ps_json_key_number(&w, "cpu_pct", o->cpu_pct, 1);
    ps_json_key_number(&w, "prepared_mb", o->stats.prepared_mb, 1);
    if (b->ceiling) json_ceiling(&w, &b->ceil);
    ps_json_key(&w, "report");
    ps_stats_json(&w, &o->stats);
    ps_json_object_end(&w);
    fputc('\n', f);
    return close_json(f);
}

/* The decoders' ceiling for the job's streams; 0, or 1 after printing why. */
static int measure_ceiling(bench_opts *b, double warm_s, double seconds) {
    ps_err err;
    if (!ps_decode_measure((const char *const *)b->job.uris, b->num_streams, b->job.rt.decode,
                           warm_s, seconds, &b->ceil, &err))
        return 0;
    return cli_fail(err.msg);
}

/* --decode-only: the ceiling alone, as a table (and --json). */
static int bench_decode_only(bench_opts *b) {
    if (b->synthetic) return cli_fail("--decode-only needs --videos");
    double warm = b->warmup_s, secs = b->job.duration_s > warm ? b->job.duration_s - warm : 1;
    if (measure_ceiling(b, warm, secs)) return 1;
    b->ceiling = 1;
    printf("posestream bench --decode-only: %d streams, decoding only, after %.1f s\n",
           b->num_streams, warm);
    print_ceiling(b, &b->ceil);
    if (b->ceil.error[0]) printf("  a stream failed: %s\n", b->ceil.error);
    if (!b->json) return 0;
    FILE *f = open_json(b->json);
    if (!f) return 1;
    ps_json w;
    ps_json_init(&w, f);
    ps_json_object(&w);
    json_ceiling(&w, &b->ceil);
    ps_json_object_end(&w);
    fputc('\n', f);
    return close_json(f);
}

/* --streams: the file's streams replace the N alike. Returns 0 or 1 (the
 * error printed). */
static int use_streams_file(bench_opts *b, cli_stream_list *list) {
    if (cli_stream_list_make(b->streams_file, NULL, 0, list)) return 1;
    cli_stream_list_use(list, &b->job);
    b->num_streams = list->n;
    b->synthetic = 0;
    return 0;
}

int cmd_bench(int argc, char **argv) {
    bench_opts b = {.synthetic = 1, .num_streams = 4, .fps = 30, .max_latency_ms = 100,
                    .max_vram_gb = 11, .max_drop_pct = 0.1, .min_delivered_pct = 99,
                    .warmup_s = 2};
    snprintf(b.resolution, sizeof b.resolution, "1920x1080");
    cli_job_defaults(&b.job);
    b.job.duration_s = 10;
    b.job.status = 0;
    int rc = parse_bench(argc, argv, &b);
    if (rc >= 0) return rc;
    char **uris = NULL;
    int n_made = b.num_streams;
    if ((rc = make_sources(&b, &uris))) return rc;
    cli_stream_list list = {0};
    if (b.streams_file) rc = use_streams_file(&b, &list);
    if (!rc && b.warmup_s >= b.job.duration_s) rc = cli_fail("--warmup must be shorter than --duration");
    else if (!rc && b.decode_only) rc = bench_decode_only(&b);
    else if (!rc && b.ceiling && !b.synthetic)
        rc = measure_ceiling(&b, 2, 6);
    else b.ceiling = 0;
    if (!rc && b.decode_only && (b.churn.add || b.churn.remove))
        rc = cli_fail("--add and --remove need the network (not --decode-only)");
    if (!rc && (b.churn.add || b.churn.remove)) {
        b.churn.from_s = b.warmup_s;
        b.churn.to_s = b.warmup_s + (b.job.duration_s - b.warmup_s) * 0.8;
        b.job.churn = &b.churn;
        rc = cli_churn_plan(&b.churn, &b.job);
    }
    if (!rc && !b.decode_only) {
        cli_stream_outcome out;
        b.job.snapshot_s = b.warmup_s;
        rc = cli_run_streams(&b.job, &out);
        if (!rc) {
            int pass = print_table(&b, &out);
            if (b.verbose) ps_stats_print_summary(stdout, &out.stats);
            if (b.json) rc = write_json(&b, &out, pass);
            if (b.html && bench_html_write(b.html, &out)) rc = html_failed(b.html);
            if (!pass || out.churn_failed) rc = 1;
            cli_stream_outcome_free(&out);
        }
    }
    for (int k = 0; k < n_made; k++) free(uris[k]);
    free(uris);
    cli_stream_list_free(&list);
    cli_churn_free(&b.churn);
    return rc;
}
