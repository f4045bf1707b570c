/* Placement of streams on GPUs (see place.h). */
#include "pipeline/place.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Scores this close count as equal (then fewer streams wins). */
#define TIE 1e-9

/* The load one settled stream adds: gpus[i]'s own measure per settled
 * stream, else the average of the GPUs that have one, else 0. */
static double unit_load(const ps_place_gpu *gpus, int n, int i) {
    if (gpus[i].settled > 0 && gpus[i].load > 0) return gpus[i].load / gpus[i].settled;
    double sum = 0;
    int k = 0;
    for (int j = 0; j < n; j++) {
        if (!gpus[j].alive || gpus[j].settled <= 0 || gpus[j].load <= 0) continue;
        sum += gpus[j].load / gpus[j].settled;
        k++;
    }
    return k ? sum / k : 0;
}

static size_t need_of(const ps_place_gpu *g) {
    int measured;
    return ps_admit_need(&g->mem, &measured);
}

/* What admission would hold there with the new stream, over its budget
 * (or the device's memory); 0 when neither is known. */
static double memory_share(const ps_place_gpu *g) {
    size_t cap = g->mem.limit ? g->mem.limit : g->total;
    if (!cap) return 0;
    return (double)(g->mem.used + g->mem.reserved + need_of(g)) / (double)cap;
}

double ps_place_score(const ps_place_gpu *gpus, int n, int i) {
    int pending = gpus[i].streams - gpus[i].settled;
    double load = gpus[i].load + (double)((pending > 0 ? pending : 0) + 1) * unit_load(gpus, n, i);
    double mem = memory_share(&gpus[i]);
    return load > mem ? load : mem;
}

/* Appends "; " and a formatted reason to why (cap bytes). */
static void say(char *why, size_t cap, const char *text) {
    size_t at = strlen(why);
    if (at + 3 >= cap) return;
    snprintf(why + at, cap - at, "%s%s", at ? "; " : "", text);
}

/* Whether gpus[i] can take the stream; else says why. */
static int usable(const ps_place_gpu *gpus, int i, char *why, size_t cap) {
    char line[400];
    const ps_place_gpu *g = &gpus[i];
    if (!g->alive) {
        snprintf(line, sizeof line, "GPU %d: its engine could not go on", g->id);
        say(why, cap, line);
        return 0;
    }
    size_t need = need_of(g);
    if (ps_admit_decide(&g->mem, need) != PS_ADMIT_REFUSE) return 1;
    int measured;
    ps_admit_need(&g->mem, &measured);
    char what[300];
    ps_admit_explain(&g->mem, need, measured, what, sizeof what);
    snprintf(line, sizeof line, "GPU %d: %s", g->id, what);
    say(why, cap, line);
    return 0;
}

int ps_place_choose(const ps_place_gpu *gpus, int n, int pin, char *why, size_t cap) {
    char own[8];
    if (!why || !cap) why = own, cap = sizeof own;
    why[0] = 0;
    if (pin >= n) {
        snprintf(why, cap, "GPU %d: no such GPU in this run (it has %d: 0 to %d)", pin, n, n - 1);
        return -1;
    }
    int from = pin >= 0 ? pin : 0, to = pin >= 0 ? pin + 1 : n, best = -1;
    double best_score = 0;
    for (int i = from; i < to; i++) {
        if (!usable(gpus, i, why, cap)) continue;
        double sc = ps_place_score(gpus, n, i);
        int better = best < 0 || sc < best_score - TIE ||
                     (fabs(sc - best_score) <= TIE && gpus[i].streams < gpus[best].streams);
        if (better) best = i, best_score = sc;
    }
    if (best >= 0) why[0] = 0;
    return best;
}
