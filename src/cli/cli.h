/* Shared pieces of the posestream command-line tool. */
#ifndef PS_CLI_CLI_H
#define PS_CLI_CLI_H

#include "posestream.h"

/* Prints "posestream: error: <msg>" to stderr; returns exit status 1. */
int cli_fail(const char *msg);

/* Finds and verifies the model: --model (a folder or the .json path), else
 * $POSESTREAM_MODEL_DIR, else ~/.cache/posestream. The files are checked
 * against the pinned sha256 unless verify is 0. Returns NULL (err set) with
 * a hint on how to fetch the model when it is missing. */
ps_model *cli_load_model(const char *opt_model, int verify, ps_err *err);

/* Parses an --input-size value, "N" or "WxH"; prints an error naming the
 * option and returns 1 when malformed. */
int cli_parse_size(const char *arg, int *w, int *h);

/* Parses --name's value arg as a finite number in (lo, hi] (at_least_lo:
 * [lo, hi]); prints an error naming the option, the value and the range
 * and returns 1 otherwise ("inf", "nan" and trailing text included). */
int cli_parse_number(const char *name, const char *arg, double lo, double hi, int at_least_lo,
                     double *out);

/* Parses "auto", "cuda" or "cpu"; prints an error and returns 1 otherwise. */
int cli_parse_backend(const char *arg, ps_backend *out);

int cmd_detect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
