/*
 * test_msg.c — the message object: one allocation with body, key and attributes, reference
 * counting, and the attribute builder with its limits (names up to 64 bytes, values up to 1024,
 * MSG_ATTRS_MAX bytes in all; the number of attributes is the API's limit, not the builder's).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "msg.h"

static int add(msg_attrs_buf_t *b, const char *name, const char *value)
{
    return msg_attrs_add(b, name, strlen(name), value, strlen(value));
}

static void buf_init(msg_attrs_buf_t *b)
{
    msg_attrs_init(b);
}

static msg_t *with_attrs(const msg_attrs_buf_t *b)
{
    return msg_new("body", 4, NULL, 0, b->buf, b->len);
}

START_TEST(test_msg_new_copies_body_key_and_attributes)
{
    msg_attrs_buf_t b;
    buf_init(&b);
    ck_assert_int_eq(add(&b, "content-type", "text/plain"), 0);
    char body[] = "hello";
    char key[] = "customer-7";
    msg_t *m = msg_new(body, 5, key, strlen(key), b.buf, b.len);
    body[0] = 'J'; /* copies, not borrowed */
    key[0] = 'X';
    memset(b.buf, 0, b.len);
    ck_assert_uint_eq(m->len, 5);
    ck_assert_int_eq(memcmp(msg_body(m), "hello", 5), 0);
    ck_assert_uint_eq(m->key_len, 10);
    ck_assert_int_eq(memcmp(msg_key(m), "customer-7", 10), 0);
    size_t vlen;
    const char *v = msg_attr_find(m, "content-type", &vlen);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(vlen, 10);
    ck_assert_int_eq(memcmp(v, "text/plain", 10), 0);
    ck_assert_uint_eq(m->refs, 1);
    ck_assert_uint_eq(m->flags, 0);
    ck_assert_ptr_null(msg_ext(m)); /* the extension is only for the messages that need it */
    msg_unref(m);
    msg_attrs_cleanup(&b);
}
END_TEST

START_TEST(test_msg_new_without_body_leaves_room_for_the_caller)
{
    msg_t *m = msg_new(NULL, 1000, "k", 1, NULL, 0);
    memset(msg_body(m), 'q', 1000); /* ASan: the 1000 bytes are really there */
    ck_assert_int_eq(msg_body(m)[999], 'q');
    ck_assert_int_eq(msg_key(m)[0], 'k'); /* the key was not overwritten by the body */
    ck_assert_uint_eq(m->attrs_len, 0);
    msg_unref(m);
}
END_TEST

START_TEST(test_msg_empty_body_and_longest_key)
{
    char key[MSG_KEY_MAX];
    memset(key, 'k', sizeof key);
    msg_t *m = msg_new("", 0, key, sizeof key, NULL, 0);
    ck_assert_uint_eq(m->len, 0);
    ck_assert_uint_eq(m->key_len, MSG_KEY_MAX);
    ck_assert_int_eq(memcmp(msg_key(m), key, MSG_KEY_MAX), 0);
    size_t vlen;
    ck_assert_ptr_null(msg_attr_find(m, "anything", &vlen));
    msg_unref(m);
}
END_TEST

START_TEST(test_msg_references_free_on_the_last_unref)
{
    msg_t *m = msg_new("x", 1, NULL, 0, NULL, 0);
    ck_assert_ptr_eq(msg_ref(m), m);
    msg_ref(m);
    ck_assert_uint_eq(m->refs, 3);
    msg_unref(m);
    msg_unref(m);
    ck_assert_uint_eq(m->refs, 1);
    ck_assert_int_eq(msg_body(m)[0], 'x'); /* still alive */
    msg_unref(m);                          /* freed: ASan/LSan check there is no leak */
    msg_unref(NULL);
}
END_TEST

START_TEST(test_msg_attributes_iterate_in_insertion_order)
{
    msg_attrs_buf_t b;
    buf_init(&b);
    ck_assert_int_eq(add(&b, "a", "1"), 0);
    ck_assert_int_eq(add(&b, "bb", ""), 0); /* empty value is allowed */
    ck_assert_int_eq(add(&b, "traceparent", "00-abc-def-01"), 0);
    ck_assert_uint_eq(b.count, 3);
    msg_t *m = with_attrs(&b);
    size_t pos = 0, nlen, vlen;
    const char *n, *v;
    ck_assert(msg_attrs_next(m, &pos, &n, &nlen, &v, &vlen));
    ck_assert(nlen == 1 && memcmp(n, "a", 1) == 0 && vlen == 1 && v[0] == '1');
    ck_assert(msg_attrs_next(m, &pos, &n, &nlen, &v, &vlen));
    ck_assert(nlen == 2 && memcmp(n, "bb", 2) == 0 && vlen == 0);
    ck_assert(msg_attrs_next(m, &pos, &n, &nlen, &v, &vlen));
    ck_assert(nlen == 11 && memcmp(n, "traceparent", 11) == 0 && vlen == 13);
    ck_assert(!msg_attrs_next(m, &pos, &n, &nlen, &v, &vlen));
    ck_assert(!msg_attrs_next(m, &pos, &n, &nlen, &v, &vlen));
    msg_unref(m);
    msg_attrs_cleanup(&b);
}
END_TEST

START_TEST(test_msg_attr_find_matches_whole_names_only)
{
    msg_attrs_buf_t b;
    buf_init(&b);
    add(&b, "content-type", "application/json");
    add(&b, "content", "short");
    add(&b, "x", "last");
    msg_t *m = with_attrs(&b);
    size_t vlen = 0;
    const char *v = msg_attr_find(m, "content", &vlen);
    ck_assert(v && vlen == 5 && memcmp(v, "short", 5) == 0);
    v = msg_attr_find(m, "content-type", &vlen);
    ck_assert(v && vlen == 16 && memcmp(v, "application/json", 16) == 0);
    v = msg_attr_find(m, "x", &vlen);
    ck_assert(v && vlen == 4 && memcmp(v, "last", 4) == 0);
    ck_assert_ptr_null(msg_attr_find(m, "conten", &vlen));
    ck_assert_ptr_null(msg_attr_find(m, "content-typ", &vlen));
    ck_assert_ptr_null(msg_attr_find(m, "content-type2", &vlen));
    ck_assert_ptr_null(msg_attr_find(m, "Content-Type", &vlen));
    ck_assert_ptr_null(msg_attr_find(m, "", &vlen));
    msg_unref(m);
    msg_attrs_cleanup(&b);
}
END_TEST

START_TEST(test_msg_attr_name_limits)
{
    msg_attrs_buf_t b;
    buf_init(&b);
    char name[MSG_ATTR_NAME_MAX + 1];
    memset(name, 'n', sizeof name);
    ck_assert_int_eq(msg_attrs_add(&b, name, MSG_ATTR_NAME_MAX, "v", 1), 0);
    ck_assert_int_eq(msg_attrs_add(&b, name, MSG_ATTR_NAME_MAX + 1, "v", 1), SL_EPARAM);
    ck_assert_int_eq(msg_attrs_add(&b, "", 0, "v", 1), SL_EPARAM);
    ck_assert_uint_eq(b.count, 1);
    msg_t *m = with_attrs(&b);
    char want[MSG_ATTR_NAME_MAX + 1];
    memset(want, 'n', MSG_ATTR_NAME_MAX);
    want[MSG_ATTR_NAME_MAX] = '\0';
    size_t vlen;
    ck_assert_ptr_nonnull(msg_attr_find(m, want, &vlen));
    msg_unref(m);
    msg_attrs_cleanup(&b);
}
END_TEST

START_TEST(test_msg_attr_value_limits_and_two_byte_lengths)
{
    msg_attrs_buf_t b;
    buf_init(&b);
    char value[MSG_ATTR_VALUE_MAX + 1];
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (char)('a' + i % 26);
    ck_assert_int_eq(msg_attrs_add(&b, "big", 3, value, MSG_ATTR_VALUE_MAX), 0);
    ck_assert_int_eq(msg_attrs_add(&b, "bigger", 6, value, MSG_ATTR_VALUE_MAX + 1), SL_EPARAM);
    ck_assert_int_eq(msg_attrs_add(&b, "v300", 4, value, 300), 0); /* 300 > 255: both bytes */
    msg_t *m = with_attrs(&b);
    size_t vlen;
    const char *v = msg_attr_find(m, "big", &vlen);
    ck_assert_uint_eq(vlen, MSG_ATTR_VALUE_MAX);
    ck_assert_int_eq(memcmp(v, value, MSG_ATTR_VALUE_MAX), 0);
    v = msg_attr_find(m, "v300", &vlen);
    ck_assert_uint_eq(vlen, 300);
    ck_assert_int_eq(memcmp(v, value, 300), 0);
    ck_assert_ptr_null(msg_attr_find(m, "bigger", &vlen));
    msg_unref(m);
    msg_attrs_cleanup(&b);
}
END_TEST

START_TEST(test_msg_attrs_hold_sixteen_attributes_of_the_largest_size)
{
    msg_attrs_buf_t b;
    buf_init(&b);
    char name[MSG_ATTR_NAME_MAX], value[MSG_ATTR_VALUE_MAX];
    memset(value, 'v', sizeof value);
    for (int i = 0; i < MSG_ATTR_COUNT_MAX; i++) {
        memset(name, 'a' + i, sizeof name);
        ck_assert_int_eq(msg_attrs_add(&b, name, sizeof name, value, sizeof value), 0);
    }
    ck_assert_uint_eq(b.count, MSG_ATTR_COUNT_MAX);
    ck_assert_uint_gt(b.len, sizeof b.small); /* it grew past the inline buffer */
    msg_t *m = with_attrs(&b);
    msg_attrs_cleanup(&b);
    size_t pos = 0, nlen, vlen, seen = 0;
    const char *n, *v;
    while (msg_attrs_next(m, &pos, &n, &nlen, &v, &vlen)) {
        ck_assert_uint_eq(nlen, MSG_ATTR_NAME_MAX);
        ck_assert_uint_eq(vlen, MSG_ATTR_VALUE_MAX);
        ck_assert_int_eq(n[0], 'a' + (int)seen);
        seen++;
    }
    ck_assert_uint_eq(seen, MSG_ATTR_COUNT_MAX);
    msg_unref(m);
    msg_attrs_cleanup(&b);
}
END_TEST

START_TEST(test_msg_attr_block_limit_is_msg_attrs_max_bytes)
{
    msg_attrs_buf_t b;
    buf_init(&b);
    char value[1020], name[2] = "a";
    memset(value, 'v', sizeof value);
    /* each attribute takes 3 + 1 + 1020 = 1024 bytes: MSG_ATTRS_MAX / 1024 fill the block */
    int fit = MSG_ATTRS_MAX / 1024;
    for (int i = 0; i < fit; i++) {
        name[0] = (char)('A' + i);
        ck_assert_int_eq(msg_attrs_add(&b, name, 1, value, sizeof value), 0);
    }
    ck_assert_uint_eq(b.len, MSG_ATTRS_MAX);
    ck_assert_int_eq(msg_attrs_add(&b, "e", 1, "", 0), SL_ETOOBIG);
    ck_assert_uint_eq(b.len, MSG_ATTRS_MAX); /* a refused add changes nothing */
    ck_assert_uint_eq(b.count, (unsigned)fit);
    msg_t *m = with_attrs(&b);
    ck_assert_uint_eq(m->attrs_len, MSG_ATTRS_MAX);
    size_t vlen;
    const char *v = msg_attr_find(m, "A", &vlen);
    ck_assert(v && vlen == sizeof value && v[0] == 'v' && v[vlen - 1] == 'v');
    msg_unref(m);
    msg_attrs_cleanup(&b);
}
END_TEST

START_TEST(test_msg_attrs_valid_accepts_built_blocks_and_refuses_cut_ones)
{
    msg_attrs_buf_t b;
    buf_init(&b);
    ck_assert_int_eq(add(&b, "content-type", "text/plain"), 0);
    ck_assert_int_eq(add(&b, "x", ""), 0);
    msg_t *m = with_attrs(&b);
    ck_assert(msg_attrs_valid(m));
    msg_unref(m);
    /* every cut of the block ends inside an entry, except at the entry boundary */
    size_t first = 1 + 12 + 2 + 10;
    for (size_t len = 0; len < b.len; len++) {
        m = msg_new("x", 1, NULL, 0, b.buf, len);
        ck_assert_int_eq(msg_attrs_valid(m), len == 0 || len == first);
        msg_unref(m);
    }
    /* a value length running past the end */
    static const unsigned char over[] = {1, 'a', 0xff, 0xff, 'v'};
    m = msg_new("x", 1, NULL, 0, over, sizeof over);
    ck_assert(!msg_attrs_valid(m));
    msg_unref(m);
    m = msg_new("x", 1, NULL, 0, NULL, 0);
    ck_assert(msg_attrs_valid(m));
    msg_unref(m);
    msg_attrs_cleanup(&b);
}
END_TEST

START_TEST(test_msg_attr_find_on_a_message_without_attributes_is_null)
{
    msg_t *m = msg_new("b", 1, "key", 3, NULL, 0);
    size_t vlen = 77;
    ck_assert_ptr_null(msg_attr_find(m, "key", &vlen)); /* the key is not an attribute */
    size_t pos = 0, nlen;
    const char *n, *v;
    ck_assert(!msg_attrs_next(m, &pos, &n, &nlen, &v, &vlen));
    msg_unref(m);
}
END_TEST

static Suite *msg_suite(void)
{
    Suite *s = suite_create("msg");
    TCase *tc = tcase_create("msg");
    tcase_add_test(tc, test_msg_new_copies_body_key_and_attributes);
    tcase_add_test(tc, test_msg_new_without_body_leaves_room_for_the_caller);
    tcase_add_test(tc, test_msg_empty_body_and_longest_key);
    tcase_add_test(tc, test_msg_references_free_on_the_last_unref);
    tcase_add_test(tc, test_msg_attributes_iterate_in_insertion_order);
    tcase_add_test(tc, test_msg_attr_find_matches_whole_names_only);
    tcase_add_test(tc, test_msg_attr_name_limits);
    tcase_add_test(tc, test_msg_attr_value_limits_and_two_byte_lengths);
    tcase_add_test(tc, test_msg_attrs_hold_sixteen_attributes_of_the_largest_size);
    tcase_add_test(tc, test_msg_attr_block_limit_is_msg_attrs_max_bytes);
    tcase_add_test(tc, test_msg_attr_find_on_a_message_without_attributes_is_null);
    tcase_add_test(tc, test_msg_attrs_valid_accepts_built_blocks_and_refuses_cut_ones);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(msg_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
