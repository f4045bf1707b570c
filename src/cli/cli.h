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

/* Parses "auto", "cuda" or "cpu"; prints an error and returns 1 otherwise. */
int cli_parse_backend(const char *arg, ps_backend *out);

int cmd_detect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
