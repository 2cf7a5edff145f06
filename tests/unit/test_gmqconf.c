/*
 * test_gmqconf.c — GMQ's JSON configuration, read through config_load() as `sluiced -f` does:
 * both example files of SEEDS-PROTOCOL.md §2.5, verbatim (trailing tabs, no final newline),
 * load and map as docs/config.md says; keys match case-insensitively; every unknown key, wrong
 * type, bad value or syntax error stops the load with the file and the key (or line and column)
 * named; queue_type 2 is refused as not available yet; flags still override the file.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "config.h"

/* SEEDS-PROTOCOL.md §2.5: GMQ HEAD's test/configuration/example_gmq_config.json, verbatim. */
static const char head_example[] = "{ \n"
                                   " \"auth\":{\n"
                                   "  \"user\":\"gmqserver\",\t\t\n"
                                   "  \"password\":\"thisismyverysecureTCPserverpassword\"\n"
                                   " },\n"
                                   " \"network\":{\n"
                                   "  \"port\":\"48844\",\n"
                                   "  \"interface\":\"0.0.0.0\",\n"
                                   "  \"protocol\":\"tcp4\"\n"
                                   " },\n"
                                   " \"queue\":{\n"
                                   "  \"queue_type\":1,\n"
                                   "  \"max_queue_number\":32,\n"
                                   "  \"max_message_length\":4096,\n"
                                   "  \"max_queue_capacity\":4096\n"
                                   "  },\n"
                                   " \"database\":{\n"
                                   "  \"vendor\":\"mysql\",\n"
                                   "  \"dsn\":\"gmq:qm3ssageM3@(docker:3306)/gmq\"\n"
                                   "  },\n"
                                   " \"filesystem\":{\n"
                                   "  \"path\":\"../fs/\"\n"
                                   "  },\n"
                                   " \"log\":{\n"
                                   "  \"path\":\"../log/gmqserver.log\"\t\n"
                                   " }\n"
                                   "}";

/* The same file at tag v1.3. */
static const char v13_example[] = "{ \n"
                                  " \"network\":{\n"
                                  "  \"port\":\"4884\",\n"
                                  "  \"interface\":\"\",\n"
                                  "  \"protocol\":\"tcp4\"\n"
                                  " },\n"
                                  " \"queue\":{\n"
                                  "  \"queue_type\":1,\n"
                                  "  \"max_queue_number\":32,\n"
                                  "  \"max_message_length\":4096,\n"
                                  "  \"max_queue_capacity\":4096\n"
                                  "  },\n"
                                  " \"database\":{\n"
                                  "  \"vendor\":\"mysql\",\n"
                                  "  \"dsn\":\"gmq:qm3ssageM3@(sviluppo.mtl.it:3306)/gmq\"\n"
                                  "  },\n"
                                  " \"filesystem\":{\n"
                                  "  \"path\":\"../fs/\"\n"
                                  "  },\n"
                                  " \"log\":{\n"
                                  "  \"path\":\"../log/gmqserver.log\"\t\n"
                                  " }\n"
                                  "}";

static char path[64];
static config_t cfg;
static char err[1200];

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/test_gmqconf.%d.json", (int)getpid());
}

static void teardown(void)
{
    unlink(path);
}

/* Writes len bytes of text to the test's file and loads it with -f plus the extra arguments. */
static int load_n(const char *text, size_t len, const char *extra1, const char *extra2)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    char *argv[] = {"sluiced", "-f", path, (char *)extra1, (char *)extra2, NULL};
    int argc = extra1 ? (extra2 ? 5 : 4) : 3;
    int action;
    config_defaults(&cfg);
    err[0] = '\0';
    int r = config_load(&cfg, argc, argv, &action, err, sizeof err);
    ck_assert_msg(r == 0 || r == SL_EPARAM, "config_load returned %d", r);
    return r;
}

static int load(const char *text, const char *extra1, const char *extra2)
{
    return load_n(text, strlen(text), extra1, extra2);
}

#define ASSERT_LOADS(text) ck_assert_msg(load(text, NULL, NULL) == 0, "refused: %s", err)
#define ASSERT_REFUSED(text, part)                                                                \
    do {                                                                                          \
        ck_assert_msg(load(text, NULL, NULL) == SL_EPARAM, "'%s' accepted", text);                \
        ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "'%s' does not name the file", err); \
        ck_assert_msg(strstr(err, part) != NULL, "error '%s' lacks '%s'", err, part);             \
    } while (0)

START_TEST(test_gmqconf_head_example_maps_onto_the_options)
{
    ASSERT_LOADS(head_example);
    ck_assert_str_eq(cfg.gmq_host, "0.0.0.0");
    ck_assert_int_eq(cfg.gmq_port, 48844);
    ck_assert_str_eq(cfg.gmq_protocol, "tcp4");
    ck_assert_str_eq(cfg.storage, "memory");
    ck_assert_uint_eq(cfg.gmq_max_request, 4096);
    ck_assert_uint_eq(config_gmq_max_request(&cfg), 4096);
    ck_assert_str_eq(cfg.log_file, "../log/gmqserver.log");
    ck_assert_str_eq(cfg.gmq_user, "gmqserver");
    ck_assert_str_eq(cfg.gmq_password, "thisismyverysecureTCPserverpassword");
    /* HTTP is not this file's business */
    ck_assert_str_eq(cfg.listen_host, "127.0.0.1");
    ck_assert_int_eq(config_port(&cfg), 8080);
    ck_assert_str_eq(cfg.data_dir, "./sluice-data");
}
END_TEST

START_TEST(test_gmqconf_v13_example_listens_on_every_ipv4_address_at_4884)
{
    ASSERT_LOADS(v13_example);
    ck_assert_str_eq(cfg.gmq_host, "0.0.0.0");
    ck_assert_int_eq(cfg.gmq_port, 4884);
    ck_assert_str_eq(cfg.gmq_user, "");
    ck_assert_str_eq(cfg.gmq_password, "");
}
END_TEST

START_TEST(test_gmqconf_defaults_of_the_network_section_are_gmqs)
{
    ASSERT_LOADS("{\"queue\":{\"queue_type\":1}}");
    ck_assert_str_eq(cfg.gmq_host, "0.0.0.0");
    ck_assert_int_eq(cfg.gmq_port, 4884);
    ck_assert_str_eq(cfg.gmq_protocol, "tcp");
    ck_assert_uint_eq(cfg.gmq_max_request, 0); /* derived from max_message_bytes */
    ASSERT_LOADS("{\"network\":{\"protocol\":\"tcp6\"},\"queue\":{\"queue_type\":1}}");
    ck_assert_str_eq(cfg.gmq_host, "::");
    ASSERT_LOADS("{\"network\":{\"interface\":\"::1\",\"port\":\"4567\"},"
                 "\"queue\":{\"queue_type\":1}}");
    ck_assert_str_eq(cfg.gmq_host, "::1");
    ck_assert_int_eq(cfg.gmq_port, 4567);
}
END_TEST

START_TEST(test_gmqconf_queue_type_3_is_the_file_storage_in_filesystem_path)
{
    ASSERT_LOADS("{\"queue\":{\"queue_type\":3},\"filesystem\":{\"path\":\"/var/lib/gmq/\"}}");
    ck_assert_str_eq(cfg.storage, "file");
    ck_assert_str_eq(cfg.data_dir, "/var/lib/gmq/");
    ASSERT_LOADS("{\"queue\":{\"queue_type\":3}}");
    ck_assert_str_eq(cfg.data_dir, "./sluice-data");
}
END_TEST

START_TEST(test_gmqconf_queue_type_2_is_refused_as_not_available_yet)
{
    ASSERT_REFUSED("{\"queue\":{\"queue_type\":2},\"database\":{\"vendor\":\"mysql\"}}",
                   "queue.queue_type 2 (database, vendor mysql) is not available yet");
}
END_TEST

START_TEST(test_gmqconf_queue_type_is_required_and_checked)
{
    ASSERT_REFUSED("{\"network\":{}}", "queue.queue_type is missing");
    ASSERT_REFUSED("{\"queue\":{\"queue_type\":7}}", "queue.queue_type: 7 is not 1");
    ASSERT_REFUSED("{\"queue\":{\"queue_type\":\"1\"}}", "'queue.queue_type' must be an integer");
    ASSERT_REFUSED("{\"queue\":{\"queue_type\":1.0}}", "'queue.queue_type' must be an integer");
}
END_TEST

START_TEST(test_gmqconf_keys_match_case_insensitively_as_go_did)
{
    ASSERT_LOADS("{\"Network\":{\"PORT\":\"4567\",\"Protocol\":\"tcp4\"},"
                 "\"QUEUE\":{\"Queue_Type\":1},\"Log\":{\"Path\":\"/tmp/\",\"NAME\":\"g.log\"}}");
    ck_assert_int_eq(cfg.gmq_port, 4567);
    ck_assert_str_eq(cfg.gmq_protocol, "tcp4");
    ck_assert_str_eq(cfg.log_file, "/tmp/g.log");
}
END_TEST

START_TEST(test_gmqconf_unknown_keys_and_wrong_types_name_the_key)
{
    ASSERT_REFUSED("{\"network\":{\"prot\":\"tcp\"},\"queue\":{\"queue_type\":1}}",
                   "unknown key 'network.prot'");
    ASSERT_REFUSED("{\"networks\":{},\"queue\":{\"queue_type\":1}}", "unknown key 'networks'");
    ASSERT_REFUSED("{\"network\":{\"port\":4567},\"queue\":{\"queue_type\":1}}",
                   "'network.port' must be a string, like \"4884\"");
    ASSERT_REFUSED("{\"network\":\"x\",\"queue\":{\"queue_type\":1}}",
                   "'network' must be an object");
    ASSERT_REFUSED("{\"network\":{\"port\":\"1\",\"Port\":\"2\"},\"queue\":{\"queue_type\":1}}",
                   "'network.port' is given twice");
    ASSERT_REFUSED("{\"cluster\":{\"timeout_msec\":\"5\"},\"queue\":{\"queue_type\":1}}",
                   "'cluster.timeout_msec' must be an integer");
}
END_TEST

START_TEST(test_gmqconf_bad_values_name_the_key)
{
    ASSERT_REFUSED("{\"network\":{\"port\":\"http\"},\"queue\":{\"queue_type\":1}}",
                   "network.port: 'http' is not a port");
    ASSERT_REFUSED("{\"network\":{\"port\":\"65536\"},\"queue\":{\"queue_type\":1}}",
                   "network.port: '65536' is not a port");
    ASSERT_REFUSED("{\"network\":{\"protocol\":\"udp\"},\"queue\":{\"queue_type\":1}}",
                   "network.protocol: 'udp' is not tcp, tcp4 or tcp6");
    ASSERT_REFUSED("{\"queue\":{\"queue_type\":1,\"max_message_length\":0}}",
                   "queue.max_message_length: 0 is not a positive number");
    ASSERT_REFUSED("{\"queue\":{\"queue_type\":1,\"max_queue_number\":0}}",
                   "queue.max_queue_number: 0 is not a positive number");
    ASSERT_REFUSED("{\"queue\":{\"queue_type\":1,\"max_message_length\":4294967296}}",
                   "queue.max_message_length:");
}
END_TEST

START_TEST(test_gmqconf_syntax_error_gives_line_and_column)
{
    /* like GMQ's test/configuration/error_gmq_config.json: a missing comma */
    ASSERT_REFUSED("{\n \"network\":{\n  \"port\":\"4884\"\n  \"protocol\":\"tcp4\"\n }\n}",
                   "not a valid GMQ JSON configuration");
    ck_assert_msg(strstr(err, "line 4") != NULL, "error '%s' lacks the line", err);
    ASSERT_REFUSED("{\"queue\":{\"queue_type\":1}} {}", "not a valid GMQ JSON configuration");
    ASSERT_REFUSED("{\"queue\":{\"queue_type\":1},\"queue\":{\"queue_type\":3}}",
                   "duplicate object key");
}
END_TEST

START_TEST(test_gmqconf_nul_byte_is_refused_though_jansson_would_skip_it)
{
    static const char text[] = "{\"queue\":{\"queue_type\":1\0}}";
    ck_assert_int_eq(load_n(text, sizeof text - 1, NULL, NULL), SL_EPARAM);
    ck_assert_msg(strstr(err, "a NUL byte at offset 24") != NULL, "error '%s'", err);
}
END_TEST

START_TEST(test_gmqconf_flags_still_override_the_file)
{
    ck_assert_msg(load(head_example, "--gmq-listen=127.0.0.1:0", "--storage=file") == 0,
                  "refused: %s", err);
    ck_assert_str_eq(cfg.gmq_host, "127.0.0.1");
    ck_assert_int_eq(cfg.gmq_port, 0);
    ck_assert_str_eq(cfg.storage, "file");
    ck_assert_str_eq(cfg.gmq_user, "gmqserver"); /* the rest of the file stays */
    ck_assert_msg(load(head_example, "--gmq-listen=", NULL) == 0, "refused: %s", err);
    ck_assert_int_eq(cfg.gmq_port, -1); /* off */
}
END_TEST

static Suite *gmqconf_suite(void)
{
    Suite *s = suite_create("gmqconf");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_gmqconf_head_example_maps_onto_the_options);
    tcase_add_test(tc, test_gmqconf_v13_example_listens_on_every_ipv4_address_at_4884);
    tcase_add_test(tc, test_gmqconf_defaults_of_the_network_section_are_gmqs);
    tcase_add_test(tc, test_gmqconf_queue_type_3_is_the_file_storage_in_filesystem_path);
    tcase_add_test(tc, test_gmqconf_queue_type_2_is_refused_as_not_available_yet);
    tcase_add_test(tc, test_gmqconf_queue_type_is_required_and_checked);
    tcase_add_test(tc, test_gmqconf_keys_match_case_insensitively_as_go_did);
    tcase_add_test(tc, test_gmqconf_unknown_keys_and_wrong_types_name_the_key);
    tcase_add_test(tc, test_gmqconf_bad_values_name_the_key);
    tcase_add_test(tc, test_gmqconf_syntax_error_gives_line_and_column);
    tcase_add_test(tc, test_gmqconf_nul_byte_is_refused_though_jansson_would_skip_it);
    tcase_add_test(tc, test_gmqconf_flags_still_override_the_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gmqconf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
