/* The HTTP side of `posestream serve` (see serve_http.h). */
#include "cli/serve_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/serve_page.h"

struct serve_http {
    struct MHD_Daemon *daemon;
    serve_http_opts o;
    int stopping; /* set before the daemon stops: previews end */
};

/* One request's body as it arrives. */
typedef struct {
    char *body;
    size_t len;
    int too_big;
} request;

int serve_token_equal(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
    unsigned char diff = la != lb;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)((i < la ? a[i] : 0) ^ (i < lb ? b[i] : 0));
    return diff == 0;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, serve_reply *r) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(r->len, r->body,
                                                                MHD_RESPMEM_MUST_COPY);
    if (!resp) return serve_reply_free(r), MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r->content_type);
    if (r->allow) MHD_add_response_header(resp, "Allow", r->allow);
    if (r->status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    serve_reply_free(r);
    return ok;
}

/* An error reply outside the API's routes (auth, limits). */
static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *msg) {
    serve_reply r;
    serve_error(&r, status, "%s", msg);
    return send_reply(c, &r);
}

/* The token from the Authorization header, or for a GET from ?token= (the
 * page's images cannot send headers). */
static int authorized(const serve_http *s, struct MHD_Connection *c, const char *method) {
    if (!s->o.token) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    if (h && !strncmp(h, "Bearer ", 7)) return serve_token_equal(h + 7, s->o.token);
    return q && !strcmp(method, "GET") && serve_token_equal(q, s->o.token);
}

/* POST and PATCH take JSON only ("application/json", parameters allowed). */
static int json_body_ok(struct MHD_Connection *c, const char *method) {
    if (strcmp(method, "POST") && strcmp(method, "PATCH")) return 1;
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    size_t n = strlen("application/json");
    return t && !strncasecmp(t, "application/json", n) && (t[n] == '\0' || t[n] == ';');
}

static ssize_t events_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    size_t n = serve_client_read(cls, buf, max, 1000);
    return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void events_free(void *cls) {
    serve_client_free(cls);
}

/* A 200 whose body comes from read(cls) until it ends; free(cls) after,
 * also when the response cannot be made. */
static enum MHD_Result send_stream(struct MHD_Connection *c, const char *type,
                                   MHD_ContentReaderCallback read, void *cls,
                                   MHD_ContentReaderFreeCallback free_cls) {
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, read, cls, free_cls);
    if (!resp) return free_cls(cls), MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result send_events(serve_http *s, struct MHD_Connection *c, int stream) {
    serve_client *cl = serve_client_new(s->o.hub, stream);
    if (!cl) return send_error(c, 503, "shutting down");
    return send_stream(c, "text/event-stream", events_read, cl, events_free);
}

static ssize_t mjpeg_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    size_t n = serve_mjpeg_read(cls, buf, max);
    return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void mjpeg_free(void *cls) {
    serve_mjpeg_free(cls);
}

/* A number query argument in [lo, hi], else def; *bad when malformed. */
static double query_number(struct MHD_Connection *c, const char *key, double def, double lo,
                           double hi, int *bad) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    if (!v) return def;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !(d >= lo && d <= hi)) *bad = 1;
    return d;
}

static enum MHD_Result send_preview(serve_http *s, struct MHD_Connection *c, int stream) {
    int bad = 0;
    double fps = query_number(c, "fps", 5, 0.1, 30, &bad);
    double height = query_number(c, "height", 360, 16, 2160, &bad);
    if (bad) return send_error(c, 400, "preview: ?fps= from 0.1 to 30, ?height= from 16 to 2160");
    ps_err err;
    ps_preview *p = s->o.backend->preview
                        ? s->o.backend->preview(s->o.backend->ctx, stream, fps, (int)height, &err)
                        : NULL;
    if (!p) return send_error(c, 404, s->o.backend->preview ? err.msg : "previews are off");
    serve_mjpeg *m = serve_mjpeg_new(p, &s->stopping);
    if (!m) return ps_preview_close(p), send_error(c, 503, "out of memory");
    return send_stream(c, "multipart/x-mixed-replace; boundary=frame", mjpeg_read, m, mjpeg_free);
}

static enum MHD_Result send_page(struct MHD_Connection *c) {
    size_t len;
    const char *html = serve_page_html(&len);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)html, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* Gathers the body; returns 1 while more is to come. */
static int gather(request *rq, const char *data, size_t *size) {
    if (!*size) return 0;
    if (rq->len + *size > SERVE_MAX_BODY) rq->too_big = 1;
    char *grown = rq->too_big ? NULL : realloc(rq->body, rq->len + *size + 1);
    if (grown) {
        memcpy(grown + rq->len, data, *size);
        rq->body = grown;
        rq->len += *size;
        rq->body[rq->len] = '\0';
    } else {
        rq->too_big = 1; /* out of memory reads as too big: either way not taken */
    }
    *size = 0;
    return 1;
}

static enum MHD_Result answer(serve_http *s, struct MHD_Connection *c, const char *url,
                              const char *method, const request *rq) {
    if (!strcmp(url, "/") && !strcmp(method, "GET")) return send_page(c); /* no secrets in it */
    if (!authorized(s, c, method))
        return send_error(c, 401, "a valid Authorization: Bearer token is needed");
    if (rq->too_big) return send_error(c, 413, "request body over 64 KiB");
    if (!json_body_ok(c, method))
        return send_error(c, 415, "POST and PATCH take Content-Type: application/json");
    int stream, bad;
    const char *arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "stream");
    if (serve_is_results(url, arg, &stream, &bad)) {
        if (bad) return send_error(c, 400, "?stream=: expected a stream id");
        if (strcmp(method, "GET")) return send_error(c, 405, "/api/v1/results: GET only");
        return send_events(s, c, stream);
    }
    if (serve_is_preview(url, &stream)) {
        if (strcmp(method, "GET")) return send_error(c, 405, "preview: GET only");
        return send_preview(s, c, stream);
    }
    serve_reply r;
    serve_route(s->o.backend, method, url, rq->body, rq->len, &r);
    return send_reply(c, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls) {
    (void)version;
    request *rq = *con_cls;
    if (!rq) {
        *con_cls = rq = calloc(1, sizeof *rq);
        return rq ? MHD_YES : MHD_NO;
    }
    if (gather(rq, data, size)) return MHD_YES;
    return answer(cls, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why) {
    (void)cls, (void)c, (void)why;
    request *rq = *con_cls;
    if (rq) free(rq->body);
    free(rq);
    *con_cls = NULL;
}

serve_http *serve_http_start(const serve_http_opts *o, char *err, size_t cap) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    if (inet_pton(AF_INET, o->host, &addr.sin_addr) != 1)
        return snprintf(err, cap, "--listen: '%s' is not an IPv4 address", o->host), NULL;
    serve_http *s = calloc(1, sizeof *s);
    if (!s) return snprintf(err, cap, "out of memory"), NULL;
    s->o = *o;
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC,
        (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, cap, "--listen %s:%d: cannot listen there (in use, or not this "
                           "machine's address)", o->host, o->port);
        free(s);
        return NULL;
    }
    return s;
}

void serve_http_quiesce(serve_http *s) {
    if (!s) return;
    MHD_socket fd = MHD_quiesce_daemon(s->daemon); /* ours to close from now on */
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

void serve_http_stop(serve_http *s) {
    if (!s) return;
    __atomic_store_n(&s->stopping, 1, __ATOMIC_RELEASE);
    MHD_stop_daemon(s->daemon);
    free(s);
}
