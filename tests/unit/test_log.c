/*
 * test_log.c — levels and formats parsed from their names, and the lines log_msg()/log_errno()
 * write to a file opened with log_open_file(): text lines "TIMESTAMP LEVEL message" with an
 * RFC 3339 UTC timestamp in milliseconds, JSON lines that are one object each with ts, level and
 * msg (parsed back with jansson), the source location on debug lines, the level threshold, and
 * strerror(errno) after log_errno's message. Every test runs in its own process (Check forks),
 * so the logger's global state starts fresh each time.
 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dur.h"
#include "log.h"

static char dir[64], path[128];

/* A directory per test case, made and removed by the parent: a failed test leaves nothing. */
static void dir_setup(void)
{
    strcpy(dir, "/tmp/sluice-test-log-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void dir_teardown(void)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Each test logs to a fresh file of its own. */
static void setup(void)
{
    snprintf(path, sizeof path, "%s/log-XXXXXX", dir);
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(log_open_file(path), 0);
}

static void teardown(void)
{
    log_close_file();
    unlink(path);
}

/* The whole log file, NUL-terminated; free it. */
static char *slurp(void)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = malloc(1 << 16);
    ck_assert_ptr_nonnull(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Checks that ts is "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters) and lies in [lo, hi]. */
static void assert_timestamp(const char *ts, size_t len, int64_t lo, int64_t hi)
{
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    ck_assert_msg(len == strlen(shape), "timestamp '%.*s' is not 24 characters",
                  (int)(len < 100 ? len : 100), ts);
    for (size_t i = 0; i < len; i++) {
        if (shape[i] == 'd')
            ck_assert_msg(ts[i] >= '0' && ts[i] <= '9', "timestamp '%.*s'",
                          (int)(len < 100 ? len : 100), ts);
        else
            ck_assert_msg(ts[i] == shape[i], "timestamp '%.*s'", (int)(len < 100 ? len : 100), ts);
    }
    int64_t ms;
    ck_assert_msg(dur_parse_time(ts, len, &ms) == 0, "timestamp '%.*s' is not RFC 3339", (int)len,
                  ts);
    ck_assert_msg(ms >= lo && ms <= hi, "timestamp '%.*s' is %lld, not in [%lld, %lld]", (int)len,
                  ts, (long long)ms, (long long)lo, (long long)hi);
}

/* Parses one JSON line (without its newline) and checks it is an object with exactly ts, level
 * and msg, plus src when with_src. Returns it; json_decref it. */
static json_t *parse_line(const char *line, size_t len, bool with_src, int64_t lo, int64_t hi)
{
    json_error_t error;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &error);
    ck_assert_msg(o != NULL, "'%.*s' is not JSON: %s", (int)(len < 300 ? len : 300), line,
                  error.text);
    ck_assert_msg(json_is_object(o), "'%.*s' is not an object", (int)(len < 300 ? len : 300), line);
    ck_assert_msg(json_object_size(o) == (with_src ? 4u : 3u), "'%.*s' has %zu members, want %s",
                  (int)(len < 300 ? len : 300), line, json_object_size(o),
                  with_src ? "ts, level, msg and src" : "ts, level and msg");
    const json_t *ts = json_object_get(o, "ts");
    ck_assert_msg(json_is_string(ts), "no ts in '%.*s'", (int)(len < 300 ? len : 300), line);
    assert_timestamp(json_string_value(ts), json_string_length(ts), lo, hi);
    ck_assert_msg(json_is_string(json_object_get(o, "level")), "no level in '%.*s'", (int)len,
                  line);
    ck_assert_msg(json_is_string(json_object_get(o, "msg")), "no msg in '%.*s'",
                  (int)(len < 300 ? len : 300), line);
    if (with_src)
        ck_assert_msg(json_is_string(json_object_get(o, "src")), "no src in '%.*s'", (int)len,
                      line);
    return o;
}

/* ---------------------------------------------------------------- parsing names */

START_TEST(test_log_parse_level_accepts_the_four_names_in_any_case)
{
    const struct {
        const char *name;
        int level;
    } ok[] = {{"error", LOG_ERROR},  {"warn", LOG_WARN},   {"info", LOG_INFO}, {"debug", LOG_DEBUG},
              {"ERROR", LOG_ERROR},  {"Warn", LOG_WARN},   {"INFO", LOG_INFO}, {"dEbUg", LOG_DEBUG},
              {"warning", LOG_WARN}, {"WARNING", LOG_WARN}};
    for (size_t i = 0; i < SL_ARRAY_LEN(ok); i++) {
        int level = -1;
        ck_assert_msg(log_parse_level(ok[i].name, &level) == 0, "'%s' refused", ok[i].name);
        ck_assert_msg(level == ok[i].level, "'%s' gave %d", ok[i].name, level);
    }
}
END_TEST

START_TEST(test_log_parse_level_refuses_other_words)
{
    const char *bad[] = {"",      "trace", "fatal", "err",    "inf",   "information", " info",
                         "info ", "0",     "3",     "debug2", "warn ", "notice"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        int level = 12345;
        ck_assert_msg(log_parse_level(bad[i], &level) == SL_EPARAM, "'%s' accepted as %d", bad[i],
                      level);
    }
}
END_TEST

START_TEST(test_log_parse_format_accepts_text_and_json_in_any_case)
{
    int format = -1;
    ck_assert_int_eq(log_parse_format("text", &format), 0);
    ck_assert_int_eq(format, LOG_TEXT);
    ck_assert_int_eq(log_parse_format("json", &format), 0);
    ck_assert_int_eq(format, LOG_JSON);
    ck_assert_int_eq(log_parse_format("TEXT", &format), 0);
    ck_assert_int_eq(format, LOG_TEXT);
    ck_assert_int_eq(log_parse_format("Json", &format), 0);
    ck_assert_int_eq(format, LOG_JSON);
}
END_TEST

START_TEST(test_log_parse_format_refuses_other_words)
{
    const char *bad[] = {"", "xml", "jsonl", "txt", "plain", " json", "json ", "logfmt", "1"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        int format = 12345;
        ck_assert_msg(log_parse_format(bad[i], &format) == SL_EPARAM, "'%s' accepted as %d", bad[i],
                      format);
    }
}
END_TEST

/* ---------------------------------------------------------------- text lines */

START_TEST(test_log_text_line_is_timestamp_level_and_message)
{
    log_setup(LOG_INFO, LOG_TEXT);
    int64_t lo = dur_now_ms();
    log_msg(LOG_INFO, "queue '%s' created", "jobs");
    log_msg(LOG_WARN, "queue '%s' is %d%% full", "jobs", 90);
    log_msg(LOG_ERROR, "cannot bind %s:%d", "127.0.0.1", 8080);
    int64_t hi = dur_now_ms();

    char *text = slurp();
    ck_assert_uint_eq(count_lines(text), 3);
    const char *want[] = {" INFO queue 'jobs' created\n", " WARN queue 'jobs' is 90% full\n",
                          " ERROR cannot bind 127.0.0.1:8080\n"};
    const char *line = text;
    for (size_t i = 0; i < SL_ARRAY_LEN(want); i++) {
        const char *space = strchr(line, ' ');
        ck_assert_ptr_nonnull(space);
        assert_timestamp(line, (size_t)(space - line), lo, hi);
        size_t n = strlen(want[i]);
        ck_assert_msg(strncmp(space, want[i], n) == 0, "line %zu is '%.300s'", i + 1, line);
        line = space + n;
    }
    ck_assert_str_eq(line, "");
    free(text);
}
END_TEST

START_TEST(test_log_text_debug_line_carries_the_source_location)
{
    log_setup(LOG_DEBUG, LOG_TEXT);
    int line = __LINE__ + 1;
    log_msg(LOG_DEBUG, "lease %d renewed", 7);
    log_msg(LOG_INFO, "not a debug line");

    char *text = slurp();
    char want[256];
    snprintf(want, sizeof want, " DEBUG lease 7 renewed (%s:%d)\n", __FILE__, line);
    const char *nl = strchr(text, '\n');
    ck_assert_ptr_nonnull(nl);
    const char *space = strchr(text, ' ');
    ck_assert_msg(strncmp(space, want, strlen(want)) == 0, "line is '%.*s', want '%s'",
                  (int)(nl - text + 1), text, want);
    /* the info line has no location */
    ck_assert_msg(strcmp(strchr(nl + 1, ' '), " INFO not a debug line\n") == 0, "line is '%s'",
                  nl + 1);
    free(text);
}
END_TEST

START_TEST(test_log_threshold_suppresses_lower_levels)
{
    static const int levels[] = {LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG};
    for (size_t t = 0; t < SL_ARRAY_LEN(levels); t++) {
        ck_assert_int_eq(truncate(path, 0), 0);
        log_setup(levels[t], LOG_TEXT);
        log_msg(LOG_ERROR, "e");
        log_msg(LOG_WARN, "w");
        log_msg(LOG_INFO, "i");
        log_msg(LOG_DEBUG, "d");
        errno = EBADF;
        log_errno(LOG_DEBUG, "de");
        char *text = slurp();
        /* threshold t lets through levels 0..t: t + 1 lines, +1 for log_errno at debug */
        size_t want = (size_t)levels[t] + 1 + (levels[t] == LOG_DEBUG);
        ck_assert_msg(count_lines(text) == want, "threshold %d wrote '%.300s'", levels[t], text);
        ck_assert_int_eq(strstr(text, " WARN w\n") != NULL, levels[t] >= LOG_WARN);
        ck_assert_int_eq(strstr(text, " INFO i\n") != NULL, levels[t] >= LOG_INFO);
        ck_assert_int_eq(strstr(text, " DEBUG d (") != NULL, levels[t] >= LOG_DEBUG);
        ck_assert_ptr_nonnull(strstr(text, " ERROR e\n"));
        free(text);
    }
}
END_TEST

START_TEST(test_log_suppressed_line_does_not_evaluate_its_arguments)
{
    log_setup(LOG_WARN, LOG_TEXT);
    int calls = 0;
    log_msg(LOG_INFO, "%d", ++calls);
    log_msg(LOG_DEBUG, "%d", ++calls);
    ck_assert_int_eq(calls, 0);
    log_msg(LOG_WARN, "%d", ++calls);
    ck_assert_int_eq(calls, 1);
}
END_TEST

START_TEST(test_log_errno_appends_strerror)
{
    log_setup(LOG_INFO, LOG_TEXT);
    errno = ENOENT;
    log_errno(LOG_ERROR, "cannot open '%s'", "sluice.conf");
    errno = EACCES;
    log_errno(LOG_WARN, "cannot write %d bytes", 12);
    log_msg(LOG_WARN, "no errno here");

    char *text = slurp();
    char want[512];
    snprintf(want, sizeof want, " ERROR cannot open 'sluice.conf': %s\n", strerror(ENOENT));
    ck_assert_msg(strstr(text, want) != NULL, "'%.300s' lacks '%s'", text, want);
    snprintf(want, sizeof want, " WARN cannot write 12 bytes: %s\n", strerror(EACCES));
    ck_assert_msg(strstr(text, want) != NULL, "'%.300s' lacks '%s'", text, want);
    ck_assert_ptr_nonnull(strstr(text, " WARN no errno here\n"));
    ck_assert_uint_eq(count_lines(text), 3);
    free(text);
}
END_TEST

START_TEST(test_log_keeps_errno_even_when_the_write_fails)
{
    /* every write to /dev/full fails with ENOSPC */
    ck_assert_int_eq(log_open_file("/dev/full"), 0);
    errno = ENOENT;
    log_errno(LOG_ERROR, "cannot open '%s'", "sluice.conf");
    ck_assert_int_eq(errno, ENOENT);
    errno = EACCES;
    log_msg(LOG_ERROR, "plain line");
    ck_assert_int_eq(errno, EACCES);
}
END_TEST

START_TEST(test_log_open_file_appends_to_what_is_there)
{
    log_close_file();
    FILE *f = fopen(path, "w");
    fputs("earlier line\n", f);
    fclose(f);
    ck_assert_int_eq(log_open_file(path), 0);
    log_msg(LOG_ERROR, "later line");
    char *text = slurp();
    ck_assert_msg(strncmp(text, "earlier line\n", 13) == 0, "file is '%.300s'", text);
    ck_assert_ptr_nonnull(strstr(text + 13, " ERROR later line\n"));
    ck_assert_uint_eq(count_lines(text), 2);
    free(text);
}
END_TEST

START_TEST(test_log_open_file_in_a_missing_directory_fails_with_errno)
{
    errno = 0;
    ck_assert_int_eq(log_open_file("/nonexistent-sluice-dir/sluiced.log"), SL_EIO);
    ck_assert_int_eq(errno, ENOENT);
    /* the file opened before stays in use */
    log_msg(LOG_ERROR, "still here");
    char *text = slurp();
    ck_assert_ptr_nonnull(strstr(text, " ERROR still here\n"));
    free(text);
}
END_TEST

START_TEST(test_log_close_file_sends_lines_back_to_stderr)
{
    char errpath[160];
    snprintf(errpath, sizeof errpath, "%s/stderr-XXXXXX", dir);
    int fd = mkstemp(errpath);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);

    log_msg(LOG_ERROR, "to the file");
    log_close_file();
    log_msg(LOG_ERROR, "to stderr");

    char buf[512] = "";
    ck_assert_int_gt(pread(fd, buf, sizeof buf - 1, 0), 0);
    close(fd);
    unlink(errpath);
    ck_assert_msg(strstr(buf, " ERROR to stderr\n") != NULL, "stderr got '%.300s'", buf);
    ck_assert_ptr_null(strstr(buf, "to the file"));
    char *text = slurp();
    ck_assert_ptr_nonnull(strstr(text, " ERROR to the file\n"));
    ck_assert_ptr_null(strstr(text, "to stderr"));
    free(text);
}
END_TEST

START_TEST(test_log_long_text_message_stays_one_line)
{
    log_setup(LOG_INFO, LOG_TEXT);
    char *big = malloc(10001);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', 10000);
    big[10000] = '\0';
    log_msg(LOG_INFO, "%s", big);
    log_msg(LOG_INFO, "next");
    free(big);
    char *text = slurp();
    ck_assert_uint_eq(count_lines(text), 2);
    ck_assert_ptr_nonnull(strstr(text, " INFO xxxxxxxx"));
    ck_assert_ptr_nonnull(strstr(text, " INFO next\n"));
    free(text);
}
END_TEST

/* ---------------------------------------------------------------- JSON lines */

START_TEST(test_log_json_line_is_one_object_with_ts_level_and_msg)
{
    log_setup(LOG_INFO, LOG_JSON);
    int64_t lo = dur_now_ms();
    log_msg(LOG_INFO, "queue '%s' created", "jobs");
    log_msg(LOG_WARN, "queue is %d%% full", 90);
    log_msg(LOG_ERROR, "cannot bind");
    int64_t hi = dur_now_ms();

    char *text = slurp();
    ck_assert_uint_eq(count_lines(text), 3);
    const char *want[][2] = {
        {"info", "queue 'jobs' created"}, {"warn", "queue is 90% full"}, {"error", "cannot bind"}};
    const char *line = text;
    for (size_t i = 0; i < SL_ARRAY_LEN(want); i++) {
        const char *nl = strchr(line, '\n');
        json_t *o = parse_line(line, (size_t)(nl - line), false, lo, hi);
        ck_assert_str_eq(json_string_value(json_object_get(o, "level")), want[i][0]);
        ck_assert_str_eq(json_string_value(json_object_get(o, "msg")), want[i][1]);
        json_decref(o);
        line = nl + 1;
    }
    free(text);
}
END_TEST

START_TEST(test_log_json_debug_line_carries_the_source_location)
{
    log_setup(LOG_DEBUG, LOG_JSON);
    int64_t lo = dur_now_ms();
    int line = __LINE__ + 1;
    log_msg(LOG_DEBUG, "lease %d renewed", 7);
    int64_t hi = dur_now_ms();

    char *text = slurp();
    ck_assert_uint_eq(count_lines(text), 1);
    json_t *o = parse_line(text, strlen(text) - 1, true, lo, hi);
    char want[256];
    snprintf(want, sizeof want, "%s:%d", __FILE__, line);
    ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "debug");
    ck_assert_str_eq(json_string_value(json_object_get(o, "msg")), "lease 7 renewed");
    ck_assert_str_eq(json_string_value(json_object_get(o, "src")), want);
    json_decref(o);
    free(text);
}
END_TEST

START_TEST(test_log_json_message_with_quotes_and_newlines_stays_one_line)
{
    log_setup(LOG_INFO, LOG_JSON);
    const char *msg = "say \"hi\"\nthen\r\nleave\t\\ {\"a\":1} \x01 end";
    int64_t lo = dur_now_ms();
    log_msg(LOG_INFO, "%s", msg);
    errno = ENOENT;
    log_errno(LOG_ERROR, "file \"%s\"\ngone", "a\nb");
    int64_t hi = dur_now_ms();

    char *text = slurp();
    ck_assert_msg(count_lines(text) == 2, "'%.300s'", text);
    const char *nl = strchr(text, '\n');
    json_t *o = parse_line(text, (size_t)(nl - text), false, lo, hi);
    ck_assert_str_eq(json_string_value(json_object_get(o, "msg")), msg);
    json_decref(o);
    o = parse_line(nl + 1, strlen(nl + 1) - 1, false, lo, hi);
    char want[256];
    snprintf(want, sizeof want, "file \"a\nb\"\ngone: %s", strerror(ENOENT));
    ck_assert_str_eq(json_string_value(json_object_get(o, "msg")), want);
    ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "error");
    json_decref(o);
    free(text);
}
END_TEST

START_TEST(test_log_json_long_message_of_quotes_stays_one_valid_object)
{
    /* each '"' doubles when escaped, so the message (cut to 2047 bytes) outgrows the line */
    log_setup(LOG_INFO, LOG_JSON);
    char *big = malloc(3001);
    ck_assert_ptr_nonnull(big);
    memset(big, '"', 3000);
    big[3000] = '\0';
    int64_t lo = dur_now_ms();
    log_msg(LOG_INFO, "%s", big);
    int64_t hi = dur_now_ms();
    free(big);

    char *text = slurp();
    ck_assert_uint_eq(count_lines(text), 1);
    json_t *o = parse_line(text, strlen(text) - 1, false, lo, hi);
    const char *msg = json_string_value(json_object_get(o, "msg"));
    ck_assert_uint_gt(strlen(msg), 0);
    ck_assert_uint_eq(strspn(msg, "\""), strlen(msg));
    json_decref(o);
    free(text);
}
END_TEST

START_TEST(test_log_json_message_cut_inside_a_utf8_character_keeps_ts_level_and_msg)
{
    /* 2046 ASCII bytes then "é": the 2047-byte message buffer ends inside the character */
    log_setup(LOG_INFO, LOG_JSON);
    char big[2100];
    memset(big, 'a', 2046);
    strcpy(big + 2046, "\xc3\xa9 and more");
    int64_t lo = dur_now_ms();
    log_msg(LOG_INFO, "%s", big);
    int64_t hi = dur_now_ms();

    char *text = slurp();
    ck_assert_uint_eq(count_lines(text), 1);
    json_t *o = parse_line(text, strlen(text) - 1, false, lo, hi);
    ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "info");
    ck_assert_uint_ge(strlen(json_string_value(json_object_get(o, "msg"))), 2046);
    json_decref(o);
    free(text);
}
END_TEST

START_TEST(test_log_json_message_with_invalid_utf8_keeps_ts_level_and_msg)
{
    /* e.g. a config value quoted in an error: bytes from a file are not always UTF-8 */
    log_setup(LOG_INFO, LOG_JSON);
    int64_t lo = dur_now_ms();
    log_msg(LOG_ERROR, "'%s' is not a level",
            "d\xff\xfe"
            "bug");
    int64_t hi = dur_now_ms();

    char *text = slurp();
    ck_assert_uint_eq(count_lines(text), 1);
    json_t *o = parse_line(text, strlen(text) - 1, false, lo, hi);
    ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "error");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "msg")), "is not a level"));
    json_decref(o);
    free(text);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_log_parse_level_accepts_the_four_names_in_any_case);
    tcase_add_test(tc, test_log_parse_level_refuses_other_words);
    tcase_add_test(tc, test_log_parse_format_accepts_text_and_json_in_any_case);
    tcase_add_test(tc, test_log_parse_format_refuses_other_words);
    suite_add_tcase(s, tc);

    tc = tcase_create("text");
    tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_log_text_line_is_timestamp_level_and_message);
    tcase_add_test(tc, test_log_text_debug_line_carries_the_source_location);
    tcase_add_test(tc, test_log_threshold_suppresses_lower_levels);
    tcase_add_test(tc, test_log_suppressed_line_does_not_evaluate_its_arguments);
    tcase_add_test(tc, test_log_errno_appends_strerror);
    tcase_add_test(tc, test_log_keeps_errno_even_when_the_write_fails);
    tcase_add_test(tc, test_log_open_file_appends_to_what_is_there);
    tcase_add_test(tc, test_log_open_file_in_a_missing_directory_fails_with_errno);
    tcase_add_test(tc, test_log_close_file_sends_lines_back_to_stderr);
    tcase_add_test(tc, test_log_long_text_message_stays_one_line);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_log_json_line_is_one_object_with_ts_level_and_msg);
    tcase_add_test(tc, test_log_json_debug_line_carries_the_source_location);
    tcase_add_test(tc, test_log_json_message_with_quotes_and_newlines_stays_one_line);
    tcase_add_test(tc, test_log_json_long_message_of_quotes_stays_one_valid_object);
    tcase_add_test(tc, test_log_json_message_cut_inside_a_utf8_character_keeps_ts_level_and_msg);
    tcase_add_test(tc, test_log_json_message_with_invalid_utf8_keeps_ts_level_and_msg);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
