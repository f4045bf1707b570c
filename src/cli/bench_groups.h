/* bench's figures by priority and the criteria of a live pipeline: every
 * stream within its own deadline, the highest priority losing no frame, and
 * (with --add/--remove) no frame lost by a stream that stays. */
#ifndef PS_CLI_BENCH_GROUPS_H
#define PS_CLI_BENCH_GROUPS_H

#include "posestream.h"

/* One criterion's line: value against an upper (at_least 0) or lower
 * bound. Returns 1 when it passes. */
int bench_criterion(const char *what, double value, const char *unit, double bound, int at_least);

/* Every criterion printed so far, as printed (bench --html shows them). */
typedef struct {
    char what[96], value[32], unit[16], bound[32], verdict[48];
} bench_verdict;
#define BENCH_MAX_VERDICTS 32
extern bench_verdict bench_verdicts[BENCH_MAX_VERDICTS];
extern int bench_n_verdicts;

/* Prints a criterion whose figures are already words (a count, "-") and
 * keeps it with the others. */
void bench_verdict_line(const char *what, const char *value, const char *unit, const char *bound,
                        const char *verdict);

/* A line per priority (highest first) when the streams have more than one
 * or any has a deadline: streams, frames in, processed, each reason not,
 * p99. */
void bench_print_priorities(const ps_stats *st);

/* The criteria above that apply; end: the figures at the end, snap: after
 * the start-up window (losses are counted after it). Returns 1 when all
 * pass. */
int bench_live_criteria(const ps_stats *end, const ps_stats *snap,
                        double warmup_s, int churn);

#endif
