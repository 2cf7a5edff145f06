/*
 * test_b64.c — standard padded base64 (RFC 4648 §4) over nettle: encoding of every length from
 * 0 to 10 and the RFC 4648 §10 vectors, and the strict decoder, which takes canonical padded
 * input only (no whitespace, no URL-safe alphabet, no missing, extra or misplaced padding).
 * Buffers are heap blocks of exactly the documented size, so AddressSanitizer catches a write
 * or read past them. Expected encodings were computed independently (Python's base64).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

/* Encodes n bytes into a heap buffer of exactly B64_ENCODED_LEN(n) + 1 bytes; free it. */
static char *encode(const void *in, size_t n, size_t *len)
{
    char *out = malloc(B64_ENCODED_LEN(n) + 1);
    ck_assert_ptr_nonnull(out);
    *len = b64_encode(in, n, out);
    return out;
}

/* Decodes text into a heap buffer of exactly B64_DECODED_MAX(strlen(text)) bytes (one byte when
 * that is 0, so malloc returns a block) and returns the result; *out is freed by the caller. */
static int decode(const char *text, unsigned char **out, size_t *outlen)
{
    size_t len = strlen(text), room = B64_DECODED_MAX(len);
    *out = malloc(room > 0 ? room : 1);
    ck_assert_ptr_nonnull(*out);
    return b64_decode(text, len, *out, outlen);
}

#define ASSERT_DECODES(text, want, wantlen)                                                   \
    do {                                                                                      \
        unsigned char *out_;                                                                  \
        size_t outlen_ = 12345;                                                               \
        ck_assert_msg(decode(text, &out_, &outlen_) == 0, "'%s' refused", text);              \
        ck_assert_msg(outlen_ == (size_t)(wantlen), "'%s' gave %zu bytes, want %zu", text,    \
                      outlen_, (size_t)(wantlen));                                            \
        ck_assert_msg(memcmp(out_, want, wantlen) == 0, "'%s' decoded to other bytes", text); \
        free(out_);                                                                           \
    } while (0)

#define ASSERT_REFUSED(text, len)                                                       \
    do {                                                                                \
        size_t room_ = B64_DECODED_MAX((size_t)(len));                                  \
        unsigned char *out_ = malloc(room_ > 0 ? room_ : 1);                            \
        size_t outlen_;                                                                 \
        ck_assert_ptr_nonnull(out_);                                                    \
        int r_ = b64_decode(text, len, out_, &outlen_);                                 \
        ck_assert_msg(r_ == SL_EBASE64, "'%.*s' (length %zu) gave %d, want SL_EBASE64", \
                      (int)(len), text, (size_t)(len), r_);                             \
        free(out_);                                                                     \
    } while (0)

static const char foobarbazq[] = "foobarbazq";

/* RFC 4648 §10 for lengths 0 to 6, then the same text continued to length 10. */
static const char *const foobarbazq_b64[] = {
    "",         "Zg==",         "Zm8=",         "Zm9v",         "Zm9vYg==",        "Zm9vYmE=",
    "Zm9vYmFy", "Zm9vYmFyYg==", "Zm9vYmFyYmE=", "Zm9vYmFyYmF6", "Zm9vYmFyYmF6cQ=="};

/* ---------------------------------------------------------------- encode */

START_TEST(test_b64_encode_matches_rfc_4648_vectors_for_lengths_0_to_10)
{
    for (size_t n = 0; n <= 10; n++) {
        size_t len;
        char *out = encode(foobarbazq, n, &len);
        ck_assert_msg(strcmp(out, foobarbazq_b64[n]) == 0, "length %zu gave '%s', want '%s'", n,
                      out, foobarbazq_b64[n]);
        ck_assert_uint_eq(len, strlen(foobarbazq_b64[n]));
        free(out);
    }
}
END_TEST

START_TEST(test_b64_encode_returns_encoded_len_and_terminates_with_nul)
{
    for (size_t n = 0; n <= 10; n++) {
        size_t len;
        char *out = encode(foobarbazq, n, &len);
        ck_assert_uint_eq(len, B64_ENCODED_LEN(n));
        ck_assert_uint_eq(len % 4, 0);
        ck_assert_int_eq(out[len], '\0');
        ck_assert_uint_eq(strlen(out), len);
        free(out);
    }
    ck_assert_uint_eq(B64_ENCODED_LEN(0), 0);
    ck_assert_uint_eq(B64_ENCODED_LEN(1), 4);
    ck_assert_uint_eq(B64_ENCODED_LEN(3), 4);
    ck_assert_uint_eq(B64_ENCODED_LEN(4), 8);
}
END_TEST

START_TEST(test_b64_encode_uses_plus_and_slash_and_handles_every_byte_value)
{
    size_t len;
    const unsigned char high[] = {0xfb, 0xff, 0xbf};
    char *out = encode(high, sizeof high, &len);
    ck_assert_str_eq(out, "+/+/");
    free(out);

    const unsigned char zeros[] = {0, 0, 0, 0};
    out = encode(zeros, sizeof zeros, &len);
    ck_assert_str_eq(out, "AAAAAA==");
    free(out);

    const unsigned char ones[] = {0xff, 0xff, 0xff, 0xff, 0xff};
    out = encode(ones, sizeof ones, &len);
    ck_assert_str_eq(out, "//////8=");
    free(out);

    unsigned char spread[12];
    for (size_t i = 0; i < sizeof spread; i++)
        spread[i] = (unsigned char)(i * 23);
    out = encode(spread, sizeof spread, &len);
    ck_assert_str_eq(out, "ABcuRVxziqG4z+b9");
    free(out);
}
END_TEST

/* ---------------------------------------------------------------- decode: accepted */

START_TEST(test_b64_decode_reads_rfc_4648_vectors_for_lengths_0_to_10)
{
    for (size_t n = 0; n <= 10; n++)
        ASSERT_DECODES(foobarbazq_b64[n], foobarbazq, n);
    const unsigned char high[] = {0xfb, 0xff, 0xbf};
    ASSERT_DECODES("+/+/", high, sizeof high);
    const unsigned char ones[] = {0xff, 0xff, 0xff, 0xff, 0xff};
    ASSERT_DECODES("//////8=", ones, sizeof ones);
}
END_TEST

START_TEST(test_b64_decode_round_trips_random_bytes_into_exact_size_buffers)
{
    srand(20261122);
    for (size_t n = 0; n <= 300; n++) {
        unsigned char in[300];
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)rand();
        size_t len;
        char *text = encode(in, n, &len);
        /* the exact documented room; when n is a multiple of 3 it is exactly n bytes */
        size_t room = B64_DECODED_MAX(len);
        unsigned char *out = malloc(room > 0 ? room : 1);
        ck_assert_ptr_nonnull(out);
        size_t outlen = 12345;
        ck_assert_int_eq(b64_decode(text, len, out, &outlen), 0);
        ck_assert_uint_eq(outlen, n);
        ck_assert_int_eq(memcmp(out, in, n), 0);
        free(out);
        free(text);
    }
}
END_TEST

START_TEST(test_b64_decode_uses_the_length_not_a_terminator)
{
    unsigned char out[6];
    size_t outlen = 12345;
    ck_assert_int_eq(b64_decode("Zm9vYmFy!!", 4, out, &outlen), 0);
    ck_assert_uint_eq(outlen, 3);
    ck_assert_int_eq(memcmp(out, "foo", 3), 0);

    /* no NUL anywhere: a heap block of exactly the eight characters */
    char *exact = malloc(8);
    ck_assert_ptr_nonnull(exact);
    memcpy(exact, "Zm9vYg==", 8);
    ck_assert_int_eq(b64_decode(exact, 8, out, &outlen), 0);
    ck_assert_uint_eq(outlen, 4);
    ck_assert_int_eq(memcmp(out, "foob", 4), 0);
    free(exact);

    outlen = 12345;
    ck_assert_int_eq(b64_decode("Zm9v", 0, out, &outlen), 0);
    ck_assert_uint_eq(outlen, 0);
}
END_TEST

/* ---------------------------------------------------------------- decode: refused */

START_TEST(test_b64_decode_refuses_a_length_that_is_not_a_multiple_of_4)
{
    const char *bad[] = {"Z",      "Zg",      "Zg=",   "Zm8",      "Zm9vY",
                         "Zm9vYg", "Zm9vYg=", "Zg===", "Zm9vYmFy="};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
        ASSERT_REFUSED(bad[i], strlen(bad[i]));
}
END_TEST

START_TEST(test_b64_decode_refuses_characters_outside_the_alphabet_at_every_position)
{
    /* whitespace (which nettle alone would skip), the URL-safe '-' and '_', other ASCII, NUL,
     * and bytes above 127 */
    const char bad[] = {' ', '\t', '\n', '\r', '\v', '\f', '-', '_', '.',        '*',       '~',
                        '!', '"',  '\\', '\0', '@',  '[',  '`', '{', (char)0x80, (char)0xff};
    for (size_t i = 0; i < sizeof bad; i++) {
        for (size_t pos = 0; pos < 8; pos++) {
            char text[8];
            memcpy(text, "Zm9vYmFy", 8);
            text[pos] = bad[i];
            ASSERT_REFUSED(text, sizeof text);
        }
    }
}
END_TEST

START_TEST(test_b64_decode_refuses_whitespace_even_where_the_length_stays_a_multiple_of_4)
{
    ASSERT_REFUSED("Zm9v    ", 8);
    ASSERT_REFUSED("    Zm9v", 8);
    ASSERT_REFUSED("Zm9v\r\n\r\n", 8);
    ASSERT_REFUSED("Zm 9vYm F", 8);
    ASSERT_REFUSED("Zg==\n\n\n\n", 8);
    ASSERT_REFUSED("Zg\n=", 4);
    ASSERT_REFUSED("Z\n==", 4);
}
END_TEST

START_TEST(test_b64_decode_refuses_the_url_safe_alphabet)
{
    ASSERT_REFUSED("-_-_", 4);
    ASSERT_REFUSED("__8=", 4);
    ASSERT_REFUSED("Zm9-", 4);
    ASSERT_REFUSED("Zm9_", 4);
    /* the same bytes in the standard alphabet are accepted */
    const unsigned char high[] = {0xfb, 0xff, 0xbf};
    ASSERT_DECODES("+/+/", high, sizeof high);
}
END_TEST

START_TEST(test_b64_decode_refuses_padding_anywhere_but_at_the_end)
{
    const char *bad[] = {"Zg==Zg==", "Zg==Zm9v", "Zm8=Zm9v", "=m9v",     "Z=9v",
                         "Zm=v",     "Zm9vYm=y", "==Zm",     "Zm==Zm==", "Zg=A"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
        ASSERT_REFUSED(bad[i], strlen(bad[i]));
}
END_TEST

START_TEST(test_b64_decode_refuses_three_or_four_padding_characters)
{
    ASSERT_REFUSED("Z===", 4);
    ASSERT_REFUSED("====", 4);
    ASSERT_REFUSED("Zm9vY===", 8);
    ASSERT_REFUSED("Zm9v====", 8);
}
END_TEST

START_TEST(test_b64_decode_refuses_non_canonical_trailing_bits)
{
    /* "Zg==", "Zm8=" and "Zm9v" are canonical; these carry non-zero bits past the last byte */
    ASSERT_REFUSED("Zh==", 4);
    ASSERT_REFUSED("Zv==", 4);
    ASSERT_REFUSED("Zm9=", 4);
    ASSERT_REFUSED("Zm9vYh==", 8);
    /* a full group has no bits past its bytes, so any characters there are canonical */
    const unsigned char a[] = {0x66, 0x6f, 0xff}, b[] = {0x66, 0x6f, 0x3f};
    ASSERT_DECODES("Zm//", a, 3);
    ASSERT_DECODES("Zm8/", b, 3);
}
END_TEST

static Suite *b64_suite(void)
{
    Suite *s = suite_create("b64");
    TCase *tc = tcase_create("encode");
    tcase_add_test(tc, test_b64_encode_matches_rfc_4648_vectors_for_lengths_0_to_10);
    tcase_add_test(tc, test_b64_encode_returns_encoded_len_and_terminates_with_nul);
    tcase_add_test(tc, test_b64_encode_uses_plus_and_slash_and_handles_every_byte_value);
    suite_add_tcase(s, tc);

    tc = tcase_create("decode");
    tcase_add_test(tc, test_b64_decode_reads_rfc_4648_vectors_for_lengths_0_to_10);
    tcase_add_test(tc, test_b64_decode_round_trips_random_bytes_into_exact_size_buffers);
    tcase_add_test(tc, test_b64_decode_uses_the_length_not_a_terminator);
    tcase_add_test(tc, test_b64_decode_refuses_a_length_that_is_not_a_multiple_of_4);
    tcase_add_test(tc, test_b64_decode_refuses_characters_outside_the_alphabet_at_every_position);
    tcase_add_test(tc,
                   test_b64_decode_refuses_whitespace_even_where_the_length_stays_a_multiple_of_4);
    tcase_add_test(tc, test_b64_decode_refuses_the_url_safe_alphabet);
    tcase_add_test(tc, test_b64_decode_refuses_padding_anywhere_but_at_the_end);
    tcase_add_test(tc, test_b64_decode_refuses_three_or_four_padding_characters);
    tcase_add_test(tc, test_b64_decode_refuses_non_canonical_trailing_bits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(b64_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
