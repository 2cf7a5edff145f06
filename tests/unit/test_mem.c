/*
 * test_mem.c — the counting allocation wrappers: mem_used() follows every sl_* allocation and
 * free by the block's usable size (glibc's malloc_usable_size, as mem.h documents), the copies
 * are right, and an allocation that cannot be satisfied logs a line and aborts instead of
 * returning NULL.
 *
 * Under AddressSanitizer an impossible size would be reported by ASan itself before sl_malloc
 * saw NULL; __asan_default_options below makes ASan's allocator return NULL as glibc's does, so
 * the abort tested is the wrappers' own in both builds.
 */
#include <check.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

const char *__asan_default_options(void);

const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* mem_used() relative to a baseline taken at the start of the test. */
static size_t base;

static size_t used(void)
{
    return mem_used() - base;
}

static void setup(void)
{
    base = mem_used();
}

/* ---------------------------------------------------------------- counting */

START_TEST(test_mem_malloc_adds_the_usable_size_and_free_removes_it)
{
    char *p = sl_malloc(100);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_ge(used(), 100);
    ck_assert_uint_eq(used(), malloc_usable_size(p));
    memset(p, 'x', 100); /* the 100 bytes are ours (ASan checks) */

    char *q = sl_malloc(5000);
    ck_assert_uint_eq(used(), malloc_usable_size(p) + malloc_usable_size(q));
    ck_assert_uint_ge(used(), 5100);
    sl_free(p);
    ck_assert_uint_eq(used(), malloc_usable_size(q));
    sl_free(q);
    ck_assert_uint_eq(used(), 0);
}
END_TEST

START_TEST(test_mem_malloc_of_zero_bytes_returns_a_counted_block)
{
    void *p = sl_malloc(0);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_ge(used(), 1);
    ck_assert_uint_eq(used(), malloc_usable_size(p));
    sl_free(p);
    ck_assert_uint_eq(used(), 0);
}
END_TEST

START_TEST(test_mem_free_of_null_does_nothing)
{
    char *p = sl_malloc(64);
    size_t before = used();
    sl_free(NULL);
    ck_assert_uint_eq(used(), before);
    sl_free(p);
    sl_free(NULL);
    ck_assert_uint_eq(used(), 0);
}
END_TEST

START_TEST(test_mem_calloc_zeroes_and_counts)
{
    unsigned char *p = sl_calloc(250, 4);
    ck_assert_uint_ge(used(), 1000);
    ck_assert_uint_eq(used(), malloc_usable_size(p));
    for (size_t i = 0; i < 1000; i++)
        ck_assert_uint_eq(p[i], 0);
    sl_free(p);
    ck_assert_uint_eq(used(), 0);

    void *z = sl_calloc(0, 16);
    ck_assert_ptr_nonnull(z);
    void *w = sl_calloc(16, 0);
    ck_assert_ptr_nonnull(w);
    ck_assert_uint_eq(used(), malloc_usable_size(z) + malloc_usable_size(w));
    sl_free(z);
    sl_free(w);
    ck_assert_uint_eq(used(), 0);
}
END_TEST

START_TEST(test_mem_realloc_grows_and_shrinks_the_count_and_keeps_the_contents)
{
    char *p = sl_malloc(10);
    memcpy(p, "0123456789", 10);
    ck_assert_uint_eq(used(), malloc_usable_size(p));

    p = sl_realloc(p, 100000);
    ck_assert_uint_ge(used(), 100000);
    ck_assert_uint_eq(used(), malloc_usable_size(p));
    ck_assert_int_eq(memcmp(p, "0123456789", 10), 0);
    memset(p + 10, 'y', 100000 - 10);

    size_t big = used();
    p = sl_realloc(p, 5);
    ck_assert_uint_lt(used(), big);
    ck_assert_uint_ge(used(), 5);
    ck_assert_uint_eq(used(), malloc_usable_size(p));
    ck_assert_int_eq(memcmp(p, "01234", 5), 0);

    sl_free(p);
    ck_assert_uint_eq(used(), 0);
}
END_TEST

START_TEST(test_mem_realloc_of_null_allocates_and_of_zero_keeps_a_block)
{
    char *p = sl_realloc(NULL, 300);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_ge(used(), 300);
    ck_assert_uint_eq(used(), malloc_usable_size(p));
    p = sl_realloc(p, 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(used(), malloc_usable_size(p));
    sl_free(p);
    ck_assert_uint_eq(used(), 0);
}
END_TEST

START_TEST(test_mem_strdup_copies_the_string_and_counts)
{
    const char *s = "queue 'jobs' created";
    char *d = sl_strdup(s);
    ck_assert_ptr_ne(d, s);
    ck_assert_str_eq(d, s);
    ck_assert_uint_ge(used(), strlen(s) + 1);
    ck_assert_uint_eq(used(), malloc_usable_size(d));
    sl_free(d);
    ck_assert_uint_eq(used(), 0);

    d = sl_strdup("");
    ck_assert_str_eq(d, "");
    ck_assert_uint_eq(used(), malloc_usable_size(d));
    sl_free(d);
    ck_assert_uint_eq(used(), 0);
}
END_TEST

START_TEST(test_mem_strndup_stops_at_n)
{
    char *d = sl_strndup("hello world", 5);
    ck_assert_str_eq(d, "hello");
    ck_assert_uint_eq(used(), malloc_usable_size(d));
    sl_free(d);

    d = sl_strndup("hello", 0);
    ck_assert_str_eq(d, "");
    sl_free(d);

    /* n bytes with no NUL among them: nothing past them is read (ASan checks) */
    char *raw = malloc(3);
    ck_assert_ptr_nonnull(raw);
    memcpy(raw, "abc", 3);
    d = sl_strndup(raw, 3);
    ck_assert_str_eq(d, "abc");
    sl_free(d);
    free(raw);
    ck_assert_uint_eq(used(), 0);
}
END_TEST

START_TEST(test_mem_strndup_stops_at_the_nul)
{
    char *d = sl_strndup("hi", 100);
    ck_assert_str_eq(d, "hi");
    /* only what was copied is allocated, not n bytes */
    ck_assert_uint_lt(used(), 100);
    ck_assert_uint_eq(used(), malloc_usable_size(d));
    sl_free(d);

    d = sl_strndup("a\0bc", 4);
    ck_assert_str_eq(d, "a");
    sl_free(d);
    ck_assert_uint_eq(used(), 0);
}
END_TEST

START_TEST(test_mem_memdup_copies_bytes_including_nuls)
{
    const unsigned char src[] = {1, 0, 2, 0, 255};
    unsigned char *d = sl_memdup(src, sizeof src);
    ck_assert_ptr_ne(d, src);
    ck_assert_int_eq(memcmp(d, src, sizeof src), 0);
    ck_assert_uint_eq(used(), malloc_usable_size(d));
    sl_free(d);

    void *z = sl_memdup(src, 0);
    ck_assert_ptr_nonnull(z);
    ck_assert_uint_eq(used(), malloc_usable_size(z));
    sl_free(z);
    ck_assert_uint_eq(used(), 0);
}
END_TEST

static void *churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        void *p = sl_malloc((size_t)(i % 512) + 1);
        p = sl_realloc(p, (size_t)(i % 97) + 1);
        sl_free(p);
    }
    return NULL;
}

START_TEST(test_mem_count_returns_to_its_start_after_threads_allocate_and_free)
{
    pthread_t t[4];
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, churn, NULL), 0);
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    ck_assert_uint_eq(used(), 0);
}
END_TEST

/* ---------------------------------------------------------------- out of memory */

START_TEST(test_mem_malloc_of_an_impossible_size_aborts)
{
    log_open_file("/dev/null");
    sl_malloc(SIZE_MAX);
    ck_abort_msg("sl_malloc(SIZE_MAX) returned");
}
END_TEST

START_TEST(test_mem_calloc_whose_product_overflows_aborts)
{
    log_open_file("/dev/null");
    sl_calloc(SIZE_MAX / 2 + 1, 2); /* the product wraps to 0 */
    ck_abort_msg("sl_calloc returned");
}
END_TEST

START_TEST(test_mem_calloc_of_an_impossible_size_aborts)
{
    log_open_file("/dev/null");
    sl_calloc(1, SIZE_MAX);
    ck_abort_msg("sl_calloc returned");
}
END_TEST

START_TEST(test_mem_realloc_to_an_impossible_size_aborts)
{
    log_open_file("/dev/null");
    void *p = sl_malloc(16);
    p = sl_realloc(p, SIZE_MAX);
    ck_abort_msg("sl_realloc returned %p", p);
}
END_TEST

START_TEST(test_mem_out_of_memory_is_logged_before_the_abort)
{
    char path[] = "/tmp/sluice-test-mem-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (log_open_file(path) != 0)
            _exit(3);
        sl_malloc(SIZE_MAX);
        _exit(4);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    char text[512] = "";
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    unlink(path);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "child status %#x", status);
    ck_assert_int_gt(n, 0);
    char want[128];
    snprintf(want, sizeof want, " ERROR Out of memory allocating %zu bytes; aborting.\n",
             (size_t)SIZE_MAX);
    ck_assert_msg(strstr(text, want) != NULL, "log was '%s'", text);
}
END_TEST

static Suite *mem_suite(void)
{
    Suite *s = suite_create("mem");
    TCase *tc = tcase_create("count");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_mem_malloc_adds_the_usable_size_and_free_removes_it);
    tcase_add_test(tc, test_mem_malloc_of_zero_bytes_returns_a_counted_block);
    tcase_add_test(tc, test_mem_free_of_null_does_nothing);
    tcase_add_test(tc, test_mem_calloc_zeroes_and_counts);
    tcase_add_test(tc, test_mem_realloc_grows_and_shrinks_the_count_and_keeps_the_contents);
    tcase_add_test(tc, test_mem_realloc_of_null_allocates_and_of_zero_keeps_a_block);
    tcase_add_test(tc, test_mem_strdup_copies_the_string_and_counts);
    tcase_add_test(tc, test_mem_strndup_stops_at_n);
    tcase_add_test(tc, test_mem_strndup_stops_at_the_nul);
    tcase_add_test(tc, test_mem_memdup_copies_bytes_including_nuls);
    tcase_add_test(tc, test_mem_count_returns_to_its_start_after_threads_allocate_and_free);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("out of memory");
    tcase_add_test_raise_signal(tc, test_mem_malloc_of_an_impossible_size_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_mem_calloc_whose_product_overflows_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_mem_calloc_of_an_impossible_size_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_mem_realloc_to_an_impossible_size_aborts, SIGABRT);
    tcase_add_test(tc, test_mem_out_of_memory_is_logged_before_the_abort);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mem_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
