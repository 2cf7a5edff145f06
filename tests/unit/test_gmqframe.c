/*
 * test_gmqframe.c — the scanner that finds where a GMQ request's JSON object ends: the end it
 * finds agrees with jansson's (JSON_DISABLE_EOF_CHECK) for well-formed objects, however the bytes
 * are split into arrivals; strings, escapes and nesting do not fool it; anything but an object is
 * refused at its first byte; an incomplete object asks for more.
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gmqframe.h"

/* Well-formed objects, each followed in the tests by trailing bytes the scanner must not eat. */
static const char *const docs[] = {
    "{}",
    "{\"operation\":\"P\",\"queue\":\"q1\",\"payload\":\"Zmlyc3Q=\",\"confirmation\":\"\","
    "\"error\":null}",
    "  \r\n\t{ \"a\" : [1, 2, {\"b\": [[]]}], \"c\": {} }",
    "{\"brace in string\":\"}}}{{{]]]\"}",
    "{\"escaped quote\":\"\\\"}\\\"\",\"backslash at end\":\"\\\\\"}",
    "{\"unicode\":\"\\u007d\\u0022\",\"utf8\":\"\xc3\xa9\xe2\x80\xa8\"}",
    "{\"auth\":{\"user\":\"676d71\",\"password\":\"7365\"},\"n\":-1.5e+3,\"t\":true,\"f\":false}",
};

/* Where jansson says the object of doc ends. */
static size_t jansson_end(const char *doc, size_t len)
{
    json_error_t e;
    json_t *j = json_loadb(doc, len, JSON_DISABLE_EOF_CHECK, &e);
    ck_assert_msg(j != NULL, "jansson refused test document '%s': %s", doc, e.text);
    json_decref(j);
    return (size_t)e.position;
}

START_TEST(test_gmqframe_finds_the_same_end_as_jansson_and_ignores_what_follows)
{
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char buf[512];
        size_t n = strlen(docs[i]);
        snprintf(buf, sizeof buf, "%s{\"next\":1}\n", docs[i]);
        gmqframe_t f;
        gmqframe_init(&f);
        ck_assert_int_eq(gmqframe_scan(&f, buf, strlen(buf)), GMQFRAME_END);
        ck_assert_uint_eq(f.pos, n);
        ck_assert_uint_eq(f.pos, jansson_end(docs[i], n));
    }
}
END_TEST

START_TEST(test_gmqframe_finds_the_end_whatever_the_arrivals)
{
    /* every way of splitting the document in two or three arrivals, and one byte at a time */
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        const char *d = docs[i];
        size_t n = strlen(d);
        for (size_t a = 0; a <= n; a++) {
            for (size_t b = a; b <= n; b += (n / 7) + 1) {
                gmqframe_t f;
                gmqframe_init(&f);
                int r = gmqframe_scan(&f, d, a);
                if (a < n) {
                    ck_assert_int_eq(r, GMQFRAME_MORE);
                    ck_assert_uint_eq(f.pos, a);
                }
                r = gmqframe_scan(&f, d, b);
                if (b < n)
                    ck_assert_int_eq(r, GMQFRAME_MORE);
                r = gmqframe_scan(&f, d, n);
                ck_assert_int_eq(r, GMQFRAME_END);
                ck_assert_uint_eq(f.pos, n);
            }
        }
        gmqframe_t f;
        gmqframe_init(&f);
        for (size_t k = 1; k < n; k++)
            ck_assert_int_eq(gmqframe_scan(&f, d, k), GMQFRAME_MORE);
        ck_assert_int_eq(gmqframe_scan(&f, d, n), GMQFRAME_END);
    }
}
END_TEST

START_TEST(test_gmqframe_incomplete_object_asks_for_more)
{
    static const char *const partial[] = {
        "", "   \n", "{", "{\"a\":\"}", "{\"a\":\"\\\"}", "{\"a\":[}", "{\"a\":{}"};
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
        gmqframe_t f;
        gmqframe_init(&f);
        ck_assert_msg(gmqframe_scan(&f, partial[i], strlen(partial[i])) == GMQFRAME_MORE,
                      "'%s' is not complete", partial[i]);
        ck_assert_uint_eq(f.pos, strlen(partial[i]));
    }
}
END_TEST

START_TEST(test_gmqframe_refuses_anything_but_an_object_at_its_first_byte)
{
    static const char *const bad[] = {"this is not json", "[1,2]", "  \"s\"", "\n1", "nul"};
    static const size_t at[] = {1, 1, 3, 2, 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gmqframe_t f;
        gmqframe_init(&f);
        ck_assert_int_eq(gmqframe_scan(&f, bad[i], strlen(bad[i])), GMQFRAME_NOT_OBJECT);
        ck_assert_uint_eq(f.pos, at[i]);
        /* and it stays refused */
        ck_assert_int_eq(gmqframe_scan(&f, bad[i], strlen(bad[i])), GMQFRAME_NOT_OBJECT);
        ck_assert_uint_eq(f.pos, at[i]);
    }
}
END_TEST

START_TEST(test_gmqframe_end_is_stable_once_found)
{
    const char *d = "{\"a\":1} {\"b\":2}";
    gmqframe_t f;
    gmqframe_init(&f);
    ck_assert_int_eq(gmqframe_scan(&f, d, strlen(d)), GMQFRAME_END);
    ck_assert_uint_eq(f.pos, 7);
    ck_assert_int_eq(gmqframe_scan(&f, d, strlen(d)), GMQFRAME_END);
    ck_assert_uint_eq(f.pos, 7);
}
END_TEST

START_TEST(test_gmqframe_mismatched_brackets_end_the_scan_for_the_parser_to_refuse)
{
    /* the scanner only balances brackets; jansson then names the mistake */
    const char *d = "{\"a\":1]";
    gmqframe_t f;
    json_error_t e;
    gmqframe_init(&f);
    ck_assert_int_eq(gmqframe_scan(&f, d, strlen(d)), GMQFRAME_END);
    ck_assert_uint_eq(f.pos, strlen(d));
    ck_assert_ptr_null(json_loadb(d, f.pos, 0, &e));
}
END_TEST

static Suite *gmqframe_suite(void)
{
    Suite *s = suite_create("gmqframe");
    TCase *tc = tcase_create("scan");
    tcase_add_test(tc, test_gmqframe_finds_the_same_end_as_jansson_and_ignores_what_follows);
    tcase_add_test(tc, test_gmqframe_finds_the_end_whatever_the_arrivals);
    tcase_add_test(tc, test_gmqframe_incomplete_object_asks_for_more);
    tcase_add_test(tc, test_gmqframe_refuses_anything_but_an_object_at_its_first_byte);
    tcase_add_test(tc, test_gmqframe_end_is_stable_once_found);
    tcase_add_test(tc, test_gmqframe_mismatched_brackets_end_the_scan_for_the_parser_to_refuse);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gmqframe_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
