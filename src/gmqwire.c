/*
 * gmqwire.c — GMQ's request and reply objects, byte-compatible with GMQ's Go code where that is
 * harmless, strict where GMQ accepted bad input silently.
 *
 * Requests are parsed by jansson. Go's decoder matched field names case-insensitively and ignored
 * unknown ones; we keep the first (clients send "OPERATION" or "Queue") and refuse the second, as
 * well as a field given twice under two spellings and a value of the wrong type, because a typo
 * like "paylod" would otherwise publish an empty message without a word (SPEC §4: never silent
 * acceptance of bad input). A JSON null leaves a string field empty, as it did in Go.
 *
 * Replies are built by jansson in GMQ's field order (jansson keeps insertion order) and then
 * re-escaped the way Go's encoding/json writes strings: "<", ">" and "&" as \u003c, \u003e,
 * \u0026, U+2028 and U+2029 as \u2028 and \u2029, control characters other than \n, \r and \t as
 * \u00XX in lowercase hex. jansson writes \b, \f and uppercase hex instead; everything else is
 * already the same. That pass reads jansson's output, in which a backslash always starts one of
 * jansson's escapes and "<>&" can only be inside strings, so it needs no JSON parsing of its own.
 *
 * The token scheme is the HEAD client's (SEEDS-PROTOCOL.md §2.4): hex(secret) followed by the hex
 * of the SHA-512 digest of nothing. It is reversible and travels in clear text: it keeps a
 * password out of casual sight, nothing more (docs/gmq.md says so).
 */
#include "gmqwire.h"

#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "common.h"
#include "err.h"
#include "mem.h"

static const char hexdigits[] = "0123456789abcdef";

size_t gmqwire_token(const char *s, size_t n, char *out)
{
    struct sha512_ctx ctx;
    uint8_t digest[SHA512_DIGEST_SIZE];
    sha512_init(&ctx);
    sha512_digest(&ctx, sizeof digest, digest); /* of zero bytes */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        out[k++] = hexdigits[(unsigned char)s[i] >> 4];
        out[k++] = hexdigits[(unsigned char)s[i] & 15];
    }
    for (size_t i = 0; i < sizeof digest; i++) {
        out[k++] = hexdigits[digest[i] >> 4];
        out[k++] = hexdigits[digest[i] & 15];
    }
    out[k] = '\0';
    return k;
}

bool gmqwire_token_matches(const char *token, size_t tlen, const char *secret)
{
    size_t n = strlen(secret);
    if (tlen != GMQWIRE_TOKEN_LEN(n))
        return false;
    char *want = sl_malloc(tlen + 1);
    gmqwire_token(secret, n, want);
    unsigned diff = 0;
    for (size_t i = 0; i < tlen; i++) {
        unsigned c = (unsigned char)token[i];
        c += ((c - 'A') <= 5u) * 32u; /* A-F to a-f, without a branch on the secret's bytes */
        diff |= c ^ (unsigned char)want[i];
    }
    sl_free(want);
    return diff == 0;
}

/* ---------------------------------------------------------------- requests */

enum { F_OPERATION, F_QUEUE, F_PAYLOAD, F_CONFIRMATION, F_ERROR, F_AUTH, F_COUNT };
static const char *const field_names[F_COUNT] = {"operation",    "queue", "payload",
                                                 "confirmation", "error", "auth"};

/* Records the first error of a request; later ones are dropped (the first is the one to fix). */
static void req_error(int *err, int code, char *why, size_t whylen, const char *fmt, ...)
    SL_PRINTF(5, 6);

static void req_error(int *err, int code, char *why, size_t whylen, const char *fmt, ...)
{
    if (*err)
        return;
    *err = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* Index of name in names[0..n) ignoring ASCII case, or -1. */
static int field_find(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(names[i], name) == 0)
            return i;
    return -1;
}

/* Reads a string field: a string, or null for "" (as Go left the field alone). */
static const char *string_field(json_t *v, const char *name, int *err, char *why, size_t whylen)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (!json_is_null(v))
        req_error(err, SL_EPARAM, why, whylen, "Field '%s' must be a string.", name);
    return "";
}

static void parse_auth(json_t *auth, gmqwire_req_t *r, int *err, char *why, size_t whylen)
{
    static const char *const names[] = {"user", "password"};
    bool seen[2] = {false, false};
    const char *k;
    json_t *v;
    if (json_is_null(auth))
        return; /* as if absent */
    if (!json_is_object(auth)) {
        req_error(err, SL_EPARAM, why, whylen,
                  "Field 'auth' must be an object {\"user\": TOKEN, \"password\": TOKEN}.");
        return;
    }
    r->has_auth = true;
    json_object_foreach(auth, k, v)
    {
        int i = field_find(names, 2, k);
        if (i < 0) {
            req_error(err, SL_EPARAM, why, whylen,
                      "Unknown field 'auth.%.100s': auth has only user and password.", k);
            continue;
        }
        if (seen[i])
            req_error(err, SL_EPARAM, why, whylen,
                      "Field 'auth.%s' appears twice (field names match case-insensitively).",
                      names[i]);
        seen[i] = true;
        char name[16];
        snprintf(name, sizeof name, "auth.%s", names[i]);
        const char *s = string_field(v, name, err, why, whylen);
        if (i == 0)
            r->user = s;
        else
            r->password = s;
    }
}

int gmqwire_parse(const char *buf, size_t len, gmqwire_req_t *r, char *why, size_t whylen)
{
    json_error_t jerr;
    bool seen[F_COUNT] = {false};
    int err = 0;
    const char *k;
    json_t *v;

    *r = (gmqwire_req_t){NULL, "", "", "", 0, false, "", ""};
    /* JSON has no raw NUL byte anywhere, but jansson skips one that follows a number or a
     * literal ("{\"a\":true\0}" loads): refused here so that what we accept is JSON. */
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        req_error(&err, SL_EJSON, why, whylen,
                  "The request is not valid JSON: a NUL byte at offset %zu.", (size_t)(nul - buf));
        return err;
    }
    r->root = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &jerr);
    if (r->root == NULL) {
        req_error(&err, SL_EJSON, why, whylen,
                  "The request is not valid JSON: %s (line %d, column %d).", jerr.text, jerr.line,
                  jerr.column);
        return err;
    }
    if (!json_is_object(r->root)) {
        req_error(&err, SL_EJSON, why, whylen, "The request must be one JSON object.");
        return err;
    }
    /* With JSON_DISABLE_EOF_CHECK jansson stops after the value, at jerr.position, so a second
     * value gets this sentence rather than "end of file expected". */
    for (size_t i = (size_t)jerr.position; i < len; i++) {
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') {
            req_error(&err, SL_EJSON, why, whylen,
                      "More than one JSON value in the request: GMQ takes one object per "
                      "connection.");
            return err;
        }
    }
    json_object_foreach(r->root, k, v)
    {
        int i = field_find(field_names, F_COUNT, k);
        if (i < 0) {
            req_error(&err, SL_EPARAM, why, whylen,
                      "Unknown field '%.100s': a GMQ request has operation, queue, payload, "
                      "confirmation, error and auth.",
                      k);
            continue;
        }
        if (seen[i])
            req_error(&err, SL_EPARAM, why, whylen,
                      "Field '%s' appears twice (field names match case-insensitively).",
                      field_names[i]);
        seen[i] = true;
        switch (i) {
        case F_OPERATION:
            r->operation = string_field(v, field_names[i], &err, why, whylen);
            break;
        case F_QUEUE:
            r->queue = string_field(v, field_names[i], &err, why, whylen);
            break;
        case F_PAYLOAD:
            r->payload = string_field(v, field_names[i], &err, why, whylen);
            r->payload_len = json_is_string(v) ? json_string_length(v) : 0;
            break;
        case F_CONFIRMATION: /* set by the server; any string is fine */
            string_field(v, field_names[i], &err, why, whylen);
            break;
        case F_ERROR:
            if (!json_is_null(v))
                req_error(&err, SL_EPARAM, why, whylen,
                          "Field 'error' must be null or absent in a request.");
            break;
        case F_AUTH:
            parse_auth(v, r, &err, why, whylen);
            break;
        }
    }
    return err;
}

void gmqwire_req_cleanup(gmqwire_req_t *r)
{
    json_decref(r->root);
    *r = (gmqwire_req_t){NULL, "", "", "", 0, false, "", ""};
}

/* ---------------------------------------------------------------- output */

/* Rewrites jansson's compact output in[0..n) with Go's string escaping (see the top of the file)
 * into out, or only counts when out is NULL. Returns the output length. */
static size_t go_escape(const char *in, size_t n, char *out)
{
    size_t k = 0;
#define PUT(c)            \
    do {                  \
        if (out)          \
            out[k] = (c); \
        k++;              \
    } while (0)
#define PUT_U(hi, lo)                     \
    do {                                  \
        PUT('\\');                        \
        PUT('u');                         \
        PUT(hexdigits[((hi) >> 4) & 15]); \
        PUT(hexdigits[(hi)&15]);          \
        PUT(hexdigits[((lo) >> 4) & 15]); \
        PUT(hexdigits[(lo)&15]);          \
    } while (0)
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\\' && i + 1 < n) {
            char e = in[++i];
            if (e == 'b') {
                PUT_U(0, 0x08);
            } else if (e == 'f') {
                PUT_U(0, 0x0c);
            } else if (e == 'u' && i + 4 < n) {
                PUT('\\');
                PUT('u');
                for (int d = 1; d <= 4; d++) {
                    char h = in[i + (size_t)d];
                    PUT(h >= 'A' && h <= 'F' ? (char)(h + 32) : h);
                }
                i += 4;
            } else {
                PUT('\\');
                PUT(e);
            }
        } else if (c == '<' || c == '>' || c == '&') {
            PUT_U(0, c);
        } else if (c == 0xe2 && i + 2 < n && (unsigned char)in[i + 1] == 0x80 &&
                   ((unsigned char)in[i + 2] == 0xa8 || (unsigned char)in[i + 2] == 0xa9)) {
            PUT_U(0x20, (unsigned char)in[i + 2] == 0xa8 ? 0x28 : 0x29);
            i += 2;
        } else {
            PUT((char)c);
        }
    }
#undef PUT_U
#undef PUT
    return k;
}

/* Dumps o compactly with Go's escaping into an sl_malloc'd buffer; takes o's reference. */
static char *dump_go(json_t *o, size_t *len)
{
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);
    sl_assert(n > 0);
    char *raw = sl_malloc(n);
    sl_assert(json_dumpb(o, raw, n, JSON_COMPACT) == n);
    json_decref(o);
    *len = go_escape(raw, n, NULL);
    char *out = sl_malloc(*len + 1);
    go_escape(raw, n, out);
    out[*len] = '\0';
    sl_free(raw);
    return out;
}

/* A JSON string for a message that may quote client bytes cut in the middle of a UTF-8
 * character by snprintf: such bytes become '?', because an answer must go out. */
static json_t *message_json(const char *msg)
{
    json_t *m = json_string(msg);
    if (m)
        return m;
    char *copy = sl_strdup(msg);
    for (char *c = copy; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    m = json_string(copy);
    sl_free(copy);
    return m;
}

char *gmqwire_reply(const gmqwire_req_t *r, const char *payload, int err, const char *message,
                    size_t *len)
{
    json_t *o = json_object();
    /* The echoed strings came out of jansson, so they are UTF-8 and json_string cannot fail;
     * payload is base64 or a decimal number. */
    json_object_set_new(o, "operation", json_string(r->operation));
    json_object_set_new(o, "queue", json_string(r->queue));
    json_object_set_new(o, "payload",
                        payload ? json_string(payload) : json_stringn(r->payload, r->payload_len));
    json_object_set_new(o, "confirmation", json_string(err ? "N" : "Y"));
    if (err)
        json_object_set_new(o, "error",
                            json_pack("{s:s,s:o}", "code", err_code(err), "message",
                                      message_json(message ? message : err_text(err))));
    else
        json_object_set_new(o, "error", json_null());
    if (r->has_auth)
        json_object_set_new(o, "auth",
                            json_pack("{s:s,s:s}", "user", r->user, "password", r->password));
    return dump_go(o, len);
}

char *gmqwire_request(const char *operation, const char *queue, const char *payload,
                      const char *user, const char *password, size_t *len)
{
    json_t *op = json_string(operation), *q = json_string(queue), *p = json_string(payload);
    if (!op || !q || !p) {
        json_decref(op);
        json_decref(q);
        json_decref(p);
        return NULL;
    }
    json_t *o = json_pack("{s:o,s:o,s:o,s:s,s:n}", "operation", op, "queue", q, "payload", p,
                          "confirmation", "", "error");
    if (user) {
        size_t un = strlen(user), pn = strlen(password ? password : "");
        char *ut = sl_malloc(GMQWIRE_TOKEN_LEN(un) + 1), *pt = sl_malloc(GMQWIRE_TOKEN_LEN(pn) + 1);
        gmqwire_token(user, un, ut);
        gmqwire_token(password ? password : "", pn, pt);
        json_object_set_new(o, "auth", json_pack("{s:s,s:s}", "user", ut, "password", pt));
        sl_free(ut);
        sl_free(pt);
    }
    return dump_go(o, len);
}

int gmqwire_b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
    if (memchr(in, '\r', len) == NULL && memchr(in, '\n', len) == NULL)
        return b64_decode(in, len, out, outlen);
    char *clean = sl_malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (in[i] != '\r' && in[i] != '\n')
            clean[n++] = in[i];
    int r = b64_decode(clean, n, out, outlen);
    sl_free(clean);
    return r;
}
