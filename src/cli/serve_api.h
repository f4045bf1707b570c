/* The control API of `posestream serve` without HTTP in it: a request's
 * method, path, query and body in, a status and a body out. The HTTP layer
 * (serve_http.c) adds the transport, the token check and the limits; the
 * fuzzer (fuzz/fuzz_serve.c) calls serve_route directly with a fake
 * backend. */
#ifndef PS_CLI_SERVE_API_H
#define PS_CLI_SERVE_API_H

#include <stddef.h>

#include "posestream.h"

/* What the API acts on: the runtime in `serve`, a fake in the fuzzer. */
typedef struct {
    void *ctx;
    ps_status (*add)(void *ctx, const ps_stream_params *sp, int32_t *id, ps_err *err);
    ps_status (*remove)(void *ctx, int32_t id, ps_err *err);
    ps_status (*set)(void *ctx, int32_t id, int32_t priority, double max_latency_ms,
                     double max_fps, ps_err *err);
    ps_status (*stats)(void *ctx, ps_stats *st, ps_err *err);
    /* one stream (PS_ERR_ARG: unknown), and the run's start */
    ps_status (*stream)(void *ctx, int32_t id, ps_stream_stats *out, int64_t *start_ns, ps_err *err);
    ps_status (*metrics)(void *ctx, FILE *f, ps_err *err);
    /* a watcher of stream id's preview (NULL with err: unknown, ended, off) */
    ps_preview *(*preview)(void *ctx, int32_t id, double fps, int32_t height, ps_err *err);
    /* the settings every stream added through the API starts from (the
     * command's --realtime, --loop, --reconnect, --av-opt) */
    ps_stream_params defaults;
    int remove_wait_ms;   /* how long DELETE waits for the stream's final figures */
} serve_backend;

typedef struct {
    int status;                /* HTTP status */
    const char *content_type;  /* static */
    char *body;                /* malloc'd (free with serve_reply_free) */
    size_t len;
    const char *allow;         /* for 405: the methods the path takes */
} serve_reply;

#define SERVE_JSON "application/json"
#define SERVE_METRICS "text/plain; version=0.0.4; charset=utf-8"

/* Answers one request. path has no query; body may be NULL (len 0). Every
 * error is a JSON body {"error": "..."} naming what was wrong. Never fails
 * to fill out (out of memory: 500 with a static body). */
void serve_route(const serve_backend *b, const char *method, const char *path, const char *body,
                 size_t len, serve_reply *out);

void serve_reply_free(serve_reply *r);

/* Fills out with status and the body {"error": <the message>}. */
void serve_error(serve_reply *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether path is the results stream, and the stream id it asks for
 * (?stream=ID in query, -1: every stream); 0 with *bad set when the id is
 * malformed. */
int serve_is_results(const char *path, const char *stream_arg, int *stream, int *bad);

#endif
