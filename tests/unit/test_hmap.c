/*
 * test_hmap.c — the open-addressing table: many keys, removal and tombstones, growth at 3/4 and
 * shrinking below 1/8, iteration, binary keys, and a randomized run against a plain array.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

/* For hot loops: Check's ck_assert writes a mark point to a pipe even when it passes. */
#define REQUIRE(cond, ...)             \
    do {                               \
        if (!(cond))                   \
            ck_abort_msg(__VA_ARGS__); \
    } while (0)

typedef struct item {
    size_t len;
    char key[32];
    int visits;
} item_t;

static int item_eq(const void *val, const void *key, size_t len)
{
    const item_t *it = val;
    return it->len == len && memcmp(it->key, key, len) == 0;
}

static void item_set(item_t *it, int n)
{
    it->len = (size_t)snprintf(it->key, sizeof it->key, "key-%d", n);
    it->visits = 0;
}

static void add_item(hmap_t *h, item_t *it)
{
    hmap_add(h, it->key, it->len, it);
}

static item_t *find_n(const hmap_t *h, int n)
{
    char key[32];
    int len = snprintf(key, sizeof key, "key-%d", n);
    return hmap_find(h, key, (size_t)len);
}

static item_t *remove_n(hmap_t *h, int n)
{
    char key[32];
    int len = snprintf(key, sizeof key, "key-%d", n);
    return hmap_remove(h, key, (size_t)len);
}

/* The table's own bookkeeping: a power-of-two capacity, load at most 3/4, counts that agree. */
static void check_table(const hmap_t *h)
{
    if (h->cap == 0) {
        REQUIRE(h->len == 0 && h->used == 0, "empty table with len %u", h->len);
        return;
    }
    REQUIRE((h->cap & (h->cap - 1)) == 0, "capacity %u is not a power of two", h->cap);
    REQUIRE(h->len <= h->used, "len %u > used %u", h->len, h->used);
    REQUIRE((uint64_t)h->used * 4 <= (uint64_t)h->cap * 3, "used %u of %u: over 3/4", h->used,
            h->cap);
    uint32_t pos = 0, n = 0;
    while (hmap_next(h, &pos))
        n++;
    REQUIRE(n == h->len, "iteration saw %u of %u", n, h->len);
}

START_TEST(test_hmap_empty_table_finds_nothing)
{
    hmap_t h;
    hmap_init(&h, item_eq);
    ck_assert_ptr_null(hmap_find(&h, "a", 1));
    ck_assert_ptr_null(hmap_remove(&h, "a", 1));
    uint32_t pos = 0;
    ck_assert_ptr_null(hmap_next(&h, &pos));
    ck_assert_uint_eq(h.len, 0);
    hmap_cleanup(&h);
}
END_TEST

START_TEST(test_hmap_finds_every_one_of_many_keys)
{
    enum { N = 20000 };
    static item_t items[N];
    hmap_t h;
    hmap_init(&h, item_eq);
    for (int i = 0; i < N; i++) {
        item_set(&items[i], i);
        add_item(&h, &items[i]);
    }
    ck_assert_uint_eq(h.len, N);
    check_table(&h);
    for (int i = 0; i < N; i++)
        REQUIRE(find_n(&h, i) == &items[i], "key-%d not found", i);
    for (int i = N; i < N + 1000; i++)
        REQUIRE(find_n(&h, i) == NULL, "absent key-%d found", i);
    hmap_cleanup(&h);
}
END_TEST

START_TEST(test_hmap_removed_keys_are_gone_and_the_others_stay)
{
    enum { N = 5000 };
    static item_t items[N];
    hmap_t h;
    hmap_init(&h, item_eq);
    for (int i = 0; i < N; i++) {
        item_set(&items[i], i);
        add_item(&h, &items[i]);
    }
    for (int i = 0; i < N; i += 2)
        REQUIRE(remove_n(&h, i) == &items[i], "remove key-%d", i);
    ck_assert_uint_eq(h.len, N / 2);
    check_table(&h);
    for (int i = 0; i < N; i++)
        REQUIRE(find_n(&h, i) == (i % 2 ? &items[i] : NULL), "key-%d after removals", i);
    ck_assert_ptr_null(remove_n(&h, 0)); /* already removed */
    ck_assert_uint_eq(h.len, N / 2);
    hmap_cleanup(&h);
}
END_TEST

START_TEST(test_hmap_grows_at_three_quarters_and_shrinks_below_one_eighth)
{
    enum { N = 4096 };
    static item_t items[N];
    hmap_t h;
    hmap_init(&h, item_eq);
    uint32_t grows = 0, last_cap = 0;
    for (int i = 0; i < N; i++) {
        item_set(&items[i], i);
        add_item(&h, &items[i]);
        if (h.cap != last_cap) {
            REQUIRE(h.cap > last_cap, "capacity fell while adding");
            grows++;
            last_cap = h.cap;
        }
        check_table(&h);
    }
    ck_assert_uint_ge(grows, 10); /* 8 -> 8192 */
    ck_assert_uint_le(h.cap, 8192);
    uint32_t big = h.cap;
    for (int i = 0; i < N - 10; i++) {
        remove_n(&h, i);
        REQUIRE(h.cap <= 8 || h.len * 8 >= h.cap / 2, "cap %u still large for %u entries", h.cap,
                h.len);
        check_table(&h);
    }
    ck_assert_uint_lt(h.cap, big / 64); /* 10 entries left: shrunk a long way */
    for (int i = N - 10; i < N; i++)
        ck_assert_ptr_eq(find_n(&h, i), &items[i]);
    hmap_cleanup(&h);
}
END_TEST

START_TEST(test_hmap_tombstones_do_not_fill_the_table)
{
    /* Adding and removing different keys while few are live leaves tombstones; they must be
     * cleared by rehashing so lookups always reach an empty slot and the table stays small. */
    enum { N = 100000 };
    static item_t items[16];
    hmap_t h;
    hmap_init(&h, item_eq);
    for (int i = 0; i < N; i++) {
        item_t *it = &items[i % 16];
        if (i >= 16)
            REQUIRE(remove_n(&h, i - 16) == it, "remove key-%d", i - 16);
        item_set(it, i);
        add_item(&h, it);
        REQUIRE(h.len == (i < 16 ? (uint32_t)i + 1 : 16u), "len %u at %d", h.len, i);
        REQUIRE(h.cap <= 64, "capacity grew to %u with 16 live keys", h.cap);
        REQUIRE(h.used < h.cap, "no empty slot left (used %u of %u)", h.used, h.cap);
    }
    for (int i = N - 16; i < N; i++)
        ck_assert_ptr_eq(find_n(&h, i), &items[i % 16]);
    ck_assert_ptr_null(find_n(&h, N - 17));
    ck_assert_ptr_null(find_n(&h, N));
    check_table(&h);
    hmap_cleanup(&h);
}
END_TEST

START_TEST(test_hmap_iteration_visits_each_live_value_once)
{
    enum { N = 1000 };
    static item_t items[N];
    hmap_t h;
    hmap_init(&h, item_eq);
    for (int i = 0; i < N; i++) {
        item_set(&items[i], i);
        add_item(&h, &items[i]);
    }
    for (int i = 0; i < N; i += 3)
        remove_n(&h, i);
    uint32_t pos = 0;
    item_t *it;
    while ((it = hmap_next(&h, &pos)) != NULL)
        it->visits++;
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(items[i].visits, i % 3 ? 1 : 0);
    ck_assert_ptr_null(hmap_next(&h, &pos)); /* stays at the end */
    hmap_cleanup(&h);
}
END_TEST

typedef struct idval {
    uint64_t id;
} idval_t;

static int id_eq(const void *val, const void *key, size_t len)
{
    return len == sizeof(uint64_t) && ((const idval_t *)val)->id == *(const uint64_t *)key;
}

START_TEST(test_hmap_binary_keys_with_nul_bytes_and_prefixes_are_distinct)
{
    static item_t a = {3, {'a', '\0', 'b'}, 0}, b = {3, {'a', '\0', 'c'}, 0}, c = {1, {'a'}, 0},
                  d = {2, {'a', '\0'}, 0}, e = {0, {0}, 0};
    hmap_t h;
    hmap_init(&h, item_eq);
    add_item(&h, &a);
    add_item(&h, &b);
    add_item(&h, &c);
    add_item(&h, &d);
    add_item(&h, &e); /* the empty key */
    ck_assert_ptr_eq(hmap_find(&h, "a\0b", 3), &a);
    ck_assert_ptr_eq(hmap_find(&h, "a\0c", 3), &b);
    ck_assert_ptr_eq(hmap_find(&h, "a", 1), &c);
    ck_assert_ptr_eq(hmap_find(&h, "a\0", 2), &d);
    ck_assert_ptr_eq(hmap_find(&h, "", 0), &e);
    ck_assert_ptr_null(hmap_find(&h, "a\0d", 3));
    hmap_cleanup(&h);

    enum { N = 3000 };
    static idval_t ids[N];
    hmap_init(&h, id_eq);
    for (int i = 0; i < N; i++) {
        ids[i].id = (uint64_t)i << 32 | (uint64_t)i; /* 8-byte keys as the engine uses */
        hmap_add(&h, &ids[i].id, sizeof ids[i].id, &ids[i]);
    }
    for (int i = 0; i < N; i++) {
        uint64_t k = (uint64_t)i << 32 | (uint64_t)i;
        REQUIRE(hmap_find(&h, &k, sizeof k) == &ids[i], "id %d", i);
    }
    hmap_cleanup(&h);
}
END_TEST

START_TEST(test_hmap_hash_is_stable_within_a_process_and_spreads_keys)
{
    ck_assert_uint_eq(hmap_hash("queue", 5), hmap_hash("queue", 5));
    ck_assert_uint_ne(hmap_hash("queue", 5), hmap_hash("queuf", 5));
    ck_assert_uint_ne(hmap_hash("a", 1), hmap_hash("a\0", 2));
    (void)hmap_hash("", 0);
    /* the low bits pick the slot: 4096 keys should land in most of 4096 buckets */
    static unsigned char hit[4096];
    unsigned filled = 0;
    for (int i = 0; i < 4096; i++) {
        char key[16];
        int n = snprintf(key, sizeof key, "k%d", i);
        unsigned b = (unsigned)(hmap_hash(key, (size_t)n) & 4095);
        if (!hit[b]++)
            filled++;
    }
    ck_assert_uint_gt(filled, 2300); /* a random function fills about 63% (2589) */
}
END_TEST

START_TEST(test_hmap_cleanup_leaves_an_empty_usable_table)
{
    item_t a;
    item_set(&a, 1);
    hmap_t h;
    hmap_init(&h, item_eq);
    add_item(&h, &a);
    hmap_cleanup(&h);
    ck_assert_uint_eq(h.len, 0);
    ck_assert_ptr_null(find_n(&h, 1));
    add_item(&h, &a);
    ck_assert_ptr_eq(find_n(&h, 1), &a);
    hmap_cleanup(&h);
}
END_TEST

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

START_TEST(test_hmap_random_adds_and_removes_match_a_plain_array)
{
    enum { K = 600, STEPS = 60000 };
    static item_t items[K];
    static bool present[K];
    rng_state = 0x2545f4914f6cdd1dULL + (uint64_t)_i * 104729;
    hmap_t h;
    hmap_init(&h, item_eq);
    uint32_t live = 0;
    for (int step = 0; step < STEPS; step++) {
        int k = (int)(rnd() % K);
        /* phases bias towards adding then removing, so the table grows and shrinks */
        bool adding = (step / 5000) % 2 == 0 ? rnd() % 4 != 0 : rnd() % 4 == 0;
        if (adding && !present[k]) {
            item_set(&items[k], k);
            add_item(&h, &items[k]);
            present[k] = true;
            live++;
        } else if (!adding) {
            item_t *r = remove_n(&h, k);
            REQUIRE(r == (present[k] ? &items[k] : NULL), "step %d: remove key-%d", step, k);
            if (present[k])
                live--;
            present[k] = false;
        }
        REQUIRE(h.len == live, "step %d: len %u, model %u", step, h.len, live);
        int probe = (int)(rnd() % K);
        REQUIRE(find_n(&h, probe) == (present[probe] ? &items[probe] : NULL),
                "step %d: find key-%d", step, probe);
        if (step % 997 == 0) {
            check_table(&h);
            for (int i = 0; i < K; i++)
                REQUIRE(find_n(&h, i) == (present[i] ? &items[i] : NULL), "step %d: key-%d", step,
                        i);
        }
    }
    hmap_cleanup(&h);
}
END_TEST

static Suite *hmap_suite(void)
{
    Suite *s = suite_create("hmap");
    TCase *tc = tcase_create("hmap");
    tcase_add_test(tc, test_hmap_empty_table_finds_nothing);
    tcase_add_test(tc, test_hmap_finds_every_one_of_many_keys);
    tcase_add_test(tc, test_hmap_removed_keys_are_gone_and_the_others_stay);
    tcase_add_test(tc, test_hmap_grows_at_three_quarters_and_shrinks_below_one_eighth);
    tcase_add_test(tc, test_hmap_tombstones_do_not_fill_the_table);
    tcase_add_test(tc, test_hmap_iteration_visits_each_live_value_once);
    tcase_add_test(tc, test_hmap_binary_keys_with_nul_bytes_and_prefixes_are_distinct);
    tcase_add_test(tc, test_hmap_hash_is_stable_within_a_process_and_spreads_keys);
    tcase_add_test(tc, test_hmap_cleanup_leaves_an_empty_usable_table);
    tcase_add_loop_test(tc, test_hmap_random_adds_and_removes_match_a_plain_array, 0, 4);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hmap_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
