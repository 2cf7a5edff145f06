/*
 * log.h — levelled logging to stderr (or a file), as text or JSON lines (STYLE rule 14).
 *
 * log_msg() is a macro that tests the level before anything is formatted, so a debug line in a
 * hot path costs one comparison when debug is off. Messages are full sentences naming the
 * object (queue, file, line); modules never printf.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include "common.h"

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_TEXT = 0, LOG_JSON };

extern int log_level_current;

#define log_msg(level, ...)                                         \
    do {                                                            \
        if ((level) <= log_level_current)                           \
            log_write((level), 0, __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

/* As log_msg, with ": " and strerror(errno) appended. */
#define log_errno(level, ...)                                       \
    do {                                                            \
        if ((level) <= log_level_current)                           \
            log_write((level), 1, __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

/* Sets the threshold and the line format. */
void log_setup(int level, int format);

/* Sends log lines to the file at path (appended, created if missing) instead of stderr.
 * Returns 0, or SL_EIO when the file cannot be opened (errno tells why). */
int log_open_file(const char *path);

/* Closes a file opened by log_open_file(); lines go to stderr again. */
void log_close_file(void);

/* Parses "error", "warn", "info", "debug" into *level. Returns 0 or SL_EPARAM. */
int log_parse_level(const char *s, int *level);

/* Parses "text" or "json" into *format. Returns 0 or SL_EPARAM. */
int log_parse_format(const char *s, int *format);

/* Writes one line; use the macros, which check the level first. */
void log_write(int level, int with_errno, const char *file, int line, const char *fmt, ...)
    SL_PRINTF(5, 6);

#endif
