/*
 * test_config.c — sluiced's options (docs/config.md): the defaults, the INI file given with -f
 * (sections, options before the first section, comments, FILE:LINE errors, long lines), the
 * SLUICE_* environment, the flags (--name value, --name=value, -f, --help, --version and MQ Go's
 * -port/-workers/-jobs), their precedence (file < environment < flags), and the values: sizes
 * with k/M/G, durations, listen addresses and their bounds.
 *
 * Every test runs in its own process (Check forks), starts with no SLUICE_* variable set and
 * gives config_load a fresh argv array (a compound literal), since config_load runs getopt.
 * Every refusal is checked to come with a non-empty message. Files live in a temporary
 * directory made once per test case and removed after it.
 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "config.h"
#include "log.h"

extern char **environ;

/* ---------------------------------------------------------------- fixtures and helpers */

static char dir[64];

static void dir_setup(void)
{
    strcpy(dir, "/tmp/sluice-test-config-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void dir_teardown(void)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Unsets every SLUICE_* variable, so what the tests set is all config_load sees. */
static void env_clear(void)
{
    for (size_t i = 0; environ[i] != NULL;) {
        if (strncmp(environ[i], "SLUICE_", 7) == 0) {
            char name[256];
            size_t n = strcspn(environ[i], "=");
            ck_assert_uint_lt(n, sizeof name);
            memcpy(name, environ[i], n);
            name[n] = '\0';
            unsetenv(name);
            i = 0;
        } else {
            i++;
        }
    }
}

/* Writes text to dir/name and returns the path (one of four rotating buffers). */
static const char *write_file(const char *name, const char *text)
{
    static char paths[4][128];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static const char *conf(const char *text)
{
    return write_file("sluice.conf", text);
}

/* The result of the last load. */
static config_t cfg;
static int action;
static char err[1024];

/* Runs config_defaults then config_load on a NULL-terminated argv. A refusal must be SL_EPARAM
 * with a non-empty message. */
static int load_argv(char **argv)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    config_defaults(&cfg);
    action = -1;
    memset(err, 0, sizeof err);
    int r = config_load(&cfg, argc, argv, &action, err, sizeof err);
    if (r != 0) {
        ck_assert_msg(r == SL_EPARAM, "config_load returned %d, not SL_EPARAM", r);
        ck_assert_msg(err[0] != '\0', "refused with an empty message");
    }
    return r;
}

#define LOAD(...) load_argv((char *[]){"sluiced", __VA_ARGS__, NULL})
#define LOAD_NOTHING() load_argv((char *[]){"sluiced", NULL})
#define ASSERT_LOADS(...) ck_assert_msg(LOAD(__VA_ARGS__) == 0, "refused: %s", err)
#define ASSERT_REFUSED(...) ck_assert_msg(LOAD(__VA_ARGS__) == SL_EPARAM, "accepted")

/* The message of the last refusal is exactly the printf-formatted text. */
#define ASSERT_ERR(...)                                                              \
    do {                                                                             \
        char want_[2048];                                                            \
        snprintf(want_, sizeof want_, __VA_ARGS__);                                  \
        ck_assert_msg(strcmp(err, want_) == 0, "error '%s', want '%s'", err, want_); \
    } while (0)

/* Sets one option with "--flag=value". */
static int set_flag(const char *flag, const char *value)
{
    char arg[2048];
    snprintf(arg, sizeof arg, "--%s=%s", flag, value);
    return LOAD(arg);
}

#define ASSERT_FLAG_OK(flag, value) \
    ck_assert_msg(set_flag(flag, value) == 0, "--%s=%s refused: %s", flag, value, err)
#define ASSERT_FLAG_BAD(flag, value) \
    ck_assert_msg(set_flag(flag, value) == SL_EPARAM, "--%s=%s accepted", flag, value)

/* ---------------------------------------------------------------- defaults */

START_TEST(test_config_defaults_match_docs_config_md)
{
    config_t c;
    memset(&c, 0x5a, sizeof c);
    config_defaults(&c);
    /* [server] */
    ck_assert_str_eq(c.listen_host, "127.0.0.1");
    ck_assert_int_eq(c.listen_port, 8080);
    ck_assert_int_eq(c.port, -1);
    ck_assert_uint_eq(c.max_connections, 1024);
    ck_assert_uint_eq(c.max_connections_per_ip, 0);
    ck_assert_uint_eq(c.max_header_bytes, 16 * 1024);
    ck_assert_uint_eq(c.max_request_bytes, 16 * 1024 * 1024);
    ck_assert_int_eq(c.idle_timeout_ms, 60000);
    ck_assert_int_eq(c.request_timeout_ms, 30000);
    ck_assert_int_eq(c.max_wait_ms, 30000);
    ck_assert_int_eq(c.shutdown_timeout_ms, 10000);
    /* [storage] */
    ck_assert_str_eq(c.storage, "file");
    ck_assert_str_eq(c.data_dir, "./sluice-data");
    ck_assert_str_eq(c.fsync, "always");
    ck_assert_int_eq(c.fsync_interval_ms, 10);
    ck_assert_uint_eq(c.segment_bytes, 64 * 1024 * 1024);
    /* [queues] */
    ck_assert_uint_eq(c.max_queues, 10000);
    ck_assert_uint_eq(c.max_message_bytes, 1024 * 1024);
    ck_assert_int_eq(c.visibility_timeout_ms, 30000);
    ck_assert_uint_eq(c.max_attempts, 10);
    ck_assert_int_eq(c.dedup_window_ms, 5 * 60000);
    ck_assert_uint_eq(c.max_in_flight_per_key, 1);
    ck_assert_uint_eq(c.max_messages, 0);
    ck_assert_uint_eq(c.max_bytes, 0);
    ck_assert_int_eq(c.max_age_ms, 0);
    /* [push] */
    ck_assert_uint_eq(c.workers, 64);
    ck_assert_uint_eq(c.jobs, 256);
    ck_assert_int_eq(c.push_timeout_ms, 10000);
    ck_assert_int_eq(c.push_retry_min_ms, 1000);
    ck_assert_int_eq(c.push_retry_max_ms, 300000);
    ck_assert_uint_eq(c.push_circuit_failures, 5);
    ck_assert_int_eq(c.push_circuit_pause_ms, 30000);
    ck_assert_str_eq(c.mqgo_queue, "mqgo");
    ck_assert_str_eq(c.mqgo_delivery, "json");
    ck_assert_str_eq(c.push_library, "libcurl-gnutls.so.4");
    /* [gmq] */
    ck_assert_int_eq(c.gmq_port, -1);
    ck_assert_str_eq(c.gmq_host, "");
    ck_assert_str_eq(c.gmq_protocol, "tcp");
    ck_assert_uint_eq(c.gmq_max_request, 0);
    ck_assert_uint_eq(config_gmq_max_request(&c), 1398104 + 65536); /* base64 of 1 MiB + 64k */
    ck_assert_int_eq(c.gmq_timeout_ms, 10000);
    ck_assert_uint_eq(c.gmq_max_connections, 1024);
    ck_assert_str_eq(c.gmq_user, "");
    ck_assert_str_eq(c.gmq_password, "");
    /* [log] */
    ck_assert_int_eq(c.log_level, LOG_INFO);
    ck_assert_int_eq(c.log_format, LOG_TEXT);
    ck_assert_str_eq(c.log_file, "");
    ck_assert_int_eq(config_port(&c), 8080);
}
END_TEST

START_TEST(test_config_load_with_nothing_keeps_the_defaults_and_runs)
{
    config_t d;
    config_defaults(&d);
    ck_assert_int_eq(LOAD_NOTHING(), 0);
    ck_assert_int_eq(action, CONFIG_RUN);
    ck_assert_int_eq(memcmp(&cfg, &d, sizeof d), 0);
}
END_TEST

/* ---------------------------------------------------------------- the INI file */

START_TEST(test_config_file_sets_options_in_their_sections)
{
    const char *path = conf("# sluice.conf\n"
                            "[server]\n"
                            "listen = 0.0.0.0:9090\n"
                            "max_connections = 2048\n"
                            "idle_timeout = 2m\n"
                            "\n"
                            "[push]\n"
                            "workers = 6\n"
                            "mqgo_delivery = raw\n"
                            "\n"
                            "[storage]\n"
                            "storage = file\n"
                            "data_dir = /var/lib/sluice\n"
                            "\n"
                            "[queues]\n"
                            "visibility_timeout = 45s\n"
                            "max_attempts = 4\n"
                            "max_message_bytes = 2M\n"
                            "\n"
                            "[log]\n"
                            "log_level = debug\n"
                            "log_format = json\n");
    ASSERT_LOADS("-f", (char *)path);
    ck_assert_int_eq(action, CONFIG_RUN);
    ck_assert_str_eq(cfg.listen_host, "0.0.0.0");
    ck_assert_int_eq(cfg.listen_port, 9090);
    ck_assert_uint_eq(cfg.max_connections, 2048);
    ck_assert_int_eq(cfg.idle_timeout_ms, 120000);
    ck_assert_uint_eq(cfg.workers, 6);
    ck_assert_str_eq(cfg.mqgo_delivery, "raw");
    ck_assert_str_eq(cfg.storage, "file");
    ck_assert_str_eq(cfg.data_dir, "/var/lib/sluice");
    ck_assert_int_eq(cfg.visibility_timeout_ms, 45000);
    ck_assert_uint_eq(cfg.max_attempts, 4);
    ck_assert_uint_eq(cfg.max_message_bytes, 2 * 1024 * 1024);
    ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
    ck_assert_int_eq(cfg.log_format, LOG_JSON);
    /* what the file does not name keeps its default */
    ck_assert_uint_eq(cfg.jobs, 256);
    ck_assert_uint_eq(cfg.max_queues, 10000);
}
END_TEST

START_TEST(test_config_file_accepts_options_before_the_first_section)
{
    const char *path = conf("workers = 7\n"
                            "max_attempts = 3\n"
                            "log_level = warn\n"
                            "[queues]\n"
                            "max_queues = 5\n");
    ASSERT_LOADS("-f", (char *)path);
    ck_assert_uint_eq(cfg.workers, 7);
    ck_assert_uint_eq(cfg.max_attempts, 3);
    ck_assert_int_eq(cfg.log_level, LOG_WARN);
    ck_assert_uint_eq(cfg.max_queues, 5);
}
END_TEST

START_TEST(test_config_file_skips_comments_blank_lines_and_surrounding_blanks)
{
    const char *path = conf("# a hash comment\n"
                            "; a semicolon comment\n"
                            "\n"
                            "   \n"
                            "[push]\n"
                            "  # an indented comment: workers = 99\n"
                            "   workers = 4   \n"
                            ";jobs = 99\n"
                            "#jobs = 98\n");
    ASSERT_LOADS("-f", (char *)path);
    ck_assert_uint_eq(cfg.workers, 4);
    ck_assert_uint_eq(cfg.jobs, 256);
}
END_TEST

START_TEST(test_config_file_strips_inline_comments)
{
    const char *path = conf("[push]\n"
                            "workers = 4 ; four workers\n"
                            "jobs = 6 # six jobs\n"
                            "[server]\n"
                            "listen = 10.0.0.1:81 ; the private side\n"
                            "[log] ; the log section\n"
                            "log_format = json ; for the collector\n");
    ASSERT_LOADS("-f", (char *)path);
    ck_assert_uint_eq(cfg.workers, 4);
    ck_assert_uint_eq(cfg.jobs, 6);
    ck_assert_str_eq(cfg.listen_host, "10.0.0.1");
    ck_assert_int_eq(cfg.listen_port, 81);
    ck_assert_int_eq(cfg.log_format, LOG_JSON);
}
END_TEST

START_TEST(test_config_file_refuses_an_option_in_the_wrong_section_naming_file_and_line)
{
    const char *path = conf("[push]\n"
                            "workers = 4\n"
                            "[queues]\n"
                            "max_attempts = 3\n"
                            "listen = 127.0.0.1:9\n");
    ASSERT_REFUSED("-f", (char *)path);
    ASSERT_ERR("%s:5: option 'listen' belongs in section [server], not [queues]", path);

    path = conf("[nowhere]\nlog_level = debug\n");
    ASSERT_REFUSED("-f", (char *)path);
    ASSERT_ERR("%s:2: option 'log_level' belongs in section [log], not [nowhere]", path);
}
END_TEST

START_TEST(test_config_file_refuses_an_unknown_option_naming_file_and_line)
{
    const char *path = conf("[push]\nworkers = 4\n\nthreads = 8\n");
    ASSERT_REFUSED("-f", (char *)path);
    ASSERT_ERR("%s:4: unknown option 'threads'", path);

    /* names are the underscore forms, as written in docs/config.md */
    path = conf("[server]\nmax-connections = 8\n");
    ASSERT_REFUSED("-f", (char *)path);
    ASSERT_ERR("%s:2: unknown option 'max-connections'", path);
}
END_TEST

START_TEST(test_config_file_refuses_a_bad_value_naming_file_line_and_option)
{
    const char *path = conf("[push]\nworkers = 4\n[server]\nmax_connections = 0\n");
    ASSERT_REFUSED("-f", (char *)path);
    ASSERT_ERR("%s:4: max_connections: '0' is not an integer from 1 to 1000000", path);

    path = conf("[queues]\nvisibility_timeout = soon\n");
    ASSERT_REFUSED("-f", (char *)path);
    ASSERT_ERR("%s:2: visibility_timeout: 'soon' is not a duration (like 500ms, 30s, 5m, 2h) of "
               "at most 365d",
               path);

    path = conf("[server]\nlisten = 127.0.0.1\n");
    ASSERT_REFUSED("-f", (char *)path);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0 && strstr(err, ":2: listen: ") != NULL,
                  "error '%s'", err);
}
END_TEST

START_TEST(test_config_file_refuses_a_malformed_line_as_a_syntax_error)
{
    const char *bad[] = {"[push]\nworkers = 4\nthis line has no equals sign\n",
                         "[push]\nworkers = 4\n[server\n", "[push]\nworkers = 4\nworkers\n"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        const char *path = conf(bad[i]);
        ASSERT_REFUSED("-f", (char *)path);
        ASSERT_ERR("%s:3: syntax error: expected 'key = value', '[section]' or a comment", path);
    }
}
END_TEST

START_TEST(test_config_file_reports_the_first_bad_line)
{
    /* a bad value before a malformed line: the bad value (line 2) */
    const char *path = conf("[push]\nworkers = 0\nthis is not ini\n");
    ASSERT_REFUSED("-f", (char *)path);
    ASSERT_ERR("%s:2: workers: '0' is not an integer from 1 to 4096", path);

    /* a malformed line before a bad value: the malformed line (line 2) */
    path = conf("[server]\nthis is not ini\nworkers = 0\n");
    ASSERT_REFUSED("-f", (char *)path);
    ASSERT_ERR("%s:2: syntax error: expected 'key = value', '[section]' or a comment", path);
}
END_TEST

/* A line of exactly len bytes (without its newline) setting data_dir. */
static void long_line(char *buf, size_t len)
{
    strcpy(buf, "data_dir = /");
    size_t n = strlen(buf);
    memset(buf + n, 'd', len - n);
    buf[len] = '\0';
}

START_TEST(test_config_file_accepts_a_line_of_198_bytes)
{
    char text[512], line[256];
    long_line(line, 198);
    snprintf(text, sizeof text, "[storage]\n%s\nstorage = file\n", line);
    ASSERT_LOADS("-f", (char *)conf(text));
    ck_assert_str_eq(cfg.data_dir, line + strlen("data_dir = "));
    ck_assert_str_eq(cfg.storage, "file");

    /* also as the last line, without a newline */
    snprintf(text, sizeof text, "[storage]\n%s", line);
    ASSERT_LOADS("-f", (char *)conf(text));
    ck_assert_str_eq(cfg.data_dir, line + strlen("data_dir = "));
}
END_TEST

START_TEST(test_config_file_refuses_a_line_longer_than_198_bytes)
{
    char text[1024], line[512];
    const size_t lens[] = {199, 200, 201, 400};
    for (size_t i = 0; i < SL_ARRAY_LEN(lens); i++) {
        long_line(line, lens[i]);
        snprintf(text, sizeof text, "[storage]\nstorage = file\n%s\n", line);
        const char *path = conf(text);
        ASSERT_REFUSED("-f", (char *)path);
        ASSERT_ERR("%s:3: line longer than 198 bytes", path);
        /* as the last line, without a newline */
        snprintf(text, sizeof text, "[storage]\n%s", line);
        path = conf(text);
        ASSERT_REFUSED("-f", (char *)path);
        ASSERT_ERR("%s:2: line longer than 198 bytes", path);
    }
}
END_TEST

START_TEST(test_config_file_refuses_a_long_comment_instead_of_reading_its_tail_as_a_line)
{
    /* cut at the buffer, the tail of this comment would read "workers = 9" */
    char text[512];
    snprintf(text, sizeof text, "[push]\n#%0198d workers = 9\n", 0);
    const char *path = conf(text);
    ASSERT_REFUSED("-f", (char *)path);
    ASSERT_ERR("%s:2: line longer than 198 bytes", path);
    ck_assert_uint_eq(cfg.workers, 64);
}
END_TEST

START_TEST(test_config_missing_file_is_refused_naming_it)
{
    char path[256];
    snprintf(path, sizeof path, "%s/no-such.conf", dir);
    ASSERT_REFUSED("-f", path);
    ASSERT_ERR("%s: cannot open: %s", path, strerror(ENOENT));
}
END_TEST

START_TEST(test_config_directory_given_as_the_file_is_refused)
{
    char path[256];
    snprintf(path, sizeof path, "%s/a-directory", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ASSERT_REFUSED("-f", path);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "error '%s' does not name '%s'", err,
                  path);
}
END_TEST

/* A file starting with '{' (after blanks) is GMQ's JSON format (tests/unit/test_gmqconf.c has
 * the details): its keys are GMQ's, not ours. */
START_TEST(test_config_json_file_is_read_as_a_gmq_configuration)
{
    const char *path = conf("  \n{\"port\": 8080}\n");
    ASSERT_REFUSED("-f", (char *)path);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0 && strstr(err, "unknown key 'port'"),
                  "error '%s'", err);
    path = conf("\n {\"network\": {\"port\": \"4567\"}, \"queue\": {\"queue_type\": 1}}");
    ASSERT_LOADS("-f", (char *)path);
    ck_assert_str_eq(cfg.gmq_host, "0.0.0.0");
    ck_assert_int_eq(cfg.gmq_port, 4567);
    ck_assert_str_eq(cfg.storage, "memory");
}
END_TEST

/* ---------------------------------------------------------------- environment */

START_TEST(test_config_environment_sets_options_by_upper_case_name)
{
    setenv("SLUICE_WORKERS", "8", 1);
    setenv("SLUICE_LISTEN", "[::1]:7070", 1);
    setenv("SLUICE_LOG_LEVEL", "debug", 1);
    setenv("SLUICE_MAX_CONNECTIONS_PER_IP", "16", 1);
    setenv("SLUICE_VISIBILITY_TIMEOUT", "90s", 1);
    setenv("SLUICE_MAX_BYTES", "2G", 1);
    setenv("SLUICE_PORT", "9100", 1);
    ck_assert_int_eq(LOAD_NOTHING(), 0);
    ck_assert_uint_eq(cfg.workers, 8);
    ck_assert_str_eq(cfg.listen_host, "::1");
    ck_assert_int_eq(cfg.listen_port, 7070);
    ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
    ck_assert_uint_eq(cfg.max_connections_per_ip, 16);
    ck_assert_int_eq(cfg.visibility_timeout_ms, 90000);
    ck_assert_uint_eq(cfg.max_bytes, 2ULL << 30);
    ck_assert_int_eq(config_port(&cfg), 9100);
}
END_TEST

START_TEST(test_config_environment_bad_value_is_refused_naming_the_variable)
{
    setenv("SLUICE_WORKERS", "0", 1);
    ck_assert_int_eq(LOAD_NOTHING(), SL_EPARAM);
    ASSERT_ERR("environment SLUICE_WORKERS: '0' is not an integer from 1 to 4096");

    unsetenv("SLUICE_WORKERS");
    setenv("SLUICE_LOG_FORMAT", "xml", 1);
    ck_assert_int_eq(LOAD_NOTHING(), SL_EPARAM);
    ASSERT_ERR("environment SLUICE_LOG_FORMAT: 'xml' is not a log format (text or json)");
}
END_TEST

START_TEST(test_config_environment_ignores_variables_that_name_no_option)
{
    setenv("SLUICE_THREADS", "garbage", 1);
    setenv("SLUICE_BIN", "/usr/bin/false", 1);
    config_t d;
    config_defaults(&d);
    ck_assert_int_eq(LOAD_NOTHING(), 0);
    ck_assert_int_eq(memcmp(&cfg, &d, sizeof d), 0);
}
END_TEST

/* ---------------------------------------------------------------- flags */

START_TEST(test_config_flags_take_a_separate_or_attached_value)
{
    ASSERT_LOADS("--workers", "4", "--jobs=9", "--max-connections-per-ip", "3", "--log-level=debug",
                 "--listen", "0.0.0.0:1", "--max-in-flight-per-key=2");
    ck_assert_int_eq(action, CONFIG_RUN);
    ck_assert_uint_eq(cfg.workers, 4);
    ck_assert_uint_eq(cfg.jobs, 9);
    ck_assert_uint_eq(cfg.max_connections_per_ip, 3);
    ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
    ck_assert_str_eq(cfg.listen_host, "0.0.0.0");
    ck_assert_int_eq(cfg.listen_port, 1);
    ck_assert_uint_eq(cfg.max_in_flight_per_key, 2);
}
END_TEST

START_TEST(test_config_f_and_config_name_the_file)
{
    const char *path = conf("[push]\nworkers = 11\n");
    ASSERT_LOADS("-f", (char *)path);
    ck_assert_uint_eq(cfg.workers, 11);
    ASSERT_LOADS("--config", (char *)path);
    ck_assert_uint_eq(cfg.workers, 11);
    char arg[256];
    snprintf(arg, sizeof arg, "--config=%s", path);
    ASSERT_LOADS(arg);
    ck_assert_uint_eq(cfg.workers, 11);
}
END_TEST

START_TEST(test_config_help_and_version_set_the_action)
{
    ASSERT_LOADS("--help");
    ck_assert_int_eq(action, CONFIG_HELP);
    ASSERT_LOADS("-h");
    ck_assert_int_eq(action, CONFIG_HELP);
    ASSERT_LOADS("--version");
    ck_assert_int_eq(action, CONFIG_VERSION);
    ASSERT_LOADS("-V");
    ck_assert_int_eq(action, CONFIG_VERSION);
    ASSERT_LOADS("--workers", "4");
    ck_assert_int_eq(action, CONFIG_RUN);
}
END_TEST

START_TEST(test_config_help_is_answered_without_reading_the_file)
{
    char path[256];
    snprintf(path, sizeof path, "%s/no-such.conf", dir);
    ASSERT_LOADS("-f", path, "--help");
    ck_assert_int_eq(action, CONFIG_HELP);
    ASSERT_LOADS("--version", "--config", path);
    ck_assert_int_eq(action, CONFIG_VERSION);
}
END_TEST

START_TEST(test_config_mq_go_single_dash_flags_are_understood)
{
    ASSERT_LOADS("-port", "9000", "-workers", "7", "-jobs", "50");
    ck_assert_int_eq(cfg.port, 9000);
    ck_assert_int_eq(config_port(&cfg), 9000);
    ck_assert_uint_eq(cfg.workers, 7);
    ck_assert_uint_eq(cfg.jobs, 50);

    ASSERT_LOADS("-port=9001", "-workers=2", "-jobs=3");
    ck_assert_int_eq(cfg.port, 9001);
    ck_assert_uint_eq(cfg.workers, 2);
    ck_assert_uint_eq(cfg.jobs, 3);

    /* mixed with the other forms */
    ASSERT_LOADS("--log-level", "warn", "-port", "9002", "--jobs=4");
    ck_assert_int_eq(cfg.port, 9002);
    ck_assert_int_eq(cfg.log_level, LOG_WARN);
    ck_assert_uint_eq(cfg.jobs, 4);

    ASSERT_REFUSED("-port", "70000");
    ck_assert_msg(strstr(err, "'70000'") != NULL, "error '%s'", err);
}
END_TEST

START_TEST(test_config_value_that_looks_like_an_mq_go_flag_stays_a_value)
{
    ASSERT_LOADS("--data-dir", "-port=5");
    ck_assert_str_eq(cfg.data_dir, "-port=5");
    ck_assert_int_eq(cfg.port, -1);

    ASSERT_LOADS("--data-dir", "-workers");
    ck_assert_str_eq(cfg.data_dir, "-workers");
    ck_assert_uint_eq(cfg.workers, 64);

    ASSERT_LOADS("--data-dir", "-jobs", "-port", "9003");
    ck_assert_str_eq(cfg.data_dir, "-jobs");
    ck_assert_int_eq(cfg.port, 9003);

    /* a -f value too: the file named "-port" is looked for, and is missing */
    ck_assert_int_eq(chdir(dir), 0);
    ASSERT_REFUSED("-f", "-port");
    ASSERT_ERR("-port: cannot open: %s", strerror(ENOENT));
}
END_TEST

START_TEST(test_config_flag_errors_are_named)
{
    ASSERT_REFUSED("--nope");
    ASSERT_ERR("unknown option '--nope' (see --help)");
    ASSERT_REFUSED("--nope=3");
    ASSERT_ERR("unknown option '--nope=3' (see --help)");
    ASSERT_REFUSED("-x");
    ASSERT_ERR("unknown option '-x' (see --help)");
    ASSERT_REFUSED("--max_connections", "5"); /* flags use dashes */
    ASSERT_ERR("unknown option '--max_connections' (see --help)");
    ASSERT_REFUSED("--workers");
    ASSERT_ERR("option '--workers' needs a value");
    ASSERT_REFUSED("-f");
    ASSERT_ERR("option '-f' needs a value");
    ASSERT_REFUSED("stray");
    ASSERT_ERR("unexpected argument 'stray' (see --help)");
    ASSERT_REFUSED("--workers", "0");
    ASSERT_ERR("--workers: '0' is not an integer from 1 to 4096");
}
END_TEST

START_TEST(test_config_unknown_short_option_inside_a_word_is_named_not_the_program)
{
    /* "-portx" is not MQ Go's -port: getopt reads it as -p -o -r -t -x */
    ASSERT_REFUSED("-portx", "5");
    ck_assert_msg(strstr(err, "sluiced") == NULL && strstr(err, "-p") != NULL,
                  "error '%s' does not name the option", err);
    ASSERT_REFUSED("-xy");
    ck_assert_msg(strstr(err, "sluiced") == NULL && strstr(err, "-x") != NULL,
                  "error '%s' does not name the option", err);
}
END_TEST

START_TEST(test_config_load_can_run_again_with_a_fresh_argv)
{
    ASSERT_LOADS("--workers", "4");
    ck_assert_uint_eq(cfg.workers, 4);
    ASSERT_LOADS("--jobs", "6");
    ck_assert_uint_eq(cfg.workers, 64);
    ck_assert_uint_eq(cfg.jobs, 6);
    /* after a refusal in the middle of a word of short options, getopt starts over */
    ASSERT_REFUSED("-Vx");
    ASSERT_LOADS("-V");
    ck_assert_int_eq(action, CONFIG_VERSION);
    ASSERT_LOADS("--workers=5");
    ck_assert_uint_eq(cfg.workers, 5);
    ck_assert_int_eq(action, CONFIG_RUN);
}
END_TEST

START_TEST(test_config_load_leaves_argv_as_it_was)
{
    char *argv[] = {"sluiced", "stray", "-port", "9", "--workers", "4", NULL};
    char *copy[SL_ARRAY_LEN(argv)];
    memcpy(copy, argv, sizeof argv);
    ck_assert_int_eq(load_argv(argv), SL_EPARAM);
    ASSERT_ERR("unexpected argument 'stray' (see --help)");
    for (size_t i = 0; i < SL_ARRAY_LEN(argv); i++)
        ck_assert_ptr_eq(argv[i], copy[i]);
    ck_assert_str_eq(argv[2], "-port");

    char *argv2[] = {"sluiced", "-port", "9", "--workers", "4", NULL};
    memcpy(copy, argv2, sizeof argv2);
    ck_assert_int_eq(load_argv(argv2), 0);
    for (size_t i = 0; i < SL_ARRAY_LEN(argv2); i++)
        ck_assert_ptr_eq(argv2[i], copy[i]);
    ck_assert_str_eq(argv2[1], "-port");
}
END_TEST

START_TEST(test_config_error_message_is_cut_to_errlen_and_terminated)
{
    config_t c;
    config_defaults(&c);
    char small[24];
    memset(small, '#', sizeof small);
    int act;
    char *argv[] = {"sluiced", "--workers", "0", NULL};
    ck_assert_int_eq(config_load(&c, 3, argv, &act, small, 16), SL_EPARAM);
    ck_assert_uint_eq(strlen(small), 15);
    ck_assert_int_eq(strncmp(small, "--workers: '0' ", 15), 0);
    for (size_t i = 16; i < sizeof small; i++)
        ck_assert_int_eq(small[i], '#');
}
END_TEST

/* ---------------------------------------------------------------- precedence */

START_TEST(test_config_file_then_environment_then_flags_later_wins)
{
    const char *path = conf("[push]\nworkers = 2\njobs = 20\n[server]\nlisten = 10.1.1.1:1111\n");

    ASSERT_LOADS("-f", (char *)path);
    ck_assert_uint_eq(cfg.workers, 2);

    setenv("SLUICE_WORKERS", "3", 1);
    ASSERT_LOADS("-f", (char *)path);
    ck_assert_uint_eq(cfg.workers, 3);
    ck_assert_uint_eq(cfg.jobs, 20); /* the file still applies to the rest */

    ASSERT_LOADS("-f", (char *)path, "--workers", "4");
    ck_assert_uint_eq(cfg.workers, 4);
    /* the flag wins wherever it stands relative to -f */
    ASSERT_LOADS("--workers", "4", "-f", (char *)path);
    ck_assert_uint_eq(cfg.workers, 4);
    ASSERT_LOADS("-workers", "5", "-f", (char *)path);
    ck_assert_uint_eq(cfg.workers, 5);

    /* options set in one place only keep that value */
    ck_assert_str_eq(cfg.listen_host, "10.1.1.1");
    ck_assert_int_eq(cfg.listen_port, 1111);
    ck_assert_uint_eq(cfg.jobs, 20);

    /* the environment alone beats the default, and flags beat it */
    ASSERT_LOADS("--jobs", "30");
    ck_assert_uint_eq(cfg.workers, 3);
    ck_assert_uint_eq(cfg.jobs, 30);
}
END_TEST

START_TEST(test_config_later_flag_wins_over_an_earlier_one)
{
    ASSERT_LOADS("--workers", "4", "--workers=6", "-workers", "8");
    ck_assert_uint_eq(cfg.workers, 8);
}
END_TEST

/* ---------------------------------------------------------------- sizes */

START_TEST(test_config_sizes_take_binary_k_m_g_suffixes)
{
    ASSERT_FLAG_OK("max-header-bytes", "16k");
    ck_assert_uint_eq(cfg.max_header_bytes, 16384);
    ASSERT_FLAG_OK("max-header-bytes", "1M");
    ck_assert_uint_eq(cfg.max_header_bytes, 1048576);
    ASSERT_FLAG_OK("max-header-bytes", "4096");
    ck_assert_uint_eq(cfg.max_header_bytes, 4096);
    ASSERT_FLAG_OK("max-request-bytes", "1G");
    ck_assert_uint_eq(cfg.max_request_bytes, 1073741824);
    ASSERT_FLAG_OK("max-message-bytes", "256M");
    ck_assert_uint_eq(cfg.max_message_bytes, 256ULL << 20);
    ASSERT_FLAG_OK("max-bytes", "5G");
    ck_assert_uint_eq(cfg.max_bytes, 5ULL << 30);
    ASSERT_FLAG_OK("max-bytes", "0");
    ck_assert_uint_eq(cfg.max_bytes, 0);
    /* the largest count of G that fits in 64 bits, and the largest byte count */
    ASSERT_FLAG_OK("max-bytes", "17179869183G");
    ck_assert_uint_eq(cfg.max_bytes, 17179869183ULL << 30);
    ASSERT_FLAG_OK("max-bytes", "18446744073709551615");
    ck_assert_uint_eq(cfg.max_bytes, UINT64_MAX);
}
END_TEST

START_TEST(test_config_sizes_outside_their_bounds_are_refused)
{
    ASSERT_FLAG_BAD("max-header-bytes", "1023");
    ASSERT_ERR("--max-header-bytes: '1023' is not a size (bytes, or with k, M, G) from 1024 to "
               "1048576");
    ASSERT_FLAG_OK("max-header-bytes", "1k");
    ASSERT_FLAG_BAD("max-header-bytes", "1025k");
    ASSERT_FLAG_BAD("max-header-bytes", "2M");
    ASSERT_FLAG_BAD("max-request-bytes", "1023");
    ASSERT_FLAG_BAD("max-request-bytes", "1025M");
    ASSERT_FLAG_BAD("max-request-bytes", "2G");
    ASSERT_FLAG_BAD("max-message-bytes", "0");
    ASSERT_FLAG_OK("max-message-bytes", "1");
    ASSERT_FLAG_BAD("max-message-bytes", "257M");
    /* past 64 bits, with and without a suffix */
    ASSERT_FLAG_BAD("max-bytes", "17179869184G");
    ASSERT_FLAG_BAD("max-bytes", "17592186044416M");
    ASSERT_FLAG_BAD("max-bytes", "18014398509481984k");
    ASSERT_FLAG_BAD("max-bytes", "18446744073709551616");
    ASSERT_FLAG_BAD("max-bytes", "99999999999999999999999");
}
END_TEST

START_TEST(test_config_sizes_refuse_other_suffixes_signs_and_blanks)
{
    const char *bad[] = {"16kb", "16 k", "k",    "-1",  "+1", " 1",   "1 ",   "1.5M",
                         "16T",  "",     "0x10", "1e3", "M1", "16kk", "16KiB"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
        ASSERT_FLAG_BAD("max-request-bytes", bad[i]);
}
END_TEST

START_TEST(test_config_integers_refuse_suffixes_and_keep_their_bounds)
{
    ASSERT_FLAG_BAD("workers", "1k");
    ASSERT_FLAG_BAD("workers", "0");
    ASSERT_FLAG_BAD("workers", "4097");
    ASSERT_FLAG_BAD("workers", "-1");
    ASSERT_FLAG_BAD("workers", "");
    ASSERT_FLAG_OK("workers", "1");
    ASSERT_FLAG_OK("workers", "1024");
    ck_assert_uint_eq(cfg.workers, 1024);
    ASSERT_FLAG_OK("max-connections", "1000000");
    ASSERT_FLAG_BAD("max-connections", "1000001");
    ASSERT_FLAG_OK("max-attempts", "0");
    ASSERT_FLAG_OK("max-attempts", "4294967295");
    ck_assert_uint_eq(cfg.max_attempts, 4294967295ULL);
    ASSERT_FLAG_BAD("max-attempts", "4294967296");
    ASSERT_FLAG_BAD("max-in-flight-per-key", "0");
    ASSERT_FLAG_OK("max-messages", "18446744073709551615");
    ck_assert_uint_eq(cfg.max_messages, UINT64_MAX);
    ASSERT_FLAG_BAD("max-messages", "18446744073709551616");
}
END_TEST

/* ---------------------------------------------------------------- durations */

START_TEST(test_config_durations_read_every_unit)
{
    ASSERT_FLAG_OK("idle-timeout", "500ms");
    ck_assert_int_eq(cfg.idle_timeout_ms, 500);
    ASSERT_FLAG_OK("idle-timeout", "2m");
    ck_assert_int_eq(cfg.idle_timeout_ms, 120000);
    ASSERT_FLAG_OK("idle-timeout", "3h");
    ck_assert_int_eq(cfg.idle_timeout_ms, 3 * 3600000);
    ASSERT_FLAG_OK("idle-timeout", "1d");
    ck_assert_int_eq(cfg.idle_timeout_ms, 86400000);
    ASSERT_FLAG_OK("idle-timeout", "45");
    ck_assert_int_eq(cfg.idle_timeout_ms, 45000);
    ASSERT_FLAG_OK("idle-timeout", "0");
    ck_assert_int_eq(cfg.idle_timeout_ms, 0);
}
END_TEST

START_TEST(test_config_durations_outside_their_bounds_are_refused)
{
    const char *year[] = {"idle-timeout",       "request-timeout", "shutdown-timeout",
                          "visibility-timeout", "dedup-window",    "max-age"};
    for (size_t i = 0; i < SL_ARRAY_LEN(year); i++) {
        ASSERT_FLAG_OK(year[i], "365d");
        ASSERT_FLAG_BAD(year[i], "366d");
    }
    ASSERT_FLAG_OK("max-age", "365d");
    ck_assert_int_eq(cfg.max_age_ms, 365LL * 86400000);
    /* max_wait: at most an hour */
    ASSERT_FLAG_OK("max-wait", "1h");
    ck_assert_int_eq(cfg.max_wait_ms, 3600000);
    ASSERT_FLAG_OK("max-wait", "3600s");
    ASSERT_FLAG_BAD("max-wait", "3601s");
    ASSERT_FLAG_BAD("max-wait", "61m");
    ASSERT_ERR("--max-wait: '61m' is not a duration (like 500ms, 30s, 5m, 2h) of at most 1h");
    const char *bad[] = {"-1s", "5x", "", "1.5s", "30 s", "30S", " 30s", "s"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
        ASSERT_FLAG_BAD("visibility-timeout", bad[i]);
}
END_TEST

/* ---------------------------------------------------------------- listen and port */

START_TEST(test_config_listen_reads_host_and_port)
{
    ASSERT_FLAG_OK("listen", "0.0.0.0:9090");
    ck_assert_str_eq(cfg.listen_host, "0.0.0.0");
    ck_assert_int_eq(cfg.listen_port, 9090);
    ck_assert_int_eq(config_port(&cfg), 9090);
    ASSERT_FLAG_OK("listen", "[::1]:8080");
    ck_assert_str_eq(cfg.listen_host, "::1");
    ck_assert_int_eq(cfg.listen_port, 8080);
    ASSERT_FLAG_OK("listen", "[::]:0");
    ck_assert_str_eq(cfg.listen_host, "::");
    ck_assert_int_eq(cfg.listen_port, 0);
    ASSERT_FLAG_OK("listen", "localhost:65535");
    ck_assert_str_eq(cfg.listen_host, "localhost");
    ck_assert_int_eq(cfg.listen_port, 65535);
    ASSERT_FLAG_OK("listen", "[fe80::1%eth0]:1");
    ck_assert_str_eq(cfg.listen_host, "fe80::1%eth0");
    ck_assert_int_eq(cfg.listen_port, 1);
}
END_TEST

START_TEST(test_config_listen_refuses_a_missing_or_bad_port_or_host)
{
    const char *bad[] = {"127.0.0.1",
                         "127.0.0.1:",
                         "[::1]",
                         "[::1]8080",
                         "[::1]:",
                         "127.0.0.1:65536",
                         "127.0.0.1:99999999999999999999",
                         "127.0.0.1:-1",
                         "127.0.0.1:+80",
                         "127.0.0.1:8o",
                         "127.0.0.1:80 ",
                         ":8080",
                         "[]:80",
                         "[::1:80",
                         ""};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        ASSERT_FLAG_BAD("listen", bad[i]);
        ck_assert_str_eq(cfg.listen_host, "127.0.0.1");
    }
}
END_TEST

START_TEST(test_config_listen_host_may_have_255_bytes_not_256)
{
    char v[300];
    memset(v, 'h', 255);
    strcpy(v + 255, ":80");
    ASSERT_FLAG_OK("listen", v);
    ck_assert_uint_eq(strlen(cfg.listen_host), 255);
    memset(v, 'h', 256);
    strcpy(v + 256, ":80");
    ASSERT_FLAG_BAD("listen", v);
    v[0] = '[';
    memset(v + 1, 'a', 256);
    strcpy(v + 257, "]:80");
    ASSERT_FLAG_BAD("listen", v);
}
END_TEST

START_TEST(test_config_port_overrides_the_port_of_listen)
{
    ASSERT_LOADS("--listen", "10.0.0.1:7000");
    ck_assert_int_eq(cfg.port, -1);
    ck_assert_int_eq(config_port(&cfg), 7000);

    ASSERT_LOADS("--listen", "10.0.0.1:7000", "--port", "9000");
    ck_assert_int_eq(config_port(&cfg), 9000);
    ck_assert_int_eq(cfg.listen_port, 7000);

    /* whatever the order, and 0 (pick a port) overrides too */
    ASSERT_LOADS("--port=0", "--listen=10.0.0.1:7000");
    ck_assert_int_eq(config_port(&cfg), 0);
    ASSERT_LOADS("--port", "65535");
    ck_assert_int_eq(config_port(&cfg), 65535);

    /* an empty value unsets it again */
    setenv("SLUICE_PORT", "9100", 1);
    ASSERT_LOADS("--port=");
    ck_assert_int_eq(cfg.port, -1);
    ck_assert_int_eq(config_port(&cfg), 8080);
}
END_TEST

START_TEST(test_config_port_outside_0_to_65535_is_refused)
{
    ASSERT_REFUSED("--port", "65536");
    ASSERT_ERR("--port: '65536' is not a port from 0 to 65535");
    ASSERT_REFUSED("--port", "-1");
    ASSERT_REFUSED("--port", "80x");
    ASSERT_REFUSED("--port", "99999999999999999999999");
    const char *path = conf("[server]\nport = 70000\n");
    ASSERT_REFUSED("-f", (char *)path);
    ASSERT_ERR("%s:2: port: '70000' is not a port from 0 to 65535", path);
}
END_TEST

/* ---------------------------------------------------------------- other values */

START_TEST(test_config_storage_data_dir_and_log_values)
{
    const char *storages[] = {"memory", "file", "postgres", "mysql"};
    for (size_t i = 0; i < SL_ARRAY_LEN(storages); i++) {
        ASSERT_FLAG_OK("storage", storages[i]);
        ck_assert_str_eq(cfg.storage, storages[i]);
    }
    ASSERT_FLAG_BAD("storage", "sqlite");
    ASSERT_ERR("--storage: 'sqlite' is not a storage (memory, file, postgres or mysql)");
    ASSERT_FLAG_BAD("storage", "");
    ASSERT_FLAG_BAD("storage", "Memory");

    char v[1100];
    memset(v, 'd', 1023);
    v[1023] = '\0';
    ASSERT_FLAG_OK("data-dir", v);
    ck_assert_uint_eq(strlen(cfg.data_dir), 1023);
    strcpy(v + 1023, "d");
    ASSERT_FLAG_BAD("data-dir", v);
    ASSERT_ERR("--data-dir: value is longer than 1023 bytes");

    ASSERT_FLAG_OK("log-level", "error");
    ck_assert_int_eq(cfg.log_level, LOG_ERROR);
    ASSERT_FLAG_BAD("log-level", "verbose");
    ASSERT_ERR("--log-level: 'verbose' is not a level (error, warn, info or debug)");
    ASSERT_FLAG_OK("log-format", "json");
    ck_assert_int_eq(cfg.log_format, LOG_JSON);
    ASSERT_FLAG_BAD("log-format", "xml");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("defaults");
    tcase_add_checked_fixture(tc, env_clear, NULL);
    tcase_add_test(tc, test_config_defaults_match_docs_config_md);
    tcase_add_test(tc, test_config_load_with_nothing_keeps_the_defaults_and_runs);
    suite_add_tcase(s, tc);

    tc = tcase_create("file");
    tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_checked_fixture(tc, env_clear, NULL);
    tcase_add_test(tc, test_config_file_sets_options_in_their_sections);
    tcase_add_test(tc, test_config_file_accepts_options_before_the_first_section);
    tcase_add_test(tc, test_config_file_skips_comments_blank_lines_and_surrounding_blanks);
    tcase_add_test(tc, test_config_file_strips_inline_comments);
    tcase_add_test(tc,
                   test_config_file_refuses_an_option_in_the_wrong_section_naming_file_and_line);
    tcase_add_test(tc, test_config_file_refuses_an_unknown_option_naming_file_and_line);
    tcase_add_test(tc, test_config_file_refuses_a_bad_value_naming_file_line_and_option);
    tcase_add_test(tc, test_config_file_refuses_a_malformed_line_as_a_syntax_error);
    tcase_add_test(tc, test_config_file_reports_the_first_bad_line);
    tcase_add_test(tc, test_config_file_accepts_a_line_of_198_bytes);
    tcase_add_test(tc, test_config_file_refuses_a_line_longer_than_198_bytes);
    tcase_add_test(tc,
                   test_config_file_refuses_a_long_comment_instead_of_reading_its_tail_as_a_line);
    tcase_add_test(tc, test_config_missing_file_is_refused_naming_it);
    tcase_add_test(tc, test_config_directory_given_as_the_file_is_refused);
    tcase_add_test(tc, test_config_json_file_is_read_as_a_gmq_configuration);
    suite_add_tcase(s, tc);

    tc = tcase_create("environment and flags");
    tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_checked_fixture(tc, env_clear, NULL);
    tcase_add_test(tc, test_config_environment_sets_options_by_upper_case_name);
    tcase_add_test(tc, test_config_environment_bad_value_is_refused_naming_the_variable);
    tcase_add_test(tc, test_config_environment_ignores_variables_that_name_no_option);
    tcase_add_test(tc, test_config_flags_take_a_separate_or_attached_value);
    tcase_add_test(tc, test_config_f_and_config_name_the_file);
    tcase_add_test(tc, test_config_help_and_version_set_the_action);
    tcase_add_test(tc, test_config_help_is_answered_without_reading_the_file);
    tcase_add_test(tc, test_config_mq_go_single_dash_flags_are_understood);
    tcase_add_test(tc, test_config_value_that_looks_like_an_mq_go_flag_stays_a_value);
    tcase_add_test(tc, test_config_flag_errors_are_named);
    tcase_add_test(tc, test_config_unknown_short_option_inside_a_word_is_named_not_the_program);
    tcase_add_test(tc, test_config_load_can_run_again_with_a_fresh_argv);
    tcase_add_test(tc, test_config_load_leaves_argv_as_it_was);
    tcase_add_test(tc, test_config_error_message_is_cut_to_errlen_and_terminated);
    tcase_add_test(tc, test_config_file_then_environment_then_flags_later_wins);
    tcase_add_test(tc, test_config_later_flag_wins_over_an_earlier_one);
    suite_add_tcase(s, tc);

    tc = tcase_create("values");
    tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_checked_fixture(tc, env_clear, NULL);
    tcase_add_test(tc, test_config_sizes_take_binary_k_m_g_suffixes);
    tcase_add_test(tc, test_config_sizes_outside_their_bounds_are_refused);
    tcase_add_test(tc, test_config_sizes_refuse_other_suffixes_signs_and_blanks);
    tcase_add_test(tc, test_config_integers_refuse_suffixes_and_keep_their_bounds);
    tcase_add_test(tc, test_config_durations_read_every_unit);
    tcase_add_test(tc, test_config_durations_outside_their_bounds_are_refused);
    tcase_add_test(tc, test_config_listen_reads_host_and_port);
    tcase_add_test(tc, test_config_listen_refuses_a_missing_or_bad_port_or_host);
    tcase_add_test(tc, test_config_listen_host_may_have_255_bytes_not_256);
    tcase_add_test(tc, test_config_port_overrides_the_port_of_listen);
    tcase_add_test(tc, test_config_port_outside_0_to_65535_is_refused);
    tcase_add_test(tc, test_config_storage_data_dir_and_log_values);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
