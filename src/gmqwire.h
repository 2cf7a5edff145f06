/*
 * gmqwire.h — GMQ's messages as bytes, shared by the server (gmq.c) and the CLI (cli/gmq.c):
 * decoding a request, encoding a request or a reply exactly as GMQ's Go code did, the HEAD
 * client's credential "token", and base64 as Go's decoder read it. docs/gmq.md is the contract.
 */
#ifndef SL_GMQWIRE_H
#define SL_GMQWIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Length of the token of an n-byte string: its hex, then the hex of a 64-byte SHA-512 digest. */
#define GMQWIRE_TOKEN_LEN(n) (2 * (n) + 128)

/* A decoded request. Strings are borrowed from root (NUL-terminated, never NULL: "" when the
 * field was absent, null or of the wrong type). */
typedef struct gmqwire_req {
    json_t *root;
    const char *operation, *queue, *payload;
    size_t payload_len;
    bool has_auth; /* an auth object was sent: the reply echoes it */
    const char *user, *password;
} gmqwire_req_t;

/* Writes GMQ's token for s[0..n) into out (room for GMQWIRE_TOKEN_LEN(n) + 1), NUL-terminated,
 * and returns its length. The token is lowercase hex of the bytes of s followed by the SHA-512
 * digest of the empty string — what the HEAD client computes with sha512.New().Sum(s). It is an
 * encoding, not a hash: anyone who sees it reads the credential back (docs/gmq.md). */
size_t gmqwire_token(const char *s, size_t n, char *out);

/* Returns whether token[0..tlen) is the token of the NUL-terminated secret, with hex digits in
 * either case (GMQ compared with strings.EqualFold). Takes the same time whatever the token's
 * content, for a given length. */
bool gmqwire_token_matches(const char *token, size_t tlen, const char *secret);

/* Decodes the request buf[0..len) (one JSON object and nothing but blanks after it) into *r.
 * Field names match case-insensitively, as Go's decoder did. Returns 0, or SL_EJSON (not JSON,
 * not an object, more than one value) or SL_EPARAM (an unknown or repeated field, a wrong type)
 * with a sentence in why. On an error r is still usable for the echo (the fields that could be
 * read are set). Always call gmqwire_req_cleanup(). */
int gmqwire_parse(const char *buf, size_t len, gmqwire_req_t *r, char *why, size_t whylen);

/* Releases what gmqwire_parse() holds; r reads as an empty request afterwards. */
void gmqwire_req_cleanup(gmqwire_req_t *r);

/* Builds the reply to r (the fields echoed in GMQ's order: operation, queue, payload,
 * confirmation, error, then auth when the request had it). payload (NUL-terminated) replaces the
 * request's payload when not NULL. err 0 gives "confirmation":"Y","error":null; otherwise "N" and
 * {"code": err_code(err), "message": message}. Output is compact and escaped as Go's
 * encoding/json does it (<, > and & as \u003c...). Returns an sl_malloc'd buffer (free with
 * sl_free) of *len bytes plus a NUL. */
char *gmqwire_reply(const gmqwire_req_t *r, const char *payload, int err, const char *message,
                    size_t *len);

/* Builds a request as the GMQ client sends it: operation, queue, payload, "confirmation":"",
 * "error":null, and "auth" with the tokens of user and password when user is not NULL. Strings
 * must be UTF-8. Returns an sl_malloc'd buffer of *len bytes plus a NUL, or NULL when a string is
 * not UTF-8. */
char *gmqwire_request(const char *operation, const char *queue, const char *payload,
                      const char *user, const char *password, size_t *len);

/* Decodes base64 as Go's base64.StdEncoding did for GMQ: CR and LF anywhere are skipped, the rest
 * must be standard, padded base64 (b64.h). out needs room for B64_DECODED_MAX(len). Returns 0 or
 * SL_EBASE64. */
int gmqwire_b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen);

#endif
