/* Placement of streams on GPUs (one pipeline and engine per GPU: fleet.h):
 * which GPU takes a new stream, from each GPU's measured load and device
 * memory. Pure arithmetic on figures the fleet gathers, so it is tested
 * with fake GPUs.
 *
 * A GPU's expected load with one more stream is its measured load (the
 * larger of its engine's busy share and its decoders' use) plus, for each
 * stream placed there whose load does not show yet and the new one, the
 * load a settled stream adds (that GPU's measured load per settled stream,
 * else the average over GPUs that have one, else nothing). Its memory
 * share is what admission holds there plus the new stream's need, over its
 * budget (or its total memory). The GPU whose larger of the two is lowest
 * takes the stream; ties go to the one with fewer streams, then the lower
 * number. A GPU that failed, or whose memory admission would refuse the
 * stream, takes none. */
#ifndef PS_PIPELINE_PLACE_H
#define PS_PIPELINE_PLACE_H

#include <stddef.h>

#include "pipeline/admit.h"

typedef struct {
    int id;            /* its number, for the messages */
    int alive;         /* 0: its engine could not go on; it takes nothing */
    int streams;       /* streams placed there and not yet done */
    int settled;       /* of them, running with their load in the measures */
    double load;       /* measured busy share, 0..1 (0: not measured yet) */
    ps_admit_in mem;   /* its device memory as admission judges it (admit.h;
                          static_need: what a new stream is expected to take
                          when nothing is measured) */
    size_t total;      /* the device's memory (0: unknown) */
} ps_place_gpu;

/* The expected load share of gpus[i] with one more stream (see above). */
double ps_place_score(const ps_place_gpu *gpus, int n, int i);

/* The GPU for a new stream among gpus[0..n): pin >= 0 asks for that one
 * (it must be there, alive and have room), pin < 0 for the best (see
 * above). Returns its index, or -1 with why (cap bytes) naming each GPU's
 * reason. */
int ps_place_choose(const ps_place_gpu *gpus, int n, int pin, char *why, size_t cap);

#endif
