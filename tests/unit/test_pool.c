/*
 * test_pool.c — the per-request arena: the inline first kilobyte, 4 KiB chunks, blocks of their
 * own for big allocations, alignment, and reuse after cleanup. Run under ASan, every byte handed
 * out is written, so an allocation smaller than asked for is caught.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

static bool in_inline(const pool_t *p, const void *ptr, size_t size)
{
    const char *c = ptr;
    return c >= p->inline_buf && c + size <= p->inline_buf + POOL_INLINE;
}

START_TEST(test_pool_small_allocations_come_from_the_inline_buffer)
{
    pool_t p;
    pool_init(&p);
    void *a = pool_alloc(&p, 10);
    void *b = pool_alloc(&p, 100);
    ck_assert(in_inline(&p, a, 10));
    ck_assert(in_inline(&p, b, 100));
    ck_assert_ptr_null(p.chunks);
    ck_assert_ptr_eq(a, p.inline_buf);
    ck_assert_ptr_eq(b, p.inline_buf + 16); /* 10 rounded up to 16 */
    pool_cleanup(&p);
}
END_TEST

START_TEST(test_pool_exactly_the_inline_size_fits_without_malloc)
{
    pool_t p;
    pool_init(&p);
    char *a = pool_alloc(&p, POOL_INLINE);
    ck_assert_ptr_eq(a, p.inline_buf);
    ck_assert_ptr_null(p.chunks);
    memset(a, 0xab, POOL_INLINE);
    char *b = pool_alloc(&p, 1); /* no room left: a chunk */
    ck_assert(!in_inline(&p, b, 1));
    ck_assert_ptr_nonnull(p.chunks);
    *b = 1;
    pool_cleanup(&p);
}
END_TEST

START_TEST(test_pool_allocations_are_16_byte_aligned)
{
    pool_t p;
    pool_init(&p);
    const size_t sizes[] = {1, 3, 7, 15, 16, 17, 31, 33, 100, 1000, 2047, 2049, 4095, 5000, 1};
    for (int round = 0; round < 20; round++)
        for (size_t i = 0; i < SL_ARRAY_LEN(sizes); i++) {
            void *a = pool_alloc(&p, sizes[i]);
            ck_assert_msg(((uintptr_t)a & 15) == 0, "size %zu not aligned", sizes[i]);
        }
    pool_cleanup(&p);
}
END_TEST

START_TEST(test_pool_many_allocations_keep_their_contents)
{
    enum { N = 2000 };
    pool_t p;
    pool_init(&p);
    unsigned char *ptr[N];
    size_t size[N];
    for (int i = 0; i < N; i++) {
        size[i] = (size_t)(i * 37 % 700) + (i % 50 == 0 ? 3000 : 0);
        ptr[i] = pool_alloc(&p, size[i]);
        memset(ptr[i], i & 0xff, size[i]);
    }
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < size[i]; k++)
            if (ptr[i][k] != (i & 0xff))
                ck_abort_msg("allocation %d byte %zu overwritten", i, k);
    pool_cleanup(&p);
}
END_TEST

START_TEST(test_pool_big_allocation_gets_its_own_block_and_keeps_the_chunk_free_space)
{
    pool_t p;
    pool_init(&p);
    pool_alloc(&p, POOL_INLINE);   /* fill the inline buffer */
    char *s1 = pool_alloc(&p, 16); /* starts a 4 KiB chunk */
    char *big = pool_alloc(&p, 100000);
    memset(big, 0x5a, 100000);
    char *s2 = pool_alloc(&p, 16);
    ck_assert_ptr_eq(s2, s1 + 16);    /* still the same chunk: the big block did not replace it */
    char *mid = pool_alloc(&p, 3000); /* still fits the chunk's free space: taken from it */
    ck_assert_ptr_eq(mid, s2 + 16);
    memset(mid, 0x5b, 3000);
    char *big2 = pool_alloc(&p, 3000); /* does not fit, over half a chunk: a block of its own */
    memset(big2, 0x5c, 3000);
    char *s3 = pool_alloc(&p, 16);
    ck_assert_ptr_eq(s3, mid + 3008); /* the chunk's remaining space is still used */
    for (size_t i = 0; i < 100000; i++)
        if ((unsigned char)big[i] != 0x5a)
            ck_abort_msg("big block byte %zu overwritten", i);
    pool_cleanup(&p);
}
END_TEST

START_TEST(test_pool_calloc_returns_zeroed_memory_even_when_reused)
{
    pool_t p;
    pool_init(&p);
    memset(pool_alloc(&p, 512), 0xff, 512);
    memset(pool_alloc(&p, 8000), 0xff, 8000);
    pool_cleanup(&p);
    unsigned char *a = pool_calloc(&p, 64, 8); /* the same inline bytes as before */
    for (size_t i = 0; i < 512; i++)
        if (a[i] != 0)
            ck_abort_msg("byte %zu of the inline calloc is not zero", i);
    unsigned char *b = pool_calloc(&p, 1000, 9);
    for (size_t i = 0; i < 9000; i++)
        if (b[i] != 0)
            ck_abort_msg("byte %zu of the chunk calloc is not zero", i);
    pool_cleanup(&p);
}
END_TEST

START_TEST(test_pool_strndup_copies_n_bytes_and_terminates)
{
    pool_t p;
    pool_init(&p);
    char src[5] = {'h', 'e', 'l', 'l', 'o'}; /* not terminated */
    char *d = pool_strndup(&p, src, 5);
    ck_assert_str_eq(d, "hello");
    ck_assert_str_eq(pool_strndup(&p, "hello world", 4), "hell");
    ck_assert_str_eq(pool_strndup(&p, "x", 0), "");
    pool_cleanup(&p);
}
END_TEST

START_TEST(test_pool_printf_formats_short_and_long_strings)
{
    pool_t p;
    pool_init(&p);
    ck_assert_str_eq(pool_printf(&p, "%s-%d", "queue", 42), "queue-42");
    ck_assert_str_eq(pool_printf(&p, "%s", ""), "");
    char longer[1000];
    memset(longer, 'z', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    char *s = pool_printf(&p, "<%s>", longer); /* longer than the 256-byte first try */
    ck_assert_uint_eq(strlen(s), 1001);
    ck_assert_int_eq(s[0], '<');
    ck_assert_int_eq(s[1000], '>');
    ck_assert_int_eq(s[500], 'z');
    char exact[256]; /* 255 characters: the largest that fits the first try */
    memset(exact, 'y', 255);
    exact[255] = '\0';
    ck_assert_str_eq(pool_printf(&p, "%s", exact), exact);
    exact[254] = '\0'; /* 254 + "!" = 255 */
    char *bang = pool_printf(&p, "%s!", exact);
    ck_assert_uint_eq(strlen(bang), 255);
    ck_assert_int_eq(bang[254], '!');
    ck_assert_int_eq(memcmp(bang, exact, 254), 0);
    pool_cleanup(&p);
}
END_TEST

START_TEST(test_pool_cleanup_empties_the_pool_for_reuse)
{
    pool_t p;
    pool_init(&p);
    for (int i = 0; i < 100; i++)
        pool_alloc(&p, 500);
    pool_alloc(&p, 50000);
    ck_assert_ptr_nonnull(p.chunks);
    pool_cleanup(&p);
    ck_assert_ptr_null(p.chunks);
    ck_assert_ptr_eq(pool_alloc(&p, 8), p.inline_buf);
    pool_cleanup(&p);
    pool_cleanup(&p); /* twice is harmless */
}
END_TEST

START_TEST(test_pool_zero_size_allocation_is_valid)
{
    pool_t p;
    pool_init(&p);
    void *a = pool_alloc(&p, 0);
    ck_assert_ptr_nonnull(a);
    void *b = pool_calloc(&p, 0, 16);
    ck_assert_ptr_nonnull(b);
    char *c = pool_alloc(&p, 1);
    *c = 'x';
    ck_assert_int_eq(*c, 'x');
    pool_cleanup(&p);
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_add_test(tc, test_pool_small_allocations_come_from_the_inline_buffer);
    tcase_add_test(tc, test_pool_exactly_the_inline_size_fits_without_malloc);
    tcase_add_test(tc, test_pool_allocations_are_16_byte_aligned);
    tcase_add_test(tc, test_pool_many_allocations_keep_their_contents);
    tcase_add_test(tc, test_pool_big_allocation_gets_its_own_block_and_keeps_the_chunk_free_space);
    tcase_add_test(tc, test_pool_calloc_returns_zeroed_memory_even_when_reused);
    tcase_add_test(tc, test_pool_strndup_copies_n_bytes_and_terminates);
    tcase_add_test(tc, test_pool_printf_formats_short_and_long_strings);
    tcase_add_test(tc, test_pool_cleanup_empties_the_pool_for_reuse);
    tcase_add_test(tc, test_pool_zero_size_allocation_is_valid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pool_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
