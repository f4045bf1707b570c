/* Memory-aware admission of streams: whether one more stream fits the
 * process's device-memory budget and the device's free memory (streams that
 * decode on the GPU), and its host-memory budget and the machine's
 * available memory (every stream), judged from measured use. Pure arithmetic on the figures the pipeline
 * gathers, so it is tested without a GPU.
 *
 * A stream admitted reserves its estimate until its own use shows in the
 * measurement (it has decoded a few frames: "settled"); the estimate is the
 * measured average of the streams running once every one of them has
 * settled, else the frame-size estimate. While reservations are pending a
 * stream that does not fit waits (the settled figures may leave room);
 * with none pending it is refused. */
#ifndef PS_PIPELINE_ADMIT_H
#define PS_PIPELINE_ADMIT_H

#include <pthread.h>
#include <stddef.h>

typedef enum { PS_ADMIT_YES = 0, PS_ADMIT_WAIT, PS_ADMIT_REFUSE } ps_admit_verdict;

/* The memory judged: the GPU's or the host's. */
typedef enum { PS_MEM_DEVICE = 0, PS_MEM_HOST, PS_MEM_KINDS } ps_mem_kind;

typedef struct {
    ps_mem_kind kind;
    size_t limit;      /* the process's budget in bytes (0: none) */
    size_t used;       /* the process's memory of that kind now (measured; 0 unknown) */
    size_t base;       /* its use before any stream ran (engine, context) */
    size_t free_now;   /* the device's free memory, or the machine's available
                          memory, now (0: unknown) */
    size_t reserved;   /* estimates held by admitted streams not yet settled */
    int active;        /* streams counted in that memory, running (settled or not) */
    size_t static_need;/* the new stream's frame-size estimate */
} ps_admit_in;

/* Leaves this much of the device (or the machine) free for the engine's own
 * growth and the driver (or everything else). */
#define PS_ADMIT_DEVICE_MARGIN ((size_t)256 << 20)

/* What the new stream is expected to take: the measured average per active
 * stream when every active stream has settled (none reserved), at least 1
 * MB; else in->static_need. *measured tells which. */
size_t ps_admit_need(const ps_admit_in *in, int *measured);

/* The verdict for a stream needing `need` bytes. */
ps_admit_verdict ps_admit_decide(const ps_admit_in *in, size_t need);

/* What admission holds in one kind of memory: the process's use before any
 * stream ran, the estimates of streams not yet settled, the streams
 * counted. Each pipeline keeps its own; pipelines sharing the process's
 * host memory (one per GPU) share one, so that each judges by every
 * stream's use. Its own lock is taken last (callers may hold theirs). */
typedef struct {
    pthread_mutex_t mu;
    int based;       /* base was set (by the first pipeline to start) */
    size_t base, reserved;
    int active;
} ps_mem_ledger;

void ps_ledger_init(ps_mem_ledger *l);
void ps_ledger_destroy(ps_mem_ledger *l);
/* Sets the base unless it was set before. */
void ps_ledger_set_base(ps_mem_ledger *l, size_t base);
/* Adds `reserved` bytes (may be negative) and `active` streams. */
void ps_ledger_change(ps_mem_ledger *l, long long reserved, int active);
/* Copies base, reserved and active into in. */
void ps_ledger_fill(ps_mem_ledger *l, ps_admit_in *in);

/* One line saying why a stream needing `need` was refused (for its error):
 * the figures, the kind of memory and which limit it passes. */
void ps_admit_explain(const ps_admit_in *in, size_t need, int measured, char *buf, size_t cap);

#endif
