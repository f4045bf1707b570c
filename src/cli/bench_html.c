/* bench --html: one self-contained report (inline SVG, no scripts, nothing
 * fetched), written as well-formed XHTML so that any XML parser reads it:
 * the set-up, the criteria table, throughput and GPU/decoder use over
 * time, and each stream's latency distribution. */
#include "cli/bench_html.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/bench_groups.h"

#define PLOT_W 640
#define PLOT_H 180
#define PAD_L 48
#define PAD_B 34

/* Text for XML: & < > " escaped. */
static void text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

static void head(FILE *f, const ps_stats *st) {
    fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head>"
          "<meta charset=\"utf-8\"/><title>posestream bench</title><style>"
          "body{font:14px system-ui,sans-serif;margin:24px;color:#222}"
          "table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;"
          "text-align:left}.PASS{color:#080}.FAIL{color:#c00;font-weight:bold}"
          "svg{background:#fafafa;margin:6px 0}text{font-size:11px;fill:#444}"
          "</style></head><body>\n<h1>posestream bench</h1>\n", f);
    fprintf(f, "<p>%d streams, backend %s%s", st->n_streams, st->backend,
            st->device[0] ? " on " : "");
    text(f, st->device);
    fprintf(f, ", input %dx%d, batches up to %d, %.1f s</p>\n", st->input_w, st->input_h,
            st->batch_max, (double)(st->now_ns - st->start_ns) / 1e9);
}

static void criteria(FILE *f) {
    fputs("<h2>Criteria</h2>\n<table><tr><th>criterion</th><th>value</th><th>bound</th>"
          "<th>verdict</th></tr>\n", f);
    for (int i = 0; i < bench_n_verdicts; i++) {
        const bench_verdict *v = &bench_verdicts[i];
        fputs("<tr><td>", f);
        text(f, v->what);
        fprintf(f, "</td><td>%s %s</td><td>%s</td><td class=\"%s\">", v->value, v->unit, v->bound,
                strcmp(v->verdict, "PASS") && strcmp(v->verdict, "FAIL") ? "" : v->verdict);
        text(f, v->verdict);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* An open <svg> of class cls with its axes, the y-axis labelled 0..ymax. */
static void axes(FILE *f, const char *cls, const char *x_label, double ymax, const char *y_unit) {
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"%s\" width=\"%d\" "
            "height=\"%d\">\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>"
            "<line x1=\"%d\" y1=\"4\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n",
            cls, PLOT_W, PLOT_H, PAD_L, PLOT_H - PAD_B, PLOT_W - 4, PLOT_H - PAD_B, PAD_L, PAD_L,
            PLOT_H - PAD_B);
    fprintf(f, "<text x=\"2\" y=\"12\">%.4g %s</text><text x=\"2\" y=\"%d\">0</text>"
            "<text x=\"%d\" y=\"%d\">%s</text>\n", ymax, y_unit, PLOT_H - PAD_B, PLOT_W - 220,
            PLOT_H - 4, x_label);
}

static double px_x(double x, double xmax) {
    return PAD_L + (PLOT_W - 4 - PAD_L) * (xmax > 0 ? x / xmax : 0);
}

static double px_y(double y, double ymax) {
    return PLOT_H - PAD_B - (PLOT_H - PAD_B - 4) * (ymax > 0 ? y / ymax : 0);
}

/* A polyline of ys over the samples' times (negative values left out). */
static void series(FILE *f, const cli_stream_outcome *o, int which, double ymax,
                   const char *colour) {
    double tmax = o->n_samples ? o->samples[o->n_samples - 1].t_s : 1;
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", colour);
    for (int i = 0; i < o->n_samples; i++) {
        const cli_sample *s = &o->samples[i];
        double y = which == 0 ? s->fps : which == 1 ? s->gpu : s->decoder;
        if (y >= 0) fprintf(f, "%.1f,%.1f ", px_x(s->t_s, tmax), px_y(y, ymax));
    }
    fputs("\"/>\n", f);
}

/* The time axis's ends. */
static void time_ticks(FILE *f, const cli_stream_outcome *o) {
    double tmax = o->n_samples ? o->samples[o->n_samples - 1].t_s : 0;
    fprintf(f, "<text x=\"%d\" y=\"%d\">0</text><text x=\"%d\" y=\"%d\">%.0f s</text>\n",
            PAD_L, PLOT_H - PAD_B + 12, PLOT_W - 30, PLOT_H - PAD_B + 12, tmax);
}

static void over_time(FILE *f, const cli_stream_outcome *o) {
    double fmax = 1;
    int util = 0;
    for (int i = 0; i < o->n_samples; i++) {
        fmax = fmax > o->samples[i].fps ? fmax : o->samples[i].fps;
        util |= o->samples[i].gpu >= 0 || o->samples[i].decoder >= 0;
    }
    fputs("<h2>Throughput over time</h2>\n", f);
    axes(f, "throughput", "seconds since the start", fmax * 1.1, "frames/s");
    series(f, o, 0, fmax * 1.1, "#1565c0");
    time_ticks(f, o);
    fputs("</svg>\n", f);
    if (!util) return;
    fputs("<h2>GPU (blue) and video decoder (orange) use over time</h2>\n", f);
    axes(f, "utilization", "seconds since the start", 100, "%");
    series(f, o, 1, 100, "#1565c0");
    series(f, o, 2, 100, "#ef6c00");
    time_ticks(f, o);
    fputs("</svg>\n", f);
}

/* Stream k's frames per latency bin (bars on a log axis of the bounds). */
static void latency_plot(FILE *f, const cli_stream_outcome *o, int k) {
    const uint64_t *c = o->latency_counts + (size_t)k * CLI_LATENCY_BOUNDS;
    uint64_t most = 1;
    for (int i = 0; i < CLI_LATENCY_BOUNDS; i++) {
        uint64_t n = c[i] - (i ? c[i - 1] : 0);
        most = n > most ? n : most;
    }
    const ps_stream_stats *s = &o->stats.streams[k];
    fprintf(f, "<h3>Stream %d, ", s->id);
    text(f, s->name);
    fprintf(f, ": p50 %.1f ms, p99 %.1f ms, %llu frames</h3>\n", s->latency.p50_ms,
            s->latency.p99_ms, (unsigned long long)s->latency.count);
    axes(f, "latency", "end-to-end latency, ms (log)", (double)most, "frames");
    fprintf(f, "<desc>stream %d</desc>\n", s->id);
    double bw = (double)(PLOT_W - 4 - PAD_L) / CLI_LATENCY_BOUNDS;
    for (int i = 0; i < CLI_LATENCY_BOUNDS; i++) {
        double n = (double)(c[i] - (i ? c[i - 1] : 0)), x = PAD_L + bw * i;
        if (n > 0)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"#43a047\"/>", x, px_y(n, (double)most), bw - 1,
                    PLOT_H - PAD_B - px_y(n, (double)most));
        if (i % 8 == 0)
            fprintf(f, "<text x=\"%.1f\" y=\"%d\">%g</text>", x, PLOT_H - PAD_B + 12,
                    o->bounds_ms[i]);
    }
    fputs("\n</svg>\n", f);
}

int bench_html_write(const char *path, const cli_stream_outcome *o) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    head(f, &o->stats);
    criteria(f);
    over_time(f, o);
    fputs("<h2>Latency per stream</h2>\n", f);
    for (int k = 0; o->latency_counts && k < o->stats.n_streams; k++) latency_plot(f, o, k);
    fputs("</body></html>\n", f);
    int bad = ferror(f);
    return fclose(f) || bad ? -1 : 0;
}
