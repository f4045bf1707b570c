/* Placing streams on GPUs (src/pipeline/place.c) with fake GPUs whose load
 * and memory are given: with nothing measured streams alternate; measured
 * load sends them to the less busy GPU until both are equally busy; 320
 * like streams on two GPUs end within 5 points of each other (the issue's
 * balance target); memory that admission would refuse, a failed GPU and
 * pins are honoured, and a stream no GPU can take is refused naming every
 * GPU's reason. No GPU needed. */
#include <math.h>
#include <string.h>

#include "pipeline/place.h"
#include "testutil.h"

#define MB ((size_t)1 << 20)
#define GB ((size_t)1 << 30)

/* A healthy fake GPU: 11 GB budget, 141 GB memory, 500 MB engine. */
static ps_place_gpu gpu(double load, int streams) {
    ps_place_gpu g = {.alive = 1, .streams = streams, .settled = streams, .load = load,
                      .total = 141 * GB};
    g.mem = (ps_admit_in){.kind = PS_MEM_DEVICE, .limit = 11 * GB, .used = 500 * MB,
                          .base = 500 * MB, .free_now = 100 * GB};
    return g;
}

static void test_alternate_unmeasured(void) {
    ps_place_gpu g[2] = {gpu(0, 0), gpu(0, 0)};
    int where[8];
    for (int k = 0; k < 8; k++) {
        where[k] = ps_place_choose(g, 2, -1, NULL, 0);
        TU_CHECK(where[k] == k % 2);
        g[where[k]].streams++; /* placed, not settled */
    }
    printf("unmeasured: 8 streams -> %d and %d\n", g[0].streams, g[1].streams);
}

static void test_measured_load(void) {
    /* GPU 0: 8 streams at 80%; GPU 1: 8 at 40% (a faster card): the next
     * streams go to GPU 1 until its expected load reaches GPU 0's */
    ps_place_gpu g[2] = {gpu(0.8, 8), gpu(0.4, 8)};
    int to1 = 0;
    for (int k = 0; k < 12; k++) {
        int i = ps_place_choose(g, 2, -1, NULL, 0);
        TU_CHECK(i >= 0);
        to1 += i == 1;
        g[i].streams++;
    }
    double s0 = ps_place_score(g, 2, 0), s1 = ps_place_score(g, 2, 1);
    printf("measured: 12 new streams, %d to the less busy GPU; expected loads %.3f / %.3f\n", to1,
           s0, s1);
    TU_CHECK(to1 >= 8 && fabs(s0 - s1) <= 0.1 + 1e-9); /* within one stream of GPU 0's */
}

/* 320 like streams (0.3% of a GPU's decoders each once settled), placed
 * in waves of 40 between measures, as a run's start adds them. */
static void test_balance_320(void) {
    ps_place_gpu g[2] = {gpu(0, 0), gpu(0, 0)};
    const double per = 0.003;
    for (int k = 0; k < 320; k++) {
        int i = ps_place_choose(g, 2, -1, NULL, 0);
        TU_CHECK(i >= 0);
        g[i].streams++;
        if (k % 40 == 39)
            for (int j = 0; j < 2; j++) g[j].settled = g[j].streams, g[j].load = per * g[j].streams;
    }
    printf("320 streams: %d + %d, decoders %.1f%% / %.1f%%\n", g[0].streams, g[1].streams,
           100 * g[0].load, 100 * g[1].load);
    TU_CHECK(fabs(g[0].load - g[1].load) < 0.05);
}

static void test_memory(void) {
    ps_place_gpu g[2] = {gpu(0.1, 10), gpu(0.5, 10)};
    g[1].id = 1;
    /* GPU 0, though idle, is at its 11 GB budget by the measured average */
    g[0].mem.used = 11 * GB - 50 * MB;
    g[0].mem.active = 10;
    char why[1024];
    TU_CHECK(ps_place_choose(g, 2, -1, why, sizeof why) == 1);
    g[1].mem.used = 11 * GB - 10 * MB;
    g[1].mem.active = 10;
    TU_CHECK(ps_place_choose(g, 2, -1, why, sizeof why) == -1);
    printf("both full: %s\n", why);
    TU_CHECK(strstr(why, "GPU 0: refused") && strstr(why, "GPU 1: refused") &&
             strstr(why, "--max-vram-gb"));
    /* equal load: the one with more memory taken goes second */
    ps_place_gpu h[2] = {gpu(0.2, 10), gpu(0.2, 10)};
    h[0].mem.used = 9 * GB;
    TU_CHECK(ps_place_choose(h, 2, -1, NULL, 0) == 1);
}

static void test_failed_and_pins(void) {
    ps_place_gpu g[3] = {gpu(0.1, 1), gpu(0.9, 9), gpu(0.5, 5)};
    for (int i = 0; i < 3; i++) g[i].id = i;
    char why[1024];
    TU_CHECK(ps_place_choose(g, 3, -1, why, sizeof why) == 0);
    TU_CHECK(ps_place_choose(g, 3, 1, why, sizeof why) == 1); /* pinned: even when busiest */
    g[0].alive = 0;
    TU_CHECK(ps_place_choose(g, 3, -1, why, sizeof why) == 2);
    TU_CHECK(ps_place_choose(g, 3, 0, why, sizeof why) == -1);
    printf("pinned to a failed GPU: %s\n", why);
    TU_CHECK(strstr(why, "GPU 0: its engine could not go on") != NULL);
    TU_CHECK(ps_place_choose(g, 3, 3, why, sizeof why) == -1);
    printf("pinned to a missing GPU: %s\n", why);
    TU_CHECK(strstr(why, "GPU 3: no such GPU") && strstr(why, "0 to 2"));
    g[1].alive = g[2].alive = 0;
    TU_CHECK(ps_place_choose(g, 3, -1, why, sizeof why) == -1);
    TU_CHECK(strstr(why, "GPU 1:") && strstr(why, "GPU 2:"));
}

int main(void) {
    test_alternate_unmeasured();
    test_measured_load();
    test_balance_320();
    test_memory();
    test_failed_and_pins();
    return tu_finish("place");
}
