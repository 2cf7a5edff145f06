/*
 * fuzz_b64.c — libFuzzer harness for b64_decode() and b64_encode() (src/b64.h).
 *
 * The input is decoded as it comes, from a buffer of exactly its size, into a heap buffer of
 * exactly B64_DECODED_MAX(len) bytes, so a read or write out of bounds is an ASan error. Then:
 *
 *   - strictness: an accepted input is canonical, that is b64_encode() of the output gives back
 *     exactly the input (no whitespace, no padding in the middle, no stray bits in the last
 *     character before the padding);
 *   - completeness: every canonical encoding is accepted, checked against a reference strict
 *     decoder written here from RFC 4648 §4;
 *   - the input as raw bytes encodes into exactly B64_ENCODED_LEN(n) + 1 bytes and decodes back.
 *
 * A failed check prints the input and aborts, which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

#define FUZZ_NAME "fuzz_b64"
#include "fuzz_check.h"

static int ref_value(unsigned char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

/* Reference strict decoder: whole quanta of four characters, '=' only as the last one or two of
 * the last quantum, and zero bits in what the padding leaves unused. Returns whether in is the
 * canonical encoding of some bytes, which it writes to out (room for B64_DECODED_MAX(len)). */
static bool ref_decode(const unsigned char *in, size_t len, unsigned char *out, size_t *outlen)
{
    if (len % 4 != 0)
        return false;
    *outlen = 0;
    for (size_t q = 0; q < len; q += 4) {
        bool last = q + 4 == len;
        size_t pad = 0;
        if (last && in[q + 3] == '=')
            pad = in[q + 2] == '=' ? 2 : 1;
        uint32_t w = 0;
        for (size_t k = 0; k < 4; k++) {
            int v = k < 4 - pad ? ref_value(in[q + k]) : 0;
            if (v < 0)
                return false;
            w = w << 6 | (uint32_t)v;
        }
        if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
            return false;
        out[(*outlen)++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[(*outlen)++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[(*outlen)++] = (unsigned char)w;
    }
    return true;
}

static void check_decode(const uint8_t *data, size_t size)
{
    size_t cap = B64_DECODED_MAX(size);
    unsigned char *out = malloc(cap ? cap : 1), *ref = malloc(cap ? cap : 1);
    size_t outlen = (size_t)-1, reflen = 0;
    int r = b64_decode((const char *)data, size, out, &outlen);
    bool ok = ref_decode(data, size, ref, &reflen);

    CHECK(r == 0 || r == SL_EBASE64, "b64_decode returned %d", r);
    CHECK((r == 0) == ok, "b64_decode('%.*s') returned %d, the reference %s", (int)size,
          (const char *)data, r, ok ? "accepts it" : "refuses it");
    if (r == 0) {
        CHECK(outlen <= cap, "b64_decode('%.*s') says %zu bytes, room for %zu", (int)size,
              (const char *)data, outlen, cap);
        CHECK(outlen == reflen && memcmp(out, ref, outlen) == 0,
              "b64_decode('%.*s') decoded differently from the reference", (int)size,
              (const char *)data);
        char *enc = malloc(B64_ENCODED_LEN(outlen) + 1);
        size_t elen = b64_encode(out, outlen, enc);
        CHECK(elen == size && memcmp(enc, data, size) == 0,
              "b64_decode accepted '%.*s' but it encodes back as '%s'", (int)size,
              (const char *)data, enc);
        free(enc);
    }
    free(out);
    free(ref);
}

static void check_encode(const uint8_t *data, size_t size)
{
    size_t elen = B64_ENCODED_LEN(size);
    char *enc = malloc(elen + 1);
    CHECK(b64_encode(data, size, enc) == elen, "b64_encode of %zu bytes", size);
    CHECK(enc[elen] == '\0', "b64_encode of %zu bytes is not terminated", size);
    size_t dlen = (size_t)-1;
    CHECK(B64_DECODED_MAX(elen) >= size, "B64_DECODED_MAX(%zu) < %zu", elen, size);
    unsigned char *room = malloc(B64_DECODED_MAX(elen) ? B64_DECODED_MAX(elen) : 1);
    CHECK(b64_decode(enc, elen, room, &dlen) == 0, "b64_decode refused b64_encode's '%s'", enc);
    CHECK(dlen == size && memcmp(room, data, size) == 0, "'%s' decodes to %zu bytes, want %zu", enc,
          dlen, size);
    free(room);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decode(data, size);
    check_encode(data, size);
    return 0;
}
