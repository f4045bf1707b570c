/* The MQTT sink (see mqtt.h). Three threads touch it: the engine's (and any
 * other) appending to the queue, the sink's own publishing from it, and
 * libmosquitto's network thread calling back on connect, disconnect and
 * publish. One mutex guards the queue and the counts. The sink publishes
 * only while connected and while fewer than MAX_OUTSTANDING messages are
 * with libmosquitto unconfirmed, so that libmosquitto's own (unbounded)
 * queue never grows: backlog stays in ours, which is bounded. */
#include "sink/mqtt.h"

#include <mosquitto.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink/json.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/memory.h"
#include "util/status.h"

#define MAX_OUTSTANDING 256
#define DEFAULT_QUEUE 4096
#define POLL_NS 500000000LL

/* A message; a frame's results are kept as they are and made into JSON by
 * the sink's thread (poses non-NULL), so the engine's thread only copies. */
typedef struct {
    char *topic, *payload;
    int len, stream, retain, qos;
    ps_result *poses;         /* with its people and name after it */
} msg;

struct ps_mqtt {
    ps_mqtt_params p;
    char host[256], user[128], pass[128], prefix[256], url[512], ca_file[1024];
    int port, tls;
    struct mosquitto *mosq;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    msg *q;
    int q_cap, q_head, q_n;
    int connected, refused, closing, outstanding;
    int64_t close_by;         /* closing: what is queued goes out until then */
    uint64_t *dropped;        /* [n_dropped] by stream id */
    int n_dropped;
    uint64_t published, dropped_total, outages;
    int64_t down_since;       /* the current outage began (0: up) */
    char refusal[PS_ERR_LEN];
    pthread_t thread;
    int thread_started;
    ps_mqtt_poll_fn poll;
    void *poll_ctx;
};

/* ---- the URL ---- */

static ps_status url_fail(ps_err *err, const char *masked, const char *why) {
    return ps_err_set(err, PS_ERR_ARG, "--mqtt %s: %s", masked, why);
}

/* The URL as shown: the password replaced by ***. */
static void mask(const char *url, char *out, size_t cap) {
    const char *at = strchr(url, '@'), *scheme = strstr(url, "://");
    const char *colon = scheme && at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (!colon) snprintf(out, cap, "%s", url);
    else snprintf(out, cap, "%.*s:***%s", (int)(colon - url), url, at);
}

static int copy_part(char *dst, size_t cap, const char *from, size_t n) {
    if (n >= cap) return -1;
    memcpy(dst, from, n);
    dst[n] = '\0';
    return 0;
}

ps_status ps_mqtt_parse_url(const char *url, char *host, size_t cap, int *port, char *user,
                            char *pass, char *prefix, int *tls, char *masked, ps_err *err) {
    mask(url, masked, 512);
    *tls = !strncmp(url, "mqtts://", 8);
    if (!*tls && strncmp(url, "mqtt://", 7))
        return url_fail(err, masked, "expected mqtt:// or mqtts://");
    const char *p = url + (*tls ? 8 : 7), *slash = strchr(p, '/'), *at = strchr(p, '@');
    if (at && slash && at > slash) at = NULL;
    user[0] = pass[0] = '\0';
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *u_end = colon ? colon : at;
        if (copy_part(user, 128, p, (size_t)(u_end - p)) ||
            (colon && copy_part(pass, 128, colon + 1, (size_t)(at - colon - 1))))
            return url_fail(err, masked, "user name or password too long");
        p = at + 1;
    }
    const char *h_end = slash ? slash : p + strlen(p), *colon = memchr(p, ':', (size_t)(h_end - p));
    if (copy_part(host, cap, p, (size_t)((colon ? colon : h_end) - p)) || !host[0])
        return url_fail(err, masked, "no host");
    char *end;
    long port_v = colon ? strtol(colon + 1, &end, 10) : (*tls ? 8883 : 1883);
    if (colon && (end != h_end || port_v < 1 || port_v > 65535))
        return url_fail(err, masked, "the port must be 1 to 65535");
    *port = (int)port_v;
    const char *pre = slash && slash[1] ? slash + 1 : "posestream";
    if (strlen(pre) >= 256 || strpbrk(pre, "+#"))
        return url_fail(err, masked, "the topic prefix must be under 256 bytes, without + or #");
    snprintf(prefix, 256, "%s", pre);
    size_t n = strlen(prefix);
    if (n && prefix[n - 1] == '/') prefix[n - 1] = '\0';
    return PS_OK;
}

/* ---- the queue (mu held) ---- */

static void count_drop(ps_mqtt *m, int stream) {
    m->dropped_total++;
    if (stream < 0) return;
    if (stream >= m->n_dropped) {
        uint64_t *grown = ps_grow_zeroed(m->dropped, &m->n_dropped, stream + 64, sizeof *grown);
        if (!grown) return;
        m->dropped = grown;
    }
    m->dropped[stream]++;
}

static void free_msg(msg *x) {
    free(x->topic);
    free(x->payload);
    free(x->poses);
}

/* Appends, dropping the oldest when full; NULL topic or payload counts as
 * dropped (out of memory). */
static void push(ps_mqtt *m, msg x) {
    if (!x.topic || !(x.payload || x.poses) || m->refused) {
        count_drop(m, x.stream);
        free_msg(&x);
        return;
    }
    if (m->q_n == m->q_cap) {
        msg *old = &m->q[m->q_head];
        count_drop(m, old->stream);
        free_msg(old);
        m->q_head = (m->q_head + 1) % m->q_cap;
        m->q_n--;
    }
    m->q[(m->q_head + m->q_n++) % m->q_cap] = x;
    pthread_cond_signal(&m->cv);
}

/* <prefix>/<name, '/' '+' '#' as '_'>/<leaf>. */
static char *topic_of(const ps_mqtt *m, const char *name, const char *leaf) {
    size_t np = strlen(m->prefix), nn = strlen(name), n = np + nn + strlen(leaf) + 3;
    char *t = malloc(n);
    if (!t) return NULL;
    snprintf(t, n, "%s/%s/%s", m->prefix, name, leaf);
    for (char *c = t + np + 1; c < t + np + 1 + nn; c++)
        if (*c == '/' || *c == '+' || *c == '#') *c = '_';
    return t;
}

static char *dup_bytes(const char *s, size_t len) {
    char *d = malloc(len + 1);
    if (d) memcpy(d, s, len), d[len] = '\0';
    return d;
}

/* r, its people and its name in one block. */
static ps_result *copy_result(const ps_result *r) {
    size_t people = sizeof *r->people * (size_t)r->n_people, name = strlen(r->name) + 1;
    ps_result *c = malloc(sizeof *c + people + name);
    if (!c) return NULL;
    *c = *r;
    ps_person *p = (ps_person *)(c + 1);
    memcpy(p, r->people, people);
    c->people = p;
    c->name = memcpy((char *)p + people, r->name, name);
    return c;
}

void ps_mqtt_poses(ps_mqtt *m, const ps_result *r) {
    msg x = {topic_of(m, r->name, "poses"), NULL, 0, r->stream, 0, m->p.qos, copy_result(r)};
    pthread_mutex_lock(&m->mu);
    push(m, x);
    pthread_mutex_unlock(&m->mu);
}

/* The results line of x->poses into x->payload (the sink's thread). */
static int format_poses(msg *x) {
    char small[8192];
    size_t n = ps_result_to_json(x->poses, small, sizeof small);
    if (!(x->payload = malloc(n + 1))) return -1;
    if (n < sizeof small) memcpy(x->payload, small, n + 1);
    else ps_result_to_json(x->poses, x->payload, n + 1);
    x->len = (int)n;
    return n ? 0 : -1;
}

void ps_mqtt_state(ps_mqtt *m, const char *name, const char *json) {
    size_t len = strlen(json);
    msg x = {topic_of(m, name, "state"), dup_bytes(json, len), (int)len, -1, 1, 1, NULL};
    pthread_mutex_lock(&m->mu);
    push(m, x);
    pthread_mutex_unlock(&m->mu);
}

/* ---- libmosquitto's thread ---- */

static void publish_status(ps_mqtt *m, const char *what) {
    char topic[300];
    snprintf(topic, sizeof topic, "%s/status", m->prefix);
    mosquitto_publish(m->mosq, NULL, topic, (int)strlen(what), what, 1, true);
}

static void on_connect(struct mosquitto *mosq, void *ctx, int rc) {
    ps_mqtt *m = ctx;
    pthread_mutex_lock(&m->mu);
    if (rc == 0) {
        if (m->down_since)
            ps_log(PS_LOG_WARN, "MQTT %s: connected again after %.1f s", m->url,
                   (double)(ps_now_ns() - m->down_since) / 1e9);
        m->connected = 1;
        m->down_since = 0;
        m->outstanding = 0; /* what was in flight went with the old connection */
    } else if (!m->refused) {
        m->refused = 1;
        snprintf(m->refusal, sizeof m->refusal, "MQTT %.400s: the broker refused the connection: "
                 "%.60s", m->url, mosquitto_connack_string(rc));
        if (!m->p.required) ps_log(PS_LOG_ERROR, "%s; going on without it", m->refusal);
    }
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (rc == 0) publish_status(m, "online");
    else mosquitto_disconnect(mosq); /* a refused login does not get better by retrying */
}

/* Said once per outage, not per message. */
static void on_disconnect(struct mosquitto *mosq, void *ctx, int rc) {
    (void)mosq;
    ps_mqtt *m = ctx;
    pthread_mutex_lock(&m->mu);
    int was = m->connected;
    m->connected = 0;
    if (was && !m->closing && !m->refused) {
        m->outages++;
        m->down_since = ps_now_ns();
        ps_log(PS_LOG_WARN, "MQTT %s: connection lost (%s); reconnecting, keeping up to %d "
               "messages and dropping the oldest beyond", m->url, mosquitto_strerror(rc), m->q_cap);
    }
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static void on_publish(struct mosquitto *mosq, void *ctx, int mid) {
    (void)mosq, (void)mid;
    ps_mqtt *m = ctx;
    pthread_mutex_lock(&m->mu);
    if (m->outstanding > 0) m->outstanding--;
    m->published++;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* ---- the sink's thread ---- */

/* Waits (mu held) until a message can go out, or 100 ms. */
static void wait_turn(ps_mqtt *m) {
    int64_t until = ps_now_ns() + 100000000LL;
    struct timespec ts = ps_timespec_at(until);
    pthread_cond_timedwait(&m->cv, &m->mu, &ts);
}

/* Sends the oldest message (mu held, released meanwhile). */
static void send_one(ps_mqtt *m) {
    msg x = m->q[m->q_head];
    m->q_head = (m->q_head + 1) % m->q_cap;
    m->q_n--;
    m->outstanding++;
    pthread_mutex_unlock(&m->mu);
    int rc = x.poses && format_poses(&x) ? MOSQ_ERR_NOMEM
             : mosquitto_publish(m->mosq, NULL, x.topic, x.len, x.payload, x.qos, x.retain);
    pthread_mutex_lock(&m->mu);
    if (rc != MOSQ_ERR_SUCCESS) {
        if (m->outstanding > 0) m->outstanding--;
        count_drop(m, x.stream);
    }
    free_msg(&x);
}

static void *sink_main(void *arg) {
    ps_mqtt *m = arg;
    int64_t polled = 0;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        int64_t now = ps_now_ns();
        if (m->poll && now - polled >= POLL_NS && !m->closing) {
            polled = now;
            pthread_mutex_unlock(&m->mu);
            m->poll(m->poll_ctx);
            pthread_mutex_lock(&m->mu);
        }
        if (m->closing && (!m->q_n || !m->connected || m->refused || now > m->close_by)) break;
        if (m->connected && m->q_n && m->outstanding < MAX_OUTSTANDING) send_one(m);
        else wait_turn(m);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* ---- open and close ---- */

static void lib_init(void) {
    mosquitto_lib_init();
}

static ps_status setup_client(ps_mqtt *m, ps_err *err) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, lib_init);
    char id[64];
    snprintf(id, sizeof id, "posestream-%d-%p", (int)getpid(), (void *)m);
    if (!(m->mosq = mosquitto_new(id, true, m)))
        return ps_err_set(err, PS_ERR_NOMEM, "MQTT %s: out of memory", m->url);
    char will[300];
    snprintf(will, sizeof will, "%s/status", m->prefix);
    int rc = mosquitto_will_set(m->mosq, will, 7, "offline", 1, true);
    if (!rc && m->user[0])
        rc = mosquitto_username_pw_set(m->mosq, m->user, m->pass[0] ? m->pass : NULL);
    if (!rc && m->tls) rc = mosquitto_tls_set(m->mosq, m->ca_file[0] ? m->ca_file : NULL,
                                              m->ca_file[0] ? NULL : "/etc/ssl/certs", NULL, NULL,
                                              NULL);
    if (!rc) rc = mosquitto_reconnect_delay_set(m->mosq, 1, 30, true);
    if (rc) return ps_err_set(err, PS_ERR_ARG, "MQTT %s: %s", m->url, mosquitto_strerror(rc));
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
    mosquitto_publish_callback_set(m->mosq, on_publish);
    return PS_OK;
}

/* Connects in the background; with p.required waits for the answer. */
static ps_status connect_broker(ps_mqtt *m, ps_err *err) {
    int rc = mosquitto_connect_async(m->mosq, m->host, m->port, 30);
    if (rc && m->p.required)
        return ps_err_set(err, PS_ERR_IO, "MQTT %s: cannot connect: %s", m->url,
                          rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    if (rc) ps_log(PS_LOG_WARN, "MQTT %s: cannot connect yet (%s); retrying", m->url,
                   rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    if ((rc = mosquitto_loop_start(m->mosq)))
        return ps_err_set(err, PS_ERR_BACKEND, "MQTT %s: %s", m->url, mosquitto_strerror(rc));
    if (!m->p.required) return PS_OK;
    int64_t until = ps_now_ns() + 5000000000LL;
    pthread_mutex_lock(&m->mu);
    while (!m->connected && !m->refused && ps_now_ns() < until) wait_turn(m);
    ps_status st = m->connected ? PS_OK
                   : m->refused ? ps_err_set(err, PS_ERR_REFUSED, "%s", m->refusal)
                                : ps_err_set(err, PS_ERR_IO, "MQTT %s: no answer from the broker "
                                                             "in 5 s", m->url);
    pthread_mutex_unlock(&m->mu);
    return st;
}

static void mqtt_free(ps_mqtt *m) {
    if (m->mosq) {
        mosquitto_disconnect(m->mosq);
        mosquitto_loop_stop(m->mosq, true);
        mosquitto_destroy(m->mosq);
    }
    for (int i = 0; i < m->q_n; i++) free_msg(&m->q[(m->q_head + i) % m->q_cap]);
    free(m->q);
    free(m->dropped);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}

static ps_mqtt *mqtt_new(const ps_mqtt_params *p, ps_err *err) {
    ps_mqtt *m = calloc(1, sizeof *m);
    if (!m) return ps_err_set(err, PS_ERR_NOMEM, "MQTT: out of memory"), NULL;
    m->p = *p;
    m->q_cap = p->queue > 0 ? p->queue : DEFAULT_QUEUE;
    m->q = calloc((size_t)m->q_cap, sizeof *m->q);
    pthread_mutex_init(&m->mu, NULL);
    ps_cond_init_mono(&m->cv);
    if (p->ca_file) snprintf(m->ca_file, sizeof m->ca_file, "%s", p->ca_file);
    m->p.ca_file = NULL; /* our copy is used */
    if (!m->q) return mqtt_free(m), ps_err_set(err, PS_ERR_NOMEM, "MQTT: out of memory"), NULL;
    return m;
}

ps_mqtt *ps_mqtt_open(const ps_mqtt_params *p, ps_mqtt_poll_fn poll, void *ctx, ps_err *err) {
    if (p->qos < 0 || p->qos > 1 || p->queue < 0)
        return ps_err_set(err, PS_ERR_ARG, "MQTT: qos 0 or 1, queue >= 0"), NULL;
    ps_mqtt *m = mqtt_new(p, err);
    if (!m) return NULL;
    m->p.url = NULL;
    m->poll = poll;
    m->poll_ctx = ctx;
    ps_status st = ps_mqtt_parse_url(p->url, m->host, sizeof m->host, &m->port, m->user, m->pass,
                                     m->prefix, &m->tls, m->url, err);
    if (!st) st = setup_client(m, err);
    if (!st) st = connect_broker(m, err);
    if (!st && pthread_create(&m->thread, NULL, sink_main, m))
        st = ps_err_set(err, PS_ERR_NOMEM, "MQTT %s: cannot start its thread", m->url);
    if (st) {
        mqtt_free(m);
        return NULL;
    }
    m->thread_started = 1;
    return m;
}

void ps_mqtt_stop(ps_mqtt *m) {
    if (!m || !m->mosq) return;
    pthread_mutex_lock(&m->mu);
    m->closing = 1;
    m->close_by = ps_now_ns() + 2000000000LL;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (m->thread_started) pthread_join(m->thread, NULL);
    m->thread_started = 0;
    pthread_mutex_lock(&m->mu); /* what libmosquitto still holds goes out first */
    while (m->connected && m->outstanding > 0 && ps_now_ns() < m->close_by) wait_turn(m);
    for (int i = 0; i < m->q_n; i++) {
        msg *x = &m->q[(m->q_head + i) % m->q_cap];
        count_drop(m, x->stream);
        free_msg(x);
    }
    m->q_n = 0;
    if (m->connected) { /* "offline" acknowledged before the clean disconnect (no will then) */
        m->outstanding++;
        pthread_mutex_unlock(&m->mu);
        publish_status(m, "offline");
        pthread_mutex_lock(&m->mu);
        int64_t until = ps_now_ns() + 1000000000LL;
        while (m->connected && m->outstanding > 0 && ps_now_ns() < until) wait_turn(m);
    }
    pthread_mutex_unlock(&m->mu);
    mosquitto_disconnect(m->mosq);
    mosquitto_loop_stop(m->mosq, false);
    mosquitto_destroy(m->mosq);
    m->mosq = NULL;
}

void ps_mqtt_close(ps_mqtt *m) {
    if (!m) return;
    ps_mqtt_stop(m);
    mqtt_free(m);
}

uint64_t ps_mqtt_dropped(ps_mqtt *m, int id) {
    pthread_mutex_lock(&m->mu);
    uint64_t n = id >= 0 && id < m->n_dropped ? m->dropped[id] : 0;
    pthread_mutex_unlock(&m->mu);
    return n;
}

void ps_mqtt_totals(ps_mqtt *m, uint64_t *published, uint64_t *dropped, uint64_t *outages) {
    pthread_mutex_lock(&m->mu);
    *published = m->published;
    *dropped = m->dropped_total;
    *outages = m->outages;
    pthread_mutex_unlock(&m->mu);
}

const char *ps_mqtt_url(const ps_mqtt *m) {
    return m->url;
}
