/*
 * mem.c — counting allocation wrappers.
 *
 * The counter is updated with relaxed atomics because the delivery threads allocate too; it is a
 * statistic, not a synchronisation point.
 */
#include "mem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static atomic_size_t mem_bytes;

static void *mem_check(void *p, size_t size)
{
    if (p == NULL && size > 0) {
        log_msg(LOG_ERROR, "Out of memory allocating %zu bytes; aborting.", size);
        abort();
    }
    if (p)
        atomic_fetch_add_explicit(&mem_bytes, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *sl_malloc(size_t size)
{
    return mem_check(malloc(size ? size : 1), size ? size : 1);
}

void *sl_calloc(size_t n, size_t size)
{
    if (n && size > (size_t)-1 / n) {
        log_msg(LOG_ERROR, "Allocation of %zu x %zu bytes overflows; aborting.", n, size);
        abort();
    }
    size_t total = n * size;
    return mem_check(calloc(n ? n : 1, size ? size : 1), total ? total : 1);
}

void *sl_realloc(void *p, size_t size)
{
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = realloc(p, size ? size : 1);
    if (q == NULL) {
        log_msg(LOG_ERROR, "Out of memory reallocating to %zu bytes; aborting.", size);
        abort();
    }
    atomic_fetch_sub_explicit(&mem_bytes, old, memory_order_relaxed);
    atomic_fetch_add_explicit(&mem_bytes, malloc_usable_size(q), memory_order_relaxed);
    return q;
}

char *sl_strdup(const char *s)
{
    return sl_memdup(s, strlen(s) + 1);
}

char *sl_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = sl_malloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void *sl_memdup(const void *p, size_t n)
{
    void *d = sl_malloc(n);
    if (n)
        memcpy(d, p, n);
    return d;
}

void sl_free(void *p)
{
    if (p == NULL)
        return;
    atomic_fetch_sub_explicit(&mem_bytes, malloc_usable_size(p), memory_order_relaxed);
    free(p);
}

size_t mem_used(void)
{
    return atomic_load_explicit(&mem_bytes, memory_order_relaxed);
}
