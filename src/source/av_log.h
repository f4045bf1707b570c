/* FFmpeg's messages through the library's log (ps_log_set): FFmpeg is set
 * up once per process here, its log callback made ours. */
#ifndef PS_SOURCE_AV_LOG_H
#define PS_SOURCE_AV_LOG_H

/* Once per process: network protocols (TLS) initialised and FFmpeg's log
 * callback set. Any thread, any number of times. */
void ps_av_init(void);

/* While set (on this thread), FFmpeg's messages are passed on as
 * PS_LOG_DEBUG only: a probe whose failure is expected (no GPU) must not
 * print "Cannot load libcuda.so.1" on every machine without one. */
void ps_av_log_quiet(int on);

#endif
