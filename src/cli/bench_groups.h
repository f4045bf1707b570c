/* bench's figures by priority and the criteria of a live pipeline: every
 * stream within its own deadline, the highest priority losing no frame, and
 * (with --add/--remove) no frame lost by a stream that stays. */
#ifndef PS_CLI_BENCH_GROUPS_H
#define PS_CLI_BENCH_GROUPS_H

#include "posestream.h"

/* One criterion's line: value against an upper (at_least 0) or lower
 * bound. Returns 1 when it passes. */
int bench_criterion(const char *what, double value, const char *unit, double bound, int at_least);

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
