/*
 * test_heap.c — the intrusive timer heap: deadline order, moving and removing nodes from the
 * middle, and a randomized run that checks the heap property and every node's index after each
 * operation against a brute-force minimum.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "heap.h"

/* An assertion for hot loops: Check's ck_assert records a mark point (a write to a pipe) even
 * when it passes, which costs more than the heap operation being checked. */
#define REQUIRE(cond, ...)             \
    do {                               \
        if (!(cond))                   \
            ck_abort_msg(__VA_ARGS__); \
    } while (0)

/* Checks the heap property and that every node knows its own slot. */
static void check_heap(const heap_t *h)
{
    for (uint32_t i = 0; i < h->len; i++) {
        REQUIRE(h->v[i]->idx == i, "node at %u thinks it is at %u", i, h->v[i]->idx);
        if (i > 0)
            REQUIRE(h->v[(i - 1) / 2]->at <= h->v[i]->at, "heap order broken at %u", i);
    }
}

START_TEST(test_heap_empty_has_no_top)
{
    heap_t h;
    heap_init(&h);
    ck_assert_ptr_null(heap_top(&h));
    heap_node_t n;
    heap_node_init(&n, 3);
    ck_assert(!heap_armed(&n));
    ck_assert_int_eq(n.kind, 3);
    heap_remove(&h, &n); /* not armed: nothing happens */
    ck_assert(!heap_armed(&n));
    heap_cleanup(&h);
}
END_TEST

START_TEST(test_heap_pops_in_deadline_order)
{
    enum { N = 200 };
    heap_t h;
    heap_node_t n[N];
    heap_init(&h);
    for (int i = 0; i < N; i++) {
        heap_node_init(&n[i], 0);
        heap_set(&h, &n[i], (int64_t)((i * 7919) % N) - 50); /* a permutation, some negative */
        ck_assert(heap_armed(&n[i]));
    }
    check_heap(&h);
    int64_t last = INT64_MIN;
    for (int i = 0; i < N; i++) {
        heap_node_t *top = heap_top(&h);
        ck_assert_ptr_nonnull(top);
        ck_assert_int_ge(top->at, last);
        last = top->at;
        heap_remove(&h, top);
        ck_assert(!heap_armed(top));
        check_heap(&h);
    }
    ck_assert_ptr_null(heap_top(&h));
    heap_cleanup(&h);
}
END_TEST

START_TEST(test_heap_equal_deadlines_all_come_out)
{
    heap_t h;
    heap_node_t n[10];
    heap_init(&h);
    for (int i = 0; i < 10; i++) {
        heap_node_init(&n[i], 0);
        heap_set(&h, &n[i], 5);
    }
    int seen[10] = {0};
    for (int i = 0; i < 10; i++) {
        heap_node_t *top = heap_top(&h);
        ck_assert_int_eq(top->at, 5);
        seen[top - n]++;
        heap_remove(&h, top);
    }
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(seen[i], 1);
    heap_cleanup(&h);
}
END_TEST

START_TEST(test_heap_set_on_an_armed_node_moves_it)
{
    heap_t h;
    heap_node_t a, b, c;
    heap_init(&h);
    heap_node_init(&a, 0);
    heap_node_init(&b, 0);
    heap_node_init(&c, 0);
    heap_set(&h, &a, 10);
    heap_set(&h, &b, 20);
    heap_set(&h, &c, 30);
    ck_assert_ptr_eq(heap_top(&h), &a);
    heap_set(&h, &c, 5); /* earlier */
    ck_assert_ptr_eq(heap_top(&h), &c);
    ck_assert_uint_eq(h.len, 3); /* moved, not added twice */
    heap_set(&h, &c, 25);        /* later */
    ck_assert_ptr_eq(heap_top(&h), &a);
    heap_set(&h, &a, 100);
    ck_assert_ptr_eq(heap_top(&h), &b);
    check_heap(&h);
    heap_set(&h, &b, 20); /* same time */
    ck_assert_ptr_eq(heap_top(&h), &b);
    ck_assert_uint_eq(h.len, 3);
    heap_cleanup(&h);
}
END_TEST

START_TEST(test_heap_remove_from_the_middle_keeps_the_order)
{
    enum { N = 64 };
    heap_t h;
    heap_node_t n[N];
    heap_init(&h);
    for (int i = 0; i < N; i++) {
        heap_node_init(&n[i], 0);
        heap_set(&h, &n[i], i);
    }
    for (int i = 1; i < N; i += 3) {
        heap_remove(&h, &n[i]);
        ck_assert(!heap_armed(&n[i]));
        check_heap(&h);
        heap_remove(&h, &n[i]); /* twice is harmless */
    }
    int64_t last = -1;
    while (heap_top(&h)) {
        heap_node_t *top = heap_top(&h);
        ck_assert_int_gt(top->at, last);
        ck_assert_int_ne(top->at % 3, 1);
        last = top->at;
        heap_remove(&h, top);
    }
    heap_cleanup(&h);
}
END_TEST

START_TEST(test_heap_removed_node_can_be_armed_again)
{
    heap_t h;
    heap_node_t a, b;
    heap_init(&h);
    heap_node_init(&a, 0);
    heap_node_init(&b, 0);
    heap_set(&h, &a, 1);
    heap_set(&h, &b, 2);
    heap_remove(&h, &a);
    heap_set(&h, &a, 3);
    ck_assert_ptr_eq(heap_top(&h), &b);
    ck_assert_uint_eq(h.len, 2);
    heap_remove(&h, &b);
    ck_assert_ptr_eq(heap_top(&h), &a);
    heap_cleanup(&h);
}
END_TEST

START_TEST(test_heap_cleanup_disarms_the_nodes_left)
{
    heap_t h;
    heap_node_t n[100];
    heap_init(&h);
    for (int i = 0; i < 100; i++) { /* past the first 64 slots: the array grows */
        heap_node_init(&n[i], 0);
        heap_set(&h, &n[i], 100 - i);
    }
    check_heap(&h);
    heap_cleanup(&h);
    for (int i = 0; i < 100; i++)
        ck_assert(!heap_armed(&n[i]));
    ck_assert_ptr_null(heap_top(&h));
    heap_set(&h, &n[0], 1); /* usable again */
    ck_assert_ptr_eq(heap_top(&h), &n[0]);
    heap_cleanup(&h);
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

START_TEST(test_heap_random_set_remove_and_move_keep_the_invariant)
{
    enum { N = 300, STEPS = 20000 };
    rng_state = 0x9e3779b97f4a7c15ULL + (uint64_t)_i * 7919;
    heap_t h;
    heap_node_t n[N];
    heap_init(&h);
    for (int i = 0; i < N; i++)
        heap_node_init(&n[i], 0);
    for (int step = 0; step < STEPS; step++) {
        heap_node_t *x = &n[rnd() % N];
        unsigned op = (unsigned)(rnd() % 10);
        int64_t at = (int64_t)(rnd() % 1000) - 200;
        if (op < 5)
            heap_set(&h, x, at); /* arm, or move if armed */
        else if (op < 8)
            heap_remove(&h, x);
        else if (heap_top(&h))
            heap_remove(&h, heap_top(&h));
        check_heap(&h);
        /* the top is the minimum of the armed nodes, and len counts them */
        uint32_t armed = 0;
        int64_t min = INT64_MAX;
        for (int i = 0; i < N; i++)
            if (heap_armed(&n[i])) {
                armed++;
                if (n[i].at < min)
                    min = n[i].at;
            }
        REQUIRE(h.len == armed, "step %d: len %u, %u armed", step, h.len, armed);
        if (armed)
            REQUIRE(heap_top(&h)->at == min, "step %d: top %lld, min %lld", step,
                    (long long)heap_top(&h)->at, (long long)min);
        else
            REQUIRE(heap_top(&h) == NULL, "step %d: top of an empty heap", step);
    }
    heap_cleanup(&h);
}
END_TEST

static Suite *heap_suite(void)
{
    Suite *s = suite_create("heap");
    TCase *tc = tcase_create("heap");
    tcase_add_test(tc, test_heap_empty_has_no_top);
    tcase_add_test(tc, test_heap_pops_in_deadline_order);
    tcase_add_test(tc, test_heap_equal_deadlines_all_come_out);
    tcase_add_test(tc, test_heap_set_on_an_armed_node_moves_it);
    tcase_add_test(tc, test_heap_remove_from_the_middle_keeps_the_order);
    tcase_add_test(tc, test_heap_removed_node_can_be_armed_again);
    tcase_add_test(tc, test_heap_cleanup_disarms_the_nodes_left);
    tcase_add_loop_test(tc, test_heap_random_set_remove_and_move_keep_the_invariant, 0, 4);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(heap_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
