/* The multi-stream job behind `run` and `bench` (see streams.h): options
 * into a ps_runtime, which does the set-up; here only what a command-line
 * run adds: signals, the live status, --duration, the churn of bench. */
#include "cli/streams.h"

#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/churn.h"
#include "cli/cli.h"

/* Signals received (SIGINT, SIGTERM) and the last one. */
static volatile sig_atomic_t interrupted, last_signal;

static void on_signal(int sig) {
    interrupted = interrupted + 1;
    last_signal = sig;
}

int64_t cli_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The name of stream k as the runtime shows it (derived from its uri when
 * it was given none). */
static void name_of(const cli_stream_job *job, ps_runtime *rt, int k, char *out, size_t cap) {
    ps_stream_stats st;
    ps_err err;
    out[0] = '\0';
    if (job->names && job->names[k]) snprintf(out, cap, "%s", job->names[k]);
    else if (!ps_runtime_stream_stats(rt, k, &st, NULL, &err)) snprintf(out, cap, "%s", st.name);
}

int cli_add_stream(const cli_stream_job *job, ps_runtime *rt, int k, const char *suffix) {
    ps_err err;
    char name[160], opts[4096];
    ps_stream_params sp = job->src;
    sp.uri = job->uris[k];
    sp.name = job->names ? job->names[k] : NULL;
    if (suffix) {
        name_of(job, rt, k, name, sizeof name - 32);
        snprintf(name + strlen(name), sizeof name - strlen(name), "%s", suffix);
        sp.name = name;
    }
    const ps_stream_params *own = job->specs ? &job->specs[k] : NULL;
    if (own) {
        sp.priority = own->priority;
        sp.max_latency_ms = own->max_latency_ms;
        sp.max_fps = own->max_fps;
    }
    if (own && own->options && sp.options) {
        snprintf(opts, sizeof opts, "%s,%s", sp.options, own->options);
        sp.options = opts;
    } else if (own && own->options) {
        sp.options = own->options;
    }
    if (ps_runtime_add_stream(rt, &sp, NULL, &err)) return cli_fail(err.msg);
    return 0;
}

/* Running means of the GPU's and its decoders' utilisation (NVML). */
typedef struct {
    double gpu, dec;
    int n_gpu, n_dec;
    int64_t last;
} util_sampler;

static void sample_util(util_sampler *u, ps_runtime *rt, int64_t now) {
    if (now - u->last < 500000000) return;
    u->last = now;
    int32_t gpu, dec;
    ps_runtime_utilization(rt, &gpu, &dec);
    if (gpu >= 0) u->gpu += gpu, u->n_gpu++;
    if (dec >= 0) u->dec += dec, u->n_dec++;
}

/* A second signal: the summary as it stands, and out at once (threads
 * still running; every result written so far is a whole line). */
static void exit_now(ps_runtime *rt) {
    ps_stats st;
    ps_err err;
    if (!ps_runtime_stats(rt, &st, &err)) {
        st.vram_peak_mb = -1; /* not asked of the device mid-run */
        ps_stats_print_summary(stderr, &st);
    }
    fprintf(stderr, "posestream: a second %s: exiting at once\n",
            last_signal == SIGTERM ? "SIGTERM" : "SIGINT");
    fflush(stderr);
    _exit(128 + last_signal);
}

/* The first write error of the results, said once; the run stops unless
 * --on-output-error continue. Returns 1 to stop. */
static int output_failed(const cli_stream_job *job, ps_runtime *rt, cli_stream_outcome *out) {
    ps_err err;
    if (out->output_failed || !ps_runtime_output_failed(rt, &err)) return 0;
    out->output_failed = 1;
    fprintf(stderr, "posestream: error: %s; %s\n", err.msg, job->output_errors_continue
            ? "going on without the results (--on-output-error continue)"
            : "stopping (--on-output-error continue would go on without them)");
    return !job->output_errors_continue;
}

/* Stops the run when due: a signal or an output failure stops it now (what
 * is buffered is cancelled), the end of --duration or a failed --add lets
 * what was read finish. Returns 1 once stopping. */
static int check_stop(const cli_stream_job *job, ps_runtime *rt, cli_stream_outcome *out,
                      int64_t now, int64_t start) {
    int at_once = interrupted || output_failed(job, rt, out);
    int ended = out->churn_failed ||
                (job->duration_s > 0 && now - start >= (int64_t)(job->duration_s * 1e9));
    if (!at_once && !ended) return 0;
    out->stop_ns = now;
    out->stop_signal = interrupted ? last_signal : 0;
    if (at_once) ps_runtime_cancel(rt);
    else ps_runtime_stop(rt);
    return 1;
}

/* The live status block, every half second. */
typedef struct {
    ps_stats prev;
    int drawn;
    int64_t last;
} status_lines;

static void draw_status(status_lines *s, ps_runtime *rt, int64_t now) {
    ps_stats cur;
    ps_err err;
    if (now - s->last < 500000000 || ps_runtime_stats(rt, &cur, &err)) return;
    ps_stats_print_status(stderr, &cur, s->drawn ? &s->prev : NULL, s->drawn);
    ps_stats_free(&s->prev);
    s->prev = cur;
    s->drawn = 1;
    s->last = now;
}

/* Once a second (job->series): throughput since the last sample, and the
 * GPU's and decoders' use. */
typedef struct {
    int64_t last;
    uint64_t processed;
} series_state;

static uint64_t processed_total(const ps_stats *st) {
    uint64_t n = 0;
    for (int k = 0; k < st->n_streams; k++) n += st->streams[k].processed;
    return n;
}

static void sample_series(series_state *s, ps_runtime *rt, cli_stream_outcome *out, int64_t now,
                          int64_t start) {
    ps_stats st;
    ps_err err;
    if (now - s->last < 1000000000 || ps_runtime_stats(rt, &st, &err)) return;
    cli_sample *grown = realloc(out->samples, sizeof *grown * (size_t)(out->n_samples + 1));
    if (grown) {
        uint64_t n = processed_total(&st);
        int32_t gpu, dec;
        ps_runtime_utilization(rt, &gpu, &dec);
        double dt = s->last ? (double)(now - s->last) / 1e9 : (double)(now - start) / 1e9;
        grown[out->n_samples++] = (cli_sample){(double)(now - start) / 1e9,
                                               (double)(n - s->processed) / dt, gpu, dec};
        out->samples = grown;
        s->processed = n;
    }
    s->last = now;
    ps_stats_free(&st);
}

/* Polls until the run ends, the duration passes, a signal or an output
 * failure; draws the status lines and adds and removes streams
 * (job->churn) meanwhile. */
static void watch(const cli_stream_job *job, ps_runtime *rt, cli_stream_outcome *out) {
    int64_t start = cli_now_ns();
    int stopping = 0;
    status_lines lines = {0};
    util_sampler util = {0};
    series_state series = {0};
    ps_err err;
    while (!ps_runtime_wait(rt, job->churn ? 20 : 100)) {
        int64_t now = cli_now_ns();
        sample_util(&util, rt, now);
        if (job->series) sample_series(&series, rt, out, now, start);
        if (job->churn && !stopping && cli_churn_step(job->churn, job, rt, (now - start) / 1e9))
            out->churn_failed = 1; /* the error is printed */
        if (!stopping) stopping = check_stop(job, rt, out, now, start);
        else if (!out->stop_signal && interrupted) check_stop(job, rt, out, now, start);
        if (interrupted > 1) exit_now(rt);
        if (job->snapshot_s > 0 && !out->snapshot.streams &&
            now - start >= (int64_t)(job->snapshot_s * 1e9))
            ps_runtime_stats(rt, &out->snapshot, &err);
        if (job->status) draw_status(&lines, rt, now);
    }
    if (interrupted > 1) exit_now(rt); /* the second came as the run ended */
    ps_stats_free(&lines.prev);
    out->gpu_util = util.n_gpu ? util.gpu / util.n_gpu : -1;
    out->decoder_util = util.n_dec ? util.dec / util.n_dec : -1;
}

/* Process CPU time (user + system) in seconds. */
static double cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

/* Signals are caught from the start (one while sources open or the model
 * loads still ends with the summary); a reader that goes away is a write
 * error (EPIPE), not the end. */
void cli_signals_catch(cli_signals *s) {
    interrupted = last_signal = 0;
    struct sigaction sa = {.sa_handler = on_signal}, ign = {.sa_handler = SIG_IGN};
    sigaction(SIGINT, &sa, &s->old_int);
    sigaction(SIGTERM, &sa, &s->old_term);
    sigaction(SIGPIPE, &ign, &s->old_pipe);
}

void cli_signals_restore(const cli_signals *s) {
    sigaction(SIGINT, &s->old_int, NULL);
    sigaction(SIGTERM, &s->old_term, NULL);
    sigaction(SIGPIPE, &s->old_pipe, NULL);
}

int cli_signals_received(int *last) {
    if (last) *last = last_signal;
    return interrupted;
}

/* The runtime with the job's streams, started. */
static ps_runtime *start_runtime(const cli_stream_job *job) {
    ps_err err;
    ps_runtime_params p = job->rt;
    p.keep_running = job->churn != NULL;
    ps_runtime *rt = ps_runtime_create(&p, &err);
    if (!rt) return cli_fail(err.msg), NULL;
    for (int k = 0; k < job->n_uris; k++)
        if (cli_add_stream(job, rt, k, NULL)) return ps_runtime_free(rt), NULL;
    if (ps_runtime_start(rt, &err)) {
        cli_fail(err.msg);
        ps_runtime_free(rt);
        return NULL;
    }
    return rt;
}

/* Each stream's latency distribution at CLI_LATENCY_BOUNDS bounds. */
static void latency_counts(ps_runtime *rt, cli_stream_outcome *out) {
    for (int i = 0; i < CLI_LATENCY_BOUNDS; i++) out->bounds_ms[i] = 0.5 * pow(10, i / 8.0);
    int n = out->stats.n_streams;
    out->latency_counts = calloc((size_t)(n ? n : 1), sizeof(uint64_t) * CLI_LATENCY_BOUNDS);
    ps_err err;
    for (int k = 0; out->latency_counts && k < n; k++)
        ps_runtime_latency_counts(rt, out->stats.streams[k].id, out->bounds_ms,
                                  CLI_LATENCY_BOUNDS, out->latency_counts + k * CLI_LATENCY_BOUNDS,
                                  &err);
}

int cli_run_streams(const cli_stream_job *job, cli_stream_outcome *out) {
    memset(out, 0, sizeof *out);
    cli_signals saved;
    cli_signals_catch(&saved);
    ps_runtime *rt = start_runtime(job);
    if (!rt) {
        cli_signals_restore(&saved);
        return 1;
    }
    double cpu0 = cpu_seconds();
    int64_t wall0 = cli_now_ns();
    watch(job, rt, out);
    out->cpu_pct = 100.0 * (cpu_seconds() - cpu0) / ((double)(cli_now_ns() - wall0) / 1e9);
    cli_signals_restore(&saved);
    ps_err err;
    if (ps_runtime_close(rt, &err)) {
        out->output_failed = 1;
        snprintf(out->output_error, sizeof out->output_error, "%s", err.msg);
    }
    int rc = ps_runtime_stats(rt, &out->stats, &err) ? cli_fail(err.msg) : 0;
    if (!rc && job->series) latency_counts(rt, out);
    ps_runtime_free(rt);
    return rc;
}

void cli_stream_outcome_free(cli_stream_outcome *out) {
    ps_stats_free(&out->stats);
    ps_stats_free(&out->snapshot);
    free(out->samples);
    free(out->latency_counts);
}
