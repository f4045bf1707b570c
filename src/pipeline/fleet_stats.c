/* The fleet's figures (see fleet.h): each lane's own, and one set over all
 * of them with the streams by fleet id, a moved stream's counts summed over
 * the lanes it ran on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/fleet_impl.h"
#include "util/status.h"

void ps_fleet_fold(ps_stream_figures *into, const ps_stream_figures *from) {
    into->produced += from->produced;
    into->dropped += from->dropped;
    into->late += from->late;
    into->skipped += from->skipped;
    into->cancelled += from->cancelled;
    into->failed += from->failed;
    into->processed += from->processed;
    into->bad_packets += from->bad_packets;
    into->reconnects += from->reconnects;
    into->lost_outage += from->lost_outage;
    into->outage_s += from->outage_s;
    ps_hist_merge(&into->latency, &from->latency);
    if (from->first_ns && (!into->first_ns || from->first_ns < into->first_ns))
        into->first_ns = from->first_ns;
    if (from->last_ns > into->last_ns) into->last_ns = from->last_ns;
}

/* A lane's figures of fleet stream s made the fleet's (f->mu held): its
 * earlier lanes' counts added, its id, GPU and moves, why it could not
 * move. */
static void as_fleet_stream(const ps_fleet *f, const fleet_stream *s, int id,
                            ps_stream_figures *out) {
    if (s->past) ps_fleet_fold(out, s->past);
    out->id = id;
    out->gpu = f->lanes[s->lane].gpu;
    out->moves = s->moves;
    size_t at = strlen(out->error);
    if (s->note[0] && at + 3 < sizeof out->error)
        snprintf(out->error + at, sizeof out->error - at, "; %.*s",
                 (int)(sizeof out->error - at - 3), s->note);
}

/* Fleet stream s's figures, from its lane's copy (f->mu held). A stream
 * added after that copy was taken shows as opening. */
static void stream_figures(const ps_fleet *f, const fleet_stream *s, int id,
                           const ps_pipeline_stats *lane, ps_stream_figures *out) {
    if (s->local < lane->n_streams) {
        *out = lane->streams[s->local];
    } else {
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", s->name);
        snprintf(out->uri, sizeof out->uri, "%s", s->uri);
        out->settings = s->set;
        ps_hist_init(&out->latency);
    }
    out->settings.name = out->name;
    as_fleet_stream(f, s, id, out);
}

/* The streams by fleet id into all (f->mu held). */
static ps_status copy_streams(ps_fleet *f, ps_fleet_stats *st) {
    int n = f->n_streams;
    st->all.streams = malloc(sizeof *st->all.streams * (size_t)(n ? n : 1));
    if (!st->all.streams) return PS_ERR_NOMEM;
    st->all.n_streams = n;
    for (int id = 0; id < n; id++) {
        const fleet_stream *s = f->streams[id];
        stream_figures(f, s, id, &st->lanes[s->lane].st, &st->all.streams[id]);
    }
    return PS_OK;
}

/* The run's engine error: the first lane's whose engine could not go on,
 * else the first lane's last failure; naming its GPU when there are
 * several. */
static void note_error(ps_fleet_stats *st, int k, int *fatal_said) {
    const ps_pipeline_stats *l = &st->lanes[k].st;
    char *to = st->all.engine_error;
    if (!l->engine_error[0] || *fatal_said || (to[0] && !l->engine_fatal)) return;
    *fatal_said = l->engine_fatal;
    if (st->n_lanes == 1) snprintf(to, PS_ERR_LEN, "%s", l->engine_error);
    else snprintf(to, PS_ERR_LEN, "GPU %d: %.480s", st->lanes[k].gpu, l->engine_error);
}

/* The run's totals over the lanes. */
static void sum_lanes(ps_fleet_stats *st) {
    ps_pipeline_stats *all = &st->all;
    int fatal_said = 0;
    ps_hist_init(&all->latency), ps_hist_init(&all->engine);
    ps_hist_init(&all->queue), ps_hist_init(&all->decode);
    all->finished = all->engine_fatal = 1;
    for (int k = 0; k < st->n_lanes; k++) {
        const ps_pipeline_stats *l = &st->lanes[k].st;
        ps_hist_merge(&all->latency, &l->latency), ps_hist_merge(&all->engine, &l->engine);
        ps_hist_merge(&all->queue, &l->queue), ps_hist_merge(&all->decode, &l->decode);
        all->batches += l->batches;
        for (int b = 0; b <= PS_BATCH_HIST; b++) all->batch_sizes[b] += l->batch_sizes[b];
        if (l->start_ns && (!all->start_ns || l->start_ns < all->start_ns)) all->start_ns = l->start_ns;
        all->now_ns = l->now_ns > all->now_ns ? l->now_ns : all->now_ns;
        all->finished &= l->finished;
        all->engine_fatal &= l->engine_fatal;
        all->engine_failures += l->engine_failures;
        all->vram_base += l->vram_base;
        all->host_base = l->host_base;
        note_error(st, k, &fatal_said);
    }
}

/* Lane k's device figures from its detector (no lock held). */
static void lane_device(const fleet_lane *l, ps_lane_stats *ls) {
    ls->util_gpu = ls->util_decoder = -1;
    const ps_detector *d = l->det;
    if (!d) return;
    if (d->vram) d->vram(d->ctx, &ls->vram_now, &ls->vram_peak);
    if (d->vram_total) ls->vram_total = d->vram_total(d->ctx);
    if (d->utilization) d->utilization(d->ctx, &ls->util_gpu, &ls->util_decoder);
    double wall_s = ls->st.start_ns ? (double)(ls->st.now_ns - ls->st.start_ns) / 1e9 : 0;
    ls->busy = wall_s > 0 ? ls->st.engine.sum_us / 1e6 / wall_s : 0;
}

static ps_status lanes_get(ps_fleet *f, ps_fleet_stats *st, ps_err *err) {
    for (int k = 0; k < st->n_lanes; k++) {
        ps_lane_stats *ls = &st->lanes[k];
        ls->gpu = f->lanes[k].gpu;
        if (ps_pipeline_stats_get(f->lanes[k].pipe, &ls->st, err)) return err->code;
        ps_pipeline_load ld;
        ps_pipeline_load_get(f->lanes[k].pipe, &ld);
        ls->streams = ld.streams;
        ls->fatal = ld.fatal;
        lane_device(&f->lanes[k], ls);
    }
    return PS_OK;
}

ps_status ps_fleet_stats_get(ps_fleet *f, ps_fleet_stats *st, ps_err *err) {
    memset(st, 0, sizeof *st);
    st->n_lanes = f->o.n_lanes;
    st->lanes = calloc((size_t)st->n_lanes, sizeof *st->lanes);
    if (!st->lanes) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    ps_status s = lanes_get(f, st, err);
    if (!s) {
        pthread_mutex_lock(&f->mu); /* after the lanes': their copies hold every stream placed */
        s = copy_streams(f, st);
        pthread_mutex_unlock(&f->mu);
        if (s) ps_err_set(err, s, "out of memory");
    }
    for (int k = 0; k < st->n_lanes; k++) ps_pipeline_stats_free(&st->lanes[k].st);
    if (s) {
        ps_fleet_stats_free(st);
        return s;
    }
    sum_lanes(st);
    return PS_OK;
}

void ps_fleet_stats_free(ps_fleet_stats *st) {
    ps_pipeline_stats_free(&st->all);
    free(st->lanes);
    memset(st, 0, sizeof *st);
}

ps_status ps_fleet_stream_get(ps_fleet *f, int id, ps_stream_figures *out, int64_t *start_ns,
                              ps_err *err) {
    pthread_mutex_lock(&f->mu);
    fleet_stream *s = id >= 0 && id < f->n_streams ? f->streams[id] : NULL;
    ps_status st = s ? ps_pipeline_stream_get(f->lanes[s->lane].pipe, s->local, out, start_ns, err)
                     : ps_err_set(err, PS_ERR_ARG, "stream %d: no such stream", id);
    if (!st) as_fleet_stream(f, s, id, out);
    pthread_mutex_unlock(&f->mu);
    return st;
}
