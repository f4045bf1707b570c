/* The control API of `posestream serve` (see serve_api.h): routing, the
 * JSON handlers, and every error as {"error": "..."}. */
#include "cli/serve_api.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STREAMS "/api/v1/streams"

static const char oom_body[] = "{\"error\":\"out of memory\"}";

void serve_reply_free(serve_reply *r) {
    if (r->body != oom_body) free(r->body);
    r->body = NULL;
}

/* A JSON body being written (a memory stream). */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
    ps_json w;
} body_out;

static int body_open(body_out *b) {
    b->buf = NULL;
    b->len = 0;
    b->f = open_memstream(&b->buf, &b->len);
    if (b->f) ps_json_init(&b->w, b->f);
    return b->f != NULL;
}

static void body_done(body_out *b, int status, const char *type, serve_reply *out) {
    int ok = b->f && fclose(b->f) == 0;
    *out = (serve_reply){.status = status, .content_type = type, .body = b->buf, .len = b->len};
    if (!ok) {
        free(b->buf);
        *out = (serve_reply){500, SERVE_JSON, (char *)oom_body, sizeof oom_body - 1, NULL};
    }
}

void serve_error(serve_reply *out, int status, const char *fmt, ...) {
    char msg[PS_ERR_LEN + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    body_out b;
    if (body_open(&b)) {
        ps_json_object(&b.w);
        ps_json_key_string(&b.w, "error", msg);
        ps_json_object_end(&b.w);
    }
    body_done(&b, status, SERVE_JSON, out);
}

/* Replies with stream id's object (status), or 404. */
static void stream_reply(const serve_backend *b, int id, int status, serve_reply *out) {
    ps_stream_stats s;
    int64_t start = 0;
    ps_err err;
    ps_status st = b->stream(b->ctx, id, &s, &start, &err);
    if (st) return serve_error(out, st == PS_ERR_ARG ? 404 : 500, "%s", err.msg);
    body_out o;
    if (body_open(&o)) ps_stream_json(&o.w, &s, start);
    body_done(&o, status, SERVE_JSON, out);
}

static void health(const serve_backend *b, int full, serve_reply *out) {
    ps_stats st;
    ps_err err;
    if (b->stats(b->ctx, &st, &err)) return serve_error(out, 500, "%s", err.msg);
    int active = 0;
    for (int k = 0; k < st.n_streams; k++)
        active += st.streams[k].state <= PS_STREAM_RUNNING;
    body_out o;
    if (body_open(&o)) {
        ps_json_object(&o.w);
        if (full) {
            ps_json_key_string(&o.w, "version", ps_version());
            ps_json_key_bool(&o.w, "cuda", ps_has_cuda());
            ps_json_key_string(&o.w, "device", st.device);
        } else {
            ps_json_key_string(&o.w, "status", "ok");
            ps_json_key_int(&o.w, "streams", active);
        }
        ps_json_key_string(&o.w, "backend", st.backend);
        ps_json_object_end(&o.w);
    }
    body_done(&o, 200, SERVE_JSON, out);
    ps_stats_free(&st);
}

static void list(const serve_backend *b, serve_reply *out) {
    ps_stats st;
    ps_err err;
    if (b->stats(b->ctx, &st, &err)) return serve_error(out, 500, "%s", err.msg);
    body_out o;
    if (body_open(&o)) {
        ps_json_array(&o.w);
        for (int k = 0; k < st.n_streams; k++) ps_stream_json(&o.w, &st.streams[k], st.start_ns);
        ps_json_array_end(&o.w);
    }
    body_done(&o, 200, SERVE_JSON, out);
    ps_stats_free(&st);
}

/* The command's defaults under the request's own settings (its FFmpeg
 * options after the defaults', so they win). */
static ps_stream_params with_defaults(const serve_backend *b, const ps_stream_params *own,
                                      char *opts, size_t cap) {
    ps_stream_params sp = b->defaults;
    sp.uri = own->uri;
    sp.name = own->name;
    sp.priority = own->priority;
    sp.max_latency_ms = own->max_latency_ms;
    sp.max_fps = own->max_fps;
    if (own->options && sp.options) snprintf(opts, cap, "%s,%s", sp.options, own->options);
    if (own->options) sp.options = sp.options ? opts : own->options;
    return sp;
}

static void add(const serve_backend *b, const char *body, size_t len, serve_reply *out) {
    ps_err err;
    ps_stream_params *own;
    if (!body || !len) return serve_error(out, 400, "request body: a JSON object with \"uri\"");
    if (ps_stream_params_parse_one(body, len, "request body", &own, &err))
        return serve_error(out, 400, "%s", err.msg);
    char opts[8192];
    ps_stream_params sp = with_defaults(b, own, opts, sizeof opts);
    int32_t id = -1;
    ps_status st = b->add(b->ctx, &sp, &id, &err);
    ps_stream_params_free(own, 1);
    if (st == PS_ERR_REFUSED) return serve_error(out, 409, "%s", err.msg);
    if (st) return serve_error(out, st == PS_ERR_NOMEM ? 500 : 400, "%s", err.msg);
    stream_reply(b, id, 201, out);
}

/* One field of a PATCH body into *v (a number >= 0; priority whole). */
static int patch_field(const cJSON *it, double *v, serve_reply *out) {
    int whole = !strcmp(it->string, "priority");
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
        (whole ? (it->valuedouble != floor(it->valuedouble) || fabs(it->valuedouble) > 1e6)
               : (it->valuedouble < 0 || it->valuedouble > 1e7))) {
        serve_error(out, 400, "request body: \"%s\": expected %s", it->string,
                    whole ? "a whole number" : "a number from 0 to 1e7");
        return 0;
    }
    *v = it->valuedouble;
    return 1;
}

/* Reads a PATCH body into v[3] (priority, max_latency_ms, max_fps, as
 * they are unless given). Returns 0 after replying 400. */
static int patch_body(const char *body, size_t len, double v[3], serve_reply *out) {
    static const char *const keys[3] = {"priority", "max_latency_ms", "max_fps"};
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    int ok = cJSON_IsObject(root);
    if (!ok) serve_error(out, 400, "request body: expected a JSON object of priority, "
                                   "max_latency_ms, max_fps");
    for (const cJSON *it = ok ? root->child : NULL; it && ok; it = it->next) {
        int k = 0;
        while (k < 3 && strcmp(it->string, keys[k])) k++;
        if (k == 3) serve_error(out, 400, "request body: unknown field \"%.100s\" (priority, "
                                          "max_latency_ms, max_fps can change)", it->string);
        ok = k < 3 && patch_field(it, &v[k], out);
    }
    cJSON_Delete(root);
    return ok;
}

static void change(const serve_backend *b, int id, const char *body, size_t len,
                   serve_reply *out) {
    ps_stream_stats s;
    ps_err err;
    ps_status st = b->stream(b->ctx, id, &s, NULL, &err);
    if (st) return serve_error(out, st == PS_ERR_ARG ? 404 : 500, "%s", err.msg);
    double v[3] = {s.priority, s.max_latency_ms, s.max_fps};
    if (!patch_body(body, len, v, out)) return;
    if (b->set(b->ctx, id, (int32_t)v[0], v[1], v[2], &err))
        return serve_error(out, 409, "%s", err.msg);
    stream_reply(b, id, 200, out);
}

/* Removes stream id and answers with its final figures, once its frames
 * in flight are out (or after b->remove_wait_ms). */
static void removal(const serve_backend *b, int id, serve_reply *out) {
    ps_stream_stats s;
    ps_err err;
    ps_status st = b->stream(b->ctx, id, &s, NULL, &err);
    if (st) return serve_error(out, st == PS_ERR_ARG ? 404 : 500, "%s", err.msg);
    if (b->remove(b->ctx, id, &err)) return serve_error(out, 409, "%s", err.msg);
    for (int waited = 0; waited < b->remove_wait_ms; waited += 20) {
        if (b->stream(b->ctx, id, &s, NULL, &err) || s.state == PS_STREAM_REMOVED) break;
        usleep(20000);
    }
    stream_reply(b, id, 200, out);
}

static void metrics(const serve_backend *b, serve_reply *out) {
    body_out o;
    ps_err err;
    if (!body_open(&o)) return body_done(&o, 500, SERVE_JSON, out);
    if (b->metrics(b->ctx, o.f, &err)) {
        fclose(o.f);
        free(o.buf);
        return serve_error(out, 500, "%s", err.msg);
    }
    body_done(&o, 200, SERVE_METRICS, out);
}

/* The id in "/api/v1/streams/ID" (digits only), or -1. */
static int path_id(const char *path) {
    const char *p = path + strlen(STREAMS "/");
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n > 9 || p[n]) return -1;
    return atoi(p);
}

static void not_allowed(serve_reply *out, const char *method, const char *path, const char *allow) {
    serve_error(out, 405, "%.16s %.200s: not allowed (%s)", method, path, allow);
    out->allow = allow;
}

static void route_stream(const serve_backend *b, const char *method, const char *path,
                         const char *body, size_t len, serve_reply *out) {
    int id = path_id(path);
    if (id < 0) return serve_error(out, 404, "%.200s: not a stream id", path);
    if (!strcmp(method, "GET")) stream_reply(b, id, 200, out);
    else if (!strcmp(method, "PATCH")) change(b, id, body, len, out);
    else if (!strcmp(method, "DELETE")) removal(b, id, out);
    else not_allowed(out, method, path, "GET, PATCH, DELETE");
}

void serve_route(const serve_backend *b, const char *method, const char *path, const char *body,
                 size_t len, serve_reply *out) {
    int get = !strcmp(method, "GET");
    if (!strcmp(path, "/api/v1/health")) get ? health(b, 0, out) : not_allowed(out, method, path, "GET");
    else if (!strcmp(path, "/api/v1/version")) get ? health(b, 1, out) : not_allowed(out, method, path, "GET");
    else if (!strcmp(path, "/metrics")) get ? metrics(b, out) : not_allowed(out, method, path, "GET");
    else if (!strcmp(path, STREAMS) || !strcmp(path, STREAMS "/")) {
        if (get) list(b, out);
        else if (!strcmp(method, "POST")) add(b, body, len, out);
        else not_allowed(out, method, path, "GET, POST");
    } else if (!strncmp(path, STREAMS "/", strlen(STREAMS "/"))) {
        route_stream(b, method, path, body, len, out);
    } else {
        serve_error(out, 404, "%.16s %.200s: no such endpoint", method, path);
    }
}

int serve_is_results(const char *path, const char *stream_arg, int *stream, int *bad) {
    *stream = -1;
    *bad = 0;
    if (strcmp(path, "/api/v1/results")) return 0;
    if (!stream_arg) return 1;
    size_t n = strspn(stream_arg, "0123456789");
    *bad = n == 0 || n > 9 || stream_arg[n];
    if (!*bad) *stream = atoi(stream_arg);
    return 1;
}
