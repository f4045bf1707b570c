/* Live results to event-stream clients (see serve_events.h). The engine
 * thread only formats a line and appends it to each client's queue under
 * one short lock; each client's connection thread takes lines out. */
#include "cli/serve_events.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct serve_client {
    serve_hub *hub;
    int stream;                        /* -1: every stream */
    char *lines[SERVE_CLIENT_QUEUE];   /* "data: {...}\n\n", oldest at head */
    int head, count;
    unsigned long long missed;         /* dropped since last said */
    char *cur;                         /* the line being sent, and how far */
    size_t cur_off;
    serve_client *next;
};

struct serve_hub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    serve_client *clients;
    atomic_int n_clients;
    int closed;
};

serve_hub *serve_hub_new(void) {
    serve_hub *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    return h;
}

void serve_hub_close(serve_hub *h) {
    pthread_mutex_lock(&h->mu);
    h->closed = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

void serve_hub_free(serve_hub *h) {
    if (!h) return;
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* Appends line (owned) to c's queue, dropping the oldest when full
 * (h->mu held). */
static void client_push(serve_client *c, char *line) {
    if (c->count == SERVE_CLIENT_QUEUE) {
        free(c->lines[c->head]);
        c->head = (c->head + 1) % SERVE_CLIENT_QUEUE;
        c->count--;
        c->missed++;
    }
    c->lines[(c->head + c->count) % SERVE_CLIENT_QUEUE] = line;
    c->count++;
}

/* "data: JSON\n\n" of r, malloc'd; NULL when out of memory. */
static char *event_line(const ps_result *r) {
    char small[16384];
    size_t n = ps_result_to_json(r, small, sizeof small);
    char *line = n ? malloc(n + 9) : NULL;
    if (!line) return NULL;
    memcpy(line, "data: ", 6);
    if (n < sizeof small) memcpy(line + 6, small, n);
    else ps_result_to_json(r, line + 6, n + 1);
    memcpy(line + 6 + n, "\n\n", 3);
    return line;
}

void serve_hub_on_result(const ps_result *r, void *hub) {
    serve_hub *h = hub;
    if (atomic_load(&h->n_clients) == 0) return;
    char *line = event_line(r);
    if (!line) return;
    pthread_mutex_lock(&h->mu);
    for (serve_client *c = h->clients; c; c = c->next) {
        if (c->stream >= 0 && c->stream != r->stream) continue;
        char *mine = strdup(line);
        if (mine) client_push(c, mine);
        else c->missed++;
    }
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    free(line);
}

serve_client *serve_client_new(serve_hub *h, int stream) {
    serve_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->hub = h;
    c->stream = stream;
    pthread_mutex_lock(&h->mu);
    int closed = h->closed;
    if (!closed) {
        c->next = h->clients;
        h->clients = c;
        atomic_fetch_add(&h->n_clients, 1);
    }
    pthread_mutex_unlock(&h->mu);
    if (closed) free(c);
    return closed ? NULL : c;
}

/* Waits for a line, a drop or the end (h->mu held). */
static void wait_for_news(serve_client *c, int wait_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    while (!c->cur && !c->count && !c->missed && !c->hub->closed)
        if (pthread_cond_timedwait(&c->hub->cv, &c->hub->mu, &ts) == ETIMEDOUT) break;
}

/* Copies what is due into buf (h->mu held); 0 when nothing is. */
static size_t take(serve_client *c, char *buf, size_t cap) {
    if (c->missed && !c->cur) {
        int n = snprintf(buf, cap, "event: missed\ndata: {\"missed\":%llu}\n\n", c->missed);
        c->missed = 0;
        return n > 0 && (size_t)n < cap ? (size_t)n : 0;
    }
    if (!c->cur && c->count) {
        c->cur = c->lines[c->head];
        c->cur_off = 0;
        c->head = (c->head + 1) % SERVE_CLIENT_QUEUE;
        c->count--;
    }
    if (!c->cur) return 0;
    size_t left = strlen(c->cur + c->cur_off), n = left < cap ? left : cap;
    memcpy(buf, c->cur + c->cur_off, n);
    c->cur_off += n;
    if (n == left) {
        free(c->cur);
        c->cur = NULL;
    }
    return n;
}

size_t serve_client_read(serve_client *c, char *buf, size_t cap, int wait_ms) {
    serve_hub *h = c->hub;
    pthread_mutex_lock(&h->mu);
    wait_for_news(c, wait_ms);
    size_t n = take(c, buf, cap);
    int ended = !n && h->closed;
    pthread_mutex_unlock(&h->mu);
    if (ended) return 0;
    if (!n) n = (size_t)snprintf(buf, cap, ": waiting\n\n"); /* a closed peer shows on write */
    return n;
}

void serve_client_free(serve_client *c) {
    if (!c) return;
    serve_hub *h = c->hub;
    pthread_mutex_lock(&h->mu);
    for (serve_client **p = &h->clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            atomic_fetch_sub(&h->n_clients, 1);
            break;
        }
    pthread_mutex_unlock(&h->mu);
    while (c->count) {
        free(c->lines[c->head]);
        c->head = (c->head + 1) % SERVE_CLIENT_QUEUE;
        c->count--;
    }
    free(c->cur);
    free(c);
}
