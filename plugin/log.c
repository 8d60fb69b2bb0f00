/* log.c — leveled, timestamped lines on stderr (see log.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include "log.h"

#define LOG_LINE_MAX 1024

static const char *level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

/* -1: not yet read from $CONTINUO_LOG */
static atomic_int threshold = -1;
static atomic_int out_fd = 2;

bool log_level_parse(const char *name, log_level *level)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (!name) return false;
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(name, names[i])) {
            *level = (log_level)i;
            return true;
        }
    if (!strcasecmp(name, "warning")) {
        *level = CN_LOG_WARN;
        return true;
    }
    return false;
}

log_level log_get_level(void)
{
    int t = atomic_load(&threshold);
    if (t < 0) {
        log_level l = CN_LOG_INFO;
        log_level_parse(getenv("CONTINUO_LOG"), &l);
        t = (int)l;
        atomic_store(&threshold, t);
    }
    return (log_level)t;
}

void log_set_level(log_level level) { atomic_store(&threshold, (int)level); }

void log_set_fd(int fd) { atomic_store(&out_fd, fd); }

void log_vmsg(log_level level, const char *fmt, va_list ap)
{
    if ((int)level > (int)log_get_level()) return;
    if ((int)level < 0) level = CN_LOG_ERROR;
    if ((int)level > CN_LOG_DEBUG) level = CN_LOG_DEBUG;
    char line[LOG_LINE_MAX];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ continuo[%ld] %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, (long)getpid(), level_names[level]);
    if (n < 0) return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (m < 0) m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2) len = sizeof line - 2; /* cut, keep room for '\n' */
    while (len > 0 && line[len - 1] == '\n') len--;
    line[len++] = '\n';
    /* One write per line: concurrent lines never interleave (writes to a
     * pipe up to PIPE_BUF are atomic; to a tty or file they are in practice). */
    const char *p = line;
    int fd = atomic_load(&out_fd);
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        p += w;
        len -= (size_t)w;
    }
}

void log_msg(log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}
