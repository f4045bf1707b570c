/* The multi-stream job behind `run` and `bench` (see streams.h). */
#include "cli/streams.h"

#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/churn.h"
#include "cli/cli.h"
#include "cli/stream_opts.h"
#include "engine/engine.h"
#include "model/model.h"
#include "sink/results.h"
#include "util/clock.h"

/* Signals received (SIGINT, SIGTERM) and the last one. */
static volatile sig_atomic_t interrupted, last_signal;

static void on_signal(int sig) {
    interrupted = interrupted + 1;
    last_signal = sig;
}

/* How long the start waits for sources to open before choosing the input
 * size from those that have (not at all with --input-size): one that never
 * answers must not hold up the others (it goes on opening in its own
 * thread, and joins when it opens). */
#define OPEN_WAIT_MS 1000

/* Everything the job holds, released in one place. */
typedef struct {
    ps_model *model;
    ps_engine *engine;
    ps_detector det;
    int have_det;
    ps_pipeline *pipe;
    ps_results *results;
} job_parts;

static void parts_free(job_parts *j) {
    ps_pipeline_free(j->pipe);
    if (j->have_det) ps_engine_detector_free(&j->det);
    ps_engine_free(j->engine);
    ps_model_free(j->model);
}

int cli_add_stream(const cli_stream_job *job, ps_pipeline *pipe, int k, const char *suffix) {
    ps_err err;
    char name[128], opts[4096];
    ps_stream_settings set = job->specs ? job->specs[k].settings : (ps_stream_settings){0};
    if (set.max_latency_ms == 0) set.max_latency_ms = job->default_latency_ms;
    if (job->names && job->names[k]) snprintf(name, sizeof name, "%s", job->names[k]);
    else cli_uri_name(job->uris[k], name, sizeof name);
    if (suffix) snprintf(name + strlen(name), sizeof name - strlen(name), "%s", suffix);
    set.name = name;
    ps_source_opts so = job->src;
    const char *own = job->specs ? job->specs[k].av_options : NULL;
    if (own && so.av_options) {
        snprintf(opts, sizeof opts, "%s,%s", so.av_options, own);
        so.av_options = opts;
    } else if (own) {
        so.av_options = own;
    }
    if (ps_pipeline_add_stream(pipe, job->uris[k], &set, &so, NULL, &err)) return cli_fail(err.msg);
    return 0;
}

static int add_streams(const cli_stream_job *job, job_parts *j) {
    ps_err err;
    ps_pipeline_opts po = {.batch_max = job->batch_max, .batch_timeout_ms = job->batch_timeout_ms,
                           .ring_size = job->ring_size, .keep_running = job->churn != NULL,
                           .max_vram = (size_t)(job->max_vram_gb * 1073741824.0),
                           .max_host = (size_t)(job->max_host_gb * 1073741824.0)};
    if (j->results) {
        po.on_result = ps_results_write;
        po.result_ctx = j->results;
    }
    j->pipe = ps_pipeline_create(&po, &err);
    if (!j->pipe) return cli_fail(err.msg);
    for (int k = 0; k < job->n_uris; k++)
        if (cli_add_stream(job, j->pipe, k, NULL)) return 1;
    return 0;
}

static int build_engine(const cli_stream_job *job, job_parts *j, cli_stream_outcome *out) {
    ps_err err;
    ps_engine_opts eo = job->eng;
    if (!eo.input_w || !eo.input_h) {
        for (int t = 0; t < OPEN_WAIT_MS / 50 && !interrupted; t++)
            if (ps_pipeline_wait_opened(j->pipe, 50)) break;
        ps_pipeline_suggest_input(j->pipe, &eo.input_w, &eo.input_h);
    }
    eo.max_batch = job->batch_max;
    /* GPU decoding shares the engine's CUDA context, which FFmpeg must
     * set up first; without a GPU this fails quietly and decoding stays on
     * the CPU, unless --decode gpu asked for it: then the run cannot start */
    ps_err gpu_err = {0};
    ps_status gpu = PS_ERR_UNSUPPORTED;
    if (eo.backend != PS_BACKEND_CPU && job->src.decode != PS_DECODE_CPU)
        gpu = ps_source_gpu_prepare(&gpu_err);
    if (job->src.decode == PS_DECODE_GPU && gpu) {
        char msg[PS_ERR_LEN + 64];
        snprintf(msg, sizeof msg, "--decode gpu: %s", eo.backend == PS_BACKEND_CPU
                 ? "needs the CUDA backend (not --backend cpu)" : gpu_err.msg);
        return cli_fail(msg);
    }
    j->model = cli_load_model(job->model, job->verify, &err);
    if (j->model) j->engine = ps_engine_create(j->model, &eo, &err);
    if (!j->engine) return cli_fail(err.msg);
    if (job->src.decode == PS_DECODE_GPU && strcmp(ps_engine_backend(j->engine), "cuda"))
        return cli_fail("--decode gpu: the engine runs on the CPU (no usable GPU)");
    if (ps_engine_note(j->engine)[0]) fprintf(stderr, "posestream: %s\n", ps_engine_note(j->engine));
    if (ps_engine_detector(j->engine, job->min_score, &j->det, &err)) return cli_fail(err.msg);
    j->have_det = 1;
    out->input_w = eo.input_w;
    out->input_h = eo.input_h;
    out->batch_max = eo.max_batch;
    return 0;
}

/* Running means of the GPU's and its decoders' utilisation (NVML). */
typedef struct {
    double gpu, dec;
    int n_gpu, n_dec;
    int64_t last;
} util_sampler;

static void sample_util(util_sampler *u, ps_engine *e, int64_t now) {
    if (now - u->last < 500000000) return;
    u->last = now;
    int gpu, dec;
    ps_engine_utilization(e, &gpu, &dec);
    if (gpu >= 0) u->gpu += gpu, u->n_gpu++;
    if (dec >= 0) u->dec += dec, u->n_dec++;
}

/* A second signal: the summary as it stands, and out at once (threads
 * still running; every result written so far is a whole line). */
static void exit_now(job_parts *j) {
    ps_pipeline_stats st;
    ps_err err;
    ps_report_extra x = {.vram_mb = -1, .peak_rss_mb = ps_report_peak_rss_mb()};
    if (!ps_pipeline_stats_get(j->pipe, &st, &err)) ps_report_summary(stderr, &st, &x);
    fprintf(stderr, "posestream: a second %s: exiting at once\n",
            last_signal == SIGTERM ? "SIGTERM" : "SIGINT");
    fflush(stderr);
    _exit(128 + last_signal);
}

/* The first write error of the results, said once; the run stops unless
 * --on-output-error continue. Returns 1 to stop. */
static int output_failed(const cli_stream_job *job, job_parts *j, cli_stream_outcome *out) {
    ps_err err;
    if (out->output_failed || !ps_results_failed(j->results, &err)) return 0;
    out->output_failed = 1;
    fprintf(stderr, "posestream: error: %s; %s\n", err.msg, job->output_errors_continue
            ? "going on without the results (--on-output-error continue)"
            : "stopping (--on-output-error continue would go on without them)");
    return !job->output_errors_continue;
}

/* Stops the run when due (p->mu not held): a signal or an output failure
 * stops it now (what is buffered is cancelled), the end of --duration or a
 * failed --add lets what was read finish. Returns 1 once stopping. */
static int check_stop(const cli_stream_job *job, job_parts *j, cli_stream_outcome *out,
                      int64_t now, int64_t start) {
    int at_once = interrupted || output_failed(job, j, out);
    int ended = out->churn_failed ||
                (job->duration_s > 0 && now - start >= (int64_t)(job->duration_s * 1e9));
    if (!at_once && !ended) return 0;
    out->stop_ns = now;
    out->stop_signal = interrupted ? last_signal : 0;
    if (at_once) ps_pipeline_cancel(j->pipe);
    else ps_pipeline_stop(j->pipe);
    return 1;
}

/* Polls until the pipeline ends, the duration passes, a signal or an
 * output failure; draws the status lines and adds and removes streams
 * (job->churn) meanwhile. */
static void watch(const cli_stream_job *job, job_parts *j, cli_stream_outcome *out) {
    int64_t start = ps_now_ns(), last_draw = 0;
    int drawn = 0, stopping = 0;
    ps_pipeline_stats prev = {0};
    util_sampler util = {0};
    ps_err err;
    while (!ps_pipeline_wait(j->pipe, job->churn ? 20 : 100)) {
        int64_t now = ps_now_ns();
        sample_util(&util, j->engine, now);
        if (job->churn && !stopping && cli_churn_step(job->churn, job, j->pipe, (now - start) / 1e9))
            out->churn_failed = 1; /* the error is printed */
        if (!stopping) stopping = check_stop(job, j, out, now, start);
        else if (!out->stop_signal && interrupted) check_stop(job, j, out, now, start);
        if (interrupted > 1) exit_now(j);
        if (job->snapshot_s > 0 && !out->snapshot.streams &&
            now - start >= (int64_t)(job->snapshot_s * 1e9))
            ps_pipeline_stats_get(j->pipe, &out->snapshot, &err);
        if (!job->status || now - last_draw < 500000000) continue;
        ps_pipeline_stats cur;
        if (ps_pipeline_stats_get(j->pipe, &cur, &err)) continue;
        ps_report_status(stderr, &cur, drawn ? &prev : NULL, drawn);
        ps_pipeline_stats_free(&prev);
        prev = cur;
        drawn = 1;
        last_draw = now;
    }
    if (interrupted > 1) exit_now(j); /* the second came as the run ended */
    ps_pipeline_stats_free(&prev);
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

int cli_run_streams(const cli_stream_job *job, cli_stream_outcome *out) {
    memset(out, 0, sizeof *out);
    job_parts j = {0};
    ps_err err;
    int rc = 0;
    /* signals are caught from the start: one while sources open or the
     * model loads still ends with the summary */
    interrupted = last_signal = 0;
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term, old_pipe;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* a reader that goes away is a write error (EPIPE), not the end */
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &ign, &old_pipe);
    if (job->output && !(j.results = ps_results_open(job->output, &err))) rc = cli_fail(err.msg);
    if (!rc) rc = add_streams(job, &j);
    if (!rc) rc = build_engine(job, &j, out);
    if (!rc && ps_pipeline_start(j.pipe, &j.det, &err)) rc = cli_fail(err.msg);
    if (rc) {
        parts_free(&j);
        ps_results_close(j.results, &err);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGPIPE, &old_pipe, NULL);
        return rc;
    }
    double cpu0 = cpu_seconds();
    int64_t wall0 = ps_now_ns();
    watch(job, &j, out);
    out->cpu_pct = 100.0 * (cpu_seconds() - cpu0) / ((double)(ps_now_ns() - wall0) / 1e9);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    if (ps_pipeline_stats_get(j.pipe, &out->stats, &err)) rc = cli_fail(err.msg);
    out->extra.engine_mb = (double)j.det.memory(j.det.ctx) / 1048576.0;
    out->extra.prepared_mb = (double)ps_engine_prepared_bytes(j.engine) / 1048576.0;
    size_t vram_now, vram_peak;
    ps_engine_vram(j.engine, &vram_now, &vram_peak);
    out->extra.vram_mb = strcmp(ps_engine_backend(j.engine), "cpu") ? (double)vram_peak / 1048576.0 : -1;
    snprintf(out->backend, sizeof out->backend, "%s", ps_engine_backend(j.engine));
    snprintf(out->device, sizeof out->device, "%s", ps_engine_device(j.engine));
    ps_pipeline_free(j.pipe);
    j.pipe = NULL;
    if (j.results && ps_results_close(j.results, &err)) {
        out->output_failed = 1;
        snprintf(out->output_error, sizeof out->output_error, "%s", err.msg);
    }
    out->extra.peak_rss_mb = ps_report_peak_rss_mb();
    parts_free(&j);
    return rc;
}

void cli_stream_outcome_free(cli_stream_outcome *out) {
    ps_pipeline_stats_free(&out->stats);
    ps_pipeline_stats_free(&out->snapshot);
}
