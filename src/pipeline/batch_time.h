/* The engine's time per batch as a function of its size, t(n) = a + b n,
 * fitted by least squares over the recent batches (each older batch
 * weighs 1% less), so the scheduler can tell how long a batch of any size
 * will take: a GPU's fixed cost per batch is most of it, a CPU's time
 * grows with every frame. Not thread-safe by itself. */
#ifndef PS_PIPELINE_BATCH_TIME_H
#define PS_PIPELINE_BATCH_TIME_H

typedef struct {
    double w, sn, st, snn, snt; /* decayed sums of 1, n, t, n^2, n t */
} ps_batch_time;

/* Records a batch of n frames that took ns. */
void ps_batch_time_add(ps_batch_time *m, int n, double ns);

/* The expected time of a batch of n frames, ns; 0 before the first batch. */
double ps_batch_time_predict(const ps_batch_time *m, int n);

/* The largest n (1..max) whose expected time is within ns; 1 when even one
 * frame takes longer, max before the first batch. */
int ps_batch_time_fit(const ps_batch_time *m, double ns, int max);

#endif
