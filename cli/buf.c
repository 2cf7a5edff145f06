/*
 * buf.c — the growable byte buffer of the CLI.
 *
 * Capacity doubles, so appending n bytes one chunk at a time costs O(n) copies in total; that
 * matters for a message piped in on standard input, which arrives in 64 KiB reads.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"

void buf_init(buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_cleanup(buf_t *b)
{
    sl_free(b->data);
    buf_init(b);
}

/* Makes room for n more bytes plus the terminating NUL. */
static void buf_reserve(buf_t *b, size_t n)
{
    sl_assert(n < (size_t)-1 / 2 - b->len);
    if (b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    b->data = sl_realloc(b->data, cap);
    b->cap = cap;
}

void buf_add(buf_t *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_consume(buf_t *b, size_t n)
{
    if (n == 0)
        return;
    memmove(b->data, b->data + n, b->len - n + 1); /* with the NUL */
    b->len -= n;
}

void buf_adds(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    sl_assert(n >= 0);
    if ((size_t)n < sizeof small) {
        buf_add(b, small, (size_t)n);
        return;
    }
    /* Too long for the stack buffer: format again straight into the reserved space. */
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *buf_str(const buf_t *b)
{
    return b->data ? b->data : "";
}

char *buf_steal(buf_t *b)
{
    char *s = b->data ? b->data : sl_strdup("");
    buf_init(b);
    return s;
}
