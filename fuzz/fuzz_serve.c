/* libFuzzer target: the control API of `posestream serve` (routing and the
 * JSON handlers, src/cli/serve_api.c) on untrusted requests, against a fake
 * backend that keeps streams in memory (no sources are opened). Nothing may
 * crash or leak, every status must be one the API documents, and every JSON
 * reply must parse. Input: a method byte, a path up to '\n', the body. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/serve_api.h"

#define FAKE_MAX 32

typedef struct {
    ps_stream_stats s[FAKE_MAX];
    int n;
} fake;

static ps_status fake_add(void *ctx, const ps_stream_params *sp, int32_t *id, ps_err *err) {
    fake *f = ctx;
    if (!sp->uri || !sp->uri[0]) return snprintf(err->msg, sizeof err->msg, "no uri"), PS_ERR_ARG;
    if (f->n == FAKE_MAX) return snprintf(err->msg, sizeof err->msg, "full"), PS_ERR_REFUSED;
    ps_stream_stats *s = &f->s[f->n];
    *s = (ps_stream_stats){.id = f->n, .priority = sp->priority, .max_fps = sp->max_fps,
                           .max_latency_ms = sp->max_latency_ms, .state = PS_STREAM_RUNNING};
    snprintf(s->name, sizeof s->name, "%s", sp->name ? sp->name : sp->uri);
    snprintf(s->uri, sizeof s->uri, "%s", sp->uri);
    *id = f->n++;
    return PS_OK;
}

static ps_stream_stats *fake_find(fake *f, int32_t id) {
    return id >= 0 && id < f->n ? &f->s[id] : NULL;
}

static ps_status fake_remove(void *ctx, int32_t id, ps_err *err) {
    ps_stream_stats *s = fake_find(ctx, id);
    if (!s || s->state == PS_STREAM_REMOVED)
        return snprintf(err->msg, sizeof err->msg, "stream %d: gone", id), PS_ERR_ARG;
    s->state = PS_STREAM_REMOVED;
    return PS_OK;
}

static ps_status fake_set(void *ctx, int32_t id, int32_t priority, double max_latency_ms,
                          double max_fps, ps_err *err) {
    ps_stream_stats *s = fake_find(ctx, id);
    if (!s || s->state == PS_STREAM_REMOVED || max_latency_ms < 0 || max_fps < 0)
        return snprintf(err->msg, sizeof err->msg, "stream %d: cannot", id), PS_ERR_ARG;
    s->priority = priority, s->max_latency_ms = max_latency_ms, s->max_fps = max_fps;
    return PS_OK;
}

static ps_status fake_stats(void *ctx, ps_stats *st, ps_err *err) {
    fake *f = ctx;
    memset(st, 0, sizeof *st);
    st->streams = calloc(FAKE_MAX, sizeof *st->streams);
    if (!st->streams) return snprintf(err->msg, sizeof err->msg, "oom"), PS_ERR_NOMEM;
    memcpy(st->streams, f->s, sizeof *f->s * (size_t)f->n);
    st->n_streams = f->n;
    snprintf(st->backend, sizeof st->backend, "cpu");
    return PS_OK;
}

static ps_status fake_stream(void *ctx, int32_t id, ps_stream_stats *out, int64_t *start_ns,
                             ps_err *err) {
    ps_stream_stats *s = fake_find(ctx, id);
    if (!s) return snprintf(err->msg, sizeof err->msg, "stream %d: no such stream", id), PS_ERR_ARG;
    *out = *s;
    if (start_ns) *start_ns = 0;
    return PS_OK;
}

static ps_status fake_metrics(void *ctx, FILE *out, ps_err *err) {
    (void)err;
    fprintf(out, "posestream_streams_fake %d\n", ((fake *)ctx)->n);
    return PS_OK;
}

static const int documented[] = {200, 201, 400, 404, 405, 409, 500};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"};
    static fake f; /* streams pile up across inputs, as in a long-running server */
    if (size < 1) return 0;
    if (f.n == FAKE_MAX) f.n = 0;
    serve_backend b = {.ctx = &f, .add = fake_add, .remove = fake_remove, .set = fake_set,
                       .stats = fake_stats, .stream = fake_stream, .metrics = fake_metrics};
    const char *method = methods[data[0] % 6];
    const char *rest = (const char *)data + 1, *nl = memchr(rest, '\n', size - 1);
    size_t path_len = nl ? (size_t)(nl - rest) : size - 1;
    char *path = strndup(rest, path_len);
    const char *body = nl ? nl + 1 : NULL;
    size_t body_len = nl ? size - 2 - path_len : 0;
    serve_reply r;
    serve_route(&b, method, path ? path : "", body, body_len, &r);
    int known = 0;
    for (size_t i = 0; i < sizeof documented / sizeof *documented; i++) known |= r.status == documented[i];
    if (!known || !r.body) abort();
    if (!strcmp(r.content_type, SERVE_JSON)) {
        cJSON *j = cJSON_ParseWithLength(r.body, r.len);
        if (!j) abort();
        cJSON_Delete(j);
    }
    serve_reply_free(&r);
    free(path);
    return 0;
}
