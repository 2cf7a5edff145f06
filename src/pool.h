/*
 * pool.h — a memory arena for one request (STYLE rule 6).
 *
 * Everything temporary that one HTTP request needs (parsed parameters, the reply body, result
 * arrays from the store) comes from its pool and is freed in one go when the reply has been
 * sent. The first 1 KiB lives inside the pool_t itself, so most requests never call malloc for
 * it.
 */
#ifndef SL_POOL_H
#define SL_POOL_H

#include <stdarg.h>
#include <stddef.h>

#include "common.h"

#define POOL_INLINE 1024

struct pool_chunk;

typedef struct pool {
    struct pool_chunk *chunks; /* heap chunks, newest first */
    char *cur, *end;           /* free space in the current chunk */
    _Alignas(16) char inline_buf[POOL_INLINE];
} pool_t;

/* Prepares an empty pool in caller-owned storage. */
void pool_init(pool_t *p);

/* Frees every chunk; the pool is empty and usable again. */
void pool_cleanup(pool_t *p);

/* Returns size bytes aligned to 16, valid until pool_cleanup(). Never NULL (aborts on OOM). */
void *pool_alloc(pool_t *p, size_t size);

/* As pool_alloc, zeroed. */
void *pool_calloc(pool_t *p, size_t n, size_t size);

/* Copies n bytes and a terminating NUL into the pool. */
char *pool_strndup(pool_t *p, const char *s, size_t n);

/* Formats into the pool. */
char *pool_printf(pool_t *p, const char *fmt, ...) SL_PRINTF(2, 3);

#endif
