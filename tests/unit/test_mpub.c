/*
 * test_mpub.c — the two non-JSON batch framings (src/mpub.h): lines, where '\n' ends a message
 * and empty lines are skipped as nsqd skips them, and NSQ's binary form (4-byte big-endian count,
 * then 4-byte big-endian size + bytes per message). Bodies are heap blocks of exactly their size,
 * so AddressSanitizer catches a read past the end; parts must point into the body, not copies.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpub.h"

typedef struct {
    char *body;
    size_t len;
    mpub_part_t parts[8];
    size_t n;
    char err[200];
    int rc;
} split_t;

/* Splits len bytes copied into an exact-size heap block, allowing at most max (≤ 8) parts. */
static void split(split_t *s, mpub_form_t form, const void *body, size_t len, size_t max)
{
    s->body = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(s->body);
    memcpy(s->body, body, len);
    s->len = len;
    s->n = 12345;
    s->err[0] = '\0';
    s->rc = mpub_split(form, s->body, len, s->parts, max, &s->n, s->err, sizeof s->err);
}

/* Part i is text and lies inside the body. */
static void assert_part(const split_t *s, size_t i, const char *text)
{
    const mpub_part_t *p = &s->parts[i];
    ck_assert_msg(p->data >= s->body && p->data + p->len <= s->body + s->len,
                  "part %zu points outside the body", i);
    ck_assert_msg(p->len == strlen(text) && memcmp(p->data, text, p->len) == 0,
                  "part %zu is '%.*s', want '%s'", i, (int)p->len, p->data, text);
}

/* Appends a big-endian 32-bit value. */
static size_t put32(unsigned char *at, uint32_t v)
{
    at[0] = (unsigned char)(v >> 24);
    at[1] = (unsigned char)(v >> 16);
    at[2] = (unsigned char)(v >> 8);
    at[3] = (unsigned char)v;
    return 4;
}

/* ---------------------------------------------------------------- lines */

START_TEST(test_mpub_lines_split_on_newline_with_or_without_a_final_one)
{
    split_t s;
    split(&s, MPUB_LINES, "one\ntwo\nthree\n", 14, 8);
    ck_assert_int_eq(s.rc, 0);
    ck_assert_uint_eq(s.n, 3);
    assert_part(&s, 0, "one");
    assert_part(&s, 1, "two");
    assert_part(&s, 2, "three");
    free(s.body);

    split(&s, MPUB_LINES, "one\ntwo", 7, 8);
    ck_assert_int_eq(s.rc, 0);
    ck_assert_uint_eq(s.n, 2);
    assert_part(&s, 1, "two");
    free(s.body);
}
END_TEST

START_TEST(test_mpub_lines_skip_empty_lines_and_keep_other_bytes_verbatim)
{
    split_t s;
    split(&s, MPUB_LINES, "\n\na\r\n\n \n\tb\0c\n\n", 14, 8);
    ck_assert_int_eq(s.rc, 0);
    ck_assert_uint_eq(s.n, 3);
    assert_part(&s, 0, "a\r");
    assert_part(&s, 1, " ");
    ck_assert_uint_eq(s.parts[2].len, 4);
    ck_assert(memcmp(s.parts[2].data, "\tb\0c", 4) == 0);
    free(s.body);
}
END_TEST

START_TEST(test_mpub_lines_with_no_message_are_refused)
{
    const char *bodies[] = {"", "\n", "\n\n\n"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bodies); i++) {
        split_t s;
        split(&s, MPUB_LINES, bodies[i], strlen(bodies[i]), 8);
        ck_assert_int_eq(s.rc, SL_EPARAM);
        ck_assert_ptr_nonnull(strstr(s.err, "no message"));
        free(s.body);
    }
}
END_TEST

START_TEST(test_mpub_lines_over_the_limit_are_too_big_and_at_the_limit_fit)
{
    split_t s;
    split(&s, MPUB_LINES, "a\nb\nc\n\n", 7, 3);
    ck_assert_int_eq(s.rc, 0);
    ck_assert_uint_eq(s.n, 3);
    free(s.body);

    split(&s, MPUB_LINES, "a\nb\nc\nd", 7, 3);
    ck_assert_int_eq(s.rc, SL_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(s.err, "at most 3"));
    free(s.body);
}
END_TEST

/* ---------------------------------------------------------------- binary */

START_TEST(test_mpub_binary_reads_count_then_size_and_bytes_including_empty_and_newlines)
{
    unsigned char b[64];
    size_t len = put32(b, 3);
    len += put32(b + len, 3);
    memcpy(b + len, "x\ny", 3), len += 3;
    len += put32(b + len, 0);
    len += put32(b + len, 2);
    memcpy(b + len, "\0z", 2), len += 2;
    split_t s;
    split(&s, MPUB_BINARY, b, len, 8);
    ck_assert_int_eq(s.rc, 0);
    ck_assert_uint_eq(s.n, 3);
    assert_part(&s, 0, "x\ny");
    assert_part(&s, 1, "");
    ck_assert_uint_eq(s.parts[2].len, 2);
    ck_assert(memcmp(s.parts[2].data, "\0z", 2) == 0);
    ck_assert(s.parts[2].data == s.body + len - 2);
    free(s.body);
}
END_TEST

START_TEST(test_mpub_binary_refuses_a_body_shorter_than_its_count)
{
    for (size_t len = 0; len < 4; len++) {
        split_t s;
        split(&s, MPUB_BINARY, "\0\0\0", len, 8);
        ck_assert_int_eq(s.rc, SL_EPARAM);
        ck_assert_ptr_nonnull(strstr(s.err, "4-byte message count"));
        free(s.body);
    }
}
END_TEST

START_TEST(test_mpub_binary_refuses_a_count_of_0_and_one_over_the_limit)
{
    unsigned char b[4];
    split_t s;
    put32(b, 0);
    split(&s, MPUB_BINARY, b, 4, 8);
    ck_assert_int_eq(s.rc, SL_EPARAM);
    ck_assert_ptr_nonnull(strstr(s.err, "is 0"));
    free(s.body);

    put32(b, 9); /* refused before any message is read: no sizes follow */
    split(&s, MPUB_BINARY, b, 4, 8);
    ck_assert_int_eq(s.rc, SL_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(s.err, "says 9"));
    free(s.body);

    put32(b, UINT32_MAX);
    split(&s, MPUB_BINARY, b, 4, 8);
    ck_assert_int_eq(s.rc, SL_ETOOBIG);
    free(s.body);
}
END_TEST

START_TEST(test_mpub_binary_refuses_a_size_cut_short_or_running_past_the_end)
{
    unsigned char b[32];
    size_t len = put32(b, 2);
    len += put32(b + len, 1);
    b[len++] = 'a';
    b[len++] = 0; /* the second size has 2 of its 4 bytes */
    b[len++] = 0;
    split_t s;
    split(&s, MPUB_BINARY, b, len, 8);
    ck_assert_int_eq(s.rc, SL_EPARAM);
    ck_assert_msg(strstr(s.err, "messages[1]") && strstr(s.err, "offset 11"), "%s", s.err);
    free(s.body);

    len = put32(b, 1);
    len += put32(b + len, 5);
    memcpy(b + len, "abcd", 4), len += 4;
    split(&s, MPUB_BINARY, b, len, 8);
    ck_assert_int_eq(s.rc, SL_EPARAM);
    ck_assert_msg(strstr(s.err, "messages[0]") && strstr(s.err, "size 5") &&
                      strstr(s.err, "4 bytes left"),
                  "%s", s.err);
    free(s.body);

    /* a size near 2^32 must not wrap the offset arithmetic */
    len = put32(b, 1);
    len += put32(b + len, UINT32_MAX);
    b[len++] = 'x';
    split(&s, MPUB_BINARY, b, len, 8);
    ck_assert_int_eq(s.rc, SL_EPARAM);
    free(s.body);
}
END_TEST

START_TEST(test_mpub_binary_refuses_bytes_after_the_last_message)
{
    unsigned char b[16];
    size_t len = put32(b, 1);
    len += put32(b + len, 1);
    b[len++] = 'a';
    b[len++] = '\n';
    split_t s;
    split(&s, MPUB_BINARY, b, len, 8);
    ck_assert_int_eq(s.rc, SL_EPARAM);
    ck_assert_msg(strstr(s.err, "1 bytes follow") && strstr(s.err, "offset 9"), "%s", s.err);
    free(s.body);
}
END_TEST

static Suite *mpub_suite(void)
{
    Suite *s = suite_create("mpub");
    TCase *tc = tcase_create("lines");
    tcase_add_test(tc, test_mpub_lines_split_on_newline_with_or_without_a_final_one);
    tcase_add_test(tc, test_mpub_lines_skip_empty_lines_and_keep_other_bytes_verbatim);
    tcase_add_test(tc, test_mpub_lines_with_no_message_are_refused);
    tcase_add_test(tc, test_mpub_lines_over_the_limit_are_too_big_and_at_the_limit_fit);
    suite_add_tcase(s, tc);

    tc = tcase_create("binary");
    tcase_add_test(tc,
                   test_mpub_binary_reads_count_then_size_and_bytes_including_empty_and_newlines);
    tcase_add_test(tc, test_mpub_binary_refuses_a_body_shorter_than_its_count);
    tcase_add_test(tc, test_mpub_binary_refuses_a_count_of_0_and_one_over_the_limit);
    tcase_add_test(tc, test_mpub_binary_refuses_a_size_cut_short_or_running_past_the_end);
    tcase_add_test(tc, test_mpub_binary_refuses_bytes_after_the_last_message);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mpub_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
