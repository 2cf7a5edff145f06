/*
 * test_err.c — the error tables generated from SL_ERRORS (common.h): every code has a text, a
 * JSON code and an HTTP status, they agree with the API's error table (docs/api.md), and values
 * outside the list are answered sensibly.
 */
#include <check.h>
#include <stdbool.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "err.h"

static bool is_snake_case(const char *s)
{
    if (*s == '\0' || *s == '_')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

START_TEST(test_err_every_code_has_text_json_code_and_error_status)
{
    int n = 0;
    for (int err = SL_ERR_FIRST_ + 1; err < SL_ERR_LAST_; err++, n++) {
        const char *text = err_text(err), *code = err_code(err);
        ck_assert_ptr_nonnull(text);
        ck_assert_ptr_nonnull(code);
        ck_assert_msg(strlen(text) > 0 && strcmp(text, "unknown error") != 0 &&
                          strcmp(text, "success") != 0,
                      "error %d has text '%s'", err, text);
        ck_assert_msg(is_snake_case(code), "error %d has JSON code '%s'", err, code);
        int status = err_status(err);
        ck_assert_msg(status >= 400 && status <= 599, "error %d has status %d", err, status);
    }
    ck_assert_int_eq(n, SL_ERR_LAST_ - SL_ERR_FIRST_ - 1);
    ck_assert_int_gt(n, 20);
}
END_TEST

START_TEST(test_err_codes_are_negative_and_distinct_from_success)
{
    ck_assert_int_eq(SL_OK, 0);
    ck_assert_int_lt(SL_ERR_LAST_, 0);
    ck_assert_int_lt(SL_EINVAL, 0);
    ck_assert_int_lt(SL_EIO, 0);
    ck_assert_int_eq(SL_EINVAL, SL_ERR_FIRST_ + 1);
    ck_assert_int_eq(SL_EIO, SL_ERR_LAST_ - 1);
}
END_TEST

START_TEST(test_err_from_code_round_trips_every_code_to_the_same_code_and_status)
{
    for (int err = SL_ERR_FIRST_ + 1; err < SL_ERR_LAST_; err++) {
        int back = err_from_code(err_code(err));
        ck_assert_msg(back != 0, "code '%s' not found", err_code(err));
        /* Two errors may share a JSON code ("not_found"); then they must share the status, so
         * that the CLI's mapping back loses nothing a client could see. */
        ck_assert_str_eq(err_code(back), err_code(err));
        ck_assert_int_eq(err_status(back), err_status(err));
    }
}
END_TEST

START_TEST(test_err_from_code_of_a_unique_code_returns_exactly_that_error)
{
    ck_assert_int_eq(err_from_code("queue_not_found"), SL_ENOQUEUE);
    ck_assert_int_eq(err_from_code("receipt_not_found"), SL_ENORECEIPT);
    ck_assert_int_eq(err_from_code("too_many_queues"), SL_ETOOMANY);
    ck_assert_int_eq(err_from_code("io_error"), SL_EIO);
    ck_assert_int_eq(err_from_code("bad_request"), SL_EINVAL);
}
END_TEST

START_TEST(test_err_from_code_returns_zero_for_unknown_codes)
{
    ck_assert_int_eq(err_from_code(""), 0);
    ck_assert_int_eq(err_from_code("no_such_code"), 0);
    ck_assert_int_eq(err_from_code("QUEUE_NOT_FOUND"), 0);
    ck_assert_int_eq(err_from_code("queue_not_found "), 0);
}
END_TEST

START_TEST(test_err_success_is_200_with_text_success)
{
    ck_assert_str_eq(err_text(0), "success");
    ck_assert_int_eq(err_status(0), 200);
    ck_assert_ptr_nonnull(err_code(0));
}
END_TEST

START_TEST(test_err_values_outside_the_list_are_500_internal_error)
{
    const int bad[] = {1, -1, 42, SL_ERR_FIRST_, SL_ERR_LAST_, SL_ERR_FIRST_ - 1, INT_MIN, INT_MAX};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        ck_assert_str_eq(err_text(bad[i]), "unknown error");
        ck_assert_str_eq(err_code(bad[i]), "internal_error");
        ck_assert_int_eq(err_status(bad[i]), 500);
    }
}
END_TEST

/* The table in docs/api.md, "Error codes". */
static const struct {
    int status;
    const char *code;
} api_table[] = {
    {400, "bad_request"},        {400, "invalid_json"},           {400, "invalid_name"},
    {400, "invalid_parameter"},  {400, "invalid_base64"},         {404, "not_found"},
    {404, "queue_not_found"},    {404, "group_not_found"},        {404, "receipt_not_found"},
    {405, "method_not_allowed"}, {408, "request_timeout"},        {409, "conflict"},
    {413, "payload_too_large"},  {415, "unsupported_media_type"}, {431, "headers_too_large"},
    {500, "internal_error"},     {501, "not_implemented"},        {503, "storage_unavailable"},
    {503, "shutting_down"},      {503, "push_unavailable"},       {507, "queue_full"},
    {507, "too_many_queues"},
};

START_TEST(test_err_param_writes_the_message_and_returns_eparam)
{
    char buf[16];
    ck_assert_int_eq(err_param(buf, sizeof buf, "line %d: %s", 7, "bad value"), SL_EPARAM);
    ck_assert_str_eq(buf, "line 7: bad val"); /* cut to the buffer, terminated */
}
END_TEST

START_TEST(test_err_statuses_match_the_api_error_table)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(api_table); i++) {
        int err = err_from_code(api_table[i].code);
        ck_assert_msg(err < 0, "api code '%s' has no error", api_table[i].code);
        ck_assert_msg(err_status(err) == api_table[i].status, "'%s': status %d, api says %d",
                      api_table[i].code, err_status(err), api_table[i].status);
    }
}
END_TEST

START_TEST(test_err_named_errors_have_the_documented_status)
{
    ck_assert_int_eq(err_status(SL_ENAME), 400);
    ck_assert_int_eq(err_status(SL_ENOQUEUE), 404);
    ck_assert_int_eq(err_status(SL_ENOGROUP), 404);
    ck_assert_int_eq(err_status(SL_ENORECEIPT), 404);
    ck_assert_int_eq(err_status(SL_ECONFLICT), 409);
    ck_assert_int_eq(err_status(SL_ETOOBIG), 413);
    ck_assert_int_eq(err_status(SL_ESHUTDOWN), 503);
    ck_assert_int_eq(err_status(SL_EFULL), 507);
    ck_assert_int_eq(err_status(SL_ETOOMANY), 507);
    ck_assert_str_eq(err_text(SL_ENOQUEUE), "no such queue");
    ck_assert_str_eq(err_code(SL_ENOGROUP), "group_not_found");
}
END_TEST

START_TEST(test_err_assert_that_holds_does_nothing)
{
    int x = 1;
    sl_assert(x == 1);
    ck_assert_int_eq(x, 1);
}
END_TEST

START_TEST(test_err_assert_that_fails_aborts)
{
    volatile int x = 1;
    sl_assert(x == 2);
}
END_TEST

static Suite *err_suite(void)
{
    Suite *s = suite_create("err");
    TCase *tc = tcase_create("err");
    tcase_add_test(tc, test_err_every_code_has_text_json_code_and_error_status);
    tcase_add_test(tc, test_err_codes_are_negative_and_distinct_from_success);
    tcase_add_test(tc, test_err_from_code_round_trips_every_code_to_the_same_code_and_status);
    tcase_add_test(tc, test_err_from_code_of_a_unique_code_returns_exactly_that_error);
    tcase_add_test(tc, test_err_from_code_returns_zero_for_unknown_codes);
    tcase_add_test(tc, test_err_success_is_200_with_text_success);
    tcase_add_test(tc, test_err_values_outside_the_list_are_500_internal_error);
    tcase_add_test(tc, test_err_statuses_match_the_api_error_table);
    tcase_add_test(tc, test_err_param_writes_the_message_and_returns_eparam);
    tcase_add_test(tc, test_err_named_errors_have_the_documented_status);
    tcase_add_test(tc, test_err_assert_that_holds_does_nothing);
    tcase_add_test_raise_signal(tc, test_err_assert_that_fails_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(err_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
