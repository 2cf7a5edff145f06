/*
 * buf.h — a growable byte buffer for the sluice CLI.
 *
 * The CLI accumulates three things whose size it does not know in advance: a message read from
 * standard input, a reply body arriving from libcurl, and URL paths and header lines it builds.
 * This is the one growable buffer for all three. The data is always followed by a NUL byte that
 * is not counted in len, so text can be passed to C string functions, while binary data (which
 * may contain NULs) is read through data and len.
 */
#ifndef SL_CLI_BUF_H
#define SL_CLI_BUF_H

#include <stddef.h>

#include "common.h"

typedef struct buf {
    char *data; /* NULL until the first byte is added; owned, freed by buf_cleanup() */
    size_t len; /* bytes used, excluding the terminating NUL */
    size_t cap; /* bytes allocated */
} buf_t;

/* Prepares an empty buffer in caller-owned storage. */
void buf_init(buf_t *b);

/* Frees the data; the buffer is empty and usable again. */
void buf_cleanup(buf_t *b);

/* Appends n bytes from p (which may contain NULs). Aborts on out-of-memory, as every allocation
 * does (src/mem.h). */
void buf_add(buf_t *b, const void *p, size_t n);

/* Appends the NUL-terminated string s. */
void buf_adds(buf_t *b, const char *s);

/* Appends printf-formatted text. */
void buf_printf(buf_t *b, const char *fmt, ...) SL_PRINTF(2, 3);

/* Removes the first n bytes (at most len); the rest moves to the front. */
void buf_consume(buf_t *b, size_t n);

/* Returns the data as a NUL-terminated string, never NULL ("" for an empty buffer), borrowed:
 * valid until the buffer is next changed or cleaned up. */
const char *buf_str(const buf_t *b);

/* Hands the data over to the caller, who frees it with sl_free(); never NULL. The buffer is left
 * empty. */
char *buf_steal(buf_t *b);

#endif
