/*
 * list.h — intrusive circular doubly-linked list (header only).
 *
 * An object that sits on a list embeds a list_t; the list head is a sentinel list_t. Removal is
 * O(1) and needs no search, which is why the engine's retry lists, waiter lists and key lanes
 * use it. list_remove leaves the node self-linked, so list_linked() tells whether it is on one.
 */
#ifndef SL_LIST_H
#define SL_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct list {
    struct list *prev, *next;
} list_t;

static inline void list_init(list_t *l)
{
    l->prev = l->next = l;
}

static inline bool list_empty(const list_t *l)
{
    return l->next == l;
}

static inline bool list_linked(const list_t *n)
{
    return n->next != n && n->next != NULL;
}

static inline void list_insert_before(list_t *pos, list_t *n)
{
    n->prev = pos->prev;
    n->next = pos;
    pos->prev->next = n;
    pos->prev = n;
}

/* Appends n at the tail of l. */
static inline void list_push(list_t *l, list_t *n)
{
    list_insert_before(l, n);
}

/* Inserts n at the head of l. */
static inline void list_unshift(list_t *l, list_t *n)
{
    list_insert_before(l->next, n);
}

static inline void list_remove(list_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* Removes and returns the head of l, or NULL when empty. */
static inline list_t *list_shift(list_t *l)
{
    list_t *n = l->next;
    if (n == l)
        return NULL;
    list_remove(n);
    return n;
}

#define list_entry(ptr, type, member) SL_CONTAINER_OF(ptr, type, member)

#endif
