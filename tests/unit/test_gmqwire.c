/*
 * test_gmqwire.c — GMQ's messages as bytes: the HEAD client's tokens and requests and the v1.3
 * server's replies exactly as SEEDS-PROTOCOL.md §2.3–2.4 recorded them; request decoding with
 * Go's case-insensitive field names but none of its silent acceptance (unknown or repeated
 * fields, wrong types); replies in GMQ's field order with Go's string escaping; base64 as Go read
 * it for GMQ (line breaks skipped, nothing else forgiven).
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "common.h"
#include "gmqwire.h"
#include "mem.h"

#define SHA512_EMPTY                                                                            \
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d28" \
    "77eec2f63b931bd47417a81a538327af927da3e"

/* Recorded in SEEDS-PROTOCOL.md §2.3: the HEAD client's request for credentials
 * gmqserver/secret. */
static const char head_request[] =
    "{\"operation\":\"P\",\"queue\":\"myqueue\",\"payload\":\"aGVsbG8gd29ybGQ=\",\"confirmation\":"
    "\"\",\"error\":null,\"auth\":{\"user\":\"676d71736572766572" SHA512_EMPTY
    "\",\"password\":\"736563726574" SHA512_EMPTY "\"}}";

static gmqwire_req_t req;
static char why[400];

static int parse(const char *text)
{
    gmqwire_req_cleanup(&req);
    why[0] = '\0';
    return gmqwire_parse(text, strlen(text), &req, why, sizeof why);
}

static void teardown(void)
{
    gmqwire_req_cleanup(&req);
}

#define ASSERT_PARSES(text) ck_assert_msg(parse(text) == 0, "'%s' refused: %s", text, why)
#define ASSERT_REFUSED(text, code, part)                                                     \
    do {                                                                                     \
        int r_ = parse(text);                                                                \
        ck_assert_msg(r_ == (code), "'%s' gave %d, want %d (%s)", text, r_, (code), why);    \
        ck_assert_msg(strstr(why, part) != NULL, "'%s': message '%s' lacks '%s'", text, why, \
                      part);                                                                 \
    } while (0)

/* The reply to text (which must parse) as a C string; freed by the caller with sl_free. */
static char *reply_to(const char *text, const char *payload, int err, const char *msg)
{
    size_t len;
    ASSERT_PARSES(text);
    char *out = gmqwire_reply(&req, payload, err, msg, &len);
    ck_assert_uint_eq(strlen(out), len);
    return out;
}

#define ASSERT_REPLY(text, payload, want)                                          \
    do {                                                                           \
        char *got_ = reply_to(text, payload, 0, NULL);                             \
        ck_assert_msg(strcmp(got_, want) == 0, "reply\n%s\nwant\n%s", got_, want); \
        sl_free(got_);                                                             \
    } while (0)

/* ---------------------------------------------------------------- tokens */

START_TEST(test_gmqwire_token_is_hex_of_the_text_then_of_the_empty_sha512)
{
    char out[GMQWIRE_TOKEN_LEN(9) + 1];
    ck_assert_uint_eq(gmqwire_token("gmqserver", 9, out), GMQWIRE_TOKEN_LEN(9));
    ck_assert_str_eq(out, "676d71736572766572" SHA512_EMPTY);
    char empty[GMQWIRE_TOKEN_LEN(0) + 1];
    gmqwire_token("", 0, empty);
    ck_assert_str_eq(empty, SHA512_EMPTY);
}
END_TEST

START_TEST(test_gmqwire_token_matches_any_hex_case_but_not_another_secret)
{
    const char *t = "736563726574" SHA512_EMPTY;
    ck_assert(gmqwire_token_matches(t, strlen(t), "secret"));
    char upper[300];
    snprintf(upper, sizeof upper, "%s", t);
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 32);
    ck_assert(gmqwire_token_matches(upper, strlen(upper), "secret"));
    ck_assert(!gmqwire_token_matches(t, strlen(t), "Secret"));  /* the text is case-sensitive */
    ck_assert(!gmqwire_token_matches(t, strlen(t), "secret2")); /* another length */
    ck_assert(!gmqwire_token_matches(t, strlen(t) - 1, "secret"));
    ck_assert(!gmqwire_token_matches("", 0, "secret")); /* no auth sent */
    /* a byte that only folds to a hex digit by a blind OR 0x20 must not match '0' (0x30) */
    upper[0] = 0x10;
    ck_assert(!gmqwire_token_matches(upper, strlen(t), "secret"));
}
END_TEST

/* ---------------------------------------------------------------- requests */

START_TEST(test_gmqwire_request_is_byte_for_byte_what_the_head_client_sent)
{
    size_t len;
    char *r = gmqwire_request("P", "myqueue", "aGVsbG8gd29ybGQ=", "gmqserver", "secret", &len);
    ck_assert_str_eq(r, head_request);
    ck_assert_uint_eq(len, strlen(head_request));
    sl_free(r);
    r = gmqwire_request("L", "q1", "", NULL, NULL, &len); /* v1.3's client: no auth */
    ck_assert_str_eq(r, "{\"operation\":\"L\",\"queue\":\"q1\",\"payload\":\"\","
                        "\"confirmation\":\"\",\"error\":null}");
    sl_free(r);
    ck_assert_ptr_null(gmqwire_request("P", "q\xff", "", NULL, NULL, &len));
}
END_TEST

START_TEST(test_gmqwire_parse_reads_the_head_client_request)
{
    ASSERT_PARSES(head_request);
    ck_assert_str_eq(req.operation, "P");
    ck_assert_str_eq(req.queue, "myqueue");
    ck_assert_str_eq(req.payload, "aGVsbG8gd29ybGQ=");
    ck_assert_uint_eq(req.payload_len, 16);
    ck_assert(req.has_auth);
    ck_assert(gmqwire_token_matches(req.user, strlen(req.user), "gmqserver"));
    ck_assert(gmqwire_token_matches(req.password, strlen(req.password), "secret"));
}
END_TEST

START_TEST(test_gmqwire_parse_matches_field_names_case_insensitively_as_go_did)
{
    ASSERT_PARSES("{\"OPERATION\":\"P\",\"Queue\":\"q4\",\"PAYLOAD\":\"eA==\","
                  "\"Auth\":{\"USER\":\"u\",\"Password\":\"p\"}}");
    ck_assert_str_eq(req.operation, "P");
    ck_assert_str_eq(req.queue, "q4");
    ck_assert_str_eq(req.payload, "eA==");
    ck_assert_str_eq(req.user, "u");
    ck_assert_str_eq(req.password, "p");
}
END_TEST

START_TEST(test_gmqwire_parse_accepts_missing_and_null_fields_and_a_trailing_newline)
{
    ASSERT_PARSES("{\"operation\":\"S\",\"queue\":\"q\"}\n");
    ck_assert_str_eq(req.payload, "");
    ck_assert(!req.has_auth);
    ASSERT_PARSES("{\"operation\":null,\"queue\":\"q\",\"payload\":null,\"error\":null,"
                  "\"auth\":null,\"confirmation\":\"whatever\"}");
    ck_assert_str_eq(req.operation, "");
    ck_assert(!req.has_auth);
}
END_TEST

START_TEST(test_gmqwire_parse_refuses_what_go_silently_accepted)
{
    ASSERT_REFUSED("{\"operation\":\"P\",\"paylod\":\"eA==\"}", SL_EPARAM, "'paylod'");
    ASSERT_REFUSED("{\"operation\":\"P\",\"OPERATION\":\"S\"}", SL_EPARAM,
                   "'operation' appears twice");
    ASSERT_REFUSED("{\"queue\":5}", SL_EPARAM, "'queue' must be a string");
    ASSERT_REFUSED("{\"payload\":[\"eA==\"]}", SL_EPARAM, "'payload' must be a string");
    ASSERT_REFUSED("{\"confirmation\":true}", SL_EPARAM, "'confirmation' must be a string");
    ASSERT_REFUSED("{\"error\":{}}", SL_EPARAM, "'error' must be null");
    ASSERT_REFUSED("{\"error\":\"x\"}", SL_EPARAM, "'error' must be null");
    ASSERT_REFUSED("{\"auth\":\"tok\"}", SL_EPARAM, "'auth' must be an object");
    ASSERT_REFUSED("{\"auth\":{\"user\":\"a\",\"pass\":\"b\"}}", SL_EPARAM, "'auth.pass'");
    ASSERT_REFUSED("{\"auth\":{\"user\":1}}", SL_EPARAM, "'auth.user' must be a string");
    ASSERT_REFUSED("{\"auth\":{\"user\":\"a\",\"USER\":\"b\"}}", SL_EPARAM,
                   "'auth.user' appears twice");
}
END_TEST

START_TEST(test_gmqwire_parse_refuses_what_is_not_one_json_object)
{
    ASSERT_REFUSED("this is not json", SL_EJSON, "not valid JSON");
    ASSERT_REFUSED("{\"operation\":\"P\"", SL_EJSON, "not valid JSON");
    ASSERT_REFUSED("[{\"operation\":\"P\"}]", SL_EJSON, "one JSON object");
    ASSERT_REFUSED("{\"operation\":\"P\"}{\"operation\":\"S\"}", SL_EJSON,
                   "More than one JSON value");
    ASSERT_REFUSED("{\"queue\":\"\\u0000\"}", SL_EJSON, "not valid JSON");
    ASSERT_REFUSED("{\"queue\":\"\xff\"}", SL_EJSON, "not valid JSON");
    ASSERT_REFUSED("", SL_EJSON, "not valid JSON");
}
END_TEST

START_TEST(test_gmqwire_parse_refuses_a_raw_nul_byte_that_jansson_would_skip)
{
    /* fuzz finding: jansson loads {"operation":true\0} as if the NUL were not there */
    static const char text[] = "{\"operation\":\"P\",\"x\":true\0}";
    gmqwire_req_cleanup(&req);
    ck_assert_int_eq(gmqwire_parse(text, sizeof text - 1, &req, why, sizeof why), SL_EJSON);
    ck_assert_msg(strstr(why, "NUL byte at offset 25") != NULL, "message '%s'", why);
}
END_TEST

START_TEST(test_gmqwire_parse_keeps_what_it_could_read_for_the_echo)
{
    ck_assert_int_eq(parse("{\"operation\":\"P\",\"queue\":\"q\",\"payload\":\"eA==\","
                           "\"bogus\":1}"),
                     SL_EPARAM);
    ck_assert_str_eq(req.operation, "P");
    ck_assert_str_eq(req.queue, "q");
    ck_assert_str_eq(req.payload, "eA==");
}
END_TEST

/* ---------------------------------------------------------------- replies */

START_TEST(test_gmqwire_replies_are_the_v13_server_bytes)
{
    /* SEEDS-PROTOCOL.md §2.3, v1.3 client <-> v1.3 server */
    ASSERT_REPLY("{\"operation\":\"P\",\"queue\":\"q1\",\"payload\":\"Zmlyc3Q=\",\"confirmation\":"
                 "\"\",\"error\":null}",
                 NULL,
                 "{\"operation\":\"P\",\"queue\":\"q1\",\"payload\":\"Zmlyc3Q=\",\"confirmation\":"
                 "\"Y\",\"error\":null}");
    ASSERT_REPLY("{\"operation\":\"L\",\"queue\":\"q1\",\"payload\":\"\",\"confirmation\":\"\","
                 "\"error\":null}",
                 "3",
                 "{\"operation\":\"L\",\"queue\":\"q1\",\"payload\":\"3\",\"confirmation\":\"Y\","
                 "\"error\":null}");
    ASSERT_REPLY("{\"operation\":\"S\",\"queue\":\"q1\",\"payload\":\"\",\"confirmation\":\"\","
                 "\"error\":null}",
                 "Zmlyc3Q=",
                 "{\"operation\":\"S\",\"queue\":\"q1\",\"payload\":\"Zmlyc3Q=\",\"confirmation\":"
                 "\"Y\",\"error\":null}");
    ASSERT_REPLY("{\"operation\":\"S\",\"queue\":\"q1\",\"payload\":\"\",\"confirmation\":\"\","
                 "\"error\":null}",
                 "",
                 "{\"operation\":\"S\",\"queue\":\"q1\",\"payload\":\"\",\"confirmation\":\"Y\","
                 "\"error\":null}");
}
END_TEST

START_TEST(test_gmqwire_reply_keeps_gmq_field_order_whatever_the_request_order)
{
    ASSERT_REPLY("{\"auth\":{\"password\":\"p\",\"user\":\"u\"},\"error\":null,\"payload\":\"x\","
                 "\"queue\":\"q\",\"operation\":\"SYNC\"}",
                 NULL,
                 "{\"operation\":\"SYNC\",\"queue\":\"q\",\"payload\":\"x\",\"confirmation\":\"Y\","
                 "\"error\":null,\"auth\":{\"user\":\"u\",\"password\":\"p\"}}");
}
END_TEST

START_TEST(test_gmqwire_error_reply_is_n_with_code_and_message)
{
    char *r = reply_to("{\"operation\":\"X\",\"queue\":\"q3\",\"payload\":\"\",\"confirmation\":"
                       "\"\",\"error\":null}",
                       NULL, SL_EPARAM, "Unknown operation 'X'.");
    ck_assert_str_eq(r, "{\"operation\":\"X\",\"queue\":\"q3\",\"payload\":\"\",\"confirmation\":"
                        "\"N\",\"error\":{\"code\":\"invalid_parameter\",\"message\":\"Unknown "
                        "operation 'X'.\"}}");
    sl_free(r);
    /* a message cut inside a UTF-8 character still gives a reply */
    r = reply_to("{}", NULL, SL_ENAME, "bad \xc3");
    ck_assert_ptr_nonnull(strstr(r, "\"message\":\"bad ?\""));
    sl_free(r);
}
END_TEST

START_TEST(test_gmqwire_reply_escapes_strings_as_go_encoding_json)
{
    char *r = reply_to("{\"operation\":\"a<b>&c\",\"queue\":\"\\b\\f\\u001f\\n\\t\\\"\\\\/\","
                       "\"payload\":\"\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9\x7f\"}",
                       NULL, 0, NULL);
    ck_assert_str_eq(r, "{\"operation\":\"a\\u003cb\\u003e\\u0026c\",\"queue\":\"\\u0008\\u000c"
                        "\\u001f\\n\\t\\\"\\\\/\",\"payload\":\"\\u2028\\u2029\xc3\xa9\x7f\","
                        "\"confirmation\":\"Y\",\"error\":null}");
    /* and it is still the same JSON */
    json_t *j = json_loads(r, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "operation")), "a<b>&c");
    ck_assert_str_eq(json_string_value(json_object_get(j, "queue")), "\b\f\x1f\n\t\"\\/");
    json_decref(j);
    sl_free(r);
}
END_TEST

/* ---------------------------------------------------------------- base64 */

START_TEST(test_gmqwire_b64_skips_line_breaks_as_go_did_and_nothing_else)
{
    unsigned char out[64];
    size_t n;
    const char *wrapped = "aGVs\r\nbG8g\nd29y\rbGQ=\n";
    ck_assert_int_eq(gmqwire_b64_decode(wrapped, strlen(wrapped), out, &n), 0);
    ck_assert_uint_eq(n, 11);
    ck_assert_int_eq(memcmp(out, "hello world", 11), 0);
    ck_assert_int_eq(gmqwire_b64_decode("aGVs bG8=", 9, out, &n), SL_EBASE64);
    ck_assert_int_eq(gmqwire_b64_decode("aGVsbG8", 7, out, &n), SL_EBASE64);
    ck_assert_int_eq(gmqwire_b64_decode("aGVs-G8=", 8, out, &n), SL_EBASE64);
    ck_assert_int_eq(gmqwire_b64_decode("", 0, out, &n), 0);
    ck_assert_uint_eq(n, 0);
}
END_TEST

static Suite *gmqwire_suite(void)
{
    Suite *s = suite_create("gmqwire");
    TCase *tc = tcase_create("tokens");
    tcase_add_test(tc, test_gmqwire_token_is_hex_of_the_text_then_of_the_empty_sha512);
    tcase_add_test(tc, test_gmqwire_token_matches_any_hex_case_but_not_another_secret);
    suite_add_tcase(s, tc);

    tc = tcase_create("requests");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_gmqwire_request_is_byte_for_byte_what_the_head_client_sent);
    tcase_add_test(tc, test_gmqwire_parse_reads_the_head_client_request);
    tcase_add_test(tc, test_gmqwire_parse_matches_field_names_case_insensitively_as_go_did);
    tcase_add_test(tc, test_gmqwire_parse_accepts_missing_and_null_fields_and_a_trailing_newline);
    tcase_add_test(tc, test_gmqwire_parse_refuses_what_go_silently_accepted);
    tcase_add_test(tc, test_gmqwire_parse_refuses_what_is_not_one_json_object);
    tcase_add_test(tc, test_gmqwire_parse_refuses_a_raw_nul_byte_that_jansson_would_skip);
    tcase_add_test(tc, test_gmqwire_parse_keeps_what_it_could_read_for_the_echo);
    suite_add_tcase(s, tc);

    tc = tcase_create("replies");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_gmqwire_replies_are_the_v13_server_bytes);
    tcase_add_test(tc, test_gmqwire_reply_keeps_gmq_field_order_whatever_the_request_order);
    tcase_add_test(tc, test_gmqwire_error_reply_is_n_with_code_and_message);
    tcase_add_test(tc, test_gmqwire_reply_escapes_strings_as_go_encoding_json);
    tcase_add_test(tc, test_gmqwire_b64_skips_line_breaks_as_go_did_and_nothing_else);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gmqwire_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
