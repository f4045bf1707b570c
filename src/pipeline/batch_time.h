/* The engine's time per batch as a function of its size: a running mean
 * for every size the engine has run (each new batch weighs 5%), and for a
 * size not run yet an estimate from its neighbours: between two known sizes
 * the line between them, above the largest known its time scaled by the
 * size (a GPU's batch costs about the same whatever its size, a CPU's grows
 * with every frame: scaling errs long, the side a deadline can afford),
 * below the smallest known that one's time. The first batch of each size
 * is left out: it builds the CPU's plans for that size, or warms caches.
 * Not thread-safe by itself. */
#ifndef PS_PIPELINE_BATCH_TIME_H
#define PS_PIPELINE_BATCH_TIME_H

#define PS_BATCH_TIME_SIZES 1024 /* sizes 1..this are told apart */

typedef struct {
    double mean_ns[PS_BATCH_TIME_SIZES + 1]; /* [n]: 0 while size n is not known */
    unsigned runs[PS_BATCH_TIME_SIZES + 1];  /* [n]: batches of size n seen */
    int largest;                             /* the largest size with a mean (0: none) */
} ps_batch_time;

/* Records a batch of n frames (1..PS_BATCH_TIME_SIZES) that took ns. */
void ps_batch_time_add(ps_batch_time *m, int n, double ns);

/* The expected time of a batch of n frames, ns; 0 before the first batch. */
double ps_batch_time_predict(const ps_batch_time *m, int n);

/* The largest n (1..max) whose expected time is within ns; 1 when even one
 * frame takes longer, max before the first batch. */
int ps_batch_time_fit(const ps_batch_time *m, double ns, int max);

#endif
