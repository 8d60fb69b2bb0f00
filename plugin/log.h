/* log.h — stderr logging with levels and timestamps, for the long-running
 * hosts (the installation runs for days under systemd, whose journal keeps
 * stderr). One line per message:
 *
 *   2026-11-25T21:14:03.512Z continuo[1234] WARN  alsa: queue underrun
 *
 * The level threshold comes from log_set_level or the environment variable
 * CONTINUO_LOG (error, warn, info, debug; default info). The timestamp is
 * UTC wall-clock time with milliseconds; the engine never reads it.
 *
 * Thread-safe (one write(2) per line, so lines from threads never mix) but
 * NOT real-time safe: it formats into a stack buffer and writes to a file
 * descriptor, which may block. Call it from setup, worker or main threads,
 * never from a JACK process callback. */
#ifndef CONTINUO_LOG_H
#define CONTINUO_LOG_H

#include <stdarg.h>
#include <stdbool.h>

typedef enum { CN_LOG_ERROR = 0, CN_LOG_WARN, CN_LOG_INFO, CN_LOG_DEBUG } log_level;

/* Messages above this level are dropped. */
void log_set_level(log_level level);
log_level log_get_level(void);
/* "error" "warn" "info" "debug" (case-insensitive) -> level; FALSE if none. */
bool log_level_parse(const char *name, log_level *level);
/* Where lines go (default 2 = stderr); tests point it at a pipe or file. */
void log_set_fd(int fd);

/* One message; a trailing newline in fmt is optional (one is always added).
 * Lines longer than about 1 KiB are cut. */
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(log_level level, const char *fmt, va_list ap);

#define log_error(...) log_msg(CN_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(CN_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(CN_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(CN_LOG_DEBUG, __VA_ARGS__)

#endif
