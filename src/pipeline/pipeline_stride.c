/* Giving way under overload (see pipeline_impl.h): the scheduler shares
 * the engine's measured capacity out by priority, highest first. A
 * priority whose live streams ask for more than is left gets a stride k
 * (its streams keep every k-th frame, the others counted skipped), the same
 * for all its streams so that streams alike are served alike; the
 * priorities below it get what is then left, or the largest stride. A
 * stride comes down again only once the smaller one fits with room to
 * spare, so it does not flap with the engine's timing noise; and it grows
 * only while the priority's own streams lose frames (dropped by a full
 * ring, or late), the sign that they are not kept up with: the capacity is
 * an estimate from the batch sizes run so far (a GPU that has only run small
 * batches because it kept up does far more with larger ones), and a
 * machine's speed varies. Offline
 * streams (files read as fast as possible) ask for no rate and keep every
 * frame: they wait instead. */
#include "pipeline/pipeline_impl.h"
#include "pipeline/batch_time.h"

/* Plan at most this often. */
#define PLAN_EVERY_NS 500000000LL
/* Of the engine's capacity this share is kept free to absorb jitter, except
 * for the highest priority, which may use it before it gives way. */
#define PLAN_RESERVE 0.1
/* A smaller stride is taken only when it fits within this share of what
 * is left. */
#define PLAN_LOWER_AT 0.9

/* Frames per second stream s asks of the engine (0: none, it is offline
 * or not running). */
static double stream_rate(const stream *s) {
    if (!s->st.live || s->st.state != PS_STREAM_RUNNING || s->st.fps <= 0) return 0;
    double fps = s->st.fps, cap = s->st.settings.max_fps;
    return cap > 0 && cap < fps ? cap : fps;
}

/* The highest priority among streams that ask for a rate (first), or the
 * highest below `below`; *found 0 when there is none. */
static int next_priority(const ps_pipeline *p, int below, int first, int *found) {
    int best = 0;
    *found = 0;
    for (int k = 0; k < p->n_streams; k++) {
        const stream *s = p->streams[k];
        int pr = s->st.settings.priority;
        if (stream_rate(s) <= 0 || (!first && pr >= below)) continue;
        if (!*found || pr > best) best = pr, *found = 1;
    }
    return best;
}

/* The smallest stride at which `asked` frames/s fit in `left`. */
static int smallest_stride(double asked, double left) {
    if (asked <= left) return 1;
    if (left * PS_STRIDE_MAX < asked) return PS_STRIDE_MAX;
    int k = (int)(asked / left);
    return asked / k > left ? k + 1 : k;
}

/* The stride for a priority asking for `asked` frames/s when `left` are
 * left, given its stride now: up at once, down only with room to spare. */
static int stride_for(double asked, double left, int now) {
    int k = smallest_stride(asked, left);
    if (k >= now) return k;
    int roomy = smallest_stride(asked, left * PLAN_LOWER_AT);
    return roomy < now ? roomy : now;
}

static void set_stride(ps_pipeline *p, int prio, int k) {
    for (int i = 0; i < p->n_streams; i++)
        if (p->streams[i]->st.settings.priority == prio) p->streams[i]->st.stride = k;
}

/* The stride of priority prio's streams now (their largest). */
static int stride_now(const ps_pipeline *p, int prio) {
    int k = 1;
    for (int i = 0; i < p->n_streams; i++)
        if (p->streams[i]->st.settings.priority == prio && p->streams[i]->st.stride > k)
            k = p->streams[i]->st.stride;
    return k;
}

/* Whether a stream of priority prio has lost frames (dropped by a full
 * ring, or late) since the last plan; notes the count for the next. */
static int level_losing(ps_pipeline *p, int prio) {
    int losing = 0;
    for (int k = 0; k < p->n_streams; k++) {
        stream *s = p->streams[k];
        if (s->st.settings.priority != prio) continue;
        uint64_t lost = s->st.dropped + s->st.late;
        losing |= lost > s->planned_lost;
        s->planned_lost = lost;
    }
    return losing;
}

void ps_pipe_plan_strides(ps_pipeline *p, int64_t now, int batch) {
    if (now - p->planned_ns < PLAN_EVERY_NS || p->batch_time.largest == 0) return;
    p->planned_ns = now;
    double batch_ns = ps_batch_time_predict(&p->batch_time, batch);
    double capacity = batch_ns > 0 ? batch * 1e9 / batch_ns : 0, left = capacity;
    int found, prio = next_priority(p, 0, 1, &found);
    while (found) {
        double asked = 0;
        for (int k = 0; k < p->n_streams; k++)
            if (p->streams[k]->st.settings.priority == prio) asked += stream_rate(p->streams[k]);
        int was = stride_now(p, prio), k = stride_for(asked, left, was);
        int losing = level_losing(p, prio);
        if (k > was && !losing) k = was;
        set_stride(p, prio, k);
        /* below the highest priority the reserve is kept free */
        left -= asked / k + (left == capacity ? capacity * PLAN_RESERVE : 0);
        if (left < 0) left = 0;
        prio = next_priority(p, prio, 0, &found);
    }
}
