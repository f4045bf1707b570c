/* Live results for `posestream serve` (GET /api/v1/results): every
 * processed frame's JSON line goes to each listening client's own bounded
 * queue, so a slow reader never holds up the engine: when its queue is
 * full its oldest line is dropped and counted, and the client is told how
 * many it missed in the stream itself. */
#ifndef PS_CLI_SERVE_EVENTS_H
#define PS_CLI_SERVE_EVENTS_H

#include <stddef.h>

#include "posestream.h"

typedef struct serve_hub serve_hub;
typedef struct serve_client serve_client;

#define SERVE_CLIENT_QUEUE 1024 /* lines per client: 30 s of one stream */

serve_hub *serve_hub_new(void);

/* Ends every client's stream (they see the end) and frees the hub once
 * none is left. Call after the runtime has stopped delivering. */
void serve_hub_close(serve_hub *h);
void serve_hub_free(serve_hub *h);

/* A ps_result_fn (user: the hub): one line per result, built only when a
 * client listens. */
void serve_hub_on_result(const ps_result *r, void *hub);

/* A new listener for stream `stream` (-1: all); NULL when out of memory or
 * closed. */
serve_client *serve_client_new(serve_hub *h, int stream);

/* Up to cap bytes of event-stream text for the client into buf: waits up
 * to wait_ms for a line; a comment line when none came (so a closed
 * connection is noticed), an "event: missed" when lines were dropped.
 * Returns the bytes written, 0 when the hub closed (the end). */
size_t serve_client_read(serve_client *c, char *buf, size_t cap, int wait_ms);

/* Takes the client out (its connection ended) and frees it. */
void serve_client_free(serve_client *c);

#endif
