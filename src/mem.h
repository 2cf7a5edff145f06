/*
 * mem.h — the allocation policy, decided once (STYLE rule 7).
 *
 * Every allocation of the server goes through these wrappers. They count live bytes (shown in
 * metrics and compared against limits) and abort with a log line when the system is out of
 * memory: input cannot drive us there, because every size a client controls is bounded by
 * configuration, so an allocation failure is an operational emergency, not an error path.
 *
 * The counter needs the size at free time; glibc's malloc_usable_size gives it without a
 * header of our own, so these pointers stay compatible with free() (and libraries may free
 * them, e.g. MHD's MUST_FREE responses) — at the price of the counter then missing that free.
 */
#ifndef SL_MEM_H
#define SL_MEM_H

#include <stddef.h>

/* Never return NULL: on failure they log and abort. Free with sl_free(). */
void *sl_malloc(size_t size);
void *sl_calloc(size_t n, size_t size);
void *sl_realloc(void *p, size_t size);
char *sl_strdup(const char *s);
char *sl_strndup(const char *s, size_t n);
void *sl_memdup(const void *p, size_t n);

/* Frees p; NULL is fine. */
void sl_free(void *p);

/* Bytes currently allocated through these wrappers (approximate: usable sizes). */
size_t mem_used(void);

#endif
