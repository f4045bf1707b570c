/* Whole-file reads with errors that name the file and the reason. */
#ifndef PS_UTIL_FILE_H
#define PS_UTIL_FILE_H

#include <stddef.h>

#include "posestream.h"

/* Reads path into a new buffer (NUL-terminated, *size excludes the NUL).
 * Refuses files larger than max_size. On failure returns PS_ERR_IO with
 * "<path>: <reason>" and leaves *data NULL. */
ps_status ps_file_read(const char *path, size_t max_size, char **data,
                       size_t *size, ps_err *err);

/* 1 if path exists and is a directory, else 0. */
int ps_file_is_dir(const char *path);

#endif
