/*
 * hmap.c — linear probing over a power-of-two array.
 *
 * A slot is empty when val is NULL, a tombstone when val is HMAP_TOMB. Lookups stop at an empty
 * slot; removals leave a tombstone so later entries of the same probe run stay reachable. The
 * stored full hash is compared before eq(), so eq() runs almost only on the real match.
 */
#include "hmap.h"

#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <xxhash.h>

#include "common.h"
#include "mem.h"

struct hmap_slot {
    uint64_t hash;
    void *val;
};

static char hmap_tomb_obj;
#define HMAP_TOMB ((void *)&hmap_tomb_obj)

static uint64_t hmap_seed;
static bool hmap_seeded;

uint64_t hmap_hash(const void *key, size_t len)
{
    if (!hmap_seeded) {
        /* A weak seed only costs flooding resistance, never correctness. */
        if (getrandom(&hmap_seed, sizeof hmap_seed, GRND_NONBLOCK) != sizeof hmap_seed)
            hmap_seed = (uint64_t)(uintptr_t)&hmap_seed ^ 0x9e3779b97f4a7c15ULL;
        hmap_seeded = true;
    }
    return XXH3_64bits_withSeed(key, len, hmap_seed);
}

void hmap_init(hmap_t *h, hmap_eq_fn eq)
{
    h->slots = NULL;
    h->cap = h->len = h->used = 0;
    h->eq = eq;
}

void hmap_cleanup(hmap_t *h)
{
    sl_free(h->slots);
    hmap_init(h, h->eq);
}

static void hmap_resize(hmap_t *h, uint32_t cap)
{
    struct hmap_slot *old = h->slots;
    uint32_t oldcap = h->cap;
    h->slots = sl_calloc(cap, sizeof *h->slots);
    h->cap = cap;
    h->used = h->len;
    for (uint32_t i = 0; i < oldcap; i++) {
        if (old[i].val == NULL || old[i].val == HMAP_TOMB)
            continue;
        uint32_t j = (uint32_t)old[i].hash & (cap - 1);
        while (h->slots[j].val)
            j = (j + 1) & (cap - 1);
        h->slots[j] = old[i];
    }
    sl_free(old);
}

static struct hmap_slot *hmap_lookup(const hmap_t *h, const void *key, size_t len, uint64_t hash)
{
    if (h->cap == 0)
        return NULL;
    for (uint32_t i = (uint32_t)hash & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
        struct hmap_slot *s = &h->slots[i];
        if (s->val == NULL)
            return NULL;
        if (s->val != HMAP_TOMB && s->hash == hash && h->eq(s->val, key, len))
            return s;
    }
}

void *hmap_find(const hmap_t *h, const void *key, size_t len)
{
    struct hmap_slot *s = hmap_lookup(h, key, len, hmap_hash(key, len));
    return s ? s->val : NULL;
}

void hmap_add(hmap_t *h, const void *key, size_t len, void *val)
{
    sl_assert(val != NULL);
    if ((h->used + 1) * 4 > h->cap * 3)
        hmap_resize(h, h->cap ? (h->len * 2 >= h->cap ? h->cap * 2 : h->cap) : 8);
    uint64_t hash = hmap_hash(key, len);
    uint32_t i = (uint32_t)hash & (h->cap - 1);
    while (h->slots[i].val && h->slots[i].val != HMAP_TOMB)
        i = (i + 1) & (h->cap - 1);
    if (h->slots[i].val == NULL)
        h->used++;
    h->slots[i].hash = hash;
    h->slots[i].val = val;
    h->len++;
}

void *hmap_remove(hmap_t *h, const void *key, size_t len)
{
    struct hmap_slot *s = hmap_lookup(h, key, len, hmap_hash(key, len));
    if (s == NULL)
        return NULL;
    void *val = s->val;
    s->val = HMAP_TOMB;
    h->len--;
    if (h->cap > 8 && h->len * 8 < h->cap)
        hmap_resize(h, h->cap / 2);
    return val;
}

void *hmap_next(const hmap_t *h, uint32_t *pos)
{
    while (*pos < h->cap) {
        void *v = h->slots[(*pos)++].val;
        if (v && v != HMAP_TOMB)
            return v;
    }
    return NULL;
}
