/* JSON output of people and results (see json.h). Pixels get 2 decimals and
 * scores 4: finer digits are below what the model resolves. */
#include "sink/json.h"

#include <stdlib.h>
#include <string.h>

#define PIXEL_DECIMALS 2
#define SCORE_DECIMALS 4

static void put_keypoint(ps_json *w, const char *name, const ps_keypoint *kp) {
    ps_json_object(w);
    ps_json_key_string(w, "name", name);
    ps_json_key_number(w, "x", kp->x, PIXEL_DECIMALS);
    ps_json_key_number(w, "y", kp->y, PIXEL_DECIMALS);
    ps_json_key_number(w, "score", kp->score, SCORE_DECIMALS);
    ps_json_object_end(w);
}

static void put_person(ps_json *w, const ps_person *p) {
    ps_json_object(w);
    if (p->id > 0) ps_json_key_int(w, "id", p->id); /* tracked (video) */
    ps_json_key_number(w, "score", p->score, SCORE_DECIMALS);
    ps_json_key(w, "box");
    ps_json_array(w);
    ps_json_number(w, p->x0, PIXEL_DECIMALS);
    ps_json_number(w, p->y0, PIXEL_DECIMALS);
    ps_json_number(w, p->x1, PIXEL_DECIMALS);
    ps_json_number(w, p->y1, PIXEL_DECIMALS);
    ps_json_array_end(w);
    ps_json_key(w, "keypoints");
    ps_json_array(w);
    for (int k = 0; k < PS_NUM_KEYPOINTS; k++) put_keypoint(w, ps_keypoint_names[k], &p->kp[k]);
    ps_json_array_end(w);
    ps_json_object_end(w);
}

void ps_json_people(ps_json *w, const ps_person *people, int n) {
    ps_json_array(w);
    for (int i = 0; i < n; i++) put_person(w, &people[i]);
    ps_json_array_end(w);
}

void ps_json_result(ps_json *w, const ps_result *r) {
    ps_json_object(w);
    ps_json_key_int(w, "stream", r->stream);
    ps_json_key_string(w, "name", r->name);
    ps_json_key_int(w, "frame", r->frame);
    ps_json_key_number(w, "pts", r->pts, 3);
    ps_json_key_number(w, "latency_ms", (double)(r->output_ns - r->captured_ns) / 1e6, 2);
    ps_json_key_int(w, "width", r->width);
    ps_json_key_int(w, "height", r->height);
    ps_json_key(w, "people");
    ps_json_people(w, r->people, r->n_people);
    ps_json_object_end(w);
}

/* A writer into memory, for the functions that fill a caller's buffer. */
typedef struct {
    FILE *f;
    char *data;
    size_t len;
    ps_json w;
} mem_json;

/* Opens m; 0 when out of memory (mem_finish still to be called). */
static int mem_open(mem_json *m) {
    m->data = NULL;
    m->len = 0;
    m->f = open_memstream(&m->data, &m->len);
    if (m->f) ps_json_init(&m->w, m->f);
    return m->f != NULL;
}

/* Closes m and copies its text into buf as snprintf would. Returns the full
 * length, or 0 with "" in buf when any step ran out of memory: a cut-off
 * JSON text would look whole to a caller that only checks against cap. */
static size_t mem_finish(mem_json *m, char *buf, size_t cap) {
    int ok = m->f && !ferror(m->f);
    if (m->f && fclose(m->f) != 0) ok = 0;
    size_t n = ok ? m->len : 0;
    if (cap) {
        size_t k = n < cap ? n : cap - 1;
        if (k) memcpy(buf, m->data, k);
        buf[k] = '\0';
    }
    free(m->data);
    return n;
}

size_t ps_result_to_json(const ps_result *result, char *buf, size_t cap) {
    mem_json m;
    if (mem_open(&m)) ps_json_result(&m.w, result);
    return mem_finish(&m, buf, cap);
}

size_t ps_detection_to_json(const char *image, int32_t width, int32_t height,
                            const ps_person *people, int32_t n, char *buf, size_t cap) {
    mem_json m;
    if (mem_open(&m)) {
        ps_json_object(&m.w);
        ps_json_key_string(&m.w, "image", image);
        ps_json_key_int(&m.w, "width", width);
        ps_json_key_int(&m.w, "height", height);
        ps_json_key(&m.w, "people");
        ps_json_people(&m.w, people, n);
        ps_json_object_end(&m.w);
    }
    return mem_finish(&m, buf, cap);
}
