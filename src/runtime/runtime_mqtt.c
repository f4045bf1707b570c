/* The runtime's MQTT sink (posestream.h, "Results to an MQTT broker"):
 * opened with the runtime, given every processed frame's results line,
 * asked twice a second (by the sink's thread) for the streams' states that
 * changed, and stopped at the close after the final states went out; its
 * counts go into the figures. Builds without libmosquitto say so. */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime_impl.h"
#include "sink/json.h"
#include "util/log.h"
#include "util/memory.h"
#include "util/status.h"
#ifdef POSESTREAM_HAVE_MQTT
#include "sink/mqtt.h"
#endif

#ifdef POSESTREAM_HAVE_MQTT

/* The state a stream's subscribers see: its state, or "reconnecting". */
static const char *shown(const ps_stream_figures *s) {
    if (s->down && s->state == PS_STREAM_RUNNING) return "reconnecting";
    return ps_stream_state_name(s->state);
}

static void publish_state(ps_runtime *rt, const ps_stream_figures *s, const char *state) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return;
    ps_json w;
    ps_json_init(&w, f);
    ps_json_object(&w);
    ps_json_key_int(&w, "stream", s->id);
    ps_json_key_string(&w, "name", s->name);
    ps_json_key_string(&w, "state", state);
    ps_json_key_int(&w, "reconnects", (int64_t)s->reconnects);
    ps_json_key_string(&w, "error", s->error);
    ps_json_object_end(&w);
    if (!fclose(f)) ps_mqtt_state(rt->mqtt, s->name, buf);
    free(buf);
}

/* Publishes the states that changed since the last call (mqtt_mu held). */
static void publish_changes(ps_runtime *rt, const ps_pipeline_stats *st) {
    char (*grown)[16] = ps_grow_zeroed(rt->mqtt_states, &rt->n_mqtt_states, st->n_streams,
                                       sizeof *grown);
    if (!grown) return;
    rt->mqtt_states = grown;
    for (int k = 0; k < st->n_streams; k++) {
        const ps_stream_figures *s = &st->streams[k];
        const char *now = shown(s);
        int before_start = s->state == PS_STREAM_OPENING || s->state == PS_STREAM_OPENED;
        if (before_start || !strcmp(rt->mqtt_states[k], now)) continue;
        snprintf(rt->mqtt_states[k], sizeof rt->mqtt_states[k], "%s", now);
        publish_state(rt, s, now);
    }
}

/* The sink's poll: the fleet's figures now (the close stops the sink
 * before it frees the fleet). */
static void poll_states(void *ctx) {
    ps_runtime *rt = ctx;
    ps_fleet_stats st;
    ps_err err;
    if (ps_fleet_stats_get(rt->fleet, &st, &err)) return;
    pthread_mutex_lock(&rt->mqtt_mu);
    publish_changes(rt, &st.all);
    pthread_mutex_unlock(&rt->mqtt_mu);
    ps_fleet_stats_free(&st);
}

ps_status ps_rt_mqtt_open(ps_runtime *rt, ps_err *err) {
    if (!rt->params.mqtt.url) return PS_OK;
    rt->mqtt = ps_mqtt_open(&rt->params.mqtt, poll_states, rt, err);
    return rt->mqtt ? PS_OK : err->code;
}

void ps_rt_mqtt_result(ps_runtime *rt, const ps_result *r) {
    ps_mqtt_poses(rt->mqtt, r);
}

void ps_rt_mqtt_stop(ps_runtime *rt, const ps_pipeline_stats *final) {
    if (!rt->mqtt) return;
    pthread_mutex_lock(&rt->mqtt_mu);
    publish_changes(rt, final);
    pthread_mutex_unlock(&rt->mqtt_mu);
    ps_mqtt_stop(rt->mqtt);
}

void ps_rt_mqtt_free(ps_runtime *rt) {
    ps_mqtt_close(rt->mqtt);
    rt->mqtt = NULL;
    free(rt->mqtt_states);
}

int ps_rt_mqtt_totals(const ps_runtime *rt, uint64_t *published, uint64_t *dropped,
                      uint64_t *outages) {
    if (!rt->mqtt) return 0;
    ps_mqtt_totals(rt->mqtt, published, dropped, outages);
    return 1;
}

uint64_t ps_rt_mqtt_dropped(const ps_runtime *rt, int id) {
    return rt->mqtt ? ps_mqtt_dropped(rt->mqtt, id) : 0;
}

void ps_rt_mqtt_figures(const ps_runtime *rt, ps_stats *st) {
    if (!ps_rt_mqtt_totals(rt, &st->mqtt.published, &st->mqtt.dropped, &st->mqtt.outages))
        return;
    st->mqtt.on = 1;
    snprintf(st->mqtt.url, sizeof st->mqtt.url, "%s", ps_mqtt_url(rt->mqtt));
    for (int k = 0; k < st->n_streams; k++)
        st->streams[k].mqtt_dropped = ps_mqtt_dropped(rt->mqtt, st->streams[k].id);
}

#else /* built without libmosquitto */

ps_status ps_rt_mqtt_open(ps_runtime *rt, ps_err *err) {
    if (!rt->params.mqtt.url) return PS_OK;
    return ps_err_set(err, PS_ERR_UNSUPPORTED, "--mqtt: this build has no MQTT (libmosquitto-dev "
                                               "was missing when it was built)");
}

void ps_rt_mqtt_result(ps_runtime *rt, const ps_result *r) {
    (void)rt, (void)r;
}

void ps_rt_mqtt_stop(ps_runtime *rt, const ps_pipeline_stats *final) {
    (void)rt, (void)final;
}

void ps_rt_mqtt_free(ps_runtime *rt) {
    (void)rt;
}

void ps_rt_mqtt_figures(const ps_runtime *rt, ps_stats *st) {
    (void)rt, (void)st;
}

int ps_rt_mqtt_totals(const ps_runtime *rt, uint64_t *published, uint64_t *dropped,
                      uint64_t *outages) {
    (void)rt, (void)published, (void)dropped, (void)outages;
    return 0;
}

uint64_t ps_rt_mqtt_dropped(const ps_runtime *rt, int id) {
    (void)rt, (void)id;
    return 0;
}

#endif
