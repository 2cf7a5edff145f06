/*
 * test_mqgo.c — MQ Go's request bodies as Go's encoding/json read them (keys in any case, the
 * last spelling winning, other keys ignored), the errors we give where Go silently used zero
 * values, connection ids, senders, and receivers' subscription names.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "mqgo.h"

static int parse(const char *body, mqgo_request_t *r, char *why)
{
    return mqgo_request_parse(body, strlen(body), r, why);
}

START_TEST(test_mqgo_parse_matches_keys_in_any_case)
{
    mqgo_request_t r;
    char why[MQGO_WHY_MAX];
    ck_assert_int_eq(parse("{\"CLIENTURL\":\"http://a/\",\"Mode\":\"receive\",\"ID\":7,"
                           "\"bOdY\":\"hi\"}",
                           &r, why),
                     0);
    ck_assert_str_eq(r.client_url, "http://a/");
    ck_assert_str_eq(r.mode, "receive");
    ck_assert(r.has_id);
    ck_assert_uint_eq(r.id, 7);
    ck_assert_str_eq(r.body, "hi");
    ck_assert_uint_eq(r.body_len, 2);
    mqgo_request_cleanup(&r);
}
END_TEST

START_TEST(test_mqgo_parse_lets_the_last_spelling_win_and_ignores_other_keys)
{
    mqgo_request_t r;
    char why[MQGO_WHY_MAX];
    ck_assert_int_eq(
        parse("{\"ClientURL\":\"first\",\"clienturl\":\"second\",\"extra\":[1]}", &r, why), 0);
    ck_assert_str_eq(r.client_url, "second");
    ck_assert_ptr_null(r.mode);
    ck_assert(!r.has_id);
    ck_assert_ptr_null(r.body);
    mqgo_request_cleanup(&r);
}
END_TEST

START_TEST(test_mqgo_parse_keeps_nul_bytes_in_the_body)
{
    mqgo_request_t r;
    char why[MQGO_WHY_MAX];
    ck_assert_int_eq(parse("{\"id\":1,\"body\":\"a\\u0000b\"}", &r, why), 0);
    ck_assert_uint_eq(r.body_len, 3);
    ck_assert_int_eq(memcmp(r.body, "a\0b", 3), 0);
    mqgo_request_cleanup(&r);
}
END_TEST

START_TEST(test_mqgo_parse_refuses_what_go_silently_zeroed)
{
    mqgo_request_t r;
    char why[MQGO_WHY_MAX];
    /* the README's own example has a trailing comma: invalid JSON */
    ck_assert_int_eq(parse("{\"mode\": \"send\",}", &r, why), SL_EJSON);
    ck_assert_ptr_nonnull(strstr(why, "invalid JSON"));
    mqgo_request_cleanup(&r);
    ck_assert_int_eq(parse("[1]", &r, why), SL_EJSON);
    ck_assert_ptr_nonnull(strstr(why, "object"));
    mqgo_request_cleanup(&r);
    ck_assert_int_eq(parse("{\"id\":\"1\",\"body\":\"x\"}", &r, why), SL_EPARAM);
    ck_assert_ptr_nonnull(strstr(why, "'id'"));
    mqgo_request_cleanup(&r);
    ck_assert_int_eq(parse("{\"id\":0}", &r, why), SL_EPARAM);
    mqgo_request_cleanup(&r);
    ck_assert_int_eq(parse("{\"id\":-3}", &r, why), SL_EPARAM);
    mqgo_request_cleanup(&r);
    ck_assert_int_eq(parse("{\"Body\":5}", &r, why), SL_EPARAM);
    ck_assert_ptr_nonnull(strstr(why, "'Body'"));
    mqgo_request_cleanup(&r);
    ck_assert_int_eq(parse("{\"mode\":null}", &r, why), SL_EPARAM);
    mqgo_request_cleanup(&r);
    ck_assert_int_eq(parse("", &r, why), SL_EJSON);
    mqgo_request_cleanup(&r);
}
END_TEST

START_TEST(test_mqgo_ids_go_on_after_those_already_used)
{
    mqgo_t *m = mqgo_new();
    ck_assert_uint_eq(mqgo_next_id(m), 1);
    ck_assert_uint_eq(mqgo_next_id(m), 2);
    mqgo_note_id(m, 9);
    mqgo_note_id(m, 4); /* lower: no effect */
    ck_assert_uint_eq(mqgo_next_id(m), 10);
    mqgo_free(m);
}
END_TEST

START_TEST(test_mqgo_senders_are_added_found_and_removed)
{
    mqgo_t *m = mqgo_new();
    ck_assert(!mqgo_sender_find(m, 1));
    mqgo_sender_add(m, 1);
    mqgo_sender_add(m, 3);
    mqgo_sender_add(m, 3); /* twice is once */
    ck_assert(mqgo_sender_find(m, 1));
    ck_assert(!mqgo_sender_find(m, 2));
    ck_assert(mqgo_sender_remove(m, 3));
    ck_assert(!mqgo_sender_remove(m, 3));
    ck_assert(!mqgo_sender_find(m, 3));
    mqgo_free(m); /* frees sender 1 too (AddressSanitizer checks) */
}
END_TEST

START_TEST(test_mqgo_receiver_names_round_trip_and_refuse_others)
{
    char name[32];
    uint64_t id = 0;
    mqgo_receiver_name(42, name);
    ck_assert_str_eq(name, "mqgo-42");
    ck_assert(mqgo_receiver_id(name, &id));
    ck_assert_uint_eq(id, 42);
    mqgo_receiver_name(UINT64_MAX, name);
    ck_assert(mqgo_receiver_id(name, &id));
    ck_assert_uint_eq(id, UINT64_MAX);
    static const char *const bad[] = {"mqgo-",   "mqgo-0",  "mqgo-07",
                                      "mqgo-1x", "sub-1",   "mqgo1",
                                      "MQGO-1",  "mqgo--1", "mqgo-18446744073709551616"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
        ck_assert_msg(!mqgo_receiver_id(bad[i], &id), "'%s' taken for a receiver", bad[i]);
}
END_TEST

static Suite *mqgo_suite(void)
{
    Suite *s = suite_create("mqgo");
    TCase *tc = tcase_create("requests");
    tcase_add_test(tc, test_mqgo_parse_matches_keys_in_any_case);
    tcase_add_test(tc, test_mqgo_parse_lets_the_last_spelling_win_and_ignores_other_keys);
    tcase_add_test(tc, test_mqgo_parse_keeps_nul_bytes_in_the_body);
    tcase_add_test(tc, test_mqgo_parse_refuses_what_go_silently_zeroed);
    suite_add_tcase(s, tc);
    tc = tcase_create("connections");
    tcase_add_test(tc, test_mqgo_ids_go_on_after_those_already_used);
    tcase_add_test(tc, test_mqgo_senders_are_added_found_and_removed);
    tcase_add_test(tc, test_mqgo_receiver_names_round_trip_and_refuse_others);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mqgo_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
