/*
 * log.c — the one place that writes log lines.
 *
 * A line is formatted whole into a stack buffer and written with one write(2), so lines from
 * the delivery threads never interleave with the loop's. Text lines look like
 *   2026-11-22T06:45:28.123Z INFO queue 'jobs' created
 * and JSON lines like {"ts":"...","level":"info","msg":"queue 'jobs' created"}; JSON escaping is
 * jansson's. Debug lines carry file:line, which is noise at other levels.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int log_level_current = LOG_INFO;
static int log_format_current = LOG_TEXT;
static int log_fd = STDERR_FILENO;

static const char *const log_names[] = {"error", "warn", "info", "debug"};
static const char *const log_names_upper[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_setup(int level, int format)
{
    log_level_current = level;
    log_format_current = format;
}

int log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return SL_EIO;
    log_close_file();
    log_fd = fd;
    return 0;
}

void log_close_file(void)
{
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = STDERR_FILENO;
}

int log_parse_level(const char *s, int *level)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(log_names); i++) {
        if (strcasecmp(s, log_names[i]) == 0) {
            *level = (int)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *level = LOG_WARN;
        return 0;
    }
    return SL_EPARAM;
}

int log_parse_format(const char *s, int *format)
{
    if (strcasecmp(s, "text") == 0)
        *format = LOG_TEXT;
    else if (strcasecmp(s, "json") == 0)
        *format = LOG_JSON;
    else
        return SL_EPARAM;
    return 0;
}

static void log_timestamp(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Writes one JSON line. The message may quote bytes from a client or a file that are not
 * UTF-8, or have been cut inside a character: those bytes become '?', because jansson refuses
 * invalid UTF-8 and a log line must not be lost. The line is built whole, however long the
 * escaping makes it, and written with one write(2). */
static void log_json(int level, const char *ts, char *msg, const char *file, int line)
{
    json_t *m = json_string(msg);
    if (m == NULL) {
        for (char *c = msg; *c; c++)
            if ((unsigned char)*c >= 0x80)
                *c = '?';
        m = json_string(msg);
    }
    json_t *o = json_pack("{s:s,s:s,s:o*}", "ts", ts, "level", log_names[level], "msg", m);
    if (o == NULL)
        return;
    if (level == LOG_DEBUG)
        json_object_set_new(o, "src", json_sprintf("%s:%d", file, line));
    char small[4096];
    size_t n = json_dumpb(o, small, sizeof small - 1, JSON_COMPACT);
    char *out = small;
    if (n >= sizeof small - 1) {
        out = malloc(n + 1);
        if (out)
            json_dumpb(o, out, n, JSON_COMPACT);
    }
    json_decref(o);
    if (out == NULL)
        return;
    out[n] = '\n';
    ssize_t w SL_UNUSED = write(log_fd, out, n + 1);
    if (out != small)
        free(out);
}

void log_write(int level, int with_errno, const char *file, int line, const char *fmt, ...)
{
    int saved_errno = errno;
    char msg[2048], ts[40], out[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof msg)
        n = sizeof msg - 1;
    if (with_errno)
        snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(saved_errno));
    if (level < 0 || level > LOG_DEBUG)
        level = LOG_ERROR;
    log_timestamp(ts, sizeof ts);

    if (log_format_current == LOG_JSON) {
        log_json(level, ts, msg, file, line);
        errno = saved_errno;
        return;
    } else if (level == LOG_DEBUG) {
        n = snprintf(out, sizeof out, "%s %s %s (%s:%d)\n", ts, log_names_upper[level], msg, file,
                     line);
    } else {
        n = snprintf(out, sizeof out, "%s %s %s\n", ts, log_names_upper[level], msg);
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof out) {
        n = sizeof out;
        out[n - 1] = '\n';
    }
    /* One write per line keeps lines whole; a failed log write has nowhere to be reported. */
    ssize_t w SL_UNUSED = write(log_fd, out, (size_t)n);
    errno = saved_errno;
}
