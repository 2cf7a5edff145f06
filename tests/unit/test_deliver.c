/*
 * test_deliver.c — the subscription settings kept in a group's meta string: written and read
 * back unchanged, and anything that is not a subscription's refused (a damaged or foreign meta
 * must not start deliveries to a garbage URL). Delivery itself runs against real receivers in
 * tests/integration/04-push-*.py.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "deliver.h"

START_TEST(test_deliver_meta_round_trips_every_setting)
{
    deliver_settings_t in = {.timeout_ms = 2500, .mqgo = false}, out;
    snprintf(in.url, sizeof in.url, "http://127.0.0.1:9000/hook?a=\"b\"");
    snprintf(in.secret, sizeof in.secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    char meta[ENGINE_META_MAX + 1];
    deliver_meta_format(&in, meta);
    ck_assert_int_eq(deliver_meta_parse(meta, &out), 0);
    ck_assert_str_eq(out.url, in.url);
    ck_assert_str_eq(out.secret, in.secret);
    ck_assert_int_eq(out.timeout_ms, 2500);
    ck_assert(!out.mqgo);
    in.mqgo = true;
    deliver_meta_format(&in, meta);
    ck_assert_int_eq(deliver_meta_parse(meta, &out), 0);
    ck_assert(out.mqgo);
}
END_TEST

START_TEST(test_deliver_meta_parse_refuses_what_is_not_a_subscription)
{
    deliver_settings_t s;
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{}",
        "{\"url\":\"http://a/\",\"secret\":\"s\"}",
        "{\"url\":\"http://a/\",\"timeout_ms\":10}",
        "{\"secret\":\"s\",\"timeout_ms\":10}",
        "{\"url\":5,\"secret\":\"s\",\"timeout_ms\":10}",
        "{\"url\":\"http://a/\",\"secret\":\"s\",\"timeout_ms\":0}",
        "{\"url\":\"http://a/\",\"secret\":\"s\",\"timeout_ms\":\"10\"}",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
        ck_assert_msg(deliver_meta_parse(bad[i], &s) == SL_EPARAM, "'%s' accepted", bad[i]);
    ck_assert_int_eq(deliver_meta_parse(NULL, &s), SL_EPARAM);
    /* a secret longer than a subscription may have */
    char meta[600];
    snprintf(meta, sizeof meta, "{\"url\":\"http://a/\",\"secret\":\"%0300d\",\"timeout_ms\":1}",
             0);
    ck_assert_int_eq(deliver_meta_parse(meta, &s), SL_EPARAM);
}
END_TEST

static Suite *deliver_suite(void)
{
    Suite *s = suite_create("deliver");
    TCase *tc = tcase_create("meta");
    tcase_add_test(tc, test_deliver_meta_round_trips_every_setting);
    tcase_add_test(tc, test_deliver_meta_parse_refuses_what_is_not_a_subscription);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(deliver_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
