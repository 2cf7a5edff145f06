/*
 * heap.h — a binary min-heap of deadlines, intrusive and indexed.
 *
 * Every timer in the engine (lease expiry, release delays, delayed and expiring messages,
 * long-poll deadlines, retention checks) is a heap_node_t embedded in the object it belongs to.
 * The node remembers its own slot, so cancelling or moving a timer is O(log n) without a search;
 * the next deadline is O(1). Nothing ever scans all timers or all messages.
 */
#ifndef SL_HEAP_H
#define SL_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEAP_NONE UINT32_MAX

typedef struct heap_node {
    int64_t at;   /* deadline, ms since the epoch */
    uint32_t idx; /* slot in the heap, HEAP_NONE when not armed */
    uint8_t kind; /* what the owner is; read by the owner's dispatcher */
} heap_node_t;

typedef struct heap {
    heap_node_t **v;
    uint32_t len, cap;
} heap_t;

void heap_init(heap_t *h);

/* Frees the slot array; the nodes belong to their owners and are not touched. */
void heap_cleanup(heap_t *h);

/* Marks a node as not armed. Call once before first use. */
static inline void heap_node_init(heap_node_t *n, uint8_t kind)
{
    n->at = 0;
    n->idx = HEAP_NONE;
    n->kind = kind;
}

static inline bool heap_armed(const heap_node_t *n)
{
    return n->idx != HEAP_NONE;
}

/* Arms n at time at, or moves it there if it is already armed. */
void heap_set(heap_t *h, heap_node_t *n, int64_t at);

/* Disarms n; a node that is not armed is left alone. */
void heap_remove(heap_t *h, heap_node_t *n);

/* Returns the earliest node without removing it, or NULL when the heap is empty. */
static inline heap_node_t *heap_top(const heap_t *h)
{
    return h->len ? h->v[0] : NULL;
}

#endif
