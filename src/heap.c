/*
 * heap.c — the classic array heap (children of i at 2i+1 and 2i+2), with every move writing the
 * node's new index back into the node so it can later be removed from the middle.
 */
#include "heap.h"

#include "common.h"
#include "mem.h"

void heap_init(heap_t *h)
{
    h->v = NULL;
    h->len = h->cap = 0;
}

void heap_cleanup(heap_t *h)
{
    for (uint32_t i = 0; i < h->len; i++)
        h->v[i]->idx = HEAP_NONE;
    sl_free(h->v);
    heap_init(h);
}

static void heap_place(heap_t *h, uint32_t i, heap_node_t *n)
{
    h->v[i] = n;
    n->idx = i;
}

static void heap_up(heap_t *h, uint32_t i)
{
    heap_node_t *n = h->v[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->v[parent]->at <= n->at)
            break;
        heap_place(h, i, h->v[parent]);
        i = parent;
    }
    heap_place(h, i, n);
}

static void heap_down(heap_t *h, uint32_t i)
{
    heap_node_t *n = h->v[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && h->v[c + 1]->at < h->v[c]->at)
            c++;
        if (n->at <= h->v[c]->at)
            break;
        heap_place(h, i, h->v[c]);
        i = c;
    }
    heap_place(h, i, n);
}

void heap_set(heap_t *h, heap_node_t *n, int64_t at)
{
    if (heap_armed(n)) {
        int64_t old = n->at;
        n->at = at;
        if (at < old)
            heap_up(h, n->idx);
        else
            heap_down(h, n->idx);
        return;
    }
    if (h->len == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = sl_realloc(h->v, h->cap * sizeof *h->v);
    }
    n->at = at;
    heap_place(h, h->len++, n);
    heap_up(h, n->idx);
}

void heap_remove(heap_t *h, heap_node_t *n)
{
    if (!heap_armed(n))
        return;
    uint32_t i = n->idx;
    sl_assert(i < h->len && h->v[i] == n);
    n->idx = HEAP_NONE;
    h->len--;
    if (i == h->len)
        return;
    heap_node_t *last = h->v[h->len];
    heap_place(h, i, last);
    if (i > 0 && h->v[(i - 1) / 2]->at > last->at)
        heap_up(h, i);
    else
        heap_down(h, i);
}
