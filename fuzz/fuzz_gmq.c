/*
 * fuzz_gmq.c — libFuzzer harness for GMQ's request framing and wire format (src/gmqframe.h,
 * src/gmqwire.h): the bytes a GMQ client sends, unauthenticated, to the listener.
 *
 * Byte 0 of the input seeds how the rest is split into arrivals; the rest is the request as the
 * socket delivers it. Checked, beyond "no crash, no leak, no UB":
 *
 *   - framing is independent of the arrivals: the scan fed in pieces ends (or refuses, or asks
 *     for more) exactly as the scan of the whole, at the same position;
 *   - framing agrees with jansson: where jansson (JSON_DISABLE_EOF_CHECK) reads an object from
 *     the input, the scan ends exactly where jansson stopped; a refusal means jansson reads no
 *     object; an end found where jansson reads none means the bytes up to it are no object
 *     either (inputs with a raw NUL byte excepted: jansson skips one after a literal, see below,
 *     and gmqwire_parse() must refuse them);
 *   - gmqwire_parse() on the framed bytes (what the listener passes) returns 0, SL_EJSON or
 *     SL_EPARAM with a message; the reply to it, success or error, is valid JSON with GMQ's
 *     fields in GMQ's order, echoing the request's operation, queue and payload;
 *   - gmqwire_b64_decode() of the payload accepts exactly what b64_decode() accepts once CR and LF
 *     are removed, with the same bytes;
 *   - gmqwire_token_matches() of the payload against a fixed secret agrees with a case-folding
 *     comparison to gmqwire_token().
 *
 * A failed check prints what differs and aborts, which libFuzzer reports as a crash.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "common.h"
#include "gmqframe.h"
#include "gmqwire.h"
#include "mem.h"

#define FUZZ_NAME "fuzz_gmq"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Scans buf in arrivals whose sizes come from seed; returns the result and the position. */
static int scan_in_pieces(const char *buf, size_t len, unsigned seed, size_t *pos)
{
    gmqframe_t f;
    int r = GMQFRAME_MORE;
    size_t have = 0;
    gmqframe_init(&f);
    while (have < len && r == GMQFRAME_MORE) {
        seed = seed * 1103515245u + 12345u;
        size_t step = 1 + (seed >> 16) % 7;
        have = have + step < len ? have + step : len;
        r = gmqframe_scan(&f, buf, have);
        CHECK(r != GMQFRAME_MORE || f.pos == have, "MORE with pos %zu of %zu", f.pos, have);
    }
    if (len == 0)
        r = gmqframe_scan(&f, buf, 0);
    *pos = f.pos;
    return r;
}

static void check_framing(const char *buf, size_t len, unsigned seed, size_t *end)
{
    gmqframe_t f;
    gmqframe_init(&f);
    int whole = gmqframe_scan(&f, buf, len);
    size_t pos;
    int pieces = scan_in_pieces(buf, len, seed, &pos);
    CHECK(whole == pieces && f.pos == pos, "whole: %d at %zu, in pieces: %d at %zu", whole, f.pos,
          pieces, pos);

    /* jansson skips a raw NUL byte that follows a number or a literal ("{\"a\":1\0}" loads),
     * which JSON does not allow and gmqwire_parse() refuses: jansson is only a reference for
     * inputs without one. */
    if (memchr(buf, '\0', len)) {
        *end = whole == GMQFRAME_END ? f.pos : len;
        return;
    }
    json_error_t e;
    json_t *j = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &e);
    bool object = json_is_object(j);
    json_decref(j);
    if (object)
        CHECK(whole == GMQFRAME_END && f.pos == (size_t)e.position,
              "jansson reads an object of %d bytes; the scan gives %d at %zu", e.position, whole,
              f.pos);
    if (whole == GMQFRAME_NOT_OBJECT)
        CHECK(!object, "refused, but jansson reads an object");
    if (whole == GMQFRAME_END && !object) {
        /* the bytes up to the end found are not an object either (else jansson would have
         * stopped there) */
        j = json_loadb(buf, f.pos, 0, &e);
        CHECK(!json_is_object(j),
              "the scan ends at %zu where jansson finds no object, yet the "
              "prefix alone is one",
              f.pos);
        json_decref(j);
    }
    *end = whole == GMQFRAME_END ? f.pos : len;
}

static void check_reply(const gmqwire_req_t *r, int err, const char *why)
{
    size_t len;
    char *reply = gmqwire_reply(r, NULL, err, err ? why : NULL, &len);
    json_error_t e;
    json_t *j = json_loadb(reply, len, 0, &e);
    CHECK(json_is_object(j), "the reply is not a JSON object: %s: %s", e.text, reply);
    static const char *const order[] = {"operation",    "queue", "payload",
                                        "confirmation", "error", "auth"};
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        CHECK(i < 6 && strcmp(k, order[i]) == 0, "field %zu is '%s'", i, k);
        i++;
    }
    CHECK(i == (r->has_auth ? 6u : 5u), "%zu fields", i);
    CHECK(!strcmp(json_string_value(json_object_get(j, "operation")), r->operation), "operation");
    CHECK(!strcmp(json_string_value(json_object_get(j, "queue")), r->queue), "queue");
    CHECK(json_string_length(json_object_get(j, "payload")) == r->payload_len &&
              !memcmp(json_string_value(json_object_get(j, "payload")), r->payload, r->payload_len),
          "payload");
    CHECK(!strcmp(json_string_value(json_object_get(j, "confirmation")), err ? "N" : "Y"),
          "confirmation");
    json_t *ev = json_object_get(j, "error");
    CHECK(err ? json_is_string(json_object_get(ev, "code")) &&
                    json_string_length(json_object_get(ev, "message")) > 0
              : json_is_null(ev),
          "error");
    /* Go's escaping leaves none of these raw */
    CHECK(!memchr(reply, '<', len) && !memchr(reply, '>', len) && !memchr(reply, '&', len),
          "unescaped <, > or &: %s", reply);
    json_decref(j);
    sl_free(reply);
}

static void check_b64(const char *in, size_t len)
{
    unsigned char *a = malloc(B64_DECODED_MAX(len) + 1), *b = malloc(B64_DECODED_MAX(len) + 1);
    char *clean = malloc(len + 1);
    size_t n = 0, na = 0, nb = 0;
    for (size_t i = 0; i < len; i++)
        if (in[i] != '\r' && in[i] != '\n')
            clean[n++] = in[i];
    int ra = gmqwire_b64_decode(in, len, a, &na);
    int rb = b64_decode(clean, n, b, &nb);
    CHECK(ra == rb && (ra || (na == nb && !memcmp(a, b, na))), "gmqwire %d (%zu), b64 %d (%zu)", ra,
          na, rb, nb);
    free(a);
    free(b);
    free(clean);
}

static void check_token(const char *t, size_t len)
{
    static const char secret[] = "secret";
    char want[GMQWIRE_TOKEN_LEN(6) + 1];
    gmqwire_token(secret, 6, want);
    bool ref = len == strlen(want);
    for (size_t i = 0; ref && i < len; i++) {
        char c = t[i] >= 'A' && t[i] <= 'F' ? (char)(t[i] + 32) : t[i];
        ref = c == want[i];
    }
    CHECK(gmqwire_token_matches(t, len, secret) == ref, "token match differs from the reference");
    CHECK(gmqwire_token_matches(want, strlen(want), secret), "the token of the secret");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned seed = data[0];
    const char *buf = (const char *)data + 1;
    size_t len = size - 1, end;

    check_framing(buf, len, seed, &end);

    gmqwire_req_t r;
    char why[400];
    int err = gmqwire_parse(buf, end, &r, why, sizeof why);
    CHECK(err == 0 || err == SL_EJSON || err == SL_EPARAM, "gmqwire_parse returned %d", err);
    CHECK(err == 0 || strlen(why) > 0, "an error without a message");
    CHECK(err == SL_EJSON || !memchr(buf, '\0', end), "a request with a NUL byte was accepted");
    check_reply(&r, err, why);
    check_b64(r.payload, r.payload_len);
    check_token(r.payload, r.payload_len);
    gmqwire_req_cleanup(&r);
    return 0;
}
