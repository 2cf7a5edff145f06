/*
 * test_dur.c — durations ("500ms", "30s", bare seconds, at most 365 days) and RFC 3339 times,
 * parsed and printed. Expected epoch values were computed independently (Python's datetime).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dur.h"

static int parse(const char *s, int64_t *ms)
{
    return dur_parse(s, strlen(s), ms);
}

static int parse_time(const char *s, int64_t *ms)
{
    return dur_parse_time(s, strlen(s), ms);
}

#define ASSERT_DUR(text, want)                                                                   \
    do {                                                                                         \
        int64_t ms_ = -1;                                                                        \
        ck_assert_msg(parse(text, &ms_) == 0, "'%s' rejected", text);                            \
        ck_assert_msg(ms_ == (int64_t)(want), "'%s' gave %lld, want %lld", text, (long long)ms_, \
                      (long long)(want));                                                        \
    } while (0)

#define ASSERT_BAD_DUR(text)                                                         \
    do {                                                                             \
        int64_t ms_ = 12345;                                                         \
        ck_assert_msg(parse(text, &ms_) == SL_EPARAM, "'%s' accepted as %lld", text, \
                      (long long)ms_);                                               \
    } while (0)

#define ASSERT_TIME(text, want)                                                                  \
    do {                                                                                         \
        int64_t ms_ = -1;                                                                        \
        ck_assert_msg(parse_time(text, &ms_) == 0, "'%s' rejected", text);                       \
        ck_assert_msg(ms_ == (int64_t)(want), "'%s' gave %lld, want %lld", text, (long long)ms_, \
                      (long long)(want));                                                        \
    } while (0)

#define ASSERT_BAD_TIME(text)                                                             \
    do {                                                                                  \
        int64_t ms_ = 12345;                                                              \
        ck_assert_msg(parse_time(text, &ms_) == SL_EPARAM, "'%s' accepted as %lld", text, \
                      (long long)ms_);                                                    \
    } while (0)

/* ---------------------------------------------------------------- dur_parse */

START_TEST(test_dur_parse_reads_every_unit)
{
    ASSERT_DUR("500ms", 500);
    ASSERT_DUR("30s", 30000);
    ASSERT_DUR("2m", 120000);
    ASSERT_DUR("2h", 7200000);
    ASSERT_DUR("3d", 3LL * 86400000);
    ASSERT_DUR("1ms", 1);
    ASSERT_DUR("0ms", 0);
    ASSERT_DUR("0s", 0);
    ASSERT_DUR("0d", 0);
}
END_TEST

START_TEST(test_dur_parse_reads_bare_numbers_as_seconds)
{
    ASSERT_DUR("5", 5000);
    ASSERT_DUR("0", 0);
    ASSERT_DUR("90", 90000);
    ASSERT_DUR("007", 7000);
}
END_TEST

START_TEST(test_dur_parse_accepts_exactly_365_days_in_every_unit)
{
    ASSERT_DUR("365d", DUR_MAX_MS);
    ASSERT_DUR("8760h", DUR_MAX_MS);
    ASSERT_DUR("525600m", DUR_MAX_MS);
    ASSERT_DUR("31536000s", DUR_MAX_MS);
    ASSERT_DUR("31536000", DUR_MAX_MS);
    ASSERT_DUR("31536000000ms", DUR_MAX_MS);
}
END_TEST

START_TEST(test_dur_parse_rejects_more_than_365_days)
{
    ASSERT_BAD_DUR("366d");
    ASSERT_BAD_DUR("8761h");
    ASSERT_BAD_DUR("525601m");
    ASSERT_BAD_DUR("31536001s");
    ASSERT_BAD_DUR("31536001");
    ASSERT_BAD_DUR("31536000001ms");
}
END_TEST

START_TEST(test_dur_parse_rejects_huge_numbers_without_overflowing)
{
    /* 13+ digits are refused before any multiplication */
    ASSERT_BAD_DUR("9999999999999");
    ASSERT_BAD_DUR("9999999999999ms");
    ASSERT_BAD_DUR("99999999999999999999999d");
    /* 12 digits times each unit: the product must never wrap into an accepted value */
    ASSERT_BAD_DUR("999999999999");
    ASSERT_BAD_DUR("999999999999ms");
    ASSERT_BAD_DUR("999999999999s");
    ASSERT_BAD_DUR("999999999999m");
    ASSERT_BAD_DUR("999999999999h");
    ASSERT_BAD_DUR("999999999999d");
    ASSERT_BAD_DUR("106751991168d"); /* the smallest day count whose ms pass INT64_MAX */
}
END_TEST

START_TEST(test_dur_parse_rejects_garbage)
{
    const char *bad[] = {"",   "ms",  "s",    "-5s",  "+5s",  " 5s", "5s ", "5 s", "5x",
                         "5S", "5MS", "5sec", "5mss", "1.5s", "1e3", "5s5", "s5",  "0x10",
                         "5 ", "5hm", "5msx", "d",    "--",   "5\n", "5µs"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
        ASSERT_BAD_DUR(bad[i]);
}
END_TEST

START_TEST(test_dur_parse_uses_the_length_not_a_terminator)
{
    int64_t ms = -1;
    ck_assert_int_eq(dur_parse("5sXYZ", 2, &ms), 0);
    ck_assert_int_eq(ms, 5000);
    ck_assert_int_eq(dur_parse("500ms", 4, &ms), 0); /* "500m": minutes */
    ck_assert_int_eq(ms, 30000000);
    ck_assert_int_eq(dur_parse("500ms", 3, &ms), 0); /* "500": bare seconds */
    ck_assert_int_eq(ms, 500000);
    ck_assert_int_eq(dur_parse("5s", 0, &ms), SL_EPARAM);
    char exact[2] = {'7', 'm'}; /* no NUL anywhere */
    ck_assert_int_eq(dur_parse(exact, sizeof exact, &ms), 0);
    ck_assert_int_eq(ms, 420000);
}
END_TEST

/* ---------------------------------------------------------------- dur_parse_time */

START_TEST(test_dur_parse_time_reads_utc_times)
{
    ASSERT_TIME("2026-11-22T06:45:28Z", 1795329928000LL);
    ASSERT_TIME("1970-01-01T00:00:00Z", 0);
    ASSERT_TIME("2016-12-31T23:59:59Z", 1483228799000LL);
    ASSERT_TIME("9999-12-31T23:59:59Z", 253402300799000LL);
}
END_TEST

START_TEST(test_dur_parse_time_applies_offsets)
{
    ASSERT_TIME("2026-11-22T06:45:28+00:00", 1795329928000LL);
    ASSERT_TIME("2026-11-22T06:45:28-00:00", 1795329928000LL);
    ASSERT_TIME("2026-11-22T07:45:28+01:00", 1795329928000LL);
    ASSERT_TIME("2026-11-22T01:15:28-05:30", 1795329928000LL);
    ASSERT_TIME("2026-11-22T08:00:00.5+01:00", 1795330800500LL);
    ASSERT_TIME("2026-11-23T06:44:28+23:59", 1795329928000LL);
}
END_TEST

START_TEST(test_dur_parse_time_reads_fractions_to_milliseconds)
{
    ASSERT_TIME("2026-11-22T06:45:28.123Z", 1795329928123LL);
    ASSERT_TIME("2026-11-22T06:45:28.5Z", 1795329928500LL);
    ASSERT_TIME("2026-11-22T06:45:28.05Z", 1795329928050LL);
    ASSERT_TIME("2026-11-22T06:45:28.001Z", 1795329928001LL);
    ASSERT_TIME("2026-11-22T06:45:28.1239Z", 1795329928123LL);      /* truncated, not rounded */
    ASSERT_TIME("2026-11-22T06:45:28.999999999Z", 1795329928999LL); /* nine digits */
    ASSERT_BAD_TIME("2026-11-22T06:45:28.9999999999Z");             /* ten */
    ASSERT_BAD_TIME("2026-11-22T06:45:28.Z");
    ASSERT_BAD_TIME("2026-11-22T06:45:28.5");
}
END_TEST

START_TEST(test_dur_parse_time_accepts_feb_29_only_in_leap_years)
{
    ASSERT_TIME("2024-02-29T00:00:00Z", 1709164800000LL);
    ASSERT_TIME("2000-02-29T12:00:00Z", 951825600000LL);
    ASSERT_BAD_TIME("2023-02-29T00:00:00Z");
    ASSERT_BAD_TIME("2100-02-29T00:00:00Z");
    ASSERT_BAD_TIME("1900-02-29T00:00:00Z");
    ASSERT_BAD_TIME("2024-02-30T00:00:00Z");
}
END_TEST

START_TEST(test_dur_parse_time_rejects_dates_and_times_that_do_not_exist)
{
    const char *bad[] = {
        "2026-04-31T00:00:00Z",      "2026-06-31T00:00:00Z", "2026-09-31T00:00:00Z",
        "2026-11-31T00:00:00Z",      "2026-00-10T00:00:00Z", "2026-13-10T00:00:00Z",
        "2026-01-00T00:00:00Z",      "2026-01-32T00:00:00Z", "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z",      "2026-01-01T00:00:61Z", "2026-01-01T00:00:00+24:00",
        "2026-01-01T00:00:00+01:60",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
        ASSERT_BAD_TIME(bad[i]);
}
END_TEST

START_TEST(test_dur_parse_time_rejects_malformed_text)
{
    const char *bad[] = {
        "",
        "2026-11-22",
        "2026-11-22T06:45:28",      /* no offset */
        "2026-11-22T06:45Z",        /* no seconds */
        "2026-11-22T6:45:28Z",      /* one-digit hour */
        "26-11-22T06:45:28Z",       /* two-digit year */
        "20266-11-22T06:45:28Z",    /* five-digit year */
        "2026/11/22T06:45:28Z",     /* wrong separators */
        "2026-11-22X06:45:28Z",     /* wrong T */
        "2026-11-22T06:45:28ZZ",    /* trailing garbage */
        "2026-11-22T06:45:28Z ",    /* trailing space */
        " 2026-11-22T06:45:28Z",    /* leading space */
        "2026-11-22T06:45:28+0100", /* offset without colon */
        "2026-11-22T06:45:28+01",   /* short offset */
        "2026-11-22T06:45:28UTC",
        "1969-12-31T23:59:59Z", /* before the epoch */
        "1970-01-01T00:00:00+00:01",
        "-2026-11-22T06:45:28Z",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
        ASSERT_BAD_TIME(bad[i]);
}
END_TEST

START_TEST(test_dur_parse_time_accepts_lowercase_t_z_space_and_leap_second)
{
    ASSERT_TIME("2026-11-22t06:45:28z", 1795329928000LL);
    ASSERT_TIME("2026-11-22 06:45:28Z", 1795329928000LL);
    /* 23:59:60 is read as the second before it */
    ASSERT_TIME("2016-12-31T23:59:60Z", 1483228799000LL);
}
END_TEST

START_TEST(test_dur_parse_time_uses_the_length_not_a_terminator)
{
    const char *s = "2026-11-22T06:45:28Zgarbage";
    int64_t ms = -1;
    ck_assert_int_eq(dur_parse_time(s, 20, &ms), 0);
    ck_assert_int_eq(ms, 1795329928000LL);
    ck_assert_int_eq(dur_parse_time(s, 19, &ms), SL_EPARAM); /* cut before the Z */
    ck_assert_int_eq(dur_parse_time(s, 0, &ms), SL_EPARAM);
}
END_TEST

/* ---------------------------------------------------------------- printing */

START_TEST(test_dur_format_time_writes_utc_with_milliseconds)
{
    char buf[DUR_TIME_LEN];
    ck_assert_str_eq(dur_format_time(0, buf), "1970-01-01T00:00:00.000Z");
    ck_assert_str_eq(dur_format_time(1795329928123LL, buf), "2026-11-22T06:45:28.123Z");
    ck_assert_str_eq(dur_format_time(1709164800007LL, buf), "2024-02-29T00:00:00.007Z");
    ck_assert_str_eq(dur_format_time(253402300799999LL, buf), "9999-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(test_dur_format_time_round_trips_through_parse_time)
{
    const int64_t samples[] = {
        0, 1, 999, 1000, 951825600000LL, 1709164800000LL, 1795329928123LL, 253402300799999LL};
    for (size_t i = 0; i < SL_ARRAY_LEN(samples); i++) {
        char buf[DUR_TIME_LEN];
        int64_t back = -1;
        ck_assert_int_eq(parse_time(dur_format_time(samples[i], buf), &back), 0);
        ck_assert_int_eq(back, samples[i]);
    }
}
END_TEST

START_TEST(test_dur_format_uses_the_largest_exact_unit)
{
    char buf[DUR_LEN];
    ck_assert_str_eq(dur_format(0, buf), "0s");
    ck_assert_str_eq(dur_format(500, buf), "500ms");
    ck_assert_str_eq(dur_format(1500, buf), "1500ms");
    ck_assert_str_eq(dur_format(1000, buf), "1s");
    ck_assert_str_eq(dur_format(90000, buf), "90s");
    ck_assert_str_eq(dur_format(300000, buf), "5m");
    ck_assert_str_eq(dur_format(5400000, buf), "90m");
    ck_assert_str_eq(dur_format(7200000, buf), "2h");
    ck_assert_str_eq(dur_format(86400000, buf), "1d");
    ck_assert_str_eq(dur_format(DUR_MAX_MS, buf), "365d");
}
END_TEST

START_TEST(test_dur_format_round_trips_through_parse)
{
    const int64_t samples[] = {0,     1,       999,      1000,     1001,      60000,
                               90000, 3600000, 86400000, 86400001, DUR_MAX_MS};
    for (size_t i = 0; i < SL_ARRAY_LEN(samples); i++) {
        char buf[DUR_LEN];
        int64_t back = -1;
        ck_assert_int_eq(parse(dur_format(samples[i], buf), &back), 0);
        ck_assert_int_eq(back, samples[i]);
    }
}
END_TEST

START_TEST(test_dur_parse_time_refuses_a_time_past_year_9999_in_utc)
{
    /* fuzz finding: the offset moved this into 10000-01-01, which cannot be written back */
    int64_t ms;
    const char *t = "9999-12-31T23:00:00-01:00";
    ck_assert_int_eq(dur_parse_time(t, strlen(t), &ms), SL_EPARAM);
    t = "9999-12-31T23:59:59.999Z";
    ck_assert_int_eq(dur_parse_time(t, strlen(t), &ms), 0);
    char buf[DUR_TIME_LEN];
    ck_assert_str_eq(dur_format_time(ms, buf), t);
}
END_TEST

START_TEST(test_dur_now_is_a_plausible_wall_clock_time)
{
    int64_t a = dur_now_ms(), b = dur_now_ms();
    ck_assert_int_gt(a, 1577836800000LL); /* after 2020 */
    ck_assert_int_ge(b, a);
}
END_TEST

static Suite *dur_suite(void)
{
    Suite *s = suite_create("dur");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_dur_parse_reads_every_unit);
    tcase_add_test(tc, test_dur_parse_reads_bare_numbers_as_seconds);
    tcase_add_test(tc, test_dur_parse_accepts_exactly_365_days_in_every_unit);
    tcase_add_test(tc, test_dur_parse_rejects_more_than_365_days);
    tcase_add_test(tc, test_dur_parse_rejects_huge_numbers_without_overflowing);
    tcase_add_test(tc, test_dur_parse_rejects_garbage);
    tcase_add_test(tc, test_dur_parse_uses_the_length_not_a_terminator);
    suite_add_tcase(s, tc);

    tc = tcase_create("time");
    tcase_add_test(tc, test_dur_parse_time_reads_utc_times);
    tcase_add_test(tc, test_dur_parse_time_applies_offsets);
    tcase_add_test(tc, test_dur_parse_time_reads_fractions_to_milliseconds);
    tcase_add_test(tc, test_dur_parse_time_accepts_feb_29_only_in_leap_years);
    tcase_add_test(tc, test_dur_parse_time_rejects_dates_and_times_that_do_not_exist);
    tcase_add_test(tc, test_dur_parse_time_rejects_malformed_text);
    tcase_add_test(tc, test_dur_parse_time_accepts_lowercase_t_z_space_and_leap_second);
    tcase_add_test(tc, test_dur_parse_time_uses_the_length_not_a_terminator);
    suite_add_tcase(s, tc);

    tc = tcase_create("format");
    tcase_add_test(tc, test_dur_format_time_writes_utc_with_milliseconds);
    tcase_add_test(tc, test_dur_format_time_round_trips_through_parse_time);
    tcase_add_test(tc, test_dur_format_uses_the_largest_exact_unit);
    tcase_add_test(tc, test_dur_format_round_trips_through_parse);
    tcase_add_test(tc, test_dur_parse_time_refuses_a_time_past_year_9999_in_utc);
    tcase_add_test(tc, test_dur_now_is_a_plausible_wall_clock_time);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dur_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
