/* The live page of `posestream serve` (GET /) and the previews it shows
 * (GET /api/v1/streams/{id}/preview.mjpeg?fps=F&height=H: multipart MJPEG,
 * pictures encoded only while someone watches, at the rate asked). */
#ifndef PS_CLI_SERVE_PAGE_H
#define PS_CLI_SERVE_PAGE_H

#include <stddef.h>

#include "posestream.h"

/* The page (static). */
const char *serve_page_html(size_t *len);

/* Whether path is a stream's preview, and which stream. */
int serve_is_preview(const char *path, int *stream);

/* One watcher's multipart stream over a ps_preview (which it closes when
 * freed); it ends when the stream does or *stopping becomes non-zero. */
typedef struct serve_mjpeg serve_mjpeg;
serve_mjpeg *serve_mjpeg_new(ps_preview *p, const int *stopping);
void serve_mjpeg_free(serve_mjpeg *m);

/* Up to max bytes of the stream; waits for the next picture; 0 at the end. */
size_t serve_mjpeg_read(serve_mjpeg *m, char *buf, size_t max);

#endif
