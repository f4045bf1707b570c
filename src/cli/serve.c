/* posestream serve: the runtime as a long-running service, with an HTTP
 * control API, live results and Prometheus metrics (serve_http.c,
 * serve_api.c, serve_events.c). */
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/serve_http.h"
#include "cli/stream_list.h"
#include "cli/stream_opts.h"

#define SERVE_DEFAULT_LISTEN "127.0.0.1:8080"
#define SERVE_STOP_WAIT_MS 10000 /* then what is still buffered is cancelled */

static void serve_usage(FILE *f) {
    fprintf(f,
            "usage: posestream serve [options] [SOURCE...]\n"
            "\n"
            "Runs until SIGTERM or SIGINT, taking streams from the command line, --streams\n"
            "and the HTTP API (JSON in and out; every error {\"error\": \"...\"}):\n"
            "  GET    /api/v1/health            {\"status\":\"ok\",\"backend\":...,\"streams\":N}\n"
            "  GET    /api/v1/version           version and build\n"
            "  GET    /api/v1/streams           every stream: state, settings, figures\n"
            "  POST   /api/v1/streams           {\"uri\",\"name\",\"priority\",\"max_latency_ms\",\n"
            "                                   \"max_fps\",\"options\":{...}} -> 201; 400 bad,\n"
            "                                   409 refused for memory (with the figures)\n"
            "  GET|PATCH|DELETE /api/v1/streams/ID  one stream; change priority,\n"
            "                                   max_latency_ms, max_fps; remove it\n"
            "  GET    /api/v1/results[?stream=ID]  text/event-stream, a results line per\n"
            "                                   frame (\"event: missed\" says what a slow\n"
            "                                   reader lost)\n"
            "  GET    /metrics                  Prometheus text format\n"
            "On a signal it stops taking requests, finishes the frames read, prints the\n"
            "summary and exits 0.\n"
            "\n"
            "options:\n"
            "  --listen HOST:PORT    IPv4 address and port (default %s); any address\n"
            "                        outside 127.0.0.0/8 needs --token-file\n"
            "  --token-file FILE     every request must carry Authorization: Bearer <the\n"
            "                        file's first line>; 401 otherwise\n"
            "  --max-connections N   connections at once (default 64); more are refused\n"
            "  --streams FILE        streams to start with (as in run)\n"
            "  -o T                  results also to T (as in run)\n"
            "  --realtime, --loop    files (from any of the above) paced like cameras,\n"
            "                        replayed at their end\n"
            "  --max-latency-ms MS   the deadline of live streams without their own\n"
            "  --batch-max N         frames per batch across streams (default 8)\n"
            "  --max-vram-gb GB      the GPU memory budget (default 11)\n"
            "%s"
            "  -h, --help            this text\n",
            SERVE_DEFAULT_LISTEN, cli_job_options_help);
}

typedef struct {
    cli_stream_job job;
    const char *listen, *token_file, *streams_file, *output;
    int max_connections;
    char host[64];
    int port;
    char token[512];
} serve_opts;

static const struct option serve_longs[] = {
    {"listen", required_argument, 0, 0}, {"token-file", required_argument, 0, 0},
    {"max-connections", required_argument, 0, 0}, {"streams", required_argument, 0, 0},
    {"realtime", no_argument, 0, 0}, {"loop", no_argument, 0, 0},
    {"max-latency-ms", required_argument, 0, 0}, {"batch-max", required_argument, 0, 0},
    {"max-vram-gb", required_argument, 0, 0}, {"help", no_argument, 0, 'h'},
    {"output", required_argument, 0, 'o'}, CLI_JOB_LONG_OPTIONS, {0, 0, 0, 0}};

/* Returns -1 to go on, else the exit status. */
static int serve_option(serve_opts *o, const char *name, const char *arg) {
    double v;
    if (!strcmp(name, "listen")) o->listen = arg;
    else if (!strcmp(name, "token-file")) o->token_file = arg;
    else if (!strcmp(name, "streams")) o->streams_file = arg;
    else if (!strcmp(name, "realtime")) o->job.src.realtime = 1;
    else if (!strcmp(name, "loop")) o->job.src.loop = 1;
    else if (!strcmp(name, "max-connections")) {
        if (cli_parse_number(name, arg, 1, 10000, 1, &v)) return 1;
        o->max_connections = (int)v;
    } else if (!strcmp(name, "max-latency-ms")) {
        if (cli_parse_number(name, arg, 0, 1e7, 0, &o->job.rt.max_latency_ms)) return 1;
    } else if (cli_job_option(&o->job, name, arg) < 0) {
        return 1;
    }
    return -1;
}

static int parse_serve(int argc, char **argv, serve_opts *o) {
    int c, idx;
    o->job.argc = argc, o->job.argv = argv;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", serve_longs, &idx)) != -1) {
        int r = -1;
        if (c == 'o') o->output = optarg;
        else if (c == 'h') return serve_usage(stdout), 0;
        else if (c == 0) r = serve_option(o, serve_longs[idx].name, optarg);
        else return serve_usage(stderr), 2;
        if (r >= 0) return r;
    }
    return -1;
}

/* --listen into host and port; loopback or a token. Returns 0 or 1 (said). */
static int check_listen(serve_opts *o) {
    const char *colon = strrchr(o->listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    struct in_addr a;
    if (!colon || colon == o->listen || end == colon + 1 || *end || port < 1 || port > 65535 ||
        (size_t)(colon - o->listen) >= sizeof o->host)
        return cli_fail("--listen: expected HOST:PORT, e.g. 127.0.0.1:8080");
    snprintf(o->host, sizeof o->host, "%.*s", (int)(colon - o->listen), o->listen);
    if (!strcmp(o->host, "localhost")) snprintf(o->host, sizeof o->host, "127.0.0.1");
    o->port = (int)port;
    if (inet_pton(AF_INET, o->host, &a) != 1)
        return cli_fail("--listen: HOST must be an IPv4 address (or localhost)");
    int loopback = (ntohl(a.s_addr) >> 24) == 127;
    if (!loopback && !o->token_file) {
        fprintf(stderr, "posestream: error: --listen %s: not a loopback address; refusing to "
                        "serve it without --token-file\n", o->listen);
        return 1;
    }
    return 0;
}

/* The token: the file's first line, without trailing blanks. */
static int read_token(serve_opts *o) {
    if (!o->token_file) return 0;
    FILE *f = fopen(o->token_file, "r");
    char msg[4400];
    if (!f || !fgets(o->token, sizeof o->token, f)) {
        if (f) fclose(f);
        snprintf(msg, sizeof msg, "--token-file %s: cannot be read, or empty", o->token_file);
        return cli_fail(msg);
    }
    fclose(f);
    size_t n = strlen(o->token);
    while (n && strchr(" \t\r\n", o->token[n - 1])) o->token[--n] = '\0';
    if (n < 8) return cli_fail("--token-file: the token must have at least 8 characters");
    return 0;
}

/* The API's backend: the runtime. */
static ps_status rt_add(void *ctx, const ps_stream_params *sp, int32_t *id, ps_err *err) {
    return ps_runtime_add_stream(ctx, sp, id, err);
}
static ps_status rt_remove(void *ctx, int32_t id, ps_err *err) {
    return ps_runtime_remove_stream(ctx, id, err);
}
static ps_status rt_set(void *ctx, int32_t id, int32_t priority, double max_latency_ms,
                        double max_fps, ps_err *err) {
    return ps_runtime_set_stream(ctx, id, priority, max_latency_ms, max_fps, err);
}
static ps_status rt_stats(void *ctx, ps_stats *st, ps_err *err) {
    return ps_runtime_stats(ctx, st, err);
}
static ps_status rt_stream(void *ctx, int32_t id, ps_stream_stats *out, int64_t *start_ns,
                           ps_err *err) {
    return ps_runtime_stream_stats(ctx, id, out, start_ns, err);
}
static ps_status rt_metrics(void *ctx, FILE *f, ps_err *err) {
    return ps_runtime_write_metrics(ctx, f, err);
}
static ps_preview *rt_preview(void *ctx, int32_t id, double fps, int32_t height, ps_err *err) {
    return ps_runtime_preview_open(ctx, id, fps, height, err);
}

/* The runtime, its first streams added and started; NULL after saying why. */
static ps_runtime *start_runtime(serve_opts *o, serve_hub *hub) {
    ps_err err;
    ps_runtime_params p = o->job.rt;
    p.keep_running = 1;
    p.output = o->output;
    p.on_result = serve_hub_on_result;
    p.user = hub;
    p.annotate.previews = 1;
    ps_runtime *rt = ps_runtime_create(&p, &err);
    if (!rt) return cli_fail(err.msg), NULL;
    for (int k = 0; k < o->job.n_uris; k++)
        if (cli_add_stream(&o->job, rt, k, NULL)) return ps_runtime_free(rt), NULL;
    if (ps_runtime_start(rt, &err)) {
        cli_fail(err.msg);
        ps_runtime_free(rt);
        return NULL;
    }
    return rt;
}

/* Until a signal: the HTTP threads do the work. */
static int wait_for_signal(void) {
    int last = 0;
    while (!cli_signals_received(&last)) usleep(50000);
    return last;
}

/* Stop taking requests, let the frames read finish (or cancel after
 * SERVE_STOP_WAIT_MS), end the results streams, close. */
static void shut_down(ps_runtime *rt, serve_http *http, serve_hub *hub, int sig) {
    fprintf(stderr, "posestream: %s: no new requests; finishing the frames read\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    serve_http_quiesce(http);
    ps_runtime_stop(rt);
    if (!ps_runtime_wait(rt, SERVE_STOP_WAIT_MS)) {
        ps_runtime_cancel(rt);
        ps_runtime_wait(rt, -1);
    }
    serve_hub_close(hub);
    serve_http_stop(http);
}

static int serve_run(serve_opts *o, serve_hub *hub) {
    ps_runtime *rt = start_runtime(o, hub);
    if (!rt) return 1;
    serve_backend b = {.ctx = rt, .add = rt_add, .remove = rt_remove, .set = rt_set,
                       .stats = rt_stats, .stream = rt_stream, .metrics = rt_metrics,
                       .preview = rt_preview,
                       .defaults = o->job.src, .remove_wait_ms = 5000};
    serve_http_opts ho = {.host = o->host, .port = o->port,
                          .token = o->token_file ? o->token : NULL,
                          .max_connections = o->max_connections, .backend = &b, .hub = hub};
    char why[512];
    serve_http *http = serve_http_start(&ho, why, sizeof why);
    if (!http) {
        cli_fail(why);
        ps_runtime_free(rt);
        return 1;
    }
    fprintf(stderr, "posestream: serving http://%s:%d/ (%d streams)%s\n", o->host, o->port,
            o->job.n_uris, o->token_file ? ", token required" : "");
    shut_down(rt, http, hub, wait_for_signal());
    ps_err err;
    int rc = 0;
    if (ps_runtime_close(rt, &err)) rc = cli_fail(err.msg);
    ps_stats st;
    if (!ps_runtime_stats(rt, &st, &err)) {
        ps_stats_print_summary(stderr, &st);
        ps_stats_free(&st);
    }
    ps_runtime_free(rt);
    return rc;
}

int cmd_serve(int argc, char **argv) {
    serve_opts o = {.listen = SERVE_DEFAULT_LISTEN, .max_connections = 64};
    cli_job_defaults(&o.job);
    int rc = parse_serve(argc, argv, &o);
    if (rc >= 0) return rc;
    if (check_listen(&o) || read_token(&o)) return 1;
    cli_stream_list list = {0};
    if ((optind < argc || o.streams_file) &&
        cli_stream_list_make(o.streams_file, argv + optind, argc - optind, &list))
        return 1;
    cli_stream_list_use(&list, &o.job);
    serve_hub *hub = serve_hub_new();
    if (!hub) rc = cli_fail("out of memory");
    cli_signals saved;
    cli_signals_catch(&saved);
    if (hub) rc = serve_run(&o, hub);
    cli_signals_restore(&saved);
    serve_hub_free(hub);
    cli_stream_list_free(&list);
    return rc;
}
