/* FFmpeg's messages through the library's log (see av_log.h). FFmpeg writes
 * a line in pieces; each thread gathers its pieces until the newline. Its
 * levels move one down (an FFmpeg error is PS_LOG_INFO): the library says
 * itself what a failure means for a stream, in one line with its reason,
 * and counts damaged packets (ps_source_skipped). */
#include "source/av_log.h"

#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

static pthread_once_t av_once = PTHREAD_ONCE_INIT;
static _Thread_local int quiet;
static _Thread_local char pending[1024];
static _Thread_local int print_prefix = 1;

static int level_of(int av_level) {
    if (quiet) return PS_LOG_DEBUG;
    if (av_level <= AV_LOG_ERROR) return PS_LOG_INFO;
    if (av_level <= AV_LOG_VERBOSE) return PS_LOG_DEBUG;
    return -1; /* FFmpeg's debug and trace: too much even for debugging us */
}

static void on_av_log(void *avcl, int av_level, const char *fmt, va_list vl) {
    int level = level_of(av_level);
    if (level < 0 || !ps_log_on((ps_log_level)level)) return;
    size_t used = strlen(pending);
    char piece[1024];
    av_log_format_line2(avcl, av_level, fmt, vl, piece, sizeof piece, &print_prefix);
    snprintf(pending + used, sizeof pending - used, "%s", piece);
    used = strlen(pending);
    if (used == 0 || (pending[used - 1] != '\n' && used < sizeof pending - 1)) return;
    ps_log((ps_log_level)level, "ffmpeg: %s", pending);
    pending[0] = '\0';
}

static void av_init_once(void) {
    avformat_network_init();
    av_log_set_callback(on_av_log);
}

void ps_av_init(void) {
    pthread_once(&av_once, av_init_once);
}

void ps_av_log_quiet(int on) {
    quiet = on;
}
