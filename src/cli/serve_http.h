/* The HTTP side of `posestream serve` on libmicrohttpd: one thread per
 * connection (an event-stream client blocks only its own), the token
 * check, the limits (64 KiB bodies, JSON only, a connection cap), then
 * serve_route for the API and serve_events for live results. */
#ifndef PS_CLI_SERVE_HTTP_H
#define PS_CLI_SERVE_HTTP_H

#include "cli/serve_api.h"
#include "cli/serve_events.h"

#define SERVE_MAX_BODY (64 * 1024)

typedef struct serve_http serve_http;

typedef struct {
    const char *host;          /* an IPv4 address */
    int port;
    const char *token;         /* NULL: none asked for */
    int max_connections;
    const serve_backend *backend;
    serve_hub *hub;
} serve_http_opts;

/* Listens; NULL after writing why into err (cap bytes). */
serve_http *serve_http_start(const serve_http_opts *o, char *err, size_t cap);

/* Stops taking connections (the ones open go on). */
void serve_http_quiesce(serve_http *s);

/* Closes every connection (close the hub first so results streams end)
 * and frees. */
void serve_http_stop(serve_http *s);

/* Whether two tokens are equal, in time independent of where they differ. */
int serve_token_equal(const char *a, const char *b);

#endif
