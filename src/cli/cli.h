/* Shared pieces of the posestream command-line tool. */
#ifndef PS_CLI_CLI_H
#define PS_CLI_CLI_H

#include "posestream.h"

/* Prints "posestream: error: <msg>" to stderr; returns exit status 1. */
int cli_fail(const char *msg);

/* Parses an --input-size value, "N" or "WxH"; prints an error naming the
 * option and returns 1 when malformed. */
int cli_parse_size(const char *arg, int *w, int *h);

/* Parses --name's value arg as a finite number in (lo, hi] (at_least_lo:
 * [lo, hi]); prints an error naming the option, the value and the range
 * and returns 1 otherwise ("inf", "nan" and trailing text included). */
int cli_parse_number(const char *name, const char *arg, double lo, double hi, int at_least_lo,
                     double *out);

/* Sets the library's log level from "error", "warn", "info" or "debug";
 * prints an error and returns 1 otherwise. */
int cli_parse_log_level(const char *arg);

/* Parses "auto", "cuda" or "cpu"; prints an error and returns 1 otherwise. */
int cli_parse_backend(const char *arg, ps_backend *out);

int cmd_detect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
