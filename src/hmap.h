/*
 * hmap.h — an open-addressing hash table from byte-string keys to objects that hold their key.
 *
 * The table stores (hash, pointer) pairs only: the key lives in the value object, and the
 * caller's eq() compares a value with a key. That keeps an entry at 16 bytes and lets one
 * implementation serve queue names, group names, ordering keys, idempotency keys and 64-bit
 * message ids (an 8-byte key). Hashes are XXH3 with a per-process random seed, so a client
 * cannot choose names that collide (hash flooding).
 *
 * Linear probing with tombstones; the table doubles at 3/4 full and halves below 1/8.
 */
#ifndef SL_HMAP_H
#define SL_HMAP_H

#include <stddef.h>
#include <stdint.h>

/* Returns non-zero when val's key equals key[0..len). */
typedef int (*hmap_eq_fn)(const void *val, const void *key, size_t len);

struct hmap_slot;

typedef struct hmap {
    struct hmap_slot *slots;
    uint32_t cap;  /* power of two, or 0 before the first add */
    uint32_t len;  /* live entries */
    uint32_t used; /* live entries + tombstones */
    hmap_eq_fn eq;
} hmap_t;

void hmap_init(hmap_t *h, hmap_eq_fn eq);

/* Frees the table; the values are the caller's. */
void hmap_cleanup(hmap_t *h);

/* Returns the value whose key is key[0..len), or NULL. */
void *hmap_find(const hmap_t *h, const void *key, size_t len);

/* Adds val under key[0..len); the key must not be present already. val must not be NULL and must
 * stay valid (with its key) until removed. */
void hmap_add(hmap_t *h, const void *key, size_t len, void *val);

/* Removes and returns the value under key, or NULL when absent. */
void *hmap_remove(hmap_t *h, const void *key, size_t len);

/* Iterates: start with *pos = 0; returns the next value, or NULL at the end. The table must not
 * be changed during an iteration. */
void *hmap_next(const hmap_t *h, uint32_t *pos);

/* The seeded hash used by the table (exposed for tests). */
uint64_t hmap_hash(const void *key, size_t len);

#endif
