/* Results to an MQTT broker through Debian's libmosquitto: one message per
 * processed frame on <prefix>/<stream>/poses, a retained state message per
 * stream on <prefix>/<stream>/state, and <prefix>/status "online", with
 * "offline" as the last will. The engine only ever appends to a bounded
 * queue; a thread of the sink publishes from it, and while the broker is
 * slow or away the oldest messages go, counted per stream. libmosquitto's
 * own thread keeps the connection, reconnecting with back-off. */
#ifndef PS_SINK_MQTT_H
#define PS_SINK_MQTT_H

#include <stddef.h>
#include <stdint.h>

#include "posestream.h"

typedef struct ps_mqtt ps_mqtt;

/* Called by the sink's thread about twice a second, for the owner to
 * publish the streams' states that changed (ps_mqtt_state). */
typedef void (*ps_mqtt_poll_fn)(void *ctx);

/* Connects to p->url in the background. With p->required, waits up to 5 s
 * for the broker and fails when it cannot be reached or refuses the login.
 * Returns NULL with err naming the (masked) URL and the reason. */
ps_mqtt *ps_mqtt_open(const ps_mqtt_params *p, ps_mqtt_poll_fn poll, void *ctx, ps_err *err);

/* Queues a copy of frame r's results; its JSON line is made on the sink's
 * thread, so the caller (the engine's thread) only copies. */
void ps_mqtt_poses(ps_mqtt *m, const ps_result *r);

/* Queues stream name's retained state message. */
void ps_mqtt_state(ps_mqtt *m, const char *name, const char *json);

/* Messages of stream id dropped so far (queue full, broker away, refused). */
uint64_t ps_mqtt_dropped(ps_mqtt *m, int id);

/* The totals: published (handed to the broker), dropped, outages. */
void ps_mqtt_totals(ps_mqtt *m, uint64_t *published, uint64_t *dropped, uint64_t *outages);

/* The URL with its password masked, for anything that prints it. */
const char *ps_mqtt_url(const ps_mqtt *m);

/* Publishes what is queued (for up to 2 s while connected; the rest is
 * counted dropped), says "offline" and disconnects; the counts stay
 * readable. Safe to call twice. */
void ps_mqtt_stop(ps_mqtt *m);

/* ps_mqtt_stop, then frees. */
void ps_mqtt_close(ps_mqtt *m);

/* Parses url (exposed for tests): fills host (cap bytes), port, user and
 * password (empty when none), prefix, tls and the masked form. Returns
 * non-OK naming the URL (masked) and what is wrong. */
ps_status ps_mqtt_parse_url(const char *url, char *host, size_t cap, int *port, char *user,
                            char *pass, char *prefix, int *tls, char *masked, ps_err *err);

#endif
