/*
 * pool.c — bump allocator with a chain of chunks.
 *
 * Allocations are never freed one by one; a chunk is 4 KiB, or exactly the request for anything
 * bigger, so one large reply does not waste a chunk's worth of space.
 */
#include "pool.h"

#include <stdio.h>
#include <string.h>

#include "mem.h"

#define POOL_CHUNK 4096
#define POOL_ALIGN 16

struct pool_chunk {
    struct pool_chunk *next;
    _Alignas(16) char data[];
};

void pool_init(pool_t *p)
{
    p->chunks = NULL;
    p->cur = p->inline_buf;
    p->end = p->inline_buf + POOL_INLINE;
}

void pool_cleanup(pool_t *p)
{
    struct pool_chunk *c = p->chunks, *next;
    for (; c; c = next) {
        next = c->next;
        sl_free(c);
    }
    pool_init(p);
}

void *pool_alloc(pool_t *p, size_t size)
{
    size = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
    if ((size_t)(p->end - p->cur) < size) {
        int big = size > POOL_CHUNK / 2;
        struct pool_chunk *c = sl_malloc(sizeof *c + (big ? size : POOL_CHUNK));
        c->next = p->chunks;
        p->chunks = c;
        if (big) /* a block of its own: keep the current chunk's free space for small ones */
            return c->data;
        p->cur = c->data;
        p->end = c->data + POOL_CHUNK;
    }
    void *r = p->cur;
    p->cur += size;
    return r;
}

void *pool_calloc(pool_t *p, size_t n, size_t size)
{
    sl_assert(size == 0 || n <= (size_t)-1 / size);
    void *r = pool_alloc(p, n * size);
    memset(r, 0, n * size);
    return r;
}

char *pool_strndup(pool_t *p, const char *s, size_t n)
{
    char *d = pool_alloc(p, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *pool_printf(pool_t *p, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    sl_assert(n >= 0);
    char *d = pool_alloc(p, (size_t)n + 1);
    if ((size_t)n < sizeof small) {
        memcpy(d, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(d, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return d;
}
